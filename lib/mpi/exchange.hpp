// What the numgrad_mpi sources share (numgrad/mpi.hpp): the MPI type of an element type, a
// view of a shard's rows, and the one collective of every distributed sum, gathering every
// rank's chunk partials in chunk order on every rank.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <span>
#include <vector>

#include "numgrad/mpi.hpp"

namespace numgrad::mpi::detail {

template <class T>
MPI_Datatype mpi_type() {
  return sizeof(T) == sizeof(float) ? MPI_FLOAT : MPI_DOUBLE;
}

// A view of a shard's rows; an empty shard gives an empty view (Dataset::all() needs a row).
template <class T>
BatchView<T> rows_of(const Dataset<T>& data) {
  return {data.x.data(), data.y.data(), data.n, data.d, data.ld};
}

// Chunks [first, end) of a grid.
struct ChunkRange {
  std::size_t first = 0, end = 0;
};
// Rank r's share of `count` chunks (or strata): consecutive, about count/size each.
ChunkRange share(std::size_t count, int r, int size);

// What a rank holds to train (train_rows): its strata of the EpochOrder, the chunks of
// chunk_grid(n, d) it sums for the full-dataset loss (those starting in its strata's rows),
// and the data rows both need.
struct TrainSplit {
  ChunkRange strata, loss;
  RowRange rows;
};
TrainSplit train_split(const EpochOrder& order, std::size_t d, int rank, int size);

// Seconds on MPI's clock.
double now();

// Every rank's partials of its chunk range, concatenated in chunk order on every rank: one
// MPI_Allgatherv. ranges[r] is rank r's range (the ranges follow each other from chunk 0);
// `mine` holds this rank's (end - first) * width values. The result stays valid until the
// next call. Counts beyond an int fail with std::invalid_argument (same on every rank).
class Exchange {
 public:
  explicit Exchange(MPI_Comm comm);
  std::span<const double> gather(std::span<const double> mine,
                                 const std::vector<ChunkRange>& ranges, std::size_t width,
                                 Timing* timing);

 private:
  MPI_Comm comm_;
  std::vector<int> counts_, displs_;
  std::vector<double> all_;
};

}  // namespace numgrad::mpi::detail
