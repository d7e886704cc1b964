// The SGD trainer and the least-squares solver (numgrad/train.hpp): convergence to w* on
// noise-free data, to the least-squares loss on noisy data, bitwise reproducibility across
// thread counts, central difference against analytic training, the partial last batch, the
// schedule, early stop, divergence and option/data validation.
// Tolerances: the noise-free bound is built from docs/design.md §3.3's gradient bound and the
// conditioning of X^T X (derived above noise_free_case); the 1% on noisy data is issue 7's
// acceptance criterion; the first-order test's tolerance is the size of the second-order term.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "numgrad/data.hpp"
#include "numgrad/reference.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/train.hpp"

namespace numgrad::testing {
namespace {

// Smallest eigenvalue of a symmetric d x d matrix (cyclic Jacobi; d is small here).
double min_eigenvalue(std::vector<double> a, std::size_t d) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (std::size_t p = 0; p < d; ++p)
      for (std::size_t q = p + 1; q < d; ++q) off += a[p * d + q] * a[p * d + q];
    if (off < 1e-30) break;
    for (std::size_t p = 0; p < d; ++p)
      for (std::size_t q = p + 1; q < d; ++q) {
        const double apq = a[p * d + q];
        if (apq == 0) continue;
        const double theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::hypot(theta, 1.0));
        const double c = 1 / std::hypot(t, 1.0), s = t * c;
        for (std::size_t k = 0; k < d; ++k) {  // columns p, q
          const double akp = a[k * d + p], akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < d; ++k) {  // rows p, q
          const double apk = a[p * d + k], aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
      }
  }
  double m = a[0];
  for (std::size_t j = 1; j < d; ++j) m = std::min(m, a[j * d + j]);
  return m;
}

// lambda_min(X^T X / n), in double from the stored data.
template <class T>
double min_eigenvalue_of_gram(const Dataset<T>& data) {
  const std::size_t d = data.d;
  std::vector<double> a(d * d, 0.0);
  for (std::size_t i = 0; i < data.n; ++i) {
    const T* x = data.x.data() + i * data.ld;
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t k = 0; k < d; ++k) a[j * d + k] += double(x[j]) * double(x[k]);
  }
  for (double& v : a) v /= static_cast<double>(data.n);
  return min_eigenvalue(a, d);
}

template <class T>
std::vector<T> as(const std::vector<double>& w) {
  return std::vector<T>(w.begin(), w.end());
}

// The exact (long double, compensated) loss of weights held in T.
template <class T>
double exact_loss(const Dataset<T>& data, const std::vector<double>& w) {
  const std::vector<T> wt = as<T>(w);
  return reference<T>(data.all(), wt).loss;
}

