// EpochOrder (numgrad/train.hpp), the order in which the trainer's epochs visit the rows: every
// row once per epoch; chunk s of every batch drawn from stratum s only; strata that partition
// the rows in data order, including a short last batch with more (smaller) chunks than a full
// one; the same order from the same (seed, epoch), another from another; and a gather of a
// range of strata, from only those strata's rows, placing each batch's part exactly where the
// whole epoch has it (what a process holding those strata computes). No tolerances: orders are
// compared as row indices.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "numgrad/chunks.hpp"
#include "numgrad/data.hpp"
#include "numgrad/train.hpp"

namespace numgrad::testing {
namespace {

struct Shape {
  std::size_t n, b, d;
};
// Three chunks a batch, one batch; two full batches and a last of 500 rows (two chunks); four
// batches of one chunk (one stratum); a batch of 3 rows more than a chunk (two strata).
const Shape kShapes[] = {{1000, 1000, 40}, {2500, 1000, 40}, {100, 32, 4}, {419, 419, 40}};

// Row i holds i in x[i][0] and y[i], so an epoch buffer names its rows.
Dataset<double> numbered(const Shape& s) {
  Dataset<double> data;
  data.n = s.n;
  data.d = s.d;
  data.ld = s.d + 1;
  data.x = AlignedBuffer<double>(s.n * data.ld);
  data.y = AlignedBuffer<double>(s.n);
  for (std::size_t i = 0; i < s.n; ++i) data.x[i * data.ld] = data.y[i] = static_cast<double>(i);
  return data;
}

// The data rows of epoch e's buffer of strata [s0, s1), gathered from those strata's rows alone.
std::vector<std::size_t> gather_rows(const EpochOrder& order, const Dataset<double>& data,
                                     std::uint64_t seed, std::size_t e, std::size_t s0,
                                     std::size_t s1) {
  const std::size_t first = order.stratum_first(s0), rows = order.stratum_first(s1) - first;
  std::vector<double> x(rows * data.ld + 1), y(rows + 1);
  std::vector<std::size_t> scratch;
  const BatchView<double> from{data.x.data() + first * data.ld, data.y.data() + first, rows, data.d,
                               data.ld};
  order.gather(seed, e, s0, s1, from, x.data(), y.data(), scratch);
  std::vector<std::size_t> out(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    EXPECT_EQ(x[i * data.ld], y[i]) << "row " << i << " lost its x";
    out[i] = static_cast<std::size_t>(y[i]);
  }
  return out;
}

TEST(EpochOrder, EveryRowOnceAndEachChunkFromItsStratum) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(::testing::Message() << s.n << " rows, b=" << s.b << ", d=" << s.d);
    const EpochOrder order(s.n, s.b, s.d);
    const Dataset<double> data = numbered(s);
    EXPECT_EQ(order.stratum_first(0), 0u);
    EXPECT_EQ(order.stratum_first(order.strata()), s.n);
    EXPECT_EQ(order.strata(), chunk_grid(std::min(s.b, s.n), s.d).count);
    for (std::size_t e : {0, 1}) {
      const std::vector<std::size_t> rows = gather_rows(order, data, 7, e, 0, order.strata());
      std::vector<std::size_t> sorted = rows;
      std::sort(sorted.begin(), sorted.end());
      for (std::size_t i = 0; i < s.n; ++i) ASSERT_EQ(sorted[i], i) << "epoch " << e;
      for (std::size_t t = 0; t < order.batches(); ++t) {
        const ChunkGrid g = order.grid(t);
        EXPECT_EQ(g.rows, order.batch_rows(t));
        for (std::size_t c = 0; c < g.count; ++c)
          for (std::size_t i = g.first(c); i < g.end(c); ++i) {
            const std::size_t row = rows[t * order.batch() + i];
            ASSERT_GE(row, order.stratum_first(c)) << "batch " << t << " chunk " << c;
            ASSERT_LT(row, order.stratum_first(c + 1)) << "batch " << t << " chunk " << c;
          }
      }
    }
  }
}

TEST(EpochOrder, SeedAndEpochNameTheOrder) {
  const Shape s = kShapes[1];
  const EpochOrder order(s.n, s.b, s.d);
  const Dataset<double> data = numbered(s);
  const auto base = gather_rows(order, data, 7, 3, 0, order.strata());
  EXPECT_EQ(gather_rows(order, data, 7, 3, 0, order.strata()), base);
  EXPECT_NE(gather_rows(order, data, 8, 3, 0, order.strata()), base);
  EXPECT_NE(gather_rows(order, data, 7, 4, 0, order.strata()), base);
}

// A process holding strata [s0, s1) gathers from its rows alone exactly the rows the whole
// epoch puts at chunks s0..s1 of every batch, at part_first(t) in its buffer.
TEST(EpochOrder, PartsFromTheirOwnStrataMatchTheWholeEpoch) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(::testing::Message() << s.n << " rows, b=" << s.b << ", d=" << s.d);
    const EpochOrder order(s.n, s.b, s.d);
    const Dataset<double> data = numbered(s);
    const std::vector<std::size_t> whole = gather_rows(order, data, 11, 2, 0, order.strata());
    const std::size_t strata = order.strata();
    for (std::size_t parts : {2, 3, 4}) {
      for (std::size_t p = 0; p < parts; ++p) {
        const std::size_t s0 = p * strata / parts, s1 = (p + 1) * strata / parts;
        const std::vector<std::size_t> mine = gather_rows(order, data, 11, 2, s0, s1);
        std::size_t held = 0;
        for (std::size_t t = 0; t < order.batches(); ++t) {
          const std::size_t rows = order.part_rows(t, s0, s1), at = order.part_first(t, s0, s1);
          EXPECT_EQ(at, held) << "batch " << t;
          const std::size_t from = t * order.batch() + (rows > 0 ? order.grid(t).first(s0) : 0);
          for (std::size_t i = 0; i < rows; ++i)
            ASSERT_EQ(mine[at + i], whole[from + i]) << "part " << p << " batch " << t;
          held += rows;
        }
        EXPECT_EQ(held, mine.size()) << "part " << p << " of " << parts;
      }
    }
  }
}

// With wide rows the chunk size is capped by the rows a batch has (at most 256 chunks), so a
// short last batch can have more, smaller chunks than a full one: strata then follow the larger
// count, and still cover every row once.
TEST(EpochOrder, ShortLastBatchWithMoreChunks) {
  const EpochOrder order(5000 + 4090, 5000, 1024);
  EXPECT_EQ(order.grid(0).count, 157u);
  EXPECT_EQ(order.grid(1).count, 256u);
  EXPECT_EQ(order.strata(), 256u);
  EXPECT_EQ(order.stratum_first(order.strata()), 9090u);
  for (std::size_t c = 0; c < 256; ++c) {
    const std::size_t want = (c < 157 ? order.grid(0).end(c) - order.grid(0).first(c) : 0) +
                             order.grid(1).end(c) - order.grid(1).first(c);
    ASSERT_EQ(order.stratum_first(c + 1) - order.stratum_first(c), want) << "stratum " << c;
  }
}

TEST(EpochOrder, ZerosAreInvalid) {
  EXPECT_THROW(EpochOrder(0, 1, 1), std::invalid_argument);
  EXPECT_THROW(EpochOrder(1, 0, 1), std::invalid_argument);
  EXPECT_THROW(EpochOrder(1, 1, 0), std::invalid_argument);
}

}  // namespace
}  // namespace numgrad::testing
