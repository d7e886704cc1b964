// numgrad::mpi::train (numgrad/mpi.hpp): the trainer's own SGD loop (numgrad::train over
// TrainRows) on rows spread over ranks. A rank holds strata of the EpochOrder, so each epoch
// it shuffles its strata into its chunk positions of every batch with no data moving; per
// step it sums its chunks of the batch and one MPI_Allgatherv gives every rank all of them, to
// join in chunk order. Every rank then takes the same step, so the weights stay identical
// everywhere without being sent.
#include <memory>
#include <string>
#include <vector>

#include "exchange.hpp"
#include "numgrad/mpi.hpp"
#include "numgrad/step.hpp"

namespace numgrad::mpi {

namespace {

template <class T>
class RankRows final : public TrainRows<T> {
 public:
  RankRows(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, const TrainOptions& o)
      : k_(k),
        shard_(shard),
        exec_(o.exec),
        seed_(o.seed),
        order_(shard.n, o.batch, shard.rows.d),
        exchange_(comm),
        xs_(0),
        ys_(0) {
    const int me = rank(comm), ranks = size(comm);
    const std::size_t d = shard.rows.d;
    for (int r = 0; r < ranks; ++r) splits_.push_back(detail::train_split(order_, d, r, ranks));
    me_ = splits_[static_cast<std::size_t>(me)];
    if (shard.first != me_.rows.first || shard.rows.n != me_.rows.size())
      throw std::invalid_argument("shard: rows [" + std::to_string(shard.first) + ", " +
                                  std::to_string(shard.first + shard.rows.n) + ") on rank " +
                                  std::to_string(me) + ", train_rows gives [" +
                                  std::to_string(me_.rows.first) + ", " +
                                  std::to_string(me_.rows.end) + ")");
    const std::size_t strata_rows = order_.stratum_first(me_.strata.end) - me_.rows.first;
    xs_ = AlignedBuffer<T>(strata_rows * shard.rows.ld);
    ys_ = AlignedBuffer<T>(strata_rows);
    loss_grid_ = chunk_grid(shard.n, d);
    for (const detail::TrainSplit& s : splits_) loss_ranges_.push_back(s.loss);
  }

  const EpochOrder& order() const override { return order_; }
  std::size_t features() const override { return shard_.rows.d; }

  double loss(const T* w) override {
    const std::size_t d = shard_.rows.d, first = loss_grid_.first(me_.loss.first);
    const std::size_t end =
        me_.loss.end > me_.loss.first ? loss_grid_.end(me_.loss.end - 1) : first;
    BatchView<T> rows = detail::rows_of(shard_.rows);
    if (end > first) rows = rows.rows_range(first - shard_.first, end - shard_.first);
    const std::span<const double> sums =
        gather(k_, Sums::loss, rows, shard_.n, me_.loss, loss_ranges_, {w, d}, {});
    return join_loss<T>(k_, shard_.n, d, sums);
  }

  void shuffle(std::size_t e) override {
    const BatchView<T> all = detail::rows_of(shard_.rows);
    const BatchView<T> strata{all.x, all.y, order_.stratum_first(me_.strata.end) - shard_.first,
                              all.d, all.ld};
    order_.gather(seed_, e, me_.strata.first, me_.strata.end, strata, xs_.data(), ys_.data(),
                  scratch_);
  }

  void gradient(std::size_t t, const T* w, const T* h, double* g) override {
    const Sums what = gradient_sums(k_.algorithm);
    batch_sums(t, k_, what, w, h, [&](std::span<const double> sums, std::size_t d) {
      join_gradient<T>(k_, what, order_.batch_rows(t), {w, d}, {h, d}, sums, {g, d});
    });
  }
  void analytic_gradient(std::size_t t, const T* w, double* g) override {
    batch_sums(t, k_, Sums::analytic, w, nullptr, [&](std::span<const double> sums, std::size_t d) {
      join_gradient<T>(k_, Sums::analytic, order_.batch_rows(t), {w, d}, {}, sums, {g, d});
    });
  }
  void data_steps(std::size_t t, const T* w, T* h) override {
    const Kernel& k = data_steps_kernel<T>();
    batch_sums(t, k, Sums::steps, w, nullptr, [&](std::span<const double> sums, std::size_t d) {
      join_steps<T>(k, order_.batch_rows(t), {w, d}, sums, {h, d});
    });
  }

