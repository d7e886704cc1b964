// The distributed loss, gradients and data-aware steps of numgrad/mpi.hpp over a dataset as one
// batch: each rank sums its chunks of chunk_grid(n, d) (chunk_sums), one MPI_Allgatherv
// hands every rank all of them, and every rank joins them in chunk order (join_*). That costs
// chunks x values-per-chunk doubles on the wire instead of one reduced vector, and the join's
// adds on every rank; it buys bits that do not depend on the rank count (docs/design.md §8).
#include <string>
#include <vector>

#include "exchange.hpp"
#include "numgrad/mpi.hpp"
#include "numgrad/step.hpp"

namespace numgrad::mpi {

namespace {

// Every rank's chunks of the batch, and this rank's partials of its own; checks the shard
// holds what batch_rows gives this rank.
template <class T>
class BatchSums {
 public:
  BatchSums(MPI_Comm comm, const Shard<T>& shard) : shard_(shard), exchange_(comm) {
    const int me = rank(comm), ranks = size(comm);
    grid_ = chunk_grid(shard.n, shard.rows.d);
    for (int r = 0; r < ranks; ++r) ranges_.push_back(detail::share(grid_.count, r, ranks));
    const RowRange want = batch_rows(shard.n, shard.rows.d, me, ranks);
    if (shard.first != want.first || shard.rows.n != want.size())
      throw std::invalid_argument("shard: rows [" + std::to_string(shard.first) + ", " +
                                  std::to_string(shard.first + shard.rows.n) + ") on rank " +
                                  std::to_string(me) + ", batch_rows gives [" +
                                  std::to_string(want.first) + ", " + std::to_string(want.end) +
                                  ")");
    mine_ = ranges_[static_cast<std::size_t>(me)];
  }

  // All chunks' partials of `what`, computed here and gathered.
  std::span<const double> sums(const Kernel& k, Sums what, std::span<const T> w,
                               std::span<const T> h, Exec exec, Timing* timing) {
    const std::size_t width = sums_per_chunk(what, shard_.rows.d);
    partials_.resize((mine_.end - mine_.first) * width);
    const double t0 = detail::now();
    chunk_sums<T>(k, what, detail::rows_of(shard_.rows), shard_.n, mine_.first, mine_.end, w, h,
                  partials_, exec);
    if (timing != nullptr) timing->compute += detail::now() - t0;
    return exchange_.gather(partials_, ranges_, width, timing);
  }

 private:
  const Shard<T>& shard_;
  detail::Exchange exchange_;
  ChunkGrid grid_;
  std::vector<detail::ChunkRange> ranges_;
  detail::ChunkRange mine_;
  std::vector<double> partials_;
};

// Runs the join, timed as compute.
template <class F>
void timed(Timing* timing, const F& join) {
  const double t0 = detail::now();
  join();
  if (timing != nullptr) timing->compute += detail::now() - t0;
}

}  // namespace

template <class T>
double loss(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, std::span<const T> w, Exec exec,
            Timing* timing) {
  BatchSums<T> batch(comm, shard);
  const std::span<const double> all = batch.sums(k, Sums::loss, w, {}, exec, timing);
  double l = 0;
  timed(timing, [&] { l = join_loss<T>(k, shard.n, shard.rows.d, all); });
  return l;
}

template <class T>
void gradient(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, std::span<const T> w,
              std::span<const T> h, std::span<double> g, Exec exec, Timing* timing) {
  BatchSums<T> batch(comm, shard);
  const Sums what = gradient_sums(k.algorithm);
  const std::span<const double> all = batch.sums(k, what, w, h, exec, timing);
  timed(timing, [&] { join_gradient<T>(k, what, shard.n, w, h, all, g); });
}

template <class T>
void analytic_gradient(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, std::span<const T> w,
                       std::span<double> g, Exec exec, Timing* timing) {
  BatchSums<T> batch(comm, shard);
  const std::span<const double> all = batch.sums(k, Sums::analytic, w, {}, exec, timing);
  timed(timing, [&] { join_gradient<T>(k, Sums::analytic, shard.n, w, {}, all, g); });
}

template <class T>
void data_steps(MPI_Comm comm, const Shard<T>& shard, std::span<const T> w, std::span<T> h,
                Exec exec, Timing* timing) {
  const Kernel& k = data_steps_kernel<T>();
  BatchSums<T> batch(comm, shard);
  const std::span<const double> all = batch.sums(k, Sums::steps, w, {}, exec, timing);
  timed(timing, [&] { join_steps<T>(k, shard.n, w, all, h); });
}

#define NUMGRAD_INSTANTIATE_MPI_KERNELS(T)                                                         \
  template double loss<T>(MPI_Comm, const Kernel&, const Shard<T>&, std::span<const T>, Exec,      \
                          Timing*);                                                                \
  template void gradient<T>(MPI_Comm, const Kernel&, const Shard<T>&, std::span<const T>,          \
                            std::span<const T>, std::span<double>, Exec, Timing*);                 \
  template void analytic_gradient<T>(MPI_Comm, const Kernel&, const Shard<T>&, std::span<const T>, \
                                     std::span<double>, Exec, Timing*);                            \
  template void data_steps<T>(MPI_Comm, const Shard<T>&, std::span<const T>, std::span<T>, Exec,   \
                              Timing*);
NUMGRAD_INSTANTIATE_MPI_KERNELS(float)
NUMGRAD_INSTANTIATE_MPI_KERNELS(double)
#undef NUMGRAD_INSTANTIATE_MPI_KERNELS

}  // namespace numgrad::mpi
