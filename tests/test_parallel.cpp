// The parallel kernels (every registry entry whose axis is not serial). Covers:
// - Determinism: Exec::threads in {1, 2, 3, 4, 8} (those up to NUMGRAD_TEST_MAX_THREADS, set
//   under emulation: kernel_test_util.hpp), 20 repeats each; loss, gradient and analytic
//   gradient must be bitwise equal to the first call, on problems split into several row
//   chunks / coordinate blocks and large enough to run on the arena, and on one below the
//   serial threshold. No tolerance: deterministic variants promise identical bits.
// - Bounds: on the split problems, results within the docs/design.md §3.3 bound of the long-double
//   reference (numgrad/reference.hpp), with the kernel's own summation depths (k.depths);
//   the tolerance is computed from the data, never chosen.
// - Exact: a dyadic problem big enough to go parallel whose every partial sum is exact in f32,
//   so each thread count must give the integer-derived answer bitwise (test_exact.cpp covers
//   the small shapes, which all run serially).
// - Samples equals serial: tbb.samples.<inner> at any thread count gives <inner>'s bits.
// - Prefetching the next piece changes no bits.
// - Thread-count errors: Exec::threads out of range, NUMGRAD_THREADS not a count.
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/parallel.hpp"
#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/reference.hpp"
#include "numgrad/step.hpp"
#include "numgrad/threads.hpp"

namespace numgrad::detail {
extern const OpsFamily scalar_ops;
}