// --- Noise-free data: the weights reach w* --------------------------------------------------
//
// y = X w* (rounded to T). Let A = X^T X / n, w_ls the least-squares solution, L(w) the exact
// loss. Three things keep SGD from w_ls, and each is a residual vector whose RMS we bound:
//  - y stored in T: RMS sqrt(L(w*)), computed exactly;
//  - weights stored in T: |delta w_k| <= u |w_k|, so RMS <= sqrt(mean_i (u sum_k |x_ik w*_k|)^2);
//  - gradient rounding: SGD settles where the computed gradient 2 A (w - w_ls) + e vanishes,
//    e_j <= tau_j (docs/design.md §3.3 analytic bound at w*, with the kernel's depths for batch b,
//    doubled for the central difference: with the data-aware step its bound is the analytic
//    one up to that factor). Then L(w) - L* = e^T A^-1 e / 4 <= |tau|^2 / (4 lambda_min).
// The RMS residual obeys the triangle inequality, so sqrt(L(w)) is at most the sum of the
// three. From the loss to the weights: |X (w - w*)| / sqrt(n) <= sqrt(L(w)) + sqrt(L(w*)) and
// |X v|^2 / n >= lambda_min |v|^2, so |w - w*| <= (sqrt(L(w)) + sqrt(L(w*))) / sqrt(lambda_min).
// Both are worst-case bounds (every rounding in the same direction); real runs land orders of
// magnitude inside, which the loss-decrease check below makes visible.
template <class T>
void noise_free_case(const std::string& id, double momentum) {
  const Kernel& k = find_kernel(id);
  if (!k.is_supported()) GTEST_SKIP() << id << " is not supported on this CPU";
  SyntheticSpec spec;
  spec.n = 1024;
  spec.d = 8;
  spec.seed = 11;
  std::vector<double> w_star;
  const Dataset<T> data = make_synthetic<T>(spec, &w_star);
  TrainOptions o;
  o.batch = 32;
  o.epochs = 60;
  o.lr = 0.05;
  o.momentum = momentum;
  if (momentum > 0) o.lr *= 1 - momentum;  // same effective step size
  const TrainResult r = train(k, data, o);
  ASSERT_EQ(r.stop, StopReason::epochs) << r.message;

  const double u = unit_roundoff(dtype_of<T>), lambda = min_eigenvalue_of_gram(data);
  const std::vector<T> wt = as<T>(w_star);
  const Reference ref = reference<T>(data.all(), wt);
  std::vector<double> tau = gradient_bound(ref, k.acc, k.depths(o.batch, spec.d));
  double tau2 = 0;
  for (double t : tau) tau2 += 4 * t * t;
  double round2 = 0;
  for (std::size_t i = 0; i < data.n; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < spec.d; ++j)
      s += std::fabs(double(data.x[i * data.ld + j]) * w_star[j]);
    round2 += (u * s) * (u * s);
  }
  round2 /= static_cast<double>(data.n);
  const double loss_bound_rms =
      std::sqrt(ref.loss) + std::sqrt(round2) + std::sqrt(tau2 / (4 * lambda));
  const double loss = exact_loss(data, r.weights);
  EXPECT_LE(std::sqrt(loss), loss_bound_rms)
      << id << ": loss " << loss << " initial " << r.initial_loss;
  double dist2 = 0;
  for (std::size_t j = 0; j < spec.d; ++j) dist2 += std::pow(r.weights[j] - w_star[j], 2);
  EXPECT_LE(std::sqrt(dist2), (std::sqrt(loss) + std::sqrt(ref.loss)) / std::sqrt(lambda)) << id;
  EXPECT_LE(std::sqrt(dist2), loss_bound_rms / std::sqrt(lambda) * 2) << id;
  // Linear convergence on an interpolating problem: 60 epochs at this rate take the loss
  // down by far more than the square of the bound's looseness; catch a run that stalls.
  EXPECT_LT(loss, r.initial_loss * 1e-10) << id;
}

TEST(TrainNoiseFree, ReachesWStarF64) {
  noise_free_case<double>("scalar.residual.f64", 0);
}
TEST(TrainNoiseFree, ReachesWStarF32) {
  noise_free_case<float>("scalar.residual.f32", 0);
}
TEST(TrainNoiseFree, ReachesWStarF32Blackbox) {
  noise_free_case<float>("scalar.blackbox.f32acc64", 0);
}
TEST(TrainNoiseFree, ReachesWStarWithMomentum) {
  noise_free_case<double>("scalar.residual.f64", 0.5);
}

// --- Noisy data: within 1% of the least-squares loss ----------------------------------------
//
// With a constant lr, SGD's loss hovers above L* by about lr L* tr(A) / b (1.3% here at
// lr = 0.05, measured). decay = 1 lowers lr to lr/30 by the end, and reshuffling (every row
// once per epoch) cancels most of an epoch's gradient noise by its end: the final loss lands
// ~1e-6 relative above L*, far inside issue 7's 1%, for every kernel and element type.
template <class T>
TrainResult noisy_run(const std::string& id, bool analytic, double* ls_loss) {
  SyntheticSpec spec;
  spec.n = 2000;
  spec.d = 8;
  spec.noise = 0.5;
  spec.seed = 7;
  const Dataset<T> data = make_synthetic<T>(spec);
  TrainOptions o;
  o.batch = 32;
  o.epochs = 30;
  o.lr = 0.05;
  o.decay = 1;
  o.use_analytic = analytic;
  *ls_loss = least_squares(data).loss;
  return train(find_kernel(id), data, o);
}

TEST(TrainNoisy, WithinOnePercentOfLeastSquares) {
  for (const char* id :
       {"scalar.residual.f64", "scalar.residual.f32", "scalar.blackbox.f32acc64"}) {
    double ls = 0;
    const TrainResult r = find_kernel(id).elem == DType::f32 ? noisy_run<float>(id, false, &ls)
                                                             : noisy_run<double>(id, false, &ls);
    ASSERT_EQ(r.stop, StopReason::epochs) << id << ": " << r.message;
    EXPECT_GE(r.final_loss, ls * (1 - 1e-6)) << id;  // nothing beats least squares
    EXPECT_LE(r.final_loss, ls * 1.01) << id;
  }
}

