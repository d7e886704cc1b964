// Mini-batch SGD over any kernel (numgrad/train.hpp), on a Dataset in this process (LocalRows)
// or on any other TrainRows; the epochs' order is epoch_order.cpp's, the least-squares solution
// it is compared with is in least_squares.cpp. Everything is validated before the first epoch;
// inside the loop (Sgd) the kernel's unchecked functions are called directly, as the validated
// API would after its checks, so nothing allocates or throws per batch.
#include "numgrad/train.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "numgrad/threads.hpp"

namespace numgrad {

namespace {

// Numbers in messages in their shortest round-trip form: "lr=0.1", not 0.10000000000000001.
template <class V>
void put(std::ostringstream& out, const V& v) {
  if constexpr (std::is_floating_point_v<V>) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<double>(v));
    out << std::string_view(buf, ec == std::errc() ? end - buf : 0);
  } else {
    out << v;
  }
}

template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (put(out, args), ...);
  return out.str();
}

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw std::invalid_argument(cat(args...));
}

// The divergence rule of train.hpp, applied to each epoch's loss. The reference is the larger
// of the initial loss and the loss at w = 0 (what predicting nothing costs), so that a run
// started near the fit is not judged by SGD's noise around its tiny loss. A converging SGD
// stays below a small multiple of the reference and does not rise epoch after epoch there;
// gradient descent past its stable rate multiplies the loss by a fixed factor every epoch,
// which reaches both tests within a few epochs.
class DivergenceWatch {
 public:
  static constexpr double kRunaway = 1e6;    // this many times the reference: stop at once
  static constexpr double kGrowth = 2;       // above this many times the reference, and
  static constexpr std::size_t kRising = 3;  // risen in each of this many last epochs: stop

  DivergenceWatch(double initial, double at_zero, bool allowed)
      : reference_(std::max({initial, at_zero, std::numeric_limits<double>::min()})),
        previous_(initial),
        what_(initial >= at_zero ? "the initial loss " : "the loss at w = 0 "),
        allowed_(allowed) {}

  // Why the run has diverged with this epoch's loss, or "" while it has not.
  std::string check(double loss) {
    rising_ = loss > previous_ ? rising_ + 1 : 0;
    previous_ = loss;
    if (!std::isfinite(loss)) return cat("loss ", loss);
    if (allowed_) return "";
    if (loss > kRunaway * reference_)
      return cat("loss ", loss, " grew over 1e6x ", what_, reference_);
    if (rising_ >= kRising && loss > kGrowth * reference_)
      return cat("loss ", loss, " rose in each of the last ", kRising, " epochs, to over ", kGrowth,
                 "x ", what_, reference_);
    return "";
  }

 private:
  double reference_, previous_;
  const char* what_;
  bool allowed_;
  std::size_t rising_ = 0;
};

template <class T>
bool fits(double v) {
  return std::isfinite(v) && std::fabs(v) <= static_cast<double>(std::numeric_limits<T>::max());
}

// True when every w_j +- h_j are two different numbers of type T, i.e. the kernel's achieved
// step is nonzero (what the validated gradient() checks per call).
template <class T>
bool steps_move(const std::vector<T>& w, const std::vector<T>& h) {
  for (std::size_t j = 0; j < w.size(); ++j)
    if (!step_moves(w[j], h[j])) return false;
  return true;
}

// The kernel's functions for T, checked once: the dataset's element type, runnable on this
// CPU, and complete.
template <class T>
const KernelFns<T>& checked_functions(const Kernel& k) {
  if (k.elem != dtype_of<T>)
    fail("kernel: '", k.id, "' takes ", name(k.elem), " data, the dataset is ", name(dtype_of<T>));
  if (!k.is_supported())
    throw std::runtime_error("kernel: '" + k.id + "' is not supported on this CPU");
  const KernelFns<T>& fns = k.fns<T>();
  if (fns.loss == nullptr || fns.gradient == nullptr || fns.analytic_gradient == nullptr)
    fail("kernel: '", k.id, "' has no ", name(dtype_of<T>), " functions");
  return fns;
}

// The dataset, checked once: rows, a valid layout and finite values.
template <class T>
void check_data(const Dataset<T>& data) {
  if (data.n == 0) fail("data: no rows (n=0)");
  const BatchView<T> all = data.all();  // throws for d = 0 or ld < d via validate_batch
  validate_batch(all);
  if (const std::string bad = find_non_finite(all); !bad.empty())
    fail("data: non-finite value at ", bad, " (n=", data.n, ", d=", data.d, ")");
}

