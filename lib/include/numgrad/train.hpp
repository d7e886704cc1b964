// Mini-batch SGD for the linear model, driven by any registered kernel's gradient (central
// difference by default, analytic on request), and the closed-form least-squares solution it
// is judged against. The trainer is the job the kernels exist for: it walks contiguous
// batches of a reshuffled copy of the data, so every kernel call sees a plain BatchView.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/step.hpp"

namespace numgrad {

struct TrainOptions {
  std::size_t batch = 32;   // b; the last batch of an epoch holds the n mod b rows left over
  std::size_t epochs = 10;  // upper bound; early stop and divergence end sooner
  double lr = 0.01;         // base learning rate
  double decay = 0;         // lr at epoch e (0-based) = lr / (1 + decay * e)
  double momentum = 0;      // heavy ball: v = momentum * v + g, w -= lr_e * v; in [0, 1)
  double tol = 0;           // early stop when |L_prev - L| <= tol * L_prev after an epoch; 0 = off
  bool allow_divergence = false;  // run on while the loss grows (a non-finite one still stops)
  std::uint64_t seed = 1;         // shuffle order; the same seed gives the same rows per batch
  StepPolicy step{};              // central-difference steps (data-aware by default)
  bool use_analytic = false;      // use the kernel's analytic gradient instead (for comparison)
  Exec exec{};                    // passed to every kernel call
  std::vector<double> initial_weights;  // empty: zeros; else d finite values
  // Called after every batch with (epoch, rows done in that epoch), e.g. for a progress bar.
  // Runs inside the timed part of the epoch: keep it cheap.
  std::function<void(std::size_t epoch, std::size_t rows_done)> on_batch;
};

// Checks every option once (the trainer never throws inside its loop). Throws
// std::invalid_argument naming the option and its value.
void validate(const TrainOptions& options);

struct EpochReport {
  std::size_t epoch = 0;       // 1-based
  std::size_t epochs = 0;      // the requested number
  double loss = 0;             // full-dataset loss after the epoch, through the kernel's loss
  double lr = 0;               // learning rate used in this epoch
  double seconds = 0;          // wall time of the epoch's shuffle and updates (not the loss pass)
  double rows_per_second = 0;  // n / seconds
  std::size_t batches = 0;     // ceil(n / b)
};

enum class StopReason { epochs, converged, diverged, stalled };
std::string_view name(StopReason r);

struct TrainResult {
  std::vector<double> weights;  // final weights, exactly the T values the model holds
  double initial_loss = 0;      // full-dataset loss at the initial weights
  double final_loss = 0;        // at the returned weights (after the last epoch run)
  std::size_t epochs_run = 0;
  StopReason stop = StopReason::epochs;
  std::string message;  // why training stopped early; for divergence, what to try
  std::vector<EpochReport> history;
};

// Trains y ~ X w by mini-batch SGD with the kernel's gradient. Each epoch copies the rows in a
// seeded random order into one buffer allocated per call, then steps through it in batches.
// Divergence ends training with StopReason::diverged and a message: a weight or an epoch's
// loss that is not finite, or, unless allow_divergence, an epoch's loss above 1e6 times the
// reference, or one that rose in each of the last 3 epochs and is above 2 times the
// reference; the reference is the larger of the initial loss and the loss at w = 0. A
// converging run stays below that; one past its stable rate grows by a steady factor per
// epoch and meets it within a few epochs. A fixed step that stops moving a weight
// the run has reached (w_j +- h rounds to w_j in T) ends it with StopReason::stalled. Both are
// results, not exceptions, so the caller still gets the history and the weights. Throws
// std::invalid_argument for bad options or data (empty, non-finite values, initial weights of the
// wrong length, a kernel of the other element type, a fixed step that does not move the initial
// weights), std::runtime_error for a kernel this CPU cannot run.
template <class T>
TrainResult train(const Kernel& kernel, const Dataset<T>& data, const TrainOptions& options,
                  const std::function<void(const EpochReport&)>& on_epoch = {});

// The closed-form least-squares fit of the whole dataset: what SGD should approach.
struct LeastSquares {
  std::vector<double> weights;
  double loss = 0;       // (1/n) sum (x_i.w - y_i)^2, evaluated in long double from the data
  std::size_t rank = 0;  // columns kept; dependent columns get weight 0
};

// Solves the normal equations X^T X w = X^T y, accumulated and Cholesky-factored in long
// double (64-bit significand). The weights' relative error is about cond(X)^2 * 2^-64: below
// f64's own rounding up to cond(X) ~ 40, 1e-9 at cond(X) = 1e5. The loss sits at its minimum,
// so it is off only by the square of that, which is what a comparison with SGD needs.
// Columns whose pivot falls below ~1e3 d eps_long_double of their diagonal are treated as
// linearly dependent and get weight 0: the loss is still the least-squares minimum. Costs
// O(n d^2) time and O(d^2) memory. Throws std::invalid_argument for an empty dataset.
template <class T>
LeastSquares least_squares(const Dataset<T>& data);

}  // namespace numgrad
