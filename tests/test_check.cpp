// The checking API (numgrad/check.hpp) itself: how an error and its bound become a ratio, which
// coordinate a vector check reports, and that the two central-difference checks tell a wrong
// kernel from a bad step. The problems and bounds are the ones of docs/design.md §3.3; the only
// constants here are exact values of the API's own rules (0/0 passes, e/0 and NaN fail).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "numgrad/check.hpp"
#include "numgrad/data.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/step.hpp"

namespace numgrad {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Check, ErrorRatioNeverNaN) {
  EXPECT_EQ(error_ratio(0, 0), 0);  // an exact result where nothing rounds passes
  EXPECT_EQ(error_ratio(1e-300, 0), kInf);
  EXPECT_EQ(error_ratio(kNaN, 1), kInf);
  EXPECT_EQ(error_ratio(kInf, 1), kInf);
  EXPECT_EQ(error_ratio(1, kNaN), kInf);
  EXPECT_EQ(error_ratio(1, 4), 0.25);
}

TEST(Check, VectorReportsTheLargestRatioNotTheLargestError) {
  const std::vector<double> got{10.5, 1.25, 3}, want{10, 1, 3}, bound{1, 0.125, 0};
  const ErrorCheck c = check_vector(got, want, bound);
  EXPECT_EQ(c.worst, 1u);
  EXPECT_EQ(c.ratio, 2);
  EXPECT_EQ(c.max_error, 0.5);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.describe("g[1] ").find("exceeds the bound"), std::string::npos) << c.describe("");
  const std::vector<double> nan_got{10, kNaN, 3};
  EXPECT_EQ(check_vector(nan_got, want, bound).worst, 1u);
  EXPECT_EQ(check_vector(nan_got, want, bound).ratio, kInf);
}

// Far from the fit with f32 data, the generic relative step throws the digits away: the kernel
// computes its quotient correctly (central passes) but the gradient is far less accurate than
// the analytic one (step fails). The data-aware step passes both.
TEST(Check, CentralAndStepChecksTellAKernelFromAStep) {
  SyntheticSpec spec;
  spec.n = 1024;
  spec.d = 64;
  spec.seed = 1;
  spec.noise = 0.1;
  const Dataset<float> data = make_synthetic<float>(spec);
  std::vector<float> w(spec.d, 1.0f), h(spec.d);
  const Kernel& k = find_kernel("scalar.residual.f32");
  const Reference ref = reference<float>(data.all(), w);

  make_steps<float>(StepPolicy{StepRule::relative}, data.all(), w, h);
  const KernelCheck relative = check_kernel<float>(k, data.all(), w, h, ref);
  EXPECT_TRUE(relative.central.ok()) << relative.central.describe("central ");
  EXPECT_FALSE(relative.step.ok()) << relative.step.describe("step ");

  make_steps<float>(StepPolicy{}, data.all(), w, h);
  const KernelCheck data_aware = check_kernel<float>(k, data.all(), w, h, ref);
  EXPECT_TRUE(data_aware.ok()) << data_aware.step.describe("step ");
}

}  // namespace
}  // namespace numgrad
