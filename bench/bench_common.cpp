// Implementation of bench_common.hpp: the machine basics, the dataset cache, the reference
// checks (numgrad/reference.hpp bounds, never hand-picked tolerances), the counters and the
// registrations. Nothing here is timed; it all runs before a benchmark's timing loop.
#include "bench_common.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <tbb/task_arena.h>
#include <tuple>

#include "numgrad/check.hpp"
#include "numgrad/reference.hpp"

namespace numgrad::bench {

// --- Machine -------------------------------------------------------------------------------

std::size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page : std::size_t{4} << 30;
}

int hardware_threads() {
  // oneTBB's view honours the affinity mask (taskset, cgroups), unlike hardware_concurrency.
  return std::max(1, tbb::this_task_arena::max_concurrency());
}

// --- Data ------------------------------------------------------------------------------------

namespace {

constexpr std::size_t kBaseRows = 65536;

struct CacheEntry {
  std::size_t bytes = 0;
  std::shared_ptr<void> data;  // BenchData<T>
};
using CacheKey = std::tuple<std::size_t, std::size_t, std::size_t>;  // sizeof(T), n, d

// References of batches of cached datasets (check_loss_value), keyed by their addresses.
using ReferenceKey = std::tuple<std::size_t, const void*, const void*, std::size_t, std::size_t,
                                std::size_t, const void*, std::size_t>;  // sizeof(T) first
std::map<ReferenceKey, Reference>& reference_cache() {
  static std::map<ReferenceKey, Reference> cache;
  return cache;
}

std::map<CacheKey, CacheEntry>& data_cache() {
  static std::map<CacheKey, CacheEntry> cache;
  return cache;
}

// A quarter of physical memory, but at least 1.5 GiB so the 1 GiB case and a cold buffer fit
// together on small machines that can hold them at all.
std::size_t data_budget() {
  return std::max(physical_memory_bytes() / 4, std::size_t{3} << 29);
}

}  // namespace

template <class T>
const BenchData<T>& bench_data(std::size_t n, std::size_t d) {
  auto& cache = data_cache();
  const CacheKey key{sizeof(T), n, d};
  if (auto it = cache.find(key); it != cache.end())
    return *static_cast<const BenchData<T>*>(it->second.data.get());

  const std::size_t bytes = n * (d + 1) * sizeof(T);
  std::size_t total = 0;
  for (auto& [k, e] : cache) total += e.bytes;
  if (total + bytes > data_budget()) {
    cache.clear();
    reference_cache().clear();
  }

  SyntheticSpec spec;
  spec.n = std::min(n, kBaseRows);
  spec.d = d;
  spec.noise = 0.1;
  spec.seed = 42;
  std::vector<double> w_star;
  auto out = std::make_shared<BenchData<T>>();
  out->data = make_synthetic<T>(spec, &w_star);
  if (n > spec.n) {
    // Tile the base rows: the generator costs ~20 ns per value, a copy well under 1 ns.
    Dataset<T> big;
    big.n = n;
    big.d = d;
    big.ld = out->data.ld;
    big.x = AlignedBuffer<T>(n * big.ld);
    big.y = AlignedBuffer<T>(n);
    big.feature_names = out->data.feature_names;
    for (std::size_t r0 = 0; r0 < n; r0 += spec.n) {
      const std::size_t rows = std::min(spec.n, n - r0);
      std::memcpy(big.x.data() + r0 * big.ld, out->data.x.data(), rows * big.ld * sizeof(T));
      std::memcpy(big.y.data() + r0, out->data.y.data(), rows * sizeof(T));
    }
    out->data = std::move(big);
  }
  out->w.resize(d);
  for (std::size_t j = 0; j < d; ++j)
    out->w[j] = static_cast<T>(0.9 * w_star[j] + 0.05 * (static_cast<double>(j % 5) - 2.0));
  cache[key] = {bytes, out};
  return *out;
}

template const BenchData<float>& bench_data<float>(std::size_t, std::size_t);
template const BenchData<double>& bench_data<double>(std::size_t, std::size_t);

// --- Checks ------------------------------------------------------------------------------------

template <class T>
BatchView<T> check_slice(const BatchView<T>& batch) {
  const std::size_t rows =
      std::max<std::size_t>(1, kCheckElements / std::max<std::size_t>(batch.d, 1));
  return batch.rows <= rows ? batch : batch.rows_range(0, rows);
}

// The reference of a batch at w, computed once and shared by every kernel and peer checked on
// it: the whole of a 1 GiB batch costs seconds in long double, one kernel pass milliseconds.
// The addresses identify a batch of a cached dataset; bench_data empties this cache whenever
// it frees datasets, so a new dataset at a freed address never meets a stale reference.
template <class T>
const Reference& shared_reference(const BatchView<T>& batch, std::span<const T> w) {
  auto& cache = reference_cache();
  const ReferenceKey key{sizeof(T), batch.x,  batch.y,  batch.rows,
                         batch.d,   batch.ld, w.data(), w.size()};
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, reference(batch, w)).first;
  return it->second;
}

template <class T>
std::string check_loss_value(double got, const BatchView<T>& batch, std::span<const T> w, DType acc,
                             SumDepths depths) {
  const ErrorCheck c = check_loss(got, shared_reference(batch, w), acc, depths);
  return c.ok() ? std::string() : c.describe("loss ");
}

