// The communication of numgrad_mpi (numgrad/mpi.hpp): the session, agreeing on failures so
// that no rank waits for one that gave up, which rows each rank holds, sending them out from
// rank 0 or drawing them in place, and the gather of chunk partials.
#include <cstdlib>
#include <limits>
#include <string>

#include "exchange.hpp"
#include "numgrad/mpi.hpp"

namespace numgrad::mpi {

namespace {

template <class... Args>
std::string cat(const Args&... args) {
  std::string s;
  ((s +=
    [](const auto& a) {
      if constexpr (std::is_arithmetic_v<std::decay_t<decltype(a)>>)
        return std::to_string(a);
      else
        return std::string(a);
    }(args)),
   ...);
  return s;
}

}  // namespace

Session::Session(int& argc, char**& argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
}

Session::~Session() {
  MPI_Finalize();
}

bool launched() {
  // Open MPI, MPICH / Intel MPI (PMI), and PMIx launchers such as srun.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

int rank(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}

int size(MPI_Comm comm) {
  int s = 1;
  MPI_Comm_size(comm, &s);
  return s;
}

void agree(MPI_Comm comm, const std::function<void()>& step) {
  std::string error;
  try {
    step();
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "error without a message";
  } catch (...) {
    error = "unexpected error";
  }
  const int me = rank(comm), ranks = size(comm);
  int failed = error.empty() ? ranks : me, first = ranks;
  MPI_Allreduce(&failed, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == ranks) return;
  unsigned long long length = me == first ? error.size() : 0;
  MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, first, comm);
  std::string message(static_cast<std::size_t>(length), '\0');
  if (me == first) message = error;
  MPI_Bcast(message.data(), static_cast<int>(length), MPI_CHAR, first, comm);
  throw RankError(ranks == 1 ? message : "rank " + std::to_string(first) + ": " + message);
}

namespace detail {

ChunkRange share(std::size_t count, int r, int size) {
  const auto at = [&](int k) {
    return static_cast<std::size_t>(static_cast<unsigned __int128>(count) *
                                    static_cast<unsigned>(k) / static_cast<unsigned>(size));
  };
  return {at(r), at(r + 1)};
}

double now() {
  return MPI_Wtime();
}

Exchange::Exchange(MPI_Comm comm) : comm_(comm) {}

std::span<const double> Exchange::gather(std::span<const double> mine,
                                         const std::vector<ChunkRange>& ranges, std::size_t width,
                                         Timing* timing) {
  const std::size_t total = (ranges.empty() ? 0 : ranges.back().end) * width;
  if (total > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::invalid_argument(cat("partials: ", total, " values exceed one MPI message"));
  counts_.resize(ranges.size());
  displs_.resize(ranges.size());
  for (std::size_t r = 0; r < ranges.size(); ++r) {
    counts_[r] = static_cast<int>((ranges[r].end - ranges[r].first) * width);
    displs_[r] = static_cast<int>(ranges[r].first * width);
  }
  all_.resize(total);
  const double t0 = now();
  MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), MPI_DOUBLE, all_.data(),
                 counts_.data(), displs_.data(), MPI_DOUBLE, comm_);
  if (timing != nullptr) timing->communicate += now() - t0;
  return all_;
}

}  // namespace detail

RowRange batch_rows(std::size_t n, std::size_t d, int rank, int size) {
  const ChunkGrid grid = chunk_grid(n, d);
  const detail::ChunkRange c = detail::share(grid.count, rank, size);
  return {grid.first(c.first), c.end > c.first ? grid.end(c.end - 1) : grid.first(c.first)};
}

namespace detail {

TrainSplit train_split(const EpochOrder& order, std::size_t d, int rank, int size) {
  TrainSplit split;
  split.strata = share(order.strata(), rank, size);
  const std::size_t first = order.stratum_first(split.strata.first);
  const std::size_t end = order.stratum_first(split.strata.end);
  // The loss chunks that start in [first, end): their rows run at most one chunk past end.
  const ChunkGrid grid = chunk_grid(order.rows(), d);
  split.loss = {(first + grid.size - 1) / grid.size, (end + grid.size - 1) / grid.size};
  split.rows = {
      first, split.loss.end > split.loss.first ? std::max(end, grid.end(split.loss.end - 1)) : end};
  return split;
}

}  // namespace detail

