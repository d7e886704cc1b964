// Implementation of bench_common.hpp: cache sizes from sysfs, the dataset cache, the
// reference checks (numgrad/reference.hpp bounds, never hand-picked tolerances) and the
// counters. Nothing here is timed; it all runs before a benchmark's timing loop.
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

#include "numgrad/reference.hpp"

namespace numgrad::bench {

// --- Machine -------------------------------------------------------------------------------

namespace {

// "32K", "1024K", "32M" -> bytes; 0 when unreadable.
std::size_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  std::size_t v = std::strtoull(s.c_str(), nullptr, 10);
  switch (s.back()) {
    case 'K':
      return v << 10;
    case 'M':
      return v << 20;
    case 'G':
      return v << 30;
    default:
      return v;
  }
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

}  // namespace

const CacheSizes& cache_sizes() {
  static const CacheSizes sizes = [] {
    CacheSizes c;
    bool l1 = false, l2 = false, l3 = false;
    for (int i = 0; i < 8; ++i) {
      const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i);
      const std::string type = read_line(dir + "/type");
      if (type.empty()) break;
      if (type == "Instruction") continue;
      const std::size_t size = parse_size(read_line(dir + "/size"));
      const int level = std::atoi(read_line(dir + "/level").c_str());
      if (size == 0) continue;
      if (level == 1) c.l1d = size, l1 = true;
      if (level == 2) c.l2 = size, l2 = true;
      if (level >= 3) c.llc = l3 ? std::max(c.llc, size) : size, l3 = true;
    }
    if (!l1 && sysconf(_SC_LEVEL1_DCACHE_SIZE) > 0) c.l1d = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (!l2 && sysconf(_SC_LEVEL2_CACHE_SIZE) > 0) c.l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (!l3 && sysconf(_SC_LEVEL3_CACHE_SIZE) > 0) c.llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (!l3 && !(sysconf(_SC_LEVEL3_CACHE_SIZE) > 0)) c.llc = c.l2;
    return c;
  }();
  return sizes;
}

std::size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page : std::size_t{4} << 30;
}

int hardware_threads() {
  // oneTBB's view honours the affinity mask (taskset, cgroups), unlike hardware_concurrency.
  return std::max(1, tbb::this_task_arena::max_concurrency());
}

Level level_of(double bytes, int threads, bool cold) {
  if (cold) return Level::dram;
  const CacheSizes& c = cache_sizes();
  const double share = bytes / std::max(threads, 1);
  if (share <= 0.75 * c.l1d) return Level::l1;
  if (share <= 0.75 * c.l2) return Level::l2;
  if (bytes <= 0.75 * c.llc) return Level::llc;
  return Level::dram;
}

std::size_t ceiling_buffer_bytes(Level level, int threads) {
  const CacheSizes& c = cache_sizes();
  switch (level) {
    case Level::l1:
      return c.l1d / 2;
    case Level::l2:
      return c.l2 / 2;
    case Level::llc:
      // Half the LLC minus what the private L2s could hold, so most reads reach the LLC.
      return std::max(c.llc / 2, c.l2 * threads * 2);
    case Level::dram:
      return std::max(c.llc * 4, std::size_t{64} << 20);
  }
  return 0;
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

namespace {

std::string format(const char* fmt, double a, double b, double c, double e) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c, e);
  return buf;
}

}  // namespace

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
  const Reference& ref = shared_reference(batch, w);
  const double tol = loss_bound(ref, acc, depths);
  const double err = std::abs(got - ref.loss);
  if (err <= tol) return {};
  return format("loss %.17g, reference %.17g: |error| %.3g exceeds the bound %.3g", got, ref.loss,
                err, tol);
}

template <class T>
std::string check_gradient_value(std::span<const double> got, const BatchView<T>& batch,
                                 std::span<const T> w, std::span<const T> h, DType acc,
                                 SumDepths depths) {
  std::vector<double> want, bound;
  if (h.empty()) {
    const Reference ref = reference(batch, w);
    want = ref.grad;
    bound = gradient_bound(ref, acc, depths);
  } else {
    CentralReference c = central_reference(batch, w, h, acc, depths);
    want = std::move(c.grad);
    bound = std::move(c.bound);
  }
  for (std::size_t j = 0; j < want.size(); ++j) {
    const double err = std::abs(got[j] - want[j]);
    if (!(err <= bound[j]))
      return "g[" + std::to_string(j) + "] " +
             format("%.17g, reference %.17g: |error| %.3g exceeds the bound %.3g", got[j], want[j],
                    err, bound[j]);
  }
  return {};
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
      return 4 * bd;
    case Op::read:
    case Op::fma:
      return 0;
  }
  return 0;
}

void set_counters(benchmark::State& state, const Work& w) {
  using benchmark::Counter;
  constexpr auto rate = Counter::kIsIterationInvariantRate;
  if (w.rows > 0) state.counters["rows/s"] = Counter(w.rows, rate);
  // Decimal units (GB/s = 1e9 B/s), like the ceilings and the report. The two fractions are
  // rates too (per-call work over the ceiling, divided by the time), so the console prints them
  // with a "/s" suffix; they are dimensionless.
  if (w.bytes > 0) state.counters["bytes/s"] = Counter(w.bytes, rate);
  if (w.flops > 0) state.counters["flop/s"] = Counter(w.flops, rate);
  const double bw = read_bw_ceiling(w.level, w.threads);
  if (w.bytes > 0 && bw > 0) state.counters["frac_bw"] = Counter(w.bytes / bw, rate);
  const double peak = fma_ceiling(w.acc, w.threads);
  if (w.flops > 0 && peak > 0) state.counters["frac_peak"] = Counter(w.flops / peak, rate);
}

std::string bench_name(const std::string& family, const std::string& id, std::size_t n,
                       std::size_t b, std::size_t d, int threads) {
  return family + "/" + id + "/N:" + std::to_string(n) + "/b:" + std::to_string(b) +
         "/d:" + std::to_string(d) + "/threads:" + std::to_string(threads);
}

std::vector<std::string>& registered_names() {
  static std::vector<std::string> names;
  return names;
}

benchmark::internal::Benchmark* add_benchmark(const std::string& name,
                                              std::function<void(benchmark::State&)> fn) {
  // Real time everywhere: parallel kernels need it, and serial ones must be on the same clock
  // for speedups to mean anything. GB therefore appends "/real_time" to every name.
  // Sweeps overlap (a shape in two sweeps); the name is the identity, so register it once.
  static std::set<std::string> seen;
  if (!seen.insert(name).second) return nullptr;
  registered_names().push_back(name + "/real_time");
  return benchmark::RegisterBenchmark(name.c_str(),
                                      [fn = std::move(fn)](benchmark::State& s) { fn(s); })
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace numgrad::bench
