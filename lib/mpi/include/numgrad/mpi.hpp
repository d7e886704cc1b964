// numgrad over MPI ranks (the optional numgrad_mpi library; docs/design.md §8): a dataset's
// rows sharded over the ranks of a communicator, the loss, central-difference and analytic
// gradients of the whole dataset and the SGD trainer over those shards. Every result is
// bitwise the single-process one of the same kernel's tbb.samples form, for any rank count:
// each rank computes the partial sums of its range of the fixed row chunks (chunk_sums), one
// MPI_Allgatherv hands every rank every chunk's partials, and each rank joins them in chunk
// order (join_*), never in MPI_Allreduce's unspecified order.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>

#include "numgrad/chunks.hpp"
#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/train.hpp"

namespace numgrad::mpi {

// MPI_Init_thread (funneled: only the calling thread talks to MPI; oneTBB workers never do)
// and MPI_Finalize, for main().
class Session {
 public:
  Session(int& argc, char**& argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

// True when this process was started by an MPI launcher (mpirun, mpiexec, srun with PMI):
// what decides whether a tool runs distributed.
bool launched();
int rank(MPI_Comm comm);
int size(MPI_Comm comm);

// A failure on some rank, reported on every rank: what() is "rank R: <its message>" for the
// lowest failing rank R (the message alone on a one-rank communicator).
struct RankError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs step on this rank, then agrees: when it threw on any rank (a bad option, a missing
// file, a bad value in one rank's rows), every rank throws RankError with that rank's
// message. One MPI_Allreduce and, on failure, one MPI_Bcast: collective, so every rank of
// comm must call it at the same point; nothing is left waiting on a rank that failed.
void agree(MPI_Comm comm, const std::function<void()>& step);

// Rows [first, end) of a dataset.
struct RowRange {
  std::size_t first = 0, end = 0;
  std::size_t size() const { return end - first; }
};

// The rows a rank holds to evaluate a dataset of n rows as one batch: whole chunks of
// chunk_grid(n, d), ranks taking consecutive ranges of about count/size chunks each (a rank
// gets none when there are fewer chunks than ranks).
RowRange batch_rows(std::size_t n, std::size_t d, int rank, int size);
// The rows a rank holds to train with batches of b rows: its range of EpochOrder(n, b, d)'s
// strata (consecutive data rows, about strata/size each), extended to the end of the last
// chunk of chunk_grid(n, d) that starts in them, for the full-dataset loss.
RowRange train_rows(std::size_t n, std::size_t d, std::size_t b, int rank, int size);

// A rank's rows of a dataset of n rows: data rows [first, first + rows.n). rows.n may be 0.
template <class T>
struct Shard {
  std::size_t n = 0;
  std::size_t first = 0;
  Dataset<T> rows;
};

// Rank 0's dataset (`all`, read only there; ignored elsewhere) sent to every rank, each
// receiving `mine` (its own range; the ranges may overlap). Collective. Throws RankError on
// every rank when rank 0 has no data or any rank's range leaves it.
template <class T>
Shard<T> scatter(MPI_Comm comm, const Dataset<T>* all, RowRange mine);
// This rank's rows of make_synthetic(spec), drawn here (make_synthetic_rows); no communication.
template <class T>
Shard<T> synthetic(const SyntheticSpec& spec, RowRange mine);

// Where a distributed call's time went, added to on every call: computing this rank's chunk
// partials and joining them, and the collective that exchanged them (including waiting for
// the slowest rank).
struct Timing {
  double compute = 0, communicate = 0;
};

// The whole dataset as one batch, from shards made with batch_rows(n, d, rank, size): the
// kernel's loss, gradient (its own algorithm; h: its steps) and analytic gradient, bitwise
// what tbb.samples over the kernel's inner family returns in one process (= the serial
// kernel's own result) for any number of ranks. Collective; the results are on every rank.
// Throws std::invalid_argument on every rank for a shard batch_rows did not make or bad
// arguments (the same on every rank, as the arguments are).
template <class T>
double loss(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, std::span<const T> w,
            Exec exec = {}, Timing* timing = nullptr);
template <class T>
void gradient(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, std::span<const T> w,
              std::span<const T> h, std::span<double> g, Exec exec = {}, Timing* timing = nullptr);
template <class T>
void analytic_gradient(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, std::span<const T> w,
                       std::span<double> g, Exec exec = {}, Timing* timing = nullptr);
// make_steps' data rule over the whole dataset (data_steps_kernel's sums).
template <class T>
void data_steps(MPI_Comm comm, const Shard<T>& shard, std::span<const T> w, std::span<T> h,
                Exec exec = {}, Timing* timing = nullptr);

// numgrad::train over shards made with train_rows(n, d, options.batch, rank, size): the same
// epochs, batches, steps and weights as a single-process train() of the whole dataset with the
// kernel's tbb.samples form (= the serial kernel, and tbb.weights / tbb.both where their bits
// are tbb.samples', §8), for any number of ranks; one MPI_Allgatherv of chunk partials per
// step. Options and data are checked on every rank and agreed (RankError on every rank when
// any rank's check failed). Results on every rank.
template <class T>
TrainResult train(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, const TrainOptions& o,
                  const std::function<void(const EpochReport&)>& on_epoch = {});

}  // namespace numgrad::mpi