namespace numgrad::testing {
namespace {

const std::vector<int> kThreadCounts = test_thread_counts({1, 2, 3, 4, 8});
constexpr int kRepeats = 20;

std::vector<std::string> parallel_ids() {
  std::vector<std::string> ids;
  for (const Kernel& k : registry())
    if (k.axis != Axis::serial && k.deterministic) ids.push_back(k.id);
  return ids;
}

struct Shape {
  std::size_t b, d, ld, offset;
  bool blackbox;  // blackbox costs 2d loss passes: skipped on the widest shape to save time
};

// Split: several row chunks for every axis; d = 40 leaves a coordinate-block tail and d = 150
// gives OverBoth two coordinate blocks (its separate residual phase). Serial: one chunk.
const Shape kSplit[] = {{3500, 40, 43, 1, true}, {900, 150, 150, 3, false}};
const Shape kSmall = {60, 24, 24, 0, true};

// The shapes really take the parallel path; if the thresholds in parallel.hpp move, the
// shapes must move with them.
TEST(ParallelShapes, SplitAndSerialAsIntended) {
  using namespace numgrad::detail;
  for (const Shape& s : kSplit) {
    EXPECT_GT(row_chunks(s.b, s.d).count, 1u) << s.b << "x" << s.d;
    EXPECT_GT(row_chunks(s.b, std::min(s.d, kBothCols)).count, 1u) << s.b << "x" << s.d;
    EXPECT_GT(weight_blocks(s.b, s.d).count, 1u) << s.b << "x" << s.d;
    EXPECT_GE(static_cast<double>(s.b * s.d), kParallelElems) << s.b << "x" << s.d;
  }
  using Both = OverBoth<TableOps<scalar_ops.f64>>;
  EXPECT_GT(Both::blocks(Both::plan(900, 150), 150).count, 1u);
  EXPECT_EQ(row_chunks(kSmall.b, kSmall.d).count, 1u);
}

template <class T>
using Problem = RandomProblem<T>;

template <class T>
Problem<T> make_problem(const Shape& s, std::uint64_t seed) {
  return random_problem<T>(s.b, s.d, s.ld, seed);
}

struct Result {
  double loss = 0;
  std::vector<double> grad, analytic;
};

template <class T>
Result run_kernel(const Kernel& k, const BatchView<T>& B, const std::vector<T>& w,
                  const std::vector<T>& h, int threads, bool with_gradient) {
  const Exec exec{threads};
  Result r;
  r.loss = numgrad::loss<T>(k, B, w, exec);
  r.analytic.resize(B.d);
  numgrad::analytic_gradient<T>(k, B, w, r.analytic, exec);
  if (with_gradient) {
    r.grad.resize(B.d);
    numgrad::gradient<T>(k, B, w, h, r.grad, exec);
  }
  return r;
}

std::uint64_t bits(double v) {
  return std::bit_cast<std::uint64_t>(v);
}

void expect_same_bits(const Result& want, const Result& got, const std::string& where) {
  ASSERT_EQ(bits(want.loss), bits(got.loss)) << "loss " << where;
  for (std::size_t j = 0; j < want.grad.size(); ++j)
    ASSERT_EQ(bits(want.grad[j]), bits(got.grad[j])) << "gradient j=" << j << " " << where;
  for (std::size_t j = 0; j < want.analytic.size(); ++j)
    ASSERT_EQ(bits(want.analytic[j]), bits(got.analytic[j])) << "analytic j=" << j << " " << where;
}

template <class T>
void check_determinism(const Kernel& k, const Shape& s) {
  const std::uint64_t seed = 1000 + s.b + s.d;
  SCOPED_TRACE(::testing::Message() << k.id << " b=" << s.b << " d=" << s.d << " seed=" << seed);
  const Problem<T> p = make_problem<T>(s, seed);
  const bool with_gradient = s.blackbox || k.algorithm != Algorithm::blackbox;
  const Result first = run_kernel<T>(k, p.data.all(), p.w, p.h, 1, with_gradient);
  for (int threads : kThreadCounts)
    for (int rep = 0; rep < kRepeats; ++rep) {
      const Result again = run_kernel<T>(k, p.data.all(), p.w, p.h, threads, with_gradient);
      expect_same_bits(first, again,
                       "threads=" + std::to_string(threads) + " repeat=" + std::to_string(rep));
      if (::testing::Test::HasFatalFailure()) return;
    }
}

template <class T>
void check_bounds(const Kernel& k, const Shape& s) {
  const std::uint64_t seed = 2000 + s.b + s.d;
  SCOPED_TRACE(::testing::Message() << k.id << " b=" << s.b << " d=" << s.d << " seed=" << seed);
  const Problem<T> p = make_problem<T>(s, seed);
  const BatchView<T> B = p.data.all();
  const bool with_gradient = s.blackbox || k.algorithm != Algorithm::blackbox;
  const Result got = run_kernel<T>(k, B, p.w, p.h, 2, with_gradient);
  const SumDepths depths = k.depths(s.b, s.d);
  const Reference ref = reference<T>(B, p.w);
  expect_within(check_loss(got.loss, ref, k.acc, depths), "loss");
  expect_within(check_analytic(got.analytic, ref, k.acc, depths), "analytic");
  if (!with_gradient) return;
  expect_within(k.algorithm == Algorithm::analytic
                    ? check_analytic(got.grad, ref, k.acc, depths)
                    : check_central<T>(got.grad, B, p.w, p.h, ref, k.acc, depths),
                "gradient");
}

// Dyadic data, exact in f32 for b = 2048, d = 64: x in {-1, 0, 1}, w in {-1/4, 0, 1/4},
// y in [-4, 4], h in {1/4, 1/2}. Every residual at w or w +- h e_j is a multiple of 1/4 with
// |r| <= 64/4 + 1/2 + 4 = 20.5, so r^2 is a multiple of 1/16 below 421 and the sum of 2048 of
// them stays below 2^24 sixteenths; sum_i x_ij r_i stays below 2^24 quarters. Every order of
// summation is exact, so the answer is the integer one below, bitwise.
template <class T>
void check_exact(const Kernel& k) {
  constexpr std::size_t b = 2048, d = 64, ld = 67, offset = 1;
  Layout<T> L(b, d, ld, offset);
  std::mt19937 rng(777);
  std::uniform_int_distribution<int> x3(-1, 1), y9(-4, 4), h2(1, 2);
  std::vector<T> w(d), h(d);
  std::vector<std::int64_t> w4(d);  // 4 w_j
  for (std::size_t j = 0; j < d; ++j) {
    w4[j] = x3(rng);
    w[j] = static_cast<T>(w4[j]) / 4;
    h[j] = static_cast<T>(h2(rng)) / 4;
  }
  std::int64_t sum_r4_sq = 0;            // sum_i (4 r_i)^2
  std::vector<std::int64_t> x_r4(d, 0);  // sum_i x_ij (4 r_i)
  for (std::size_t i = 0; i < b; ++i) {
    const int yi = y9(rng);
    L.y(i) = static_cast<T>(yi);
    std::int64_t r4 = -4 * static_cast<std::int64_t>(yi);
    for (std::size_t j = 0; j < d; ++j) {
      const int xij = x3(rng);
      L.x(i, j) = static_cast<T>(xij);
      r4 += xij * w4[j];
    }
    sum_r4_sq += r4 * r4;
    for (std::size_t j = 0; j < d; ++j) x_r4[j] += static_cast<std::int64_t>(L.x(i, j)) * r4;
  }
  // The kernels divide the exact sums in double: loss = sum r^2 / b, g_j = 2 (sum x r) / b.
  const double loss = static_cast<double>(sum_r4_sq) / 16 / b;
  std::vector<double> grad(d);
  for (std::size_t j = 0; j < d; ++j) grad[j] = 2 * (static_cast<double>(x_r4[j]) / 4) / b;

  for (int threads : kThreadCounts) {
    const Result got = run_kernel<T>(k, L.view(), w, h, threads, true);
    SCOPED_TRACE(::testing::Message() << k.id << " threads=" << threads);
    ASSERT_EQ(got.loss, loss);
    for (std::size_t j = 0; j < d; ++j) {
      ASSERT_EQ(got.analytic[j], grad[j]) << "analytic j=" << j;
      ASSERT_EQ(got.grad[j], grad[j]) << "gradient j=" << j;
    }
  }
}

class Parallel : public ::testing::TestWithParam<std::string> {};

template <class F>
void for_type(const Kernel& k, F&& f) {
  if (k.elem == DType::f32)
    f(float{});
  else
    f(double{});
}

TEST_P(Parallel, BitwiseAcrossThreadsAndRepeats) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  for_type(k, [&](auto t) {
    using T = decltype(t);
    for (const Shape& s : kSplit) {
      check_determinism<T>(k, s);
      if (::testing::Test::HasFatalFailure()) return;
    }
    check_determinism<T>(k, kSmall);
  });
}

TEST_P(Parallel, SplitProblemsWithinDerivedBounds) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  for_type(k, [&](auto t) {
    for (const Shape& s : kSplit) check_bounds<decltype(t)>(k, s);
  });
}

