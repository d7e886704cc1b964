// EpochOrder (numgrad/train.hpp): the strata of a run's rows, one per chunk position of its
// batches, and each epoch's seeded shuffle of every stratum into the chunks that draw from it.
// The shuffle is library-independent, so a seed names the same order with any standard
// library, on any number of processes.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "numgrad/train.hpp"

namespace numgrad {

namespace {

// Unbiased integer in [0, range) from a 64-bit engine (Lemire's multiply-and-reject).
// std::uniform_int_distribution and std::shuffle are implementation-defined, so a seed
// would name different orders with different standard libraries; this does not.
std::uint64_t bounded(std::mt19937_64& rng, std::uint64_t range) {
  unsigned __int128 m = static_cast<unsigned __int128>(rng()) * range;
  auto low = static_cast<std::uint64_t>(m);
  if (low < range) {
    const std::uint64_t threshold = (0 - range) % range;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(rng()) * range;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

// splitmix64 of seed + k: decorrelates neighbouring seeds and neighbouring k.
std::uint64_t mix(std::uint64_t seed, std::size_t k) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (k + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Each epoch's order comes from (seed, epoch) alone, not from the previous epochs, so a run can
// be replayed from any epoch; each stratum's from (seed, epoch, stratum), so a process draws
// only its own strata. Stratum 0 keeps the epoch's seed: a run of one stratum shuffles exactly
// as the trainer did before strata.
std::uint64_t stratum_seed(std::uint64_t seed, std::size_t epoch, std::size_t s) {
  const std::uint64_t e = mix(seed, epoch);
  return s == 0 ? e : mix(e, s);
}

}  // namespace

EpochOrder::EpochOrder(std::size_t n, std::size_t b, std::size_t d) : n_(n), b_(std::min(b, n)) {
  if (n == 0 || b == 0 || d == 0)
    throw std::invalid_argument("EpochOrder: n=" + std::to_string(n) + ", b=" + std::to_string(b) +
                                ", d=" + std::to_string(d) + ": each must be positive");
  full_ = chunk_grid(b_, d);
  const std::size_t full_batches = n_ / b_, left = n_ % b_;
  last_ = left > 0 ? chunk_grid(left, d) : full_;
  // A short last batch's chunks can be smaller and more than a full batch's (its chunk size is
  // capped by fewer rows), so strata number the larger count.
  const std::size_t strata = std::max(full_.count, left > 0 ? last_.count : 0);
  first_.assign(strata + 1, 0);
  for (std::size_t s = 0; s < strata; ++s)
    first_[s + 1] =
        first_[s] + full_batches * chunk_rows(full_, s) + (left > 0 ? chunk_rows(last_, s) : 0);
}

std::size_t EpochOrder::chunk_rows(const ChunkGrid& g, std::size_t s) const {
  return s < g.count ? g.end(s) - g.first(s) : 0;
}

std::size_t EpochOrder::part_rows(std::size_t t, std::size_t s0, std::size_t s1) const {
  const ChunkGrid g = grid(t);
  if (s0 >= g.count || s1 <= s0) return 0;
  return g.end(std::min(s1, g.count) - 1) - g.first(s0);
}

std::size_t EpochOrder::part_first(std::size_t t, std::size_t s0, std::size_t s1) const {
  // Every batch before t is full.
  return t * part_rows(0, s0, s1);
}

template <class T>
void EpochOrder::gather(std::uint64_t seed, std::size_t epoch, std::size_t s0, std::size_t s1,
                        const BatchView<T>& from, T* x, T* y,
                        std::vector<std::size_t>& order) const {
  const std::size_t base = first_[s0], d = from.d, ld = from.ld;
  for (std::size_t s = s0; s < s1; ++s) {
    // Fisher-Yates from the identity of the stratum's rows.
    order.resize(first_[s + 1] - first_[s]);
    std::iota(order.begin(), order.end(), first_[s]);
    std::mt19937_64 rng(stratum_seed(seed, epoch, s));
    for (std::size_t i = order.size(); i-- > 1;) std::swap(order[i], order[bounded(rng, i + 1)]);
    // Chunk s of batch t takes the stratum's next rows; every batch before t is full.
    const std::size_t per_full_batch = chunk_rows(full_, s);
    for (std::size_t t = 0; t < batches(); ++t) {
      const ChunkGrid g = grid(t);
      if (s >= g.count) continue;
      const std::size_t* src = order.data() + t * per_full_batch;
      const std::size_t dst = part_first(t, s0, s1) + g.first(s) - g.first(s0);
      for (std::size_t i = 0; i < g.end(s) - g.first(s); ++i) {
        const std::size_t row = src[i] - base;
        std::memcpy(x + (dst + i) * ld, from.x + row * ld, d * sizeof(T));
        y[dst + i] = from.y[row];
      }
    }
  }
}

template void EpochOrder::gather<float>(std::uint64_t, std::size_t, std::size_t, std::size_t,
                                        const BatchView<float>&, float*, float*,
                                        std::vector<std::size_t>&) const;
template void EpochOrder::gather<double>(std::uint64_t, std::size_t, std::size_t, std::size_t,
                                         const BatchView<double>&, double*, double*,
                                         std::vector<std::size_t>&) const;

}  // namespace numgrad
