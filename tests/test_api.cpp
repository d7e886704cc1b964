// The API boundary and the policies around the kernels: every validation error names its
// argument and value; the registry is consistent; step policies parse and produce steps that
// move w; the reference and gamma behave as docs/design.md §3.3 defines them. Comparisons here are
// exact (dyadic data or closed forms); no tolerance is involved.
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <vector>

#include "kernel_test_util.hpp"
#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/reference.hpp"
#include "numgrad/step.hpp"

namespace numgrad::testing {
namespace {

// Expects `fn` to throw E with a message containing `needle`.
template <class E = std::invalid_argument, class F>
void expect_error(F&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning '" << needle << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message '" << e.what() << "' does not mention '" << needle << "'";
  }
}

struct Small {
  std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8}, y{1, 2};
  std::vector<float> w{0.5f, 0.5f, 0.5f, 0.5f}, h{0.25f, 0.25f, 0.25f, 0.25f};
  std::vector<double> g = std::vector<double>(4);
  BatchView<float> B{x.data(), y.data(), 2, 4, 4};
};

TEST(Validation, BatchArguments) {
  const Kernel& k = find_kernel("scalar.residual.f32");
  Small s;
  auto with = [&](BatchView<float> b) { return [&k, &s, b] { loss<float>(k, b, s.w); }; };
  BatchView<float> b = s.B;
  b.x = nullptr;
  expect_error(with(b), "batch.x");
  b = s.B;
  b.y = nullptr;
  expect_error(with(b), "batch.y");
  b = s.B;
  b.rows = 0;
  expect_error(with(b), "batch.rows (b): must be positive, got 0");
  b = s.B;
  b.d = 0;
  expect_error(with(b), "batch.d: must be positive, got 0");
  b = s.B;
  b.ld = 3;
  expect_error(with(b), "batch.ld=3 is less than batch.d=4");
}

TEST(Validation, WeightsStepsAndOutputs) {
  const Kernel& k = find_kernel("scalar.residual.f32");
  Small s;
  std::vector<float> w3{1, 2, 3};
  expect_error([&] { loss<float>(k, s.B, w3); }, "w: length 3, expected d=4");
  std::vector<float> wnan = s.w;
  wnan[2] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { loss<float>(k, s.B, wnan); }, "w[2]=nan is not finite");
  expect_error([&] { gradient<float>(k, s.B, s.w, w3, s.g); }, "h: length 3, expected d=4");
  for (float bad : {0.0f, -0.5f, std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    std::vector<float> h = s.h;
    h[1] = bad;
    expect_error([&] { gradient<float>(k, s.B, s.w, h, s.g); }, "h[1]=");
  }
  std::vector<float> tiny = s.h;
  tiny[3] = 1e-20f;  // below half an ulp of w_3 = 0.5 in f32
  expect_error([&] { gradient<float>(k, s.B, s.w, tiny, s.g); }, "does not move w[3]=0.5");
  std::vector<double> g2(2);
  expect_error([&] { gradient<float>(k, s.B, s.w, s.h, g2); }, "g: length 2, expected d=4");
  expect_error([&] { analytic_gradient<float>(k, s.B, s.w, g2); }, "g: length 2");
}

TEST(Validation, KernelTypeAndId) {
  Small s;
  const Kernel& k64 = find_kernel("scalar.residual.f64");
  expect_error([&] { loss<float>(k64, s.B, s.w); }, "takes f64 data, called with f32");
  expect_error([] { find_kernel("no.such.kernel"); }, "valid ids: scalar.blackbox.f32");
}