template <class T>
std::string check_gradient_value(std::span<const double> got, const BatchView<T>& batch,
                                 std::span<const T> w, std::span<const T> h, DType acc,
                                 SumDepths depths) {
  const Reference ref = reference(batch, w);
  const ErrorCheck c = h.empty() ? check_analytic(got, ref, acc, depths)
                                 : check_central<T>(got, batch, w, h, ref, acc, depths);
  return c.ok() ? std::string() : c.describe("g[" + std::to_string(c.worst) + "] ");
}

template BatchView<float> check_slice(const BatchView<float>&);
template BatchView<double> check_slice(const BatchView<double>&);
template std::string check_loss_value<float>(double, const BatchView<float>&,
                                             std::span<const float>, DType, SumDepths);
template std::string check_loss_value<double>(double, const BatchView<double>&,
                                              std::span<const double>, DType, SumDepths);
template std::string check_gradient_value<float>(std::span<const double>, const BatchView<float>&,
                                                 std::span<const float>, std::span<const float>,
                                                 DType, SumDepths);
template std::string check_gradient_value<double>(std::span<const double>, const BatchView<double>&,
                                                  std::span<const double>, std::span<const double>,
                                                  DType, SumDepths);

bool skip_if_check_fails(benchmark::State& state, const std::string& name,
                         const std::function<std::string()>& check) {
  static std::map<std::string, std::string> verdicts;
  auto it = verdicts.find(name);
  if (it == verdicts.end()) {
    std::string msg;
    try {
      msg = check();
    } catch (const std::exception& e) {
      msg = std::string("exception: ") + e.what();
    }
    it = verdicts.emplace(name, msg.empty() ? msg : "reference check failed: " + msg).first;
  }
  if (it->second.empty()) return false;
  state.SkipWithError(it->second.c_str());
  return true;
}

// --- Counters ------------------------------------------------------------------------------

double flops_per_call(Op op, std::size_t b, std::size_t d) {
  const double bd = static_cast<double>(b) * static_cast<double>(d);
  switch (op) {
    case Op::loss:
      return 2 * bd;
    case Op::residual:
      return 10 * bd;
    case Op::blackbox:
      return 4 * bd * static_cast<double>(d);
    case Op::analytic:
    case Op::steps:  // residuals 2bd, column sums of squares 2bd
      return 4 * bd;
    case Op::read:
    case Op::fma:
      return 0;
  }
  return 0;
}

namespace {
std::map<std::string, CeilingUse>& ceiling_uses() {
  static std::map<std::string, CeilingUse> uses;
  return uses;
}
// The benchmark running now (add_benchmark's wrapper sets it), so set_counters can file what
// it divided by under the run's name.
std::string& current_benchmark() {
  static std::string name;
  return name;
}
}  // namespace

void set_counters(benchmark::State& state, const Work& w) {
  using benchmark::Counter;
  constexpr auto rate = Counter::kIsIterationInvariantRate;
  if (w.rows > 0) state.counters["rows/s"] = Counter(w.rows, rate);
  // Decimal units (GB/s = 1e9 B/s), like the ceilings and the report. The two fractions are
  // rates too (per-call work over the ceiling, divided by the time), so the console prints them
  // with a "/s" suffix; they are dimensionless.
  if (w.bytes > 0) state.counters["bytes/s"] = Counter(w.bytes, rate);
  if (w.flops > 0) state.counters["flop/s"] = Counter(w.flops, rate);
  const MachineModel& m = machine_model();
  const int t = std::max(w.threads, 1);
  CeilingUse use{w, w.cold ? m.read_ceiling(1e300, t) : m.read_ceiling(w.working_set / t, t),
                 m.fma_peak(w.acc == DType::f64, t)};
  if (w.bytes > 0 && use.read.bw > 0)
    state.counters["frac_bw"] = Counter(w.bytes / use.read.bw, rate);
  if (w.flops > 0 && use.peak > 0) state.counters["frac_peak"] = Counter(w.flops / use.peak, rate);
  ceiling_uses()[current_benchmark() + "/real_time"] = use;
}

const CeilingUse* ceiling_use(const std::string& run_name) {
  const auto it = ceiling_uses().find(run_name);
  return it == ceiling_uses().end() ? nullptr : &it->second;
}

std::string bench_name(const std::string& family, const std::string& id, std::size_t n,
                       std::size_t b, std::size_t d, int threads) {
  return family + "/" + id + "/N:" + std::to_string(n) + "/b:" + std::to_string(b) +
         "/d:" + std::to_string(d) + "/threads:" + std::to_string(threads);
}

namespace {
struct Registrations {
  std::vector<std::string> names;  // in registration order, with "/real_time"
  std::set<std::string> seen;
};
Registrations& registrations() {
  static Registrations r;
  return r;
}
}  // namespace

const std::vector<std::string>& registered_names() {
  return registrations().names;
}

benchmark::internal::Benchmark* add_benchmark(const std::string& name,
                                              std::function<void(benchmark::State&)> fn) {
  // Real time everywhere: parallel kernels need it, and serial ones must be on the same clock
  // for speedups to mean anything. GB therefore appends "/real_time" to every name.
  // Sweeps overlap (a shape in two sweeps); the name is the identity, so register it once.
  Registrations& r = registrations();
  if (!r.seen.insert(name).second) return nullptr;
  r.names.push_back(name + "/real_time");
  return benchmark::RegisterBenchmark(name.c_str(),
                                      [name, fn = std::move(fn)](benchmark::State& s) {
                                        current_benchmark() = name;
                                        fn(s);
                                      })
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

void clear_benchmarks() {
  benchmark::ClearRegisteredBenchmarks();
  registrations() = {};
}

}  // namespace numgrad::bench