// Central-difference and analytic training follow the same shuffles; each is held to within
// 1% of L* above, so "the same loss" means agreeing within that: a difference below SGD's own
// distance from L* says nothing about the gradient. (They typically agree to ~1e-7.)
TEST(TrainNoisy, CentralAndAnalyticReachTheSameLoss) {
  for (const char* id : {"scalar.residual.f32", "scalar.residual.f64"}) {
    double ls = 0;
    const bool f32 = find_kernel(id).elem == DType::f32;
    const TrainResult c =
        f32 ? noisy_run<float>(id, false, &ls) : noisy_run<double>(id, false, &ls);
    const TrainResult a = f32 ? noisy_run<float>(id, true, &ls) : noisy_run<double>(id, true, &ls);
    EXPECT_LE(std::fabs(c.final_loss - a.final_loss), 0.01 * ls) << id;
    EXPECT_LE(a.final_loss, ls * 1.01) << id;
  }
}

// --- Reproducibility --------------------------------------------------------------------------

// The shape a determinism run trains on. Serial kernels get a small one (the check is about
// the trainer: shuffle, schedule, no hidden state). Parallel kernels only split a call when
// b * d >= 2^17 (parallel.hpp), into fixed row chunks of ~2^14 elements, so they get
// b * d = 4096 * 32: eight row chunks.
struct RunShape {
  std::size_t n, d, b, epochs;
};

template <class T>
std::vector<double> shaped_run(const Kernel& k, const RunShape& s, int threads,
                               std::uint64_t seed) {
  SyntheticSpec spec;
  spec.n = s.n;
  spec.d = s.d;
  spec.noise = 0.1;
  spec.seed = 3;
  const Dataset<T> data = make_synthetic<T>(spec);
  TrainOptions o;
  o.batch = s.b;
  o.epochs = s.epochs;
  o.lr = 0.05;
  o.momentum = 0.3;
  o.seed = seed;
  o.exec.threads = threads;
  return train(k, data, o).weights;
}

// Every deterministic kernel: the same seed gives bitwise-identical weights on repeat and at
// thread counts 1, 2 and 4 (parallel kernels; those up to NUMGRAD_TEST_MAX_THREADS), while another
// seed gives other weights. About 1 s for the whole registry in a release build (the blackbox
// kernels dominate).
TEST(TrainDeterminism, SameSeedSameWeightsEveryKernel) {
  for (const Kernel& k : registry()) {
    if (!k.is_supported() || !k.deterministic) continue;
    const bool parallel = k.axis != Axis::serial;
    // 96 rows in batches of 20: five batches, the last of 16 rows.
    const RunShape shape = parallel ? RunShape{4096, 32, 4096, 2} : RunShape{96, 5, 20, 3};
    auto run = [&](int threads, std::uint64_t seed) {
      return k.elem == DType::f32 ? shaped_run<float>(k, shape, threads, seed)
                                  : shaped_run<double>(k, shape, threads, seed);
    };
    const std::vector<double> base = run(1, 42);
    if (parallel) {
      for (int t : test_thread_counts({2, 4}))
        EXPECT_EQ(run(t, 42), base) << k.id << " threads=" << t;
    } else {
      EXPECT_EQ(run(1, 42), base) << k.id << " repeat";
      EXPECT_NE(run(1, 43), base) << k.id << ": another seed should shuffle differently";
    }
  }
}

// --- Epoch mechanics ----------------------------------------------------------------------------

// With a tiny lr, one epoch moves w by -lr (n / b) grad L(w0) to first order, whatever the
// order: every row counts once, including the partial last batch (scaled by rows / b).
// The second-order term is relative lr (n / b) lambda_max(2A) ~ 1e-5 here; 1e-4 bounds it.
TEST(TrainEpoch, EveryRowCountsOnceIncludingThePartialBatch) {
  SyntheticSpec spec;
  spec.n = 100;  // b = 32: batches of 32, 32, 32, 4
  spec.d = 4;
  spec.noise = 1;
  spec.seed = 5;
  const Dataset<double> data = make_synthetic<double>(spec);
  const Kernel& k = find_kernel("scalar.analytic.f64");
  const std::vector<double> w0 = {0.5, -0.25, 1, 2};
  std::vector<double> g(4);
  analytic_gradient<double>(k, data.all(), w0, g);
  for (std::uint64_t seed : {1, 2, 3}) {
    TrainOptions o;
    o.batch = 32;
    o.epochs = 1;
    o.lr = 1e-6;
    o.seed = seed;
    o.initial_weights = w0;
    const TrainResult r = train(k, data, o);
    for (std::size_t j = 0; j < 4; ++j) {
      const double expected = -o.lr * (100.0 / 32.0) * g[j];
      EXPECT_NEAR(r.weights[j] - w0[j], expected, 1e-4 * std::fabs(expected))
          << "seed " << seed << " j=" << j;
    }
  }
}