// The starting weights in T: zeros, or TrainOptions::initial_weights (d values that fit T).
template <class T>
std::vector<T> initial_weights(const TrainOptions& o, std::size_t d) {
  std::vector<T> w(d, T(0));
  if (o.initial_weights.empty()) return w;
  if (o.initial_weights.size() != d)
    fail("initial_weights: length ", o.initial_weights.size(), ", expected d=", d);
  for (std::size_t j = 0; j < d; ++j) {
    if (!fits<T>(o.initial_weights[j]))
      fail("initial_weights[", j, "]=", o.initial_weights[j], " does not fit ", name(dtype_of<T>));
    w[j] = static_cast<T>(o.initial_weights[j]);
  }
  return w;
}

void diverge(TrainResult& result, std::size_t epoch, const std::string& what, double lr) {
  result.stop = StopReason::diverged;
  result.message = cat("training diverged in epoch ", epoch, ": ", what, " (lr=", lr,
                       "); try a smaller learning rate, or standardize the features");
}

// The rows of a Dataset in this process: each epoch's EpochOrder copied into one buffer,
// allocated once per run (kernels want contiguous rows, and a gather per batch would also be a
// copy, just a slower one), every batch a view of it. The kernel's unchecked functions are
// called directly: train() checked everything first.
template <class T>
class LocalRows final : public TrainRows<T> {
 public:
  LocalRows(const KernelFns<T>& fns, const Dataset<T>& data, const TrainOptions& o)
      : fns_(fns),
        data_(data),
        exec_(o.exec),
        seed_(o.seed),
        order_(data.n, o.batch, data.d),
        xs_(data.n * data.ld),
        ys_(data.n),
        shuffled_{xs_.data(), ys_.data(), data.n, data.d, data.ld} {}

  const EpochOrder& order() const override { return order_; }
  std::size_t features() const override { return data_.d; }
  double loss(const T* w) override { return fns_.loss(data_.all(), w, exec_); }
  void shuffle(std::size_t e) override {
    order_.gather(seed_, e, 0, order_.strata(), data_.all(), xs_.data(), ys_.data(), scratch_);
  }
  void gradient(std::size_t t, const T* w, const T* h, double* g) override {
    fns_.gradient(batch(t), w, h, g, exec_);
  }
  void analytic_gradient(std::size_t t, const T* w, double* g) override {
    fns_.analytic_gradient(batch(t), w, g, exec_);
  }
  void data_steps(std::size_t t, const T* w, T* h) override {
    const std::size_t d = data_.d;
    make_steps<T>(StepPolicy{}, batch(t), {w, d}, {h, d}, exec_);
  }

 private:
  BatchView<T> batch(std::size_t t) const {
    const std::size_t r0 = t * order_.batch();
    return shuffled_.rows_range(r0, r0 + order_.batch_rows(t));
  }
  const KernelFns<T>& fns_;
  const Dataset<T>& data_;
  const Exec exec_;
  const std::uint64_t seed_;
  const EpochOrder order_;
  AlignedBuffer<T> xs_, ys_;
  const BatchView<T> shuffled_;
  std::vector<std::size_t> scratch_;
};

// One run's weights and the buffers its loop reuses (steps, gradient, velocity), over rows
// that live in this process or several: the SGD itself, the same either way.
template <class T>
class Sgd {
 public:
  Sgd(TrainRows<T>& rows, bool analytic, const TrainOptions& o)
      : rows_(rows),
        o_(o),
        analytic_(analytic),
        b_(rows.order().batch()),
        w_(initial_weights<T>(o, rows.features())),
        h_(w_.size(), T(0)),
        g_(w_.size(), 0.0),
        v_(w_.size(), 0.0) {}

  std::size_t batches() const { return rows_.order().batches(); }
  // The full-dataset loss at the current weights, and at w = 0 (what predicting nothing costs).
  double loss() { return rows_.loss(w_.data()); }
  double loss_at_zero() {
    const std::vector<T> zeros(w_.size(), T(0));
    return rows_.loss(zeros.data());
  }
  std::vector<double> weights() const { return {w_.begin(), w_.end()}; }

  // One epoch (0-based) at rate lr: the rows reshuffled, then every batch's gradient and
  // update. False when it stopped the run part-way, as `result` now says (a weight that left
  // T's range, a step that no longer moves the weights).
  bool epoch(std::size_t e, double lr, TrainResult& result) {
    rows_.shuffle(e);
    const EpochOrder& order = rows_.order();
    for (std::size_t t = 0; t < order.batches(); ++t) {
      const std::size_t r0 = t * b_, rows = order.batch_rows(t);
      if (!gradient(t, e, r0, result)) return false;
      if (!update(rows, lr, e, r0, result)) return false;
      if (o_.on_batch) o_.on_batch(e + 1, r0 + rows);
    }
    return true;
  }