TEST_P(Parallel, ExactAboveSerialThreshold) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  for_type(k, [&](auto t) { check_exact<decltype(t)>(k); });
}

INSTANTIATE_TEST_SUITE_P(Registry, Parallel, ::testing::ValuesIn(parallel_ids()), param_name);

// tbb.samples.<inner> cuts the serial kernel's own row chunks (tiled.hpp), so at every thread
// count it computes the serial kernel's numbers, bitwise, split or not. tbb.weights.scalar runs
// each coordinate block over the same chunks, and a scalar sum does not depend on the block it
// is computed in: the serial kernel's numbers too (a simd inner kernel's tile shapes follow the
// block width, so tbb.weights.simd.* promises its depths only).
class EqualsSerial : public ::testing::TestWithParam<std::string> {};

TEST_P(EqualsSerial, BitwiseAtEveryThreadCount) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  const std::size_t axis_end = k.id.find('.', std::string("tbb.").size());
  const Kernel& serial = find_kernel(k.id.substr(axis_end + 1));
  for_type(k, [&](auto t) {
    using T = decltype(t);
    for (const Shape& s : {kSplit[0], kSplit[1], kSmall}) {
      const Problem<T> p = make_problem<T>(s, 3000 + s.b);
      const Result want = run_kernel<T>(serial, p.data.all(), p.w, p.h, 1, s.blackbox);
      for (int threads : test_thread_counts({1, 2, 3}))
        expect_same_bits(want, run_kernel<T>(k, p.data.all(), p.w, p.h, threads, s.blackbox),
                         "b=" + std::to_string(s.b) + " threads=" + std::to_string(threads));
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Registry, EqualsSerial,
                         ::testing::ValuesIn(kernel_ids([](const Kernel& k) {
                           return k.axis == Axis::samples ||
                                  (k.axis == Axis::weights &&
                                   k.id.starts_with("tbb.weights.scalar."));
                         })),
                         param_name);

// Restores an environment variable when a test that sets it ends.
struct EnvGuard {
  std::string name, saved;
  bool had;
  explicit EnvGuard(std::string var) : name(std::move(var)), had(std::getenv(name.c_str())) {
    if (had) saved = std::getenv(name.c_str());
  }
  ~EnvGuard() {
    if (had)
      setenv(name.c_str(), saved.c_str(), 1);
    else
      unsetenv(name.c_str());
  }
};

// Prefetching the next piece of rows (docs/design.md §4.4) runs from a batch of 32 MiB with
// rows of at most 256 bytes, and must change the timing only: every SIMD residual kernel that
// prefetches (serial, tbb.samples, tbb.both) and that this CPU runs gives the same loss, gradient
// and analytic gradient with it on and off (NUMGRAD_PREFETCH=0), on rows with a column tail, and
// leaves no stream behind. It fails if a prefetch is ever allowed to reorder a sweep.
TEST(Prefetch, ChangesNoBits) {
  const Shape s{143360, 60, 60, 0, false};  // contiguous, just over the threshold
  ASSERT_GE(s.b * s.d * sizeof(float), detail::kAheadMinBytes);
  ASSERT_LE(s.d * sizeof(float), detail::kAheadMaxRowBytes);
  const Problem<float> p = make_problem<float>(s, 7);
  EnvGuard guard{"NUMGRAD_PREFETCH"};
  const std::vector<int> two = test_thread_counts({2});
  for (const std::string& id : kernel_ids([](const Kernel& k) {
         return k.algorithm == Algorithm::residual && k.elem == DType::f32 && k.acc == DType::f32 &&
                k.is_supported() && !k.id.starts_with("simd.auto") &&
                (k.id.starts_with("simd.") || k.id.starts_with("tbb.samples.simd.") ||
                 k.id.starts_with("tbb.both.simd."));
       })) {
    const Kernel& k = find_kernel(id);
    const int threads = k.axis == Axis::serial || two.empty() ? 1 : two.back();
    unsetenv("NUMGRAD_PREFETCH");
    const Result on = run_kernel<float>(k, p.data.all(), p.w, p.h, threads, true);
    EXPECT_EQ(detail::tl_prefetch.next, detail::tl_prefetch.end) << id;
    setenv("NUMGRAD_PREFETCH", "0", 1);
    expect_same_bits(on, run_kernel<float>(k, p.data.all(), p.w, p.h, threads, true), id);
  }
  // Any other value is refused, naming the variable.
  setenv("NUMGRAD_PREFETCH", "off", 1);
  const Kernel& k = find_kernel("simd.auto.residual.f32");
  std::vector<double> g(s.d);
  try {
    numgrad::gradient<float>(k, p.data.all(), p.w, p.h, g);
    ADD_FAILURE() << "NUMGRAD_PREFETCH=off was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("NUMGRAD_PREFETCH='off'"), std::string::npos) << e.what();
  }
}

// --- Thread counts --------------------------------------------------------------------------

// A kernel whose loss splits rows, so that it resolves its thread count on kSplit[0].
const Kernel& some_parallel_kernel() {
  return find_kernel("tbb.samples.scalar.residual.f64");
}

TEST(Threads, ExecThreadsOutOfRangeIsInvalidArgument) {
  const Kernel& k = some_parallel_kernel();
  for_type(k, [&](auto t) {
    using T = decltype(t);
    const Problem<T> p = make_problem<T>(kSplit[0], 5);
    for (int bad : {-1, kMaxThreads + 1})
      EXPECT_THROW(numgrad::loss<T>(k, p.data.all(), p.w, Exec{bad}), std::invalid_argument)
          << "threads=" << bad;
    EXPECT_NO_THROW(numgrad::loss<T>(k, p.data.all(), p.w, Exec{2}));
  });
}

TEST(Threads, DefaultFollowsNumgradThreads) {
  EnvGuard guard{"NUMGRAD_THREADS"};
  unsetenv("NUMGRAD_THREADS");
  EXPECT_GE(default_threads(), 1);
  setenv("NUMGRAD_THREADS", "3", 1);
  EXPECT_EQ(default_threads(), 3);
  setenv("NUMGRAD_THREADS", "", 1);  // empty = unset
  EXPECT_GE(default_threads(), 1);
}

TEST(Threads, InvalidNumgradThreadsNamesTheVariable) {
  EnvGuard guard{"NUMGRAD_THREADS"};
  for (const char* bad : {"0", "-2", "two", "4x", "1025"}) {
    setenv("NUMGRAD_THREADS", bad, 1);
    try {
      default_threads();
      ADD_FAILURE() << "NUMGRAD_THREADS=" << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("NUMGRAD_THREADS='" + std::string(bad) + "'"),
                std::string::npos)
          << e.what();
    }
  }
  // A call that resolves its default thread count reports it too (at the API boundary).
  const Kernel& k = some_parallel_kernel();
  for_type(k, [&](auto t) {
    using T = decltype(t);
    unsetenv("NUMGRAD_THREADS");
    const Problem<T> p = make_problem<T>(kSplit[0], 6);
    setenv("NUMGRAD_THREADS", "many", 1);
    EXPECT_THROW(numgrad::loss<T>(k, p.data.all(), p.w, Exec{0}), std::invalid_argument);
  });
}

}  // namespace
}  // namespace numgrad::testing