TEST(TrainEpoch, ReportsScheduleAndCallbacks) {
  SyntheticSpec spec;
  spec.n = 70;
  spec.d = 3;
  const Dataset<float> data = make_synthetic<float>(spec);
  TrainOptions o;
  o.batch = 32;  // 3 batches
  o.epochs = 4;
  o.lr = 0.1;
  o.decay = 0.5;
  std::size_t batch_calls = 0, last_rows = 0, epoch_calls = 0;
  o.on_batch = [&](std::size_t, std::size_t rows) {
    ++batch_calls;
    last_rows = rows;
  };
  const TrainResult r =
      train(find_kernel("scalar.residual.f32"), data, o, [&](const EpochReport& e) {
        ++epoch_calls;
        EXPECT_EQ(e.epoch, epoch_calls);
        EXPECT_EQ(e.batches, 3u);
        EXPECT_DOUBLE_EQ(e.lr, 0.1 / (1 + 0.5 * (e.epoch - 1)));
        EXPECT_GT(e.rows_per_second, 0);
      });
  EXPECT_EQ(epoch_calls, 4u);
  EXPECT_EQ(batch_calls, 12u);
  EXPECT_EQ(last_rows, 70u);
  ASSERT_EQ(r.history.size(), 4u);
  EXPECT_EQ(r.final_loss, r.history.back().loss);
  EXPECT_LT(r.final_loss, r.initial_loss);
}

TEST(TrainEpoch, BatchLargerThanDatasetIsOneBatch) {
  SyntheticSpec spec;
  spec.n = 10;
  spec.d = 2;
  const Dataset<double> data = make_synthetic<double>(spec);
  TrainOptions o;
  o.batch = 1000;
  o.epochs = 200;
  o.lr = 0.2;
  const TrainResult r = train(find_kernel("scalar.residual.f64"), data, o);
  EXPECT_EQ(r.history.front().batches, 1u);
  EXPECT_LT(r.final_loss, 1e-20);
}

TEST(TrainEpoch, EarlyStopOnTolerance) {
  SyntheticSpec spec;
  spec.n = 500;
  spec.d = 4;
  spec.noise = 0.3;
  const Dataset<double> data = make_synthetic<double>(spec);
  TrainOptions o;
  o.epochs = 500;
  o.lr = 0.05;
  o.decay = 1;
  o.tol = 1e-4;
  const TrainResult r = train(find_kernel("scalar.residual.f64"), data, o);
  EXPECT_EQ(r.stop, StopReason::converged) << r.message;
  EXPECT_LT(r.epochs_run, 500u);
  EXPECT_EQ(r.history.size(), r.epochs_run);
}

