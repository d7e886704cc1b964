// The API boundary and the policies around the kernels: every validation error names its
// argument and value; the registry is consistent; step policies parse and produce steps that
// move w; the reference and gamma behave as docs/design.md §3.3 defines them. Comparisons here are
// exact (dyadic data or closed forms); no tolerance is involved.
#include <cmath>
#include <limits>
#include <random>
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
  // An id that others contain (the element type left off) gets those, not all of them.
  try {
    find_kernel("scalar.residual");
    ADD_FAILURE() << "scalar.residual was found";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "kernel: unknown id 'scalar.residual'; ids containing it: scalar.residual.f32, "
              "scalar.residual.f32acc64, scalar.residual.f64, tbb.weights.scalar.residual.f32, "
              "tbb.weights.scalar.residual.f32acc64, tbb.weights.scalar.residual.f64, "
              "tbb.samples.scalar.residual.f32, tbb.samples.scalar.residual.f32acc64, "
              "tbb.samples.scalar.residual.f64, tbb.both.scalar.residual.f32, "
              "tbb.both.scalar.residual.f32acc64, tbb.both.scalar.residual.f64");
  }
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

// The data rule's steps against a brute-force search (u = T's unit roundoff): the error model
// of docs/design.md §3.1, rounding u (r2 + h^2 col2) / (b h) plus the shifted midpoint's
// c_j |shift| (exact, by TwoSum), scored over every power of two from 2^-100 to 2^100 whose
// ends move w and that is at least two units in the last place of w: the rule's pruned search
// must find the minimum.
template <class T>
void expect_data_rule_optimal(const BatchView<T>& B, const std::vector<T>& w,
                              const std::vector<T>& h) {
  const std::size_t d = B.d;
  const double u = std::numeric_limits<T>::epsilon() / 2, b = static_cast<double>(B.rows);
  double r2 = 0;
  std::vector<double> c2(d);
  for (std::size_t i = 0; i < B.rows; ++i) {
    double p = -static_cast<double>(B.y[i]);
    for (std::size_t j = 0; j < d; ++j) {
      const double x = B.row(i)[j];
      p += x * w[j];
      c2[j] += x * x;
    }
    r2 += p * p;
  }
  auto err = [](T a, T c) {  // a + c - fl(a + c), exactly
    const T s = a + c, cv = s - a;
    return static_cast<double>((a - (s - cv)) + (c - cv));
  };
  auto score = [&](std::size_t j, T hj) {
    const double shift = (err(w[j], hj) + err(w[j], T(-hj))) / 2;
    return u * (r2 + double(hj) * hj * c2[j]) / (b * double(hj)) + 2 * c2[j] / b * std::abs(shift);
  };
  for (std::size_t j = 0; j < d; ++j) {
    int e;
    EXPECT_EQ(std::frexp(h[j], &e), T(0.5)) << "h[" << j << "] not a power of two";
    EXPECT_GT(w[j] + h[j], w[j] - h[j]);
    double best = std::numeric_limits<double>::infinity();
    for (int k = -100; k <= 100; ++k) {
      const T hk = std::ldexp(T(1), k);
      if (w[j] + hk > w[j] - hk && hk >= 2 * std::abs(w[j]) * std::numeric_limits<T>::epsilon())
        best = std::min(best, score(j, hk));
    }
    EXPECT_LE(score(j, h[j]), best * (1 + 1e-9)) << "j=" << j << " w=" << w[j] << " h=" << h[j];
  }
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
  // w_1 = 1 against an optimum of ~2^33 shows the trade: 1 + 2^33 rounds in float.
  expect_data_rule_optimal<float>(data.all(), w, h);
}

// Many coordinates, so that the rule's vectorised common case and its full search both run:
// w_j at the top of a binade with its last bit set (w + h rounds for the nearest step), with
// trailing zeros, tiny, huge and zero, over columns of scales 2^-20 .. 2^20.
template <class T>
void expect_random_data_rule_optimal() {
  constexpr std::size_t d = 97;
  SyntheticSpec spec;
  spec.n = 64;
  spec.d = d;
  spec.noise = 0.5;
  std::mt19937_64 rng(7);
  for (std::size_t j = 0; j < d; ++j)
    spec.column_scale.push_back(std::ldexp(1.0, int(rng() % 41) - 20));
  const Dataset<T> data = make_synthetic<T>(spec);
  constexpr int p = std::numeric_limits<T>::digits;
  std::vector<T> w(d), h(d);
  for (std::size_t j = 0; j < d; ++j) {
    const int q = int(rng() % 21) - 10;
    switch (j % 6) {
      case 0:
        w[j] = std::ldexp(T(2) - std::ldexp(T(1), 1 - p), q);
        break;  // top, odd
      case 1:
        w[j] = std::ldexp(T(1.5), q);
        break;  // trailing zeros
      case 2:
        w[j] = std::ldexp(T(rng() % 1000) / 1000 - T(0.5), q);
        break;
      case 3:
        w[j] = j % 12 == 3 ? T(0) : std::numeric_limits<T>::min() * 3;
        break;
      case 4:
        w[j] = -std::ldexp(T(1) + std::ldexp(T(1), 1 - p), q);
        break;  // bottom, odd
      default:
        w[j] = T(1e4) * T(j);
        break;
    }
  }
  make_steps<T>(StepPolicy{}, data.all(), w, h);
  expect_data_rule_optimal<T>(data.all(), w, h);
}

TEST(StepPolicy, DataRuleIsOptimalOverManyCoordinatesF32) {
  expect_random_data_rule_optimal<float>();
}
TEST(StepPolicy, DataRuleIsOptimalOverManyCoordinatesF64) {
  expect_random_data_rule_optimal<double>();
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
