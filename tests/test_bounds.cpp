// Random problems against the docs/design.md §3.3 error bounds, for every registered kernel: the
// loss, the central difference (at the rounded points w +- h_j, steps from the data-aware
// rule) and the analytic gradient must each lie within the bound computed from the data with
// the kernel's own accumulator and summation depths (Kernel::depths). The bounds come from
// numgrad/reference.hpp; no tolerance here is a hand-picked constant.
// Problems: normal X; lognormal column scales (ill-conditioned); a near fit (noise-free data,
// w = w* + 1e-3 N(0,1), so residuals are tiny and the sums cancel). Seeds are printed. And a
// near fit of 100000 x 65, whose chunks the residual and analytic gradients cut into pieces.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernel_test_util.hpp"
#include "numgrad/chunks.hpp"
#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/reference.hpp"
#include "numgrad/step.hpp"

namespace numgrad::testing {
namespace {

enum class Case { normal, lognormal, nearfit };

struct Problem {
  Case kind;
  std::size_t n, d, ld;
  std::uint64_t seed;
};

const Problem kProblems[] = {
    {Case::normal, 256, 37, 40, 11},
    {Case::normal, 1000, 5, 5, 12},
    {Case::lognormal, 300, 64, 64, 13},
    {Case::nearfit, 512, 16, 16, 14},
    {Case::nearfit, 128, 100, 101, 15},
    {Case::normal, 5000, 67, 70, 16},  // above L2; several chunks in parallel kernels
};

// A problem's data, its point w and the data-aware steps there.
template <class T>
struct Built {
  Dataset<T> data;
  std::vector<T> w, h;
};
template <class T>
Built<T> build(const Problem& p) {
  SyntheticSpec spec;
  spec.n = p.n;
  spec.d = p.d;
  spec.ld = p.ld;
  spec.seed = p.seed;
  spec.noise = p.kind == Case::nearfit ? 0.0 : 0.5;
  if (p.kind == Case::lognormal) spec.column_scale = lognormal_scales(p.d, 2.0, p.seed);
  std::vector<double> w_star;
  Built<T> out{make_synthetic<T>(spec, &w_star), std::vector<T>(p.d), std::vector<T>(p.d)};
  std::mt19937_64 rng(p.seed);
  std::normal_distribution<double> normal;
  for (std::size_t j = 0; j < p.d; ++j)
    out.w[j] =
        static_cast<T>(p.kind == Case::nearfit ? w_star[j] + 1e-3 * normal(rng) : normal(rng));
  make_steps<T>(StepPolicy{}, out.data.all(), out.w, out.h);
  return out;
}

template <class T>
void check_problem(const Kernel& k, const Problem& p) {
  const Built<T> pb = build<T>(p);
  const BatchView<T> B = pb.data.all();
  SCOPED_TRACE(::testing::Message() << k.id << " case=" << static_cast<int>(p.kind) << " n=" << p.n
                                    << " d=" << p.d << " seed=" << p.seed);
  expect_within_bounds(check_kernel<T>(k, B, pb.w, pb.h, reference<T>(B, pb.w)));
}

class Bounds : public ::testing::TestWithParam<std::string> {};

TEST_P(Bounds, RandomProblemsWithinDerivedBounds) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  for (const Problem& p : kProblems) {
    if (k.elem == DType::f32)
      check_problem<float>(k, p);
    else
      check_problem<double>(k, p);
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, Bounds, ::testing::ValuesIn(kernel_ids()), param_name);

// A batch past 2^22 elements, where the 256-chunk cap makes chunks larger than 2^14 elements
// and the residual and analytic gradients sum each chunk piece by piece (docs/design.md §8;
// Kernel::depths counts the pieces): every such kernel, in one process, so that the problem
// (6.5 M elements, near the fit, strided rows with a column tail) is built once per element
// type. Blackbox never cuts pieces (and would take 2d passes).
constexpr Problem kPieced{Case::nearfit, 100000, 65, 68, 17};

template <class T>
void check_pieced(const std::vector<const Kernel*>& kernels) {
  const Built<T> pb = build<T>(kPieced);
  const BatchView<T> B = pb.data.all();
  const Reference ref = reference<T>(B, pb.w);
  for (const Kernel* k : kernels) {
    SCOPED_TRACE(k->id);
    expect_within_bounds(check_kernel<T>(*k, B, pb.w, pb.h, ref));
  }
}

TEST(PiecedBounds, ResidualAndAnalyticKernelsWithinDerivedBounds) {
  const ChunkGrid grid = chunk_grid(kPieced.n, kPieced.d);
  ASSERT_EQ(grid.count, 250u);
  ASSERT_EQ(grid.size, 400u);  // pieces of 16384 / 65 -> 256 rows: 256 + 144
  std::vector<const Kernel*> f32, f64;
  for (const Kernel& k : registry())
    if (k.algorithm != Algorithm::blackbox && k.is_supported())
      (k.elem == DType::f32 ? f32 : f64).push_back(&k);
  ASSERT_GT(f32.size(), 10u);
  ASSERT_GT(f64.size(), 5u);
  check_pieced<float>(f32);
  check_pieced<double>(f64);
}

// The denominator is the step achieved in T, not 2h. With f32 weights and f64 accumulation
// the sums are nearly exact, so a step of 1.5 ulp(w_j) is measurable: w_j = 1 gives
// w+ = 1 + 2^-22 and w- = 1 - 3 * 2^-24 (round to nearest even), an achieved step of
// 7 * 2^-24 where 2h = 6 * 2^-24. Dividing by 2h would be off by 1/6 of the gradient; the
// test first checks that its bound is far below that, so it can tell the two apart.
class AchievedStep : public ::testing::TestWithParam<std::string> {};

TEST_P(AchievedStep, DenominatorIsTheStepAchievedInT) {
  const Kernel& k = find_kernel(GetParam());
  NUMGRAD_SKIP_UNSUPPORTED(k);
  SyntheticSpec spec;
  spec.n = 64;
  spec.d = 8;
  spec.noise = 1.0;
  spec.seed = 21;
  const Dataset<float> data = make_synthetic<float>(spec);
  std::vector<float> w(spec.d, 1.0f), h(spec.d, 1.5f * 0x1p-23f);
  std::vector<double> g(spec.d);
  gradient<float>(k, data.all(), w, h, g);
  const CentralReference c = central_reference<float>(
      data.all(), w, h, reference<float>(data.all(), w), k.acc, k.depths(spec.n, spec.d));
  for (std::size_t j = 0; j < spec.d; ++j) {
    ASSERT_EQ(static_cast<double>(w[j] + h[j]) - static_cast<double>(w[j] - h[j]), 7 * 0x1p-24);
    ASSERT_LT(c.bound[j], std::abs(c.grad[j]) / 60) << "bound too loose to tell 2h apart, j=" << j;
    EXPECT_LE(std::abs(g[j] - c.grad[j]), c.bound[j]) << "j=" << j;
  }
}

// f32 data, f64 accumulation, a central difference.
bool f32acc64_central(const Kernel& k) {
  return k.elem == DType::f32 && k.acc == DType::f64 && k.algorithm != Algorithm::analytic;
}
INSTANTIATE_TEST_SUITE_P(Registry, AchievedStep, ::testing::ValuesIn(kernel_ids(f32acc64_central)),
                         param_name);

// The bounds are not vacuous: a perturbation of a few bounds' size in the loss is caught.
// Here a loss computed in f32 from f64-rounded data is compared against the f32 bound of
// the f32 scalar kernel: the difference between the f32 and f64 results must be of the
// order of the f32 bound, well above the f64 bound.
TEST(BoundsAreTight, F32ErrorExceedsF64Bound) {
  SyntheticSpec spec;
  spec.n = 4096;
  spec.d = 64;
  spec.noise = 0.5;
  spec.seed = 3;
  const Dataset<float> data = make_synthetic<float>(spec);
  std::vector<float> w(spec.d, 0.25f);
  const Kernel& k32 = find_kernel("scalar.residual.f32");
  const Reference ref = reference<float>(data.all(), w);
  const double err = std::abs(loss<float>(k32, data.all(), w) - ref.loss);
  const SumDepths depths = k32.depths(spec.n, spec.d);
  EXPECT_LE(err, loss_bound(ref, DType::f32, depths));
  EXPECT_GT(err, loss_bound(ref, DType::f64, depths)) << "f32 error below the f64 bound";
}

// Deep sums. With small steps at w = 0 (1e-8, a peer library's default) the central
// difference is dominated by the rounding of the two losses, which grows with the depth of the
// sums over rows. Every residual kernel sums a row chunk (or piece) deep (tiled.hpp, and
// tbb.weights over the same chunks), so each errs about as the SIMD blackbox kernel does (whose
// loss sums are b / W deep): the measured error of each within 2x of simd.auto.blackbox's on one
// problem. A sum over all b rows erred 15x (tbb.weights before it took the chunks). This compares
// measured errors, so it guards the depths; the bounds above guard correctness.
TEST(DeepSums, ResidualKernelsErrLikeSimdBlackboxAtSmallSteps) {
  SyntheticSpec spec;
  spec.n = 4096;
  spec.d = 64;
  spec.noise = 1.0;
  spec.seed = 7;
  const Dataset<double> data = make_synthetic<double>(spec);
  const BatchView<double> B = data.all();
  const std::vector<double> w(spec.d, 0.0), h(spec.d, 1e-8);
  const Reference ref = reference<double>(B, w);
  auto error = [&](const Kernel& k) {
    std::vector<double> g(spec.d);
    gradient<double>(k, B, w, h, g, Exec{2});
    double e = 0;
    for (std::size_t j = 0; j < spec.d; ++j) e = std::max(e, std::abs(g[j] - ref.grad[j]));
    return e;
  };
  const double base = error(find_kernel("simd.auto.blackbox.f64"));
  ASSERT_GT(base, 0.0) << "the problem must be rounding-dominated for the comparison to mean "
                          "anything";
  for (const Kernel& k : registry()) {
    if (k.elem != DType::f64 || k.algorithm != Algorithm::residual || !k.is_supported()) continue;
    EXPECT_LE(error(k), 2 * base) << k.id << " errs " << error(k) / base
                                  << "x simd.auto.blackbox.f64";
  }
}

}  // namespace
}  // namespace numgrad::testing