 private:
  // Batch t's sums of `what`: this rank's chunks (its strata that the batch's grid has), then
  // everyone's, handed to join with d.
  template <class Join>
  void batch_sums(std::size_t t, const Kernel& k, Sums what, const T* w, const T* h,
                  const Join& join) {
    const std::size_t d = shard_.rows.d, count = order_.grid(t).count;
    const auto clip = [&](detail::ChunkRange s) {
      return detail::ChunkRange{std::min(s.first, count), std::min(s.end, count)};
    };
    batch_ranges_.clear();
    for (const detail::TrainSplit& s : splits_) batch_ranges_.push_back(clip(s.strata));
    const std::size_t s0 = me_.strata.first, s1 = me_.strata.end;
    const std::size_t r0 = order_.part_first(t, s0, s1), rows = order_.part_rows(t, s0, s1);
    const std::size_t ld = shard_.rows.ld;
    const BatchView<T> part{xs_.data() + r0 * ld, ys_.data() + r0, rows, d, ld};
    join(gather(k, what, part, order_.batch_rows(t), clip(me_.strata), batch_ranges_, {w, d},
                {h, h == nullptr ? 0 : d}),
         d);
  }

  std::span<const double> gather(const Kernel& k, Sums what, const BatchView<T>& rows,
                                 std::size_t b, detail::ChunkRange mine,
                                 const std::vector<detail::ChunkRange>& ranges,
                                 std::span<const T> w, std::span<const T> h) {
    const std::size_t width = sums_per_chunk(what, shard_.rows.d);
    partials_.resize((mine.end - mine.first) * width);
    chunk_sums<T>(k, what, rows, b, mine.first, mine.end, w, h, partials_, exec_);
    return exchange_.gather(partials_, ranges, width, nullptr);
  }

  const Kernel& k_;
  const Shard<T>& shard_;
  const Exec exec_;
  const std::uint64_t seed_;
  const EpochOrder order_;
  detail::Exchange exchange_;
  std::vector<detail::TrainSplit> splits_;
  detail::TrainSplit me_;
  ChunkGrid loss_grid_;
  std::vector<detail::ChunkRange> loss_ranges_, batch_ranges_;
  AlignedBuffer<T> xs_, ys_;  // this rank's strata in the epoch's order
  std::vector<std::size_t> scratch_;
  std::vector<double> partials_;
};

}  // namespace

template <class T>
TrainResult train(MPI_Comm comm, const Kernel& k, const Shard<T>& shard, const TrainOptions& o,
                  const std::function<void(const EpochReport&)>& on_epoch) {
  // What can fail on one rank alone (the environment, the CPU, the rows it holds) is checked
  // here and agreed, so that no rank enters the loop's collectives while another has given
  // up. What train() itself rejects (options, weights, a fixed step) fails alike on every
  // rank, before its first collective; the loop does not throw.
  std::unique_ptr<RankRows<T>> rows;
  agree(comm, [&] {
    validate(o);
    if (shard.n == 0) throw std::invalid_argument("data: no rows (n=0)");
    if (shard.rows.n > 0) {
      if (const std::string bad = find_non_finite(detail::rows_of(shard.rows)); !bad.empty())
        throw std::invalid_argument("data: non-finite value at " + bad + " of the rows from " +
                                    std::to_string(shard.first));
    }
    // Nodes of a cluster may differ in what their CPUs run.
    if (!k.is_supported())
      throw std::runtime_error("kernel: '" + k.id + "' is not supported on this CPU");
    rows = std::make_unique<RankRows<T>>(comm, k, shard, o);
  });
  return numgrad::train<T>(k, *rows, o, on_epoch);
}

template TrainResult train<float>(MPI_Comm, const Kernel&, const Shard<float>&, const TrainOptions&,
                                  const std::function<void(const EpochReport&)>&);
template TrainResult train<double>(MPI_Comm, const Kernel&, const Shard<double>&,
                                   const TrainOptions&,
                                   const std::function<void(const EpochReport&)>&);

}  // namespace numgrad::mpi
