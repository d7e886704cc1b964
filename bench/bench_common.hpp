// Shared pieces of the benchmark binary: the machine model's accessors, the ceiling kernels,
// the dataset cache, the one-time reference check, the counters with their formulas, the
// names and registrations. bench_plan.cpp chooses what a preset runs, bench_kernels.cpp
// defines the kernel benchmarks, bench_peers.cpp the Eigen/OpenBLAS peers, bench_ceilings.cpp
// and bench_machine.cpp the machine's measurement, all through this header.
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

#include "machine_model.hpp"
#include "numgrad/batch.hpp"
#include "numgrad/data.hpp"
#include "numgrad/kernel.hpp"

namespace numgrad::bench {

// --- Machine -----------------------------------------------------------------------------

std::size_t physical_memory_bytes();
int hardware_threads();
// The value of the first /proc/cpuinfo line that starts with `key` ("model name"), or "".
std::string cpuinfo_field(const std::string& key);
// The CPU as /proc/cpuinfo names it: x86's "model name"; on aarch64, which has none, the
// core's identification (implementer, part, variant, revision).
std::string cpu_model();
// The vector-ISA features of /proc/cpuinfo that matter to the kernels and the peers (x86
// "flags": sse2 ... avx512, amx; aarch64 "Features": asimd ... sve2, sme), space-separated.
std::string cpu_isas();

// --- The machine model (bench_machine.cpp) ---------------------------------------------------

// The model of this machine that every ceiling comes from (machine_model.hpp): read bandwidth
// against working set per thread count with the cache levels at its knees, and the FMA peak.
// It is measured once per machine and saved (docs/benchmarks.md, "The machine model").
struct ModelOptions {
  std::string path;          // --machine-model=FILE; empty: the per-machine file in the cache dir
  bool recalibrate = false;  // --recalibrate: measure everything again
};
// Loads the saved model when its key matches this machine; true when it covers every thread
// count asked for. Cheap: no measuring.
bool load_machine_model(const std::vector<int>& thread_counts, const ModelOptions& opt);
// Measures what the model lacks for `thread_counts` (everything when recalibrating), saves it
// atomically, and says on stderr whether the model is fresh, reused or extended.
void complete_machine_model(const std::vector<int>& thread_counts, const ModelOptions& opt);
const MachineModel& machine_model();
std::string machine_model_status();  // "fresh", "reused", "extended" (or "none" before loading)
std::string machine_model_path(const ModelOptions& opt);
// Bytes a cold benchmark rotates over: 4x the measured last cache level (before calibration,
// the largest LLC the OS claims), at least 64 MiB, at most a quarter of memory.
std::size_t cold_buffer_bytes();

// A brief re-measurement of two ceilings against the model (drift, noise before/after).
struct Probe {
  double read_bw = 0, read_model = 0;  // the level-2 read (level 1 when there is one level)
  double read_bytes = 0;               // its per-thread working set
  double fma = 0, fma_model = 0;       // f32, one thread
  double worst() const;                // the larger relative deviation from the model, signed
  std::string describe() const;
};
Probe probe_ceilings();
// Why a reused model should be measured again, or "" when it should not: it was measured on a
// busy machine and this one is quiet (busy_now), or the probe reads well above it.
std::string machine_model_stale(const Probe& probe, double busy_now);
void remeasure_machine_model(const std::vector<int>& thread_counts, const ModelOptions& opt);

// --- Ceilings (bench_ceilings.cpp) -----------------------------------------------------------

// The ISA the ceiling kernels run with (the best this CPU runs, capped by NUMGRAD_ISA).
const char* ceiling_isa();
// Bytes/s of `threads` threads each summing its own `bytes_per_thread` of buf over and over
// (thread i reads [i * bytes_per_thread, (i + 1) * bytes_per_thread)), best of `tries` timed
// passes of at least 64 MiB per thread after one untimed pass.
double measure_read(const float* buf, std::size_t bytes_per_thread, int threads, int tries);
// FLOP/s of the FMA-peak loop, all threads, best of `tries`.
double measure_fma(bool f64, int threads, int tries);
// ceiling/read_bw.<level>/bytes:B/threads:t at the middle of each measured level, and
// ceiling/fma_peak.f32|f64/threads:t: the model's ceilings measured again inside the run.
void register_ceilings(const std::vector<int>& thread_counts);
// ceiling/read_bw.dataset/N:n/d:d: the read-bandwidth sum over the f32 dataset of (n, d) itself.
void register_dataset_read(std::size_t n, std::size_t d, const std::vector<int>& thread_counts);
// ceiling/sum.dataset.T/N:n/d:d/threads:1 and ceiling/sum_fma.dataset.T/...: one thread
// reading the dataset of (n, d) in element type T once, summing it alone and with the serial
// residual gradient's FMAs per vector (what a gradient hiding them behind the stream takes).
void register_dataset_once(DType type, std::size_t n, std::size_t d);

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

// Empty string when the value agrees with the reference within the docs/design.md §3.3 bound.
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

// Work of one call (docs/design.md §4.2), used for all counters:
//   bytes  = b * (d + 1) * sizeof(T)   X and y read once: the least any pass must read
//   flops  = loss 2bd | residual gradient 10bd (2bd residuals + 8bd perturbed sums)
//            | blackbox 4bd^2 (2d losses of 2bd) | analytic 4bd (2bd residuals + 2bd X^T r)
//            | steps 4bd (2bd residuals + 2bd column sums of squares; the rule not counted)
enum class Op { loss, residual, blackbox, analytic, steps, read, fma };
double flops_per_call(Op op, std::size_t b, std::size_t d);

struct Work {
  double rows = 0, bytes = 0, flops = 0;  // per iteration
  DType acc = DType::f32;                 // picks the FMA ceiling (f64 for f32acc64)
  int threads = 1;
  double working_set = 0;  // bytes resident between calls (the batch; an epoch's dataset)
  bool cold = false;       // rotates through cold_buffer_bytes(): served from memory
};
// rows/s, bytes/s, flop/s as iteration-invariant rates (divided by the real time), and the
// fractions frac_bw = bytes/s / read ceiling, frac_peak = flop/s / FMA peak(acc, threads),
// expressed as rates of bytes/ceiling so that GB divides by time. The read ceiling is the
// model's at the per-thread working set (working_set / threads) and the same thread count;
// cold benchmarks use the memory level's.
void set_counters(benchmark::State& state, const Work& work);

// What set_counters divided by, kept per benchmark so the reporter can explain a fraction
// above 1 (an anomaly) instead of printing it as a result.
struct CeilingUse {
  Work work;
  ReadCeiling read;
  double peak = 0;
};
const CeilingUse* ceiling_use(const std::string& run_name);  // run_name ends in /real_time

// "family/id/N:n/b:b/d:d/threads:t"; GB appends "/real_time".
std::string bench_name(const std::string& family, const std::string& id, std::size_t n,
                       std::size_t b, std::size_t d, int threads);

// Every registered name (with GB's "/real_time"), so main() can count what a filter selects
// and weigh the progress line.
const std::vector<std::string>& registered_names();
// Registers `fn` under `name` (real time, microseconds) unless the name is taken already.
benchmark::internal::Benchmark* add_benchmark(const std::string& name,
                                              std::function<void(benchmark::State&)> fn);
// Forgets every registration (the plan is registered again once the model is complete).
void clear_benchmarks();

// --- Kernel benchmarks (bench_kernels.cpp) ----------------------------------------------------

enum class Family { loss, grad, grad_auto, grad_noprefetch, steps, loss_cold, grad_cold, epoch };
Op grad_op(const Kernel& k);
// Registers family/id/N:n/b:b/d:d/threads:t for kernel k. grad_auto times gradient_auto (the
// data-aware steps chosen in the call, then the gradient); steps the data-aware steps alone
// (the kernel's pass for the sums, then the rule: what grad_auto adds to grad, at most);
// grad_noprefetch the gradient with NUMGRAD_PREFETCH=0 (no prefetching of the next piece:
// docs/design.md §4.4), beside grad in the same run. Hot families (loss, grad, grad_auto,
// steps, grad_noprefetch) use the batch as the whole dataset (n = b); cold ones rotate over
// cold_buffer_bytes(); an epoch walks n rows in batches of b. The name is the identity: a shape
// in two sweeps is registered once.
void add_kernel(Family fam, const Kernel& k, std::size_t b, std::size_t d, int threads,
                std::size_t n = 0);
// ceiling/split.<id>/N:b/d:d/threads:t: serial kernel k's gradient on 1/t of the rows per
// thread, t threads at once, with no join: the limit of a t-way split.
template <class T>
void register_split_ceiling(const Kernel& k, std::size_t b, std::size_t d, int t);

// --- Presets (bench_plan.cpp) ------------------------------------------------------------------

// The thread counts a preset (quick, full, scaling) measures; its ceilings are at these.
std::vector<int> preset_threads(const std::string& preset);
// Registers every benchmark of the preset, ceilings included (the model must be loaded).
void register_preset(const std::string& preset);
// The (d, b) pairs of the preset's loss sweep over d, "d:b d:b ...", for the report (the rows
// follow the measured L2, so they differ between machines).
std::string loss_sweep_shapes(const std::string& preset);

// --- Peers (bench_peers.cpp; no_peers.cpp without NUMGRAD_BUILD_PEERS) ------------------------

// Eigen (loss, blackbox) and OpenBLAS (loss, analytic gradient) at one shape. BLAS peers run
// with openblas_set_num_threads(t) for each t in `threads`; Eigen is single-threaded.
void register_peer_loss(DType t, std::size_t b, std::size_t d, const std::vector<int>& threads);
void register_peer_analytic(DType t, std::size_t b, std::size_t d, const std::vector<int>& threads);
void register_peer_blackbox(DType t, std::size_t b, std::size_t d);
// The peer libraries' versions, for the JSON context.
std::string eigen_version();
std::string openblas_version();

}  // namespace numgrad::bench