TEST(Validation, NonFiniteDataPropagatesAndIsFound) {
  const Kernel& k = find_kernel("scalar.residual.f32");
  Small s;
  EXPECT_EQ(find_non_finite(s.B), "");
  s.x[6] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(find_non_finite(s.B), "x[1][2]");
  EXPECT_FALSE(std::isfinite(loss<float>(k, s.B, s.w)));  // documented: NaN/Inf propagate
  s.x[6] = 7;
  s.y[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(find_non_finite(s.B), "y[1]");
}

TEST(Registry, IdsUniqueAndDescribeTheEntry) {
  std::set<std::string> seen;
  for (const Kernel& k : registry()) {
    EXPECT_TRUE(seen.insert(k.id).second) << "duplicate id " << k.id;
    std::string algo = ".";  // appended, not concatenated: GCC 12 -Wrestrict false positive
    algo.append(name(k.algorithm)).append(".");
    EXPECT_NE(k.id.find(algo), std::string::npos) << k.id;
    const std::string types = k.elem == DType::f64  ? ".f64"
                              : k.acc == DType::f64 ? ".f32acc64"
                                                    : ".f32";
    EXPECT_TRUE(k.id.ends_with(types)) << k.id;
    EXPECT_NE(k.depths, nullptr) << k.id;
    const bool f32 = k.elem == DType::f32;
    EXPECT_TRUE(f32 ? k.f32.loss && k.f32.gradient && k.f32.analytic_gradient
                    : k.f64.loss && k.f64.gradient && k.f64.analytic_gradient)
        << k.id;
  }
  EXPECT_GE(registry().size(), 9u);
}

TEST(StepPolicy, ParsesAndPrints) {
  EXPECT_EQ(parse_step_policy("auto").rule, StepRule::data);
  EXPECT_EQ(parse_step_policy("relative").rule, StepRule::relative);
  const StepPolicy f = parse_step_policy("fixed:0.125");
  EXPECT_EQ(f.rule, StepRule::fixed);
  EXPECT_EQ(f.h, 0.125);
  EXPECT_EQ(to_string(f), "fixed:0.125");
  for (const char* bad : {"fixed:", "fixed:0", "fixed:-1", "fixed:abc", "fixed:inf", "cbrt"})
    expect_error([&] { parse_step_policy(bad); }, std::string("'") + bad + "'");
}

TEST(StepPolicy, RulesProduceStepsThatMoveW) {
  SyntheticSpec spec;
  spec.n = 200;
  spec.d = 6;
  spec.noise = 0.1;
  spec.column_scale = {1, 10, 0.1, 1000, 1e-3, 1};
  const Dataset<float> data = make_synthetic<float>(spec);
  std::vector<float> w{0, 1, -2, 1e6f, 3, 0.5f}, h(6);
  make_steps<float>(parse_step_policy("relative"), data.all(), w, h);
  for (std::size_t j = 0; j < 6; ++j)
    EXPECT_EQ(h[j], static_cast<float>(std::cbrt(0x1p-23) * std::max(1.0f, std::abs(w[j]))));
  make_steps<float>(parse_step_policy("fixed:0.5"), data.all(), w, h);
  EXPECT_EQ(h[0], 0.5f);
  make_steps<float>(StepPolicy{}, data.all(), w, h);
  // Data rule (u = 2^-24, float's): the error model of docs/design.md §3.1, rounding
  // u (r2 + h^2 col2) / (b h) plus the shifted midpoint's c_j |shift|, scored here over every
  // power of two from 2^-60 to 2^60 by brute force: the rule's pruned search must find the
  // minimum. w_1 = 1 against an optimum of ~2^33 shows the trade: 1 + 2^33 rounds in float.
  double r2 = 0;
  std::vector<double> c2(6);
  for (std::size_t i = 0; i < spec.n; ++i) {
    double p = -data.y[i];
    for (std::size_t j = 0; j < 6; ++j) {
      const double x = data.all().row(i)[j];
      p += x * w[j];
      c2[j] += x * x;
    }
    r2 += p * p;
  }
  auto score = [&](std::size_t j, float hj) {
    const double shift =
        (static_cast<double>(w[j] + hj) + static_cast<double>(w[j] - hj)) / 2 - w[j];
    return 0x1p-24 * (r2 + double(hj) * hj * c2[j]) / (spec.n * double(hj)) +
           2 * c2[j] / spec.n * std::abs(shift);
  };
  for (std::size_t j = 0; j < 6; ++j) {
    int e;
    EXPECT_EQ(std::frexp(h[j], &e), 0.5f) << "h[" << j << "] not a power of two";
    EXPECT_GT(w[j] + h[j], w[j] - h[j]);
    double best = std::numeric_limits<double>::infinity();
    for (int k = -60; k <= 60; ++k) {
      const float hk = std::ldexp(1.0f, k);
      if (w[j] + hk > w[j] - hk && hk >= 2 * std::abs(w[j]) * 0x1p-23f)
        best = std::min(best, score(j, hk));
    }
    EXPECT_LE(score(j, h[j]), best * (1 + 1e-9)) << "j=" << j << " h=" << h[j];
  }
}

// The power of two nearest the optimum can move w across a binade: w = 1.9375 (float, its last
// bits set) with an optimum of 1/8 gives 1.9375 + 0.125 = 2.0625, which float rounds (its ulp
// doubles at 2). The step chosen keeps both ends exact instead, so the midpoint is w.
TEST(StepPolicy, DataRuleKeepsBothEndsExactAcrossABinade) {
  const float w0 = 1.9375f + 0x1p-23f;  // an odd multiple of ulp: rounds in [2, 4)
  std::vector<float> x(64), y(64);
  for (std::size_t i = 0; i < 64; ++i) {
    x[i] = (i % 2) ? 1.0f : -1.0f;                        // ||X||^2 = 64
    y[i] = w0 * x[i] - ((i % 4) < 2 ? 0.125f : -0.125f);  // r_i = +-1/8: ||r|| / ||X|| = 1/8
  }
  const BatchView<float> B{x.data(), y.data(), 64, 1, 1};
  std::vector<float> w{w0}, h(1);
  make_steps<float>(StepPolicy{}, B, w, h);
  EXPECT_NE(static_cast<double>(w0 + 0.125f), static_cast<double>(w0) + 0.125) << "no crossing";
  EXPECT_EQ(static_cast<double>(w0 + h[0]), static_cast<double>(w0) + h[0]) << "h=" << h[0];
  EXPECT_EQ(static_cast<double>(w0 - h[0]), static_cast<double>(w0) - h[0]) << "h=" << h[0];
  for (const char* id : {"scalar.residual.f32acc64", "simd.auto.residual.f32acc64"}) {
    std::vector<float> hk(1);
    std::vector<double> g(1);
    gradient_auto<float>(find_kernel(id), B, w, hk, g);
    EXPECT_EQ(hk[0], h[0]) << id;
  }
}

TEST(StepPolicy, DataRuleFallsBackOnExactFitAndZeroColumn) {
  std::vector<double> x{1, 0, 2, 0}, y{3, 6};
  BatchView<double> B{x.data(), y.data(), 2, 2, 2};
  std::vector<double> w{3, 5}, h(2);  // r = 0 exactly; column 1 is all zeros
  make_steps<double>(StepPolicy{}, B, w, h);
  for (std::size_t j = 0; j < 2; ++j) {
    EXPECT_GT(h[j], 0);
    EXPECT_TRUE(std::isfinite(h[j]));
    EXPECT_GT(w[j] + h[j], w[j] - h[j]);
  }
}

TEST(Reference, ExactOnDyadicData) {
  std::vector<float> x{1, 2, -1, 0.5f}, y{1, -2};
  BatchView<float> B{x.data(), y.data(), 2, 2, 2};
  std::vector<float> w{0.5f, -1};
  // r = (0.5 - 2 - 1, -0.5 - 0.5 + 2) = (-2.5, 1); L = (6.25 + 1) / 2
  const Reference ref = reference<float>(B, w);
  EXPECT_EQ(ref.loss, 3.625);
  EXPECT_EQ(ref.grad[0], (1 * -2.5 + -1 * 1.0));  // (2/b) sum x r with b = 2
  EXPECT_EQ(ref.grad[1], (2 * -2.5 + 0.5 * 1.0));
  // S = (0.5 + 2 + 1, 0.5 + 0.5 + 2): abs_term = (2/2)(2.5 * 3.5 + 1 * 3)
  EXPECT_EQ(ref.abs_term, 2.5 * 3.5 + 3);
  // Central reference with symmetric exact steps equals the analytic gradient.
  std::vector<float> h{0.25f, 0.5f};
  const CentralReference c = central_reference<float>(B, w, h, reference<float>(B, w), DType::f32,
                                                      sequential_depths(2, 2));
  EXPECT_EQ(c.grad, ref.grad);
}

TEST(Reference, Gamma) {
  EXPECT_EQ(gamma(0, 0x1p-24), 0);
  EXPECT_DOUBLE_EQ(gamma(10, 0x1p-24), 10 * 0x1p-24 / (1 - 10 * 0x1p-24));
  EXPECT_TRUE(std::isinf(gamma(0x1p24, 0x1p-24)));
}

}  // namespace
}  // namespace numgrad::testing