 private:
  // g for batch t (at row r0 of epoch e): the analytic gradient, or the central difference.
  // Steps are refreshed once per epoch, on its first batch: the data-aware step costs a pass
  // over the batch in double, which per batch would cost more than a fast residual kernel
  // itself. Its optimum is broad (a step k times off raises the rounding error by
  // (k + 1/k) / 2), so a step from the epoch's start stays within a small factor of the best
  // while the loss falls within the epoch, far below the sampling noise of SGD. When w has
  // moved so far that a step no longer changes w_j in T, the steps are recomputed on the spot.
  // A fixed step cannot be: at the initial weights that is a bad option, later the run stops
  // there, keeping what it has.
  bool gradient(std::size_t t, std::size_t e, std::size_t r0, TrainResult& result) {
    if (analytic_) {
      rows_.analytic_gradient(t, w_.data(), g_.data());
      return true;
    }
    if (r0 == 0 || !steps_move(w_, h_)) {
      if (o_.step.rule == StepRule::data)
        rows_.data_steps(t, w_.data(), h_.data());
      else
        rule_steps<T>(o_.step, w_, h_);
      if (!steps_move(w_, h_)) {
        const std::string what =
            cat("step=", to_string(o_.step), ": does not move every weight in ", name(dtype_of<T>));
        const std::string advice = "; use a larger fixed step, or relative or auto";
        if (e == 0 && r0 == 0) fail(what, " at the initial weights", advice);
        result.stop = StopReason::stalled;
        result.message = cat("training stalled in epoch ", e + 1, " at row ", r0, ": ", what,
                             " once they grew", advice);
        return false;
      }
    }
    rows_.gradient(t, w_.data(), h_.data(), g_.data());
    return true;
  }

  // v = momentum v + (rows / b) g, w -= lr v, in double and stored back in T. The partial
  // last batch's mean gradient is weighted by rows / b, so that every row of the epoch moves
  // w by the same amount; a full step would give its few rows up to b times the weight of
  // the others. False when a weight no longer fits T (the run has diverged).
  bool update(std::size_t rows, double lr, std::size_t e, std::size_t r0, TrainResult& result) {
    const double scale = static_cast<double>(rows) / static_cast<double>(b_);
    for (std::size_t j = 0; j < w_.size(); ++j) {
      v_[j] = o_.momentum * v_[j] + scale * g_[j];
      const double next = static_cast<double>(w_[j]) - lr * v_[j];
      if (!fits<T>(next)) {
        diverge(result, e + 1, cat("weight ", j, " became ", next, " at row ", r0), o_.lr);
        return false;
      }
      w_[j] = static_cast<T>(next);
    }
    return true;
  }

  TrainRows<T>& rows_;
  const TrainOptions& o_;
  const bool analytic_;
  const std::size_t b_;
  std::vector<T> w_;
  std::vector<T> h_;
  std::vector<double> g_, v_;
};

// After an epoch: diverged by the watch, or converged by TrainOptions::tol.
void judge(TrainResult& result, DivergenceWatch& watch, double previous, const TrainOptions& o) {
  const EpochReport& rep = result.history.back();
  if (const std::string why = watch.check(rep.loss); !why.empty()) {
    diverge(result, rep.epoch, why, o.lr);
  } else if (o.tol > 0 && std::fabs(previous - rep.loss) <= o.tol * previous) {
    result.stop = StopReason::converged;
    result.message = cat("converged: loss changed by ", std::fabs(previous - rep.loss),
                         " <= tol=", o.tol, " times ", previous, " in epoch ", rep.epoch);
  }
}

}  // namespace

std::string_view name(StopReason r) {
  switch (r) {
    case StopReason::epochs:
      return "epochs";
    case StopReason::converged:
      return "converged";
    case StopReason::diverged:
      return "diverged";
    case StopReason::stalled:
      return "stalled";
  }
  return "?";
}

