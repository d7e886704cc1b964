// Shared pieces of the benchmark binary: the machine's caches and measured ceilings, the
// dataset cache, the one-time reference check, the counters with their formulas, and the
// names. bench_main.cpp registers kernels, bench_peers.cpp the Eigen/OpenBLAS peers and
// bench_ceilings.cpp the read-bandwidth and FMA-peak kernels, all through this header.
#pragma once

#include <benchmark/benchmark.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "numgrad/batch.hpp"
#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"

namespace numgrad::bench {

// --- Machine -----------------------------------------------------------------------------

struct CacheSizes {
  std::size_t l1d = 32 << 10, l2 = 1 << 20, llc = 32 << 20;  // bytes, per instance
};
// Read from /sys/devices/system/cpu/cpu0/cache (sysconf's LLC value is wrong on some KVM
// guests), falling back to sysconf and then to the defaults above.
const CacheSizes& cache_sizes();
std::size_t physical_memory_bytes();
int hardware_threads();

// Where a working set is served from, for choosing the bandwidth ceiling.
enum class Level { l1, l2, llc, dram };
inline constexpr const char* kLevelNames[] = {"l1", "l2", "llc", "dram"};
// Private levels (L1, L2) compare the per-thread share bytes/threads with 3/4 of the
// cache; the LLC compares all bytes; cold (rotating) benchmarks are DRAM by construction.
Level level_of(double bytes, int threads, bool cold);
// Bytes the read-bandwidth ceiling streams for a level: per thread for L1/L2, in total
// for LLC and DRAM (DRAM: 4x LLC, at least 64 MiB, so no cache holds it).
std::size_t ceiling_buffer_bytes(Level level, int threads);

// --- Ceilings (bench_ceilings.cpp) -----------------------------------------------------------

// Best-of-several read bandwidth (bytes/s) and FMA peak (FLOP/s) per thread count, measured
// once in main() before any benchmark runs, so every counter of the run divides by numbers
// from the same process and machine state.
struct Ceilings {
  std::map<int, double> read_bw[4];  // [Level][threads]
  std::map<int, double> fma_f32, fma_f64;
  std::string isa;  // ISA the ceiling kernels ran with
};
void measure_ceilings(const std::vector<int>& thread_counts);
const Ceilings& ceilings();
double read_bw_ceiling(Level level, int threads);  // 0 when unmeasured
double fma_ceiling(DType acc, int threads);        // 0 when unmeasured
void register_ceilings(const std::vector<int>& thread_counts);
// ceiling/read_bw.dataset/N:n/d:d: the read-bandwidth sum over the f32 dataset of (n, d) itself.
void register_dataset_read(std::size_t n, std::size_t d, const std::vector<int>& thread_counts);

// --- Data --------------------------------------------------------------------------------------

// A synthetic dataset (normal X, y = X w* + 0.1 noise, seed 42) and the weights benchmarks
// evaluate at: w = 0.9 w* + a small pattern, so residuals neither vanish nor dominate.
// Datasets above 65536 rows tile the first 65536 rows (cheap, and still y = X w* + noise);
// the cache evicts everything else before building one that would exceed the memory budget.
template <class T>
struct BenchData {
  Dataset<T> data;
  std::vector<T> w;
};
template <class T>
const BenchData<T>& bench_data(std::size_t n, std::size_t d);

// --- Threads ---------------------------------------------------------------------------------

// Runs body(i) for i in [0, threads) on `threads` threads. One task per thread with the
// static partitioner, so each thread keeps re-reading the chunk it has in its caches.
template <class F>
void on_threads(tbb::task_arena* arena, int threads, const F& body) {
  if (threads == 1 || arena == nullptr) {
    for (int i = 0; i < threads; ++i) body(i);
    return;
  }
  arena->execute([&] {
    tbb::parallel_for(
        0, threads, [&](int i) { body(i); }, tbb::static_partitioner());
  });
}

// --- Checks -------------------------------------------------------------------------------------

// Gradients of batches larger than this many elements (b * d) are checked on their first rows
// only: the long-double central reference costs ~50x a kernel pass, and depends on the
// kernel's accumulator and depths, so it cannot be shared. A loss is checked on the whole
// batch (its reference is computed once per batch and shared by every kernel and peer) and
// on those first rows (check_loss_whole_and_head).
inline constexpr std::size_t kCheckElements = std::size_t{1} << 22;
template <class T>
BatchView<T> check_slice(const BatchView<T>& batch);

// Empty string when the value agrees with the reference within the DESIGN.md §3 bound.
template <class T>
std::string check_loss_value(double got, const BatchView<T>& batch, std::span<const T> w, DType acc,
                             SumDepths depths);
// A loss function checked on the whole batch, and again on its first kCheckElements when the
// batch is larger: the whole-batch bound grows with the summation depth (for a sequential f32
// sum over 2^22 rows it is ~2/3 of the loss itself, so it catches only gross errors), the
// head's stays tight. loss(view) computes the value, depths(rows) the kernel's depths.
template <class T, class LossFn, class DepthsFn>
std::string check_loss_whole_and_head(const BatchView<T>& batch, std::span<const T> w, DType acc,
                                      const LossFn& loss, const DepthsFn& depths) {
  std::string msg = check_loss_value(loss(batch), batch, w, acc, depths(batch.rows));
  const BatchView<T> head = check_slice(batch);
  if (msg.empty() && head.rows < batch.rows)
    msg = check_loss_value(loss(head), head, w, acc, depths(head.rows));
  return msg;
}

// Central-difference gradient (h given) or analytic gradient (h empty) against the reference.
template <class T>
std::string check_gradient_value(std::span<const double> got, const BatchView<T>& batch,
                                 std::span<const T> w, std::span<const T> h, DType acc,
                                 SumDepths depths);

// Runs `check` once per benchmark name and remembers its verdict; on disagreement the
// benchmark calls state.SkipWithError with the message and returns (true) without timing.
bool skip_if_check_fails(benchmark::State& state, const std::string& name,
                         const std::function<std::string()>& check);

// --- Counters --------------------------------------------------------------------------------

// Work of one call (DESIGN.md §4), used for all counters:
//   bytes  = b * (d + 1) * sizeof(T)   X and y read once: the least any pass must read
//   flops  = loss 2bd | residual gradient 10bd (2bd residuals + 8bd perturbed sums)
//            | blackbox 4bd^2 (2d losses of 2bd) | analytic 4bd (2bd residuals + 2bd X^T r)
enum class Op { loss, residual, blackbox, analytic, read, fma };
double flops_per_call(Op op, std::size_t b, std::size_t d);

struct Work {
  double rows = 0, bytes = 0, flops = 0;  // per iteration
  DType acc = DType::f32;                 // picks the FMA ceiling (f64 for f32acc64)
  int threads = 1;
  Level level = Level::dram;
};
// rows/s, bytes/s, flop/s as iteration-invariant rates (divided by the real time), and the
// fractions frac_bw = bytes/s / read ceiling(level, threads), frac_peak = flop/s / FMA
// ceiling(acc, threads), expressed as rates of bytes/ceiling so that GB divides by time.
void set_counters(benchmark::State& state, const Work& work);

// "family/id/N:n/b:b/d:d/threads:t"; GB appends "/real_time".
std::string bench_name(const std::string& family, const std::string& id, std::size_t n,
                       std::size_t b, std::size_t d, int threads);

// Every registered name, so main() can count what a filter selects (progress line).
std::vector<std::string>& registered_names();
benchmark::internal::Benchmark* add_benchmark(const std::string& name,
                                              std::function<void(benchmark::State&)> fn);

// --- Peers (bench_peers.cpp) -------------------------------------------------------------------

// Eigen (loss, blackbox) and OpenBLAS (loss, analytic gradient) at one shape. BLAS peers run
// with openblas_set_num_threads(t) for each t in `threads`; Eigen is single-threaded.
void register_peer_loss(DType t, std::size_t b, std::size_t d, const std::vector<int>& threads);
void register_peer_analytic(DType t, std::size_t b, std::size_t d, const std::vector<int>& threads);
void register_peer_blackbox(DType t, std::size_t b, std::size_t d);
std::string openblas_version();

}  // namespace numgrad::bench
