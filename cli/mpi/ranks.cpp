// `numgrad` under an MPI launcher (built with the MPI layer, numgrad/mpi.hpp): MPI's session
// around the tool's main, the output of every rank but 0 discarded (the job prints what one
// process would, and one line for bad input on any rank), and cli::Ranks over
// MPI_COMM_WORLD for `numgrad train`.
#include <cstdio>

#include "../cli.hpp"
#include "numgrad/mpi.hpp"

namespace numgrad::cli {
namespace {

class WorldRanks final : public Ranks {
 public:
  int rank() const override { return mpi::rank(MPI_COMM_WORLD); }
  int size() const override { return mpi::size(MPI_COMM_WORLD); }
  void agree(const std::function<void()>& step) override { mpi::agree(MPI_COMM_WORLD, step); }
  TrainResult train(const Kernel& k, const Dataset<float>* data, const TrainOptions& o,
                    const OnEpoch& on_epoch) override {
    return train_on(k, data, o, on_epoch);
  }
  TrainResult train(const Kernel& k, const Dataset<double>* data, const TrainOptions& o,
                    const OnEpoch& on_epoch) override {
    return train_on(k, data, o, on_epoch);
  }

 private:
  // Rank 0 sends each rank the rows train_rows gives it (rank 0 holds the whole dataset, read
  // once), then every rank trains on its own.
  template <class T>
  TrainResult train_on(const Kernel& k, const Dataset<T>* data, const TrainOptions& o,
                       const OnEpoch& on_epoch) {
    unsigned long long shape[2] = {0, 0};
    if (rank() == 0) shape[0] = data->n, shape[1] = data->d;
    MPI_Bcast(shape, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    const mpi::RowRange mine = mpi::train_rows(shape[0], shape[1], o.batch, rank(), size());
    const mpi::Shard<T> shard = mpi::scatter<T>(MPI_COMM_WORLD, data, mine);
    return mpi::train<T>(MPI_COMM_WORLD, k, shard, o, on_epoch);
  }
};

}  // namespace

bool mpi_launched() {
  return mpi::launched();
}

int mpi_main(int argc, char** argv) {
  mpi::Session session(argc, argv);
  WorldRanks world;
  set_ranks(&world);
  if (world.rank() != 0) {
    // Every rank reaches the same messages (mpi::agree); rank 0 prints them.
    (void)std::freopen("/dev/null", "w", stdout);
    (void)std::freopen("/dev/null", "w", stderr);
  }
  const int status = guarded_main(argc, argv);
  set_ranks(nullptr);
  return status;
}

}  // namespace numgrad::cli