void validate(const TrainOptions& o) {
  if (o.batch == 0) fail("batch=0: a batch needs at least one row");
  if (o.epochs == 0) fail("epochs=0: need at least one epoch");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) fail("lr=", o.lr, ": must be positive and finite");
  if (!(o.decay >= 0) || !std::isfinite(o.decay))
    fail("decay=", o.decay, ": must be finite and >= 0");
  if (!(o.momentum >= 0 && o.momentum < 1)) fail("momentum=", o.momentum, ": must be in [0, 1)");
  if (!(o.tol >= 0) || !std::isfinite(o.tol)) fail("tol=", o.tol, ": must be finite and >= 0");
  if (o.exec.threads < 0) fail("threads=", o.exec.threads, ": must be >= 0 (0 = default)");
  if (o.exec.threads > kMaxThreads)
    fail("threads=", o.exec.threads, ": must be at most ", kMaxThreads);
  // A bad NUMGRAD_THREADS would otherwise surface from the first parallel kernel call.
  if (o.exec.threads == 0) default_threads();
  if (o.step.rule == StepRule::fixed && (!(o.step.h > 0) || !std::isfinite(o.step.h)))
    fail("step=fixed:", o.step.h, ": h must be positive and finite");
  for (std::size_t j = 0; j < o.initial_weights.size(); ++j)
    if (!std::isfinite(o.initial_weights[j]))
      fail("initial_weights[", j, "]=", o.initial_weights[j], " is not finite");
}

namespace {

// Start (the initial loss, the divergence reference) -> epochs (each: shuffle and batches,
// report, judge) -> the weights.
template <class T>
TrainResult run(const Kernel& k, TrainRows<T>& rows, const TrainOptions& o,
                const std::function<void(const EpochReport&)>& on_epoch) {
  const std::size_t n = rows.order().rows();
  Sgd<T> sgd(rows, o.use_analytic || k.algorithm == Algorithm::analytic, o);

  TrainResult result;
  result.initial_loss = result.final_loss = sgd.loss();
  DivergenceWatch watch(result.initial_loss,
                        o.initial_weights.empty() ? result.initial_loss : sgd.loss_at_zero(),
                        o.allow_divergence);
  if (!std::isfinite(result.initial_loss)) {
    diverge(result, 0, "the loss at the initial weights is not finite", o.lr);
    result.weights = sgd.weights();
    return result;
  }

  double previous = result.initial_loss;
  for (std::size_t e = 0; e < o.epochs && result.stop == StopReason::epochs; ++e) {
    const double lr = o.lr / (1.0 + o.decay * static_cast<double>(e));
    const auto t0 = std::chrono::steady_clock::now();
    if (!sgd.epoch(e, lr, result)) break;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EpochReport rep;
    rep.epoch = e + 1;
    rep.epochs = o.epochs;
    rep.loss = sgd.loss();
    rep.lr = lr;
    rep.seconds = seconds;
    rep.rows_per_second = seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
    rep.batches = sgd.batches();
    result.history.push_back(rep);
    result.final_loss = rep.loss;
    result.epochs_run = e + 1;
    if (on_epoch) on_epoch(rep);
    judge(result, watch, previous, o);
    previous = rep.loss;
  }
  // A stall ends an epoch part-way: its updates so far are in w, so the loss is taken there.
  if (result.stop == StopReason::stalled) result.final_loss = sgd.loss();
  result.weights = sgd.weights();
  return result;
}

}  // namespace

// Check -> run.
template <class T>
TrainResult train(const Kernel& k, const Dataset<T>& data, const TrainOptions& o,
                  const std::function<void(const EpochReport&)>& on_epoch) {
  validate(o);
  const KernelFns<T>& fns = checked_functions<T>(k);
  check_data(data);
  LocalRows<T> rows(fns, data, o);
  return run(k, rows, o, on_epoch);
}

template <class T>
TrainResult train(const Kernel& k, TrainRows<T>& rows, const TrainOptions& o,
                  const std::function<void(const EpochReport&)>& on_epoch) {
  validate(o);
  checked_functions<T>(k);
  const EpochOrder& order = rows.order();
  if (order.batch() != std::min(o.batch, order.rows()))
    fail("rows: ordered in batches of ", order.batch(), ", options.batch=", o.batch);
  return run(k, rows, o, on_epoch);
}

#define NUMGRAD_INSTANTIATE_TRAIN(T)                                                   \
  template TrainResult train<T>(const Kernel&, const Dataset<T>&, const TrainOptions&, \
                                const std::function<void(const EpochReport&)>&);       \
  template TrainResult train<T>(const Kernel&, TrainRows<T>&, const TrainOptions&,     \
                                const std::function<void(const EpochReport&)>&);
NUMGRAD_INSTANTIATE_TRAIN(float)
NUMGRAD_INSTANTIATE_TRAIN(double)
#undef NUMGRAD_INSTANTIATE_TRAIN

}  // namespace numgrad