RowRange train_rows(std::size_t n, std::size_t d, std::size_t b, int rank, int size) {
  return detail::train_split(EpochOrder(n, b, d), d, rank, size).rows;
}

template <class T>
Shard<T> scatter(MPI_Comm comm, const Dataset<T>* all, RowRange mine) {
  const int me = rank(comm), ranks = size(comm);
  unsigned long long shape[2] = {0, 0};  // n, d on rank 0
  agree(comm, [&] {
    if (me != 0) return;
    if (all == nullptr || all->n == 0 || all->d == 0)
      throw std::invalid_argument("scatter: rank 0 holds no rows");
    shape[0] = all->n;
    shape[1] = all->d;
  });
  MPI_Bcast(shape, 2, MPI_UNSIGNED_LONG_LONG, 0, comm);
  const auto n = static_cast<std::size_t>(shape[0]), d = static_cast<std::size_t>(shape[1]);
  agree(comm, [&] {
    if (mine.first > mine.end || mine.end > n)
      throw std::invalid_argument(
          cat("scatter: rows [", mine.first, ", ", mine.end, ") leave the dataset's n=", n));
  });
  Shard<T> shard;
  shard.n = n;
  shard.first = mine.first;
  Dataset<T>& rows = shard.rows;
  rows.n = mine.size();
  rows.d = rows.ld = d;
  rows.x = AlignedBuffer<T>(rows.n * d);
  rows.y = AlignedBuffer<T>(rows.n);
  // Blocks of at most ~2^24 values, whole rows, so that no message count overflows an int.
  const std::size_t block = std::max<std::size_t>(1, (std::size_t{1} << 24) / d);
  const auto copy_rows = [&](std::size_t first, std::size_t count, T* x, T* y) {
    for (std::size_t i = 0; i < count; ++i) {
      std::copy_n(all->x.data() + (first + i) * all->ld, d, x + i * d);
      y[i] = all->y[first + i];
    }
  };
  if (me == 0) {
    copy_rows(mine.first, rows.n, rows.x.data(), rows.y.data());
    std::vector<T> x, y;
    for (int r = 1; r < ranks; ++r) {
      unsigned long long range[2];
      MPI_Recv(range, 2, MPI_UNSIGNED_LONG_LONG, r, 0, comm, MPI_STATUS_IGNORE);
      for (std::size_t i = range[0]; i < range[1]; i += block) {
        const std::size_t count = std::min<std::size_t>(block, range[1] - i);
        x.resize(count * d);
        y.resize(count);
        copy_rows(i, count, x.data(), y.data());
        MPI_Send(x.data(), static_cast<int>(x.size()), detail::mpi_type<T>(), r, 1, comm);
        MPI_Send(y.data(), static_cast<int>(y.size()), detail::mpi_type<T>(), r, 2, comm);
      }
    }
  } else {
    unsigned long long range[2] = {mine.first, mine.end};
    MPI_Send(range, 2, MPI_UNSIGNED_LONG_LONG, 0, 0, comm);
    for (std::size_t i = 0; i < rows.n; i += block) {
      const std::size_t count = std::min(block, rows.n - i);
      MPI_Recv(rows.x.data() + i * d, static_cast<int>(count * d), detail::mpi_type<T>(), 0, 1,
               comm, MPI_STATUS_IGNORE);
      MPI_Recv(rows.y.data() + i, static_cast<int>(count), detail::mpi_type<T>(), 0, 2, comm,
               MPI_STATUS_IGNORE);
    }
  }
  return shard;
}

template <class T>
Shard<T> synthetic(const SyntheticSpec& spec, RowRange mine) {
  Shard<T> shard;
  shard.n = spec.n;
  shard.first = mine.first;
  shard.rows = make_synthetic_rows<T>(spec, mine.first, mine.size());
  return shard;
}

template Shard<float> scatter<float>(MPI_Comm, const Dataset<float>*, RowRange);
template Shard<double> scatter<double>(MPI_Comm, const Dataset<double>*, RowRange);
template Shard<float> synthetic<float>(const SyntheticSpec&, RowRange);
template Shard<double> synthetic<double>(const SyntheticSpec&, RowRange);

}  // namespace numgrad::mpi
