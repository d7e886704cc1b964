// Mini-batch SGD for the linear model, driven by any registered kernel's gradient (central
// difference by default, analytic on request), and the closed-form least-squares solution it
// is judged against. The trainer is the job the kernels exist for: it walks contiguous
// batches of a reshuffled copy of the data, so every kernel call sees a plain BatchView.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "numgrad/chunks.hpp"
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

// The order in which an epoch visits the rows. Batches are b consecutive positions of the
// epoch (the last holds the n mod b left over), each cut into the fixed row chunks of its
// kernels (chunk_grid, numgrad/chunks.hpp). The rows are cut into strata, one per chunk
// position, in data order: chunk s of every batch is drawn from stratum s, which is shuffled
// afresh each epoch, from (seed, epoch, s) alone, by a Fisher-Yates draw of its own (not
// std::shuffle, whose output differs between standard libraries). So every row is visited once
// per epoch, every batch is a stratified sample of the whole data, and the rows a chunk
// position ever takes are known before the run: a process that holds strata [s0, s1) computes
// chunks s0..s1 of every batch with no data moving (numgrad_mpi). A batch of one chunk
// (b d <= 2^14, or b at most the chunk's rows) has one stratum: a plain shuffle of every row,
// drawn as before strata existed.
class EpochOrder {
 public:
  // n rows in batches of min(b, n), d features; throws std::invalid_argument for a zero.
  EpochOrder(std::size_t n, std::size_t b, std::size_t d);
  std::size_t rows() const { return n_; }
  std::size_t batch() const { return b_; }
  std::size_t batches() const { return (n_ + b_ - 1) / b_; }
  std::size_t batch_rows(std::size_t t) const { return std::min(b_, n_ - t * b_); }
  ChunkGrid grid(std::size_t t) const { return t < n_ / b_ ? full_ : last_; }
  std::size_t strata() const { return first_.size() - 1; }
  // Stratum s is data rows [stratum_first(s), stratum_first(s + 1)).
  std::size_t stratum_first(std::size_t s) const { return first_[s]; }
  // The rows of strata [s0, s1) in batch t: its chunks s0.. (those it has), consecutive.
  std::size_t part_rows(std::size_t t, std::size_t s0, std::size_t s1) const;
  // Where batch t's part starts in an epoch buffer of strata [s0, s1) (what gather writes).
  std::size_t part_first(std::size_t t, std::size_t s0, std::size_t s1) const;
  // Epoch e's rows of strata [s0, s1), batch after batch, from `from` (data rows
  // [stratum_first(s0), stratum_first(s1))) into x and y (as many rows, from's ld). `order` is
  // scratch space. With [0, strata()) this is the whole epoch: batch t at rows t * b.
  template <class T>
  void gather(std::uint64_t seed, std::size_t epoch, std::size_t s0, std::size_t s1,
              const BatchView<T>& from, T* x, T* y, std::vector<std::size_t>& order) const;

 private:
  std::size_t chunk_rows(const ChunkGrid& g, std::size_t s) const;
  std::size_t n_, b_;
  ChunkGrid full_, last_;
  std::vector<std::size_t> first_;
};

// Where a run's rows live and how a batch's sums are formed: in this process (the Dataset
// overload of train() below), or spread over processes (numgrad_mpi). Batch t is the one at
// positions [t b, t b + rows) of the current epoch's EpochOrder. The calls come in the same
// sequence on every process of a distributed run.
template <class T>
class TrainRows {
 public:
  virtual ~TrainRows() = default;
  virtual const EpochOrder& order() const = 0;
  virtual std::size_t features() const = 0;
  virtual double loss(const T* w) = 0;  // over the whole dataset
  virtual void shuffle(std::size_t epoch) = 0;
  virtual void gradient(std::size_t t, const T* w, const T* h, double* g) = 0;  // the kernel's
  virtual void analytic_gradient(std::size_t t, const T* w, double* g) = 0;
  virtual void data_steps(std::size_t t, const T* w, T* h) = 0;  // make_steps' data rule
};

// Trains y ~ X w by mini-batch SGD with the kernel's gradient. Each epoch copies the rows in
// EpochOrder into one buffer allocated per call, then steps through it in batches.
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
// The same SGD on rows that live elsewhere: the options and the kernel are checked here, the
// data by whoever made `rows` (the overload above checks it is finite and non-empty).
// `rows.order()` must be EpochOrder(n, options.batch, d).
template <class T>
TrainResult train(const Kernel& kernel, TrainRows<T>& rows, const TrainOptions& options,
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
