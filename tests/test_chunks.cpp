// numgrad/chunks.hpp: a batch's sums computed as ranges of its row chunks, each range from a
// copy of only its rows (as another process would hold them), joined in chunk order. For every
// registered kernel the joined loss, gradient, analytic gradient and data-aware steps must
// equal, bitwise, what tbb.samples over the same inner family returns for the whole batch (the
// serial kernel itself for serial axes: tbb.samples equals it, test_parallel.cpp), however the
// chunks are dealt out: one range, or 2-4 balanced ranges, some empty when there are fewer
// chunks than ranges. No tolerance: the join reproduces the kernels' own order of additions.
// tbb.both and tbb.weights give those bits from their own functions too where their tiles
// coincide with the serial grid's. Also: the grid, the values per chunk, and the arguments the
// API rejects.
#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "numgrad/chunks.hpp"
#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/step.hpp"

namespace numgrad::testing {
namespace {

struct Shape {
  std::size_t b, d, ld;
  bool blackbox;  // 2d loss passes per chunk: only on the smaller shapes
};
// Several chunks with a short last one (3500 x 40, ld 43), d past OverBoth's 128-column tiles
// (900 x 150), one chunk (60 x 24: every range but one is empty).
const Shape kShapes[] = {
    {3500, 40, 43, false}, {900, 150, 150, false}, {60, 24, 24, true}, {700, 40, 40, true}};

// The kernel whose whole-batch bits the joins must reproduce: tbb.samples over the same
// inner family for the parallel axes, the kernel itself otherwise.
const Kernel& reference_of(const Kernel& k) {
  if (k.axis == Axis::serial || k.axis == Axis::samples) return k;
  const std::string prefix = k.axis == Axis::weights ? "tbb.weights." : "tbb.both.";
  return find_kernel("tbb.samples." + k.id.substr(prefix.size()));
}

template <class T>
using Problem = RandomProblem<T>;

// The partials of every chunk, computed as `ranges` balanced ranges of chunks, each from its
// own copy of its rows (a fresh allocation, so nothing can read past the range unnoticed).
template <class T>
std::vector<double> partials(const Kernel& k, Sums what, const Problem<T>& p, std::size_t ranges) {
  const BatchView<T> all = p.data.all();
  const ChunkGrid grid = chunk_grid(all.rows, all.d);
  const std::size_t width = sums_per_chunk(what, all.d);
  std::vector<double> out(grid.count * width);
  const std::span<const T> h = what == Sums::blackbox || what == Sums::residual
                                   ? std::span<const T>(p.h)
                                   : std::span<const T>();
  for (std::size_t r = 0; r < ranges; ++r) {
    const std::size_t k0 = r * grid.count / ranges, k1 = (r + 1) * grid.count / ranges;
    const std::size_t i0 = grid.first(k0), rows = k1 > k0 ? grid.end(k1 - 1) - i0 : 0;
    AlignedBuffer<T> x(rows * all.ld + 1), y(rows + 1);
    if (rows > 0) {
      std::memcpy(x.data(), all.row(i0), rows * all.ld * sizeof(T));
      std::memcpy(y.data(), all.y + i0, rows * sizeof(T));
    }
    const BatchView<T> part{x.data(), y.data(), rows, all.d, all.ld};
    chunk_sums<T>(k, what, part, all.rows, k0, k1, p.w, h,
                  std::span<double>(out).subspan(k0 * width, (k1 - k0) * width), Exec{2});
  }
  return out;
}

std::uint64_t bits(double v) {
  return std::bit_cast<std::uint64_t>(v);
}

template <class T>
void expect_joins_equal(const Kernel& k, const Shape& s) {
  const Kernel& ref = reference_of(k);
  const Problem<T> p = random_problem<T>(s.b, s.d, s.ld, 7000 + s.b + s.d);
  const BatchView<T> all = p.data.all();
  const std::size_t d = s.d;
  const double want_loss = loss<T>(ref, all, p.w);
  std::vector<double> want_g(d), want_a(d), g(d);
  analytic_gradient<T>(ref, all, p.w, want_a);
  const bool central =
      k.algorithm != Algorithm::analytic && (s.blackbox || k.algorithm != Algorithm::blackbox);
  if (central) gradient<T>(ref, all, p.w, p.h, want_g);
  std::vector<T> want_h(d), h(d);
  data_aware_steps<T>(ref, all, p.w, want_h);
  // Where the kernel's own whole-batch sums are tbb.samples' (docs/design.md §8): tbb.both
  // while d fits one of its 128-column tiles (then it cuts the same chunks, one block),
  // tbb.weights over scalar (its sums do not depend on the block), or on a batch of one chunk
  // (then it runs the serial kernel).
  if ((k.axis == Axis::both && d <= 128) ||
      (k.axis == Axis::weights && (k.isa == Isa::none || chunk_grid(s.b, d).count == 1))) {
    EXPECT_EQ(bits(loss<T>(k, all, p.w)), bits(want_loss)) << k.id << " own loss";
    analytic_gradient<T>(k, all, p.w, g);
    for (std::size_t j = 0; j < d; ++j) ASSERT_EQ(bits(g[j]), bits(want_a[j])) << k.id << " own";
    if (central) gradient<T>(k, all, p.w, p.h, g);
    for (std::size_t j = 0; central && j < d; ++j)
      ASSERT_EQ(bits(g[j]), bits(want_g[j])) << k.id << " own gradient";
  }
  // The steps' sums are per chunk wherever the chunks are the serial kernel's: tbb.weights
  // takes tbb.samples' (they need not follow its coordinate blocks).
  if (k.axis != Axis::both || d <= 128) {
    data_aware_steps<T>(k, all, p.w, h);
    for (std::size_t j = 0; j < d; ++j) ASSERT_EQ(h[j], want_h[j]) << k.id << " own steps j=" << j;
  }
  // gradient_auto is the kernel's steps, then its gradient with them, bit for bit: the
  // residuals it reuses from the steps' pass are the ones the gradient computes.
  if (central || k.algorithm == Algorithm::analytic) {
    std::vector<T> steps(d), auto_h(d);
    std::vector<double> auto_g(d);
    data_aware_steps<T>(k, all, p.w, steps);
    gradient_auto<T>(k, all, p.w, auto_h, auto_g);
    gradient<T>(k, all, p.w, steps, g);
    for (std::size_t j = 0; j < d; ++j) {
      ASSERT_EQ(auto_h[j], steps[j]) << k.id << " gradient_auto's steps j=" << j;
      ASSERT_EQ(bits(auto_g[j]), bits(g[j])) << k.id << " gradient_auto j=" << j;
    }
  }

  for (std::size_t ranges : {1, 2, 3, 4}) {
    SCOPED_TRACE(::testing::Message() << k.id << " " << s.b << "x" << d << " ranges=" << ranges);
    EXPECT_EQ(bits(join_loss<T>(k, s.b, d, partials(k, Sums::loss, p, ranges))), bits(want_loss));
    join_gradient<T>(k, Sums::analytic, s.b, p.w, {}, partials(k, Sums::analytic, p, ranges), g);
    for (std::size_t j = 0; j < d; ++j)
      ASSERT_EQ(bits(g[j]), bits(want_a[j])) << "analytic j=" << j;
    if (central) {
      const Sums what = gradient_sums(k.algorithm);
      join_gradient<T>(k, what, s.b, p.w, p.h, partials(k, what, p, ranges), g);
      for (std::size_t j = 0; j < d; ++j)
        ASSERT_EQ(bits(g[j]), bits(want_g[j])) << "gradient j=" << j;
    }
    join_steps<T>(k, s.b, p.w, partials(k, Sums::steps, p, ranges), h);
    for (std::size_t j = 0; j < d; ++j) ASSERT_EQ(h[j], want_h[j]) << "steps j=" << j;
  }
}

class ChunkJoins : public ::testing::TestWithParam<std::string> {};

TEST_P(ChunkJoins, EqualTheWholeBatchBitwise) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  for (const Shape& s : kShapes) {
    if (k.elem == DType::f32)
      expect_joins_equal<float>(k, s);
    else
      expect_joins_equal<double>(k, s);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, ChunkJoins, ::testing::ValuesIn(kernel_ids()), param_name);

// A batch past 256 chunks of 2^14 elements, so that each chunk is cut into pieces (a piece of
// 240 rows and one of 128 here; the last chunk 240 and 60, the batch's tail): the same joins, own
// bits and gradient_auto identity as above, for the kinds of tile that handle pieces (serial,
// samples, both, weights over scalar, and the chunk sums) over the scalar and SIMD building blocks;
// every registered kernel on this shape would take minutes. The SIMD wrappers are those of the best
// instruction set built.
TEST(ChunkJoins, PiecedChunksEqualTheWholeBatchBitwise) {
  const Shape pieced{92300, 72, 72, false};
  const ChunkGrid grid = chunk_grid(pieced.b, pieced.d);
  ASSERT_EQ(grid.count, 251u);
  ASSERT_EQ(grid.size, 368u);  // pieces of 16384 / 72 -> 240 rows
  ASSERT_EQ(grid.end(250) - grid.first(250), 300u);
  std::vector<std::string> ids = {"scalar.residual.f64", "simd.auto.residual.f32",
                                  "simd.auto.analytic.f64", "tbb.weights.scalar.residual.f32",
                                  "tbb.samples.scalar.analytic.f64"};
  for (const char* axis : {"tbb.samples.simd.", "tbb.both.simd."}) {
    const Kernel* best = nullptr;
    for (const Kernel& k : registry())
      if (k.id.starts_with(axis) && k.id.ends_with(".residual.f32") && k.is_supported()) best = &k;
    ASSERT_NE(best, nullptr) << axis;
    ids.push_back(best->id);
  }
  for (const std::string& id : ids) {
    const Kernel& k = find_kernel(id);
    if (k.elem == DType::f32)
      expect_joins_equal<float>(k, pieced);
    else
      expect_joins_equal<double>(k, pieced);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(ChunkGrid, IsTheKernelsGrid) {
  // 2^14 elements per chunk in whole multiples of 16 rows; one chunk up to 2^14 elements.
  const ChunkGrid g = chunk_grid(3500, 40);
  EXPECT_EQ(g.size, 416u);
  EXPECT_EQ(g.count, 9u);
  EXPECT_EQ(g.first(8), 3328u);
  EXPECT_EQ(g.end(8), 3500u);
  EXPECT_EQ(chunk_grid(60, 24).count, 1u);
  EXPECT_EQ(sums_per_chunk(Sums::loss, 5), 1u);
  EXPECT_EQ(sums_per_chunk(Sums::residual, 5), 10u);
  EXPECT_EQ(sums_per_chunk(Sums::steps, 5), 6u);
  EXPECT_EQ(gradient_sums(Algorithm::blackbox), Sums::blackbox);
  EXPECT_EQ(gradient_sums(Algorithm::analytic), Sums::analytic);
}

TEST(ChunkSums, RejectsBadArgumentsByName) {
  const Kernel& k = find_kernel("scalar.residual.f64");
  SyntheticSpec spec;
  spec.n = 3500;
  spec.d = 40;
  const Dataset<double> data = make_synthetic<double>(spec);
  const std::vector<double> w(40, 0.5), h(40, 0.25);
  std::vector<double> out(2 * 80);
  const BatchView<double> rows = data.batch(0, 2 * 416);
  expect_invalid([&] { chunk_sums<double>(k, Sums::residual, rows, 3500, 2, 1, w, h, out); },
                 "chunks [2, 1)");
  expect_invalid([&] { chunk_sums<double>(k, Sums::residual, rows, 3500, 8, 10, w, h, out); },
                 "chunks [8, 10)");
  expect_invalid(
      [&] { chunk_sums<double>(k, Sums::residual, data.batch(0, 800), 3500, 0, 2, w, h, out); },
      "rows.rows=800");
  expect_invalid(
      [&] {
        chunk_sums<double>(k, Sums::residual, rows, 3500, 0, 2, w, h,
                           std::span<double>(out).first(10));
      },
      "out: length 10, expected 160");
  expect_invalid([&] { chunk_sums<double>(k, Sums::residual, rows, 0, 0, 2, w, h, out); }, "b:");
  expect_invalid([&] { chunk_sums<double>(k, Sums::residual, rows, 3500, 0, 2, w, {}, out); },
                 "h:");
  expect_invalid([&] { chunk_sums<float>(k, Sums::loss, {}, 3500, 0, 0, {}, {}, {}); },
                 "takes f64");
  const std::vector<double> parts(9 * 80);
  std::vector<double> g(40);
  expect_invalid([&] { join_gradient<double>(k, Sums::loss, 3500, w, h, parts, g); }, "what:");
  expect_invalid(
      [&] {
        join_gradient<double>(k, Sums::residual, 3500, w, h,
                              std::span<const double>(parts).first(8), g);
      },
      "partials: length 8, expected 720");
  expect_invalid([&] { join_loss<double>(k, 3500, 40, parts); },
                 "partials: length 720, expected 9");
  // An empty range reads nothing: a process that holds no chunk passes no rows.
  chunk_sums<double>(k, Sums::loss, BatchView<double>{nullptr, nullptr, 0, 40, 40}, 3500, 9, 9, w,
                     {}, {});
}

}  // namespace
}  // namespace numgrad::testing