TEST(TrainEpoch, DivergenceStopsWithAdvice) {
  SyntheticSpec spec;
  spec.n = 200;
  spec.d = 4;
  spec.column_scale = {1, 10, 100, 1000};  // unstandardized scales: lr 0.01 is far too big
  const Dataset<double> data = make_synthetic<double>(spec);
  TrainOptions o;
  o.epochs = 50;
  o.lr = 0.01;
  const TrainResult r = train(find_kernel("scalar.residual.f64"), data, o);
  EXPECT_EQ(r.stop, StopReason::diverged);
  EXPECT_NE(r.message.find("smaller learning rate"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("standardize"), std::string::npos) << r.message;
  EXPECT_LT(r.epochs_run, 50u);
}

// Issue 12, case 4: full-batch gradient descent just past its stable rate multiplies the loss
// by a steady factor per epoch (0.70 to 9999.5 in 20 epochs here); it used to run to the end
// because only a 1e6-fold growth counted. The loss rises in epochs 1, 2 and 3 and is then
// 2.7 times the initial one.
TEST(TrainEpoch, SlowDivergenceStops) {
  SyntheticSpec spec;
  spec.n = 1000;
  spec.d = 4;
  const Dataset<double> data = make_synthetic<double>(spec);
  TrainOptions o;
  o.batch = 1000;
  o.epochs = 20;
  o.lr = 1.05;
  const TrainResult r = train(find_kernel("scalar.residual.f64"), data, o);
  EXPECT_EQ(r.stop, StopReason::diverged);
  EXPECT_EQ(r.epochs_run, 3u);
  EXPECT_NE(r.message.find("rose in each of the last 3 epochs, to over 2x the initial loss"),
            std::string::npos)
      << r.message;
  EXPECT_NE(r.message.find("smaller learning rate"), std::string::npos) << r.message;

  // allow_divergence: every epoch runs, and the loss ends far above where it started.
  o.allow_divergence = true;
  const TrainResult all = train(find_kernel("scalar.residual.f64"), data, o);
  EXPECT_EQ(all.stop, StopReason::epochs) << all.message;
  EXPECT_EQ(all.epochs_run, 20u);
  EXPECT_GT(all.final_loss, 1e3 * all.initial_loss);
}

// Started at the least-squares fit with batch 1 and a large rate, SGD hovers at a few times
// the (small) initial loss L* and climbs there epoch after epoch: judged against L*, that
// noise would be called divergence (it rises 3 epochs in a row to over 2 L*). The reference is
// the loss at w = 0 instead (mean y^2, here 8.3 L*), which the hovering run stays well below.
TEST(TrainEpoch, StartAtTheFitIsNotDivergence) {
  SyntheticSpec spec;
  spec.n = 256;
  spec.d = 4;
  spec.noise = 1;
  spec.seed = 3;
  const Dataset<double> data = make_synthetic<double>(spec);
  const Kernel& k = find_kernel("scalar.residual.f64");
  TrainOptions o;
  o.batch = 1;
  o.epochs = 40;
  o.lr = 0.1;
  o.initial_weights = least_squares(data).weights;
  const TrainResult r = train(k, data, o);
  EXPECT_EQ(r.stop, StopReason::epochs) << r.message;
  double highest = 0;
  for (const EpochReport& e : r.history) highest = std::max(highest, e.loss);
  const double at_zero = loss<double>(k, data.all(), std::vector<double>(spec.d, 0.0));
  EXPECT_GT(highest, 2 * r.initial_loss);  // the noise an initial-loss reference would flag
  EXPECT_LT(highest, 2 * at_zero);
}

// --- Validation ---------------------------------------------------------------------------------

TEST(TrainValidation, BadOptionsNameTheOption) {
  const Dataset<double> data = make_synthetic<double>(SyntheticSpec{});
  const Kernel& k = find_kernel("scalar.residual.f64");
  auto with = [&](auto change) {
    return [&, change] {
      TrainOptions o;
      change(o);
      train(k, data, o);
    };
  };
  expect_invalid(with([](TrainOptions& o) { o.batch = 0; }), "batch=0");
  expect_invalid(with([](TrainOptions& o) { o.epochs = 0; }), "epochs=0");
  expect_invalid(with([](TrainOptions& o) { o.lr = -1; }), "lr=-1");
  expect_invalid(with([](TrainOptions& o) { o.lr = std::numeric_limits<double>::infinity(); }),
                 "lr=inf");
  expect_invalid(with([](TrainOptions& o) { o.decay = -0.5; }), "decay=-0.5");
  expect_invalid(with([](TrainOptions& o) { o.momentum = 1; }), "momentum=1");
  expect_invalid(with([](TrainOptions& o) { o.tol = -1; }), "tol=-1");
  expect_invalid(with([](TrainOptions& o) { o.exec.threads = -2; }), "threads=-2");
  expect_invalid(with([](TrainOptions& o) { o.exec.threads = 5000; }), "threads=5000");
  expect_invalid(with([](TrainOptions& o) { o.step = {StepRule::fixed, 0}; }), "step=fixed:0");
  expect_invalid(with([](TrainOptions& o) { o.initial_weights = {1, 2}; }), "initial_weights");
  expect_invalid([&] { train(find_kernel("scalar.residual.f32"), data, TrainOptions{}); },
                 "kernel: 'scalar.residual.f32'");
}

TEST(TrainValidation, BadDataFailsClearly) {
  Dataset<double> data = make_synthetic<double>(SyntheticSpec{});
  data.x[5 * data.ld + 2] = std::numeric_limits<double>::quiet_NaN();
  expect_invalid([&] { train(find_kernel("scalar.residual.f64"), data, TrainOptions{}); },
                 "data: non-finite value at x[5][2]");
  expect_invalid([&] { least_squares(Dataset<double>{}); }, "least_squares");
  expect_invalid([&] { train(find_kernel("scalar.residual.f64"), Dataset<double>{}, {}); },
                 "data: no rows");
}

// A fixed step that does not move the initial weights is a bad option: fail, naming it.
TEST(TrainValidation, FixedStepThatDoesNotMoveInitialWeights) {
  SyntheticSpec spec;
  spec.d = 3;
  const Dataset<float> data = make_synthetic<float>(spec);
  TrainOptions o;
  o.step = {StepRule::fixed, 1e-9};
  o.initial_weights = {1, 1, 1};
  expect_invalid([&] { train(find_kernel("scalar.residual.f32"), data, o); },
                 "step=fixed:1e-09: does not move every weight in f32 at the initial weights");
}

// One that stops moving them once they grow cannot be repaired either, but the run so far is
// kept: h = 1e-6 moves f32 weights below 32 (half an ulp there is 2^-20 < 1e-6) and not from
// 32 on (2^-19 > 1e-6); y = 100 x puts the optimum at w = 100.
TEST(TrainEpoch, FixedStepThatStopsMovingGrownWeightsStalls) {
  SyntheticSpec spec;
  spec.n = 256;
  spec.d = 1;
  Dataset<float> data = make_synthetic<float>(spec);
  for (std::size_t i = 0; i < data.n; ++i) data.y[i] = 100 * data.x[i * data.ld];
  TrainOptions o;
  o.step = {StepRule::fixed, 1e-6};
  o.epochs = 200;
  o.lr = 0.05;
  // f64 sums: with a step of 1e-6 the two perturbed losses (~1e4) differ by ~4e-4, which f32
  // sums would not resolve.
  const TrainResult r = train(find_kernel("scalar.residual.f32acc64"), data, o);
  ASSERT_EQ(r.stop, StopReason::stalled) << r.message << " (w=" << r.weights.at(0) << ")";
  EXPECT_NE(r.message.find("training stalled in epoch"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("step=fixed:1e-06"), std::string::npos) << r.message;
  EXPECT_GE(r.weights.at(0), 32.0);
  EXPECT_LT(r.weights.at(0), 64.0);
  EXPECT_EQ(r.history.size(), r.epochs_run);
  EXPECT_LT(r.epochs_run, 200u);
  // The stalled epoch's updates are in the weights, and the final loss is taken there.
  const Kernel& k = find_kernel("scalar.residual.f32acc64");
  const std::vector<float> w(r.weights.begin(), r.weights.end());
  EXPECT_EQ(r.final_loss, loss<float>(k, data.all(), w));
}

// --- Least squares ------------------------------------------------------------------------------

TEST(LeastSquares, RecoversNoiseFreeWeights) {
  SyntheticSpec spec;
  spec.n = 300;
  spec.d = 6;
  std::vector<double> w_star;
  const Dataset<double> data = make_synthetic<double>(spec, &w_star);
  const LeastSquares ls = least_squares(data);
  EXPECT_EQ(ls.rank, 6u);
  // y carries one f64 rounding, so w_ls = w* + (X^T X)^-1 X^T delta with |delta_i| <= u |y_i|.
  const double lambda = min_eigenvalue_of_gram(data);
  const double bound = std::sqrt(exact_loss(data, w_star) / lambda) + 1e-15;
  for (std::size_t j = 0; j < 6; ++j) EXPECT_NEAR(ls.weights[j], w_star[j], bound) << j;
  EXPECT_LT(ls.loss, 1e-28);
}

// A duplicated column makes X^T X singular; the solver keeps one copy and still minimises.
TEST(LeastSquares, DependentColumnGetsZeroWeight) {
  SyntheticSpec spec;
  spec.n = 200;
  spec.d = 3;
  spec.noise = 0.2;
  const Dataset<double> base = make_synthetic<double>(spec);
  Dataset<double> dup;
  dup.n = base.n;
  dup.d = dup.ld = 4;
  dup.x = AlignedBuffer<double>(dup.n * 4);
  dup.y = AlignedBuffer<double>(dup.n);
  for (std::size_t i = 0; i < base.n; ++i) {
    for (std::size_t j = 0; j < 3; ++j) dup.x[i * 4 + j] = base.x[i * base.ld + j];
    dup.x[i * 4 + 3] = base.x[i * base.ld + 1];
    dup.y[i] = base.y[i];
  }
  const LeastSquares a = least_squares(base), b = least_squares(dup);
  EXPECT_EQ(b.rank, 3u);
  EXPECT_EQ(b.weights[3], 0.0);
  EXPECT_NEAR(b.loss, a.loss, 1e-12 * a.loss);
}

}  // namespace
}  // namespace numgrad::testing
