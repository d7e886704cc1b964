// The benchmark binary's main(): builds a plan from the preset (--preset=quick|full), registers
// every supported registry kernel for the families loss, grad, loss_cold, grad_cold and epoch
// (plus peers and ceilings), measures the ceilings, and runs Google Benchmark with a reporter
// that shows progress and makes the exit status non-zero when any benchmark errored (a failed
// reference check included). Kernels are never listed here: the registry is enumerated.
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <oneapi/tbb/version.h>
#include <xsimd/config/xsimd_config.hpp>

#include "bench_common.hpp"
#include "numgrad/isa.hpp"
#include "numgrad/reference.hpp"
#include "numgrad/registry.hpp"
#include "numgrad/step.hpp"

namespace numgrad::bench {
namespace {

// --- Kernel benchmarks ---------------------------------------------------------------------

enum class Family { loss, grad, loss_cold, grad_cold, epoch };
constexpr const char* kFamilyNames[] = {"loss", "grad", "loss_cold", "grad_cold", "epoch"};

bool is_loss(Family f) {
  return f == Family::loss || f == Family::loss_cold;
}

Op grad_op(const Kernel& k) {
  switch (k.algorithm) {
    case Algorithm::blackbox:
      return Op::blackbox;
    case Algorithm::residual:
      return Op::residual;
    case Algorithm::analytic:
      return Op::analytic;
  }
  return Op::residual;
}

// Rows a cold benchmark rotates over: X and y together at least 4x the LLC (and 64 MiB), so
// each batch comes from DRAM however the LLC is shared or partitioned.
template <class T>
std::size_t cold_rows(std::size_t b, std::size_t d) {
  const std::size_t bytes = std::max(cache_sizes().llc * 4, std::size_t{64} << 20);
  const std::size_t rows = bytes / ((d + 1) * sizeof(T)) + 1;
  return (rows + b - 1) / b * b;
}

// One-time agreement check of kernel k on the batch (a gradient: on its first rows, see
// kCheckElements), at the same Exec.
template <class T>
std::string check_kernel(const Kernel& k, Family fam, const BatchView<T>& batch,
                         std::span<const T> w, const Exec& exec) {
  if (is_loss(fam))
    return check_loss_whole_and_head<T>(
        batch, w, k.acc, [&](const BatchView<T>& B) { return numgrad::loss<T>(k, B, w, exec); },
        [&](std::size_t rows) { return k.depths(rows, batch.d); });
  const BatchView<T> S = check_slice(batch);
  const SumDepths depths = k.depths(S.rows, S.d);
  std::vector<T> h(S.d);
  std::vector<double> g(S.d);
  make_steps<T>(StepPolicy{}, S, w, h);
  numgrad::gradient<T>(k, S, w, h, g, exec);
  if (k.algorithm == Algorithm::analytic)
    return check_gradient_value<T>(g, S, w, {}, k.acc, depths);
  return check_gradient_value<T>(g, S, w, h, k.acc, depths);
}

template <class T>
void run_kernel(benchmark::State& state, const std::string& nm, const Kernel& k, Family fam,
                std::size_t n, std::size_t b, std::size_t d, int threads) {
  const BenchData<T>& bd = bench_data<T>(n, d);
  const Dataset<T>& data = bd.data;
  const std::span<const T> w0(bd.w);
  const Exec exec{threads};
  const KernelFns<T>& f = k.fns<T>();
  const BatchView<T> first{data.x.data(), data.y.data(), b, d, data.ld};
  if (skip_if_check_fails(state, nm, [&] { return check_kernel<T>(k, fam, first, w0, exec); }))
    return;

  // The data-aware steps of the first batch, reused for every batch: computing them per call
  // would add a pass over the batch that is the step policy's cost, not the kernel's.
  std::vector<T> h(d), w(bd.w);
  std::vector<double> g(d);
  make_steps<T>(StepPolicy{}, first, w0, h);

  const Op op = is_loss(fam) ? Op::loss : grad_op(k);
  Work work;
  work.acc = k.acc;
  work.threads = threads;
  const double row_bytes = static_cast<double>((d + 1) * sizeof(T));

  switch (fam) {
    case Family::loss:
      for (auto _ : state) benchmark::DoNotOptimize(f.loss(first, w0.data(), exec));
      break;
    case Family::grad:
      for (auto _ : state) {
        f.gradient(first, w0.data(), h.data(), g.data(), exec);
        benchmark::DoNotOptimize(g.data());
        benchmark::ClobberMemory();
      }
      break;
    case Family::loss_cold:
    case Family::grad_cold: {
      // Consecutive batches of b rows, wrapping at the end of a buffer 4x the LLC.
      std::size_t start = 0;
      for (auto _ : state) {
        const BatchView<T> B{data.x.data() + start * data.ld, data.y.data() + start, b, d, data.ld};
        if (fam == Family::loss_cold) {
          benchmark::DoNotOptimize(f.loss(B, w0.data(), exec));
        } else {
          f.gradient(B, w0.data(), h.data(), g.data(), exec);
          benchmark::DoNotOptimize(g.data());
          benchmark::ClobberMemory();
        }
        start = start + 2 * b <= n ? start + b : 0;
      }
      break;
    }
    case Family::epoch: {
      // One epoch of mini-batch SGD: ceil(n/b) gradient calls over consecutive batches (the
      // last one partial), each followed by w <- w - lr g. The synthetic rows are i.i.d., so
      // the per-epoch shuffle a trainer does would only add a copy, not change the kernel's
      // work; it is left out. lr = 0.25/d keeps SGD stable down to b = 1 (||x||^2 ~ d), and w
      // restarts from the same point every epoch so every iteration does identical work.
      const double lr = 0.25 / static_cast<double>(d);
      for (auto _ : state) {
        std::copy(bd.w.begin(), bd.w.end(), w.begin());
        for (std::size_t start = 0; start < n; start += b) {
          const std::size_t rows = std::min(b, n - start);
          const BatchView<T> B{data.x.data() + start * data.ld, data.y.data() + start, rows, d,
                               data.ld};
          f.gradient(B, w.data(), h.data(), g.data(), exec);
          for (std::size_t j = 0; j < d; ++j)
            w[j] = static_cast<T>(static_cast<double>(w[j]) - lr * g[j]);
        }
        benchmark::DoNotOptimize(w.data());
        benchmark::ClobberMemory();
      }
      break;
    }
  }

  const bool cold = fam == Family::loss_cold || fam == Family::grad_cold;
  const std::size_t rows = fam == Family::epoch ? n : b;
  work.rows = static_cast<double>(rows);
  work.bytes = static_cast<double>(rows) * row_bytes;
  work.flops = flops_per_call(op, rows, d);  // linear in b, so an epoch is flops(n)
  work.level = level_of(fam == Family::epoch ? static_cast<double>(n) * row_bytes : work.bytes,
                        threads, cold);
  set_counters(state, work);
}

// Registers one kernel benchmark; the name is its identity (duplicates from overlapping
// sweeps are dropped).
void add_kernel(Family fam, const Kernel& k, std::size_t b, std::size_t d, int threads,
                std::size_t n = 0) {
  const bool f32 = k.elem == DType::f32;
  if (fam == Family::loss || fam == Family::grad) n = b;  // hot: the dataset is the batch
  if (fam == Family::loss_cold || fam == Family::grad_cold)
    n = f32 ? cold_rows<float>(b, d) : cold_rows<double>(b, d);
  if (fam == Family::epoch) b = std::min(b, n);
  const std::string nm = bench_name(kFamilyNames[static_cast<int>(fam)], k.id, n, b, d, threads);
  const Kernel* kp = &k;
  add_benchmark(nm, [=](benchmark::State& s) {
    if (f32)
      run_kernel<float>(s, nm, *kp, fam, n, b, d, threads);
    else
      run_kernel<double>(s, nm, *kp, fam, n, b, d, threads);
  });
}

// --- The plan ------------------------------------------------------------------------------

struct KernelSets {
  std::vector<const Kernel*> all;         // every supported kernel
  std::vector<const Kernel*> loss_owner;  // one entry per distinct loss function
  // Showcase families for the sweeps: scalar, serial families at the best ISA (or
  // dispatching), and one parallel family per axis at the best ISA.
  std::set<std::string> showcase;
};

std::string family_prefix(const std::string& id) {
  // "<prefix>.<algorithm>.<types>"
  const auto last = id.rfind('.');
  const auto alg = id.rfind('.', last - 1);
  return id.substr(0, alg);
}

std::string types_suffix(const std::string& id) {
  return id.substr(id.rfind('.') + 1);
}

KernelSets select_kernels() {
  KernelSets s;
  const Isa best = best_isa();
  std::set<Axis> parallel_axes_taken;
  // Two passes over the parallel families: exact best ISA first, then dispatching ones for
  // axes still without a showcase.
  for (const Kernel& k : registry()) {
    if (!k.is_supported()) continue;
    s.all.push_back(&k);
    const std::string prefix = family_prefix(k.id);
    if (k.axis == Axis::serial && (k.isa == Isa::none || k.isa == best || k.isa == Isa::dispatch))
      s.showcase.insert(prefix);
    if (k.axis != Axis::serial && k.isa == best && !parallel_axes_taken.count(k.axis)) {
      parallel_axes_taken.insert(k.axis);
      s.showcase.insert(prefix);
    }
  }
  for (const Kernel& k : registry())
    if (k.is_supported() && k.axis != Axis::serial && k.isa == Isa::dispatch &&
        !parallel_axes_taken.count(k.axis)) {
      parallel_axes_taken.insert(k.axis);
      s.showcase.insert(family_prefix(k.id));
    }
  // One loss benchmark per distinct loss function (the three algorithm entries of a family
  // share it), named after the residual entry when there is one.
  std::map<const void*, const Kernel*> owner;
  std::vector<const void*> order;
  for (const Kernel* k : s.all) {
    // The weights axis has no coordinates to split in a loss: its loss is the serial inner
    // kernel's, benchmarked there; timing it again per thread count would show flat "scaling".
    if (k->axis == Axis::weights) continue;
    const void* fn = k->elem == DType::f32 ? reinterpret_cast<const void*>(k->f32.loss)
                                           : reinterpret_cast<const void*>(k->f64.loss);
    auto [it, fresh] = owner.emplace(fn, k);
    if (fresh) order.push_back(fn);
    if (!fresh && k->algorithm == Algorithm::residual) it->second = k;
  }
  for (const void* fn : order) s.loss_owner.push_back(owner[fn]);
  return s;
}

bool in_showcase(const KernelSets& s, const Kernel& k, const char* types = "f32") {
  return s.showcase.count(family_prefix(k.id)) && types_suffix(k.id) == types;
}

std::vector<int> thread_list(bool full) {
  const int hw = hardware_threads();
  std::set<int> t{1, hw};
  if (full) {
    if (hw <= 8) {
      for (int i = 1; i <= hw; ++i) t.insert(i);
    } else {
      for (int i = 1; i < hw; i *= 2) t.insert(i);
    }
  } else if (hw >= 4) {
    t.insert(hw / 2);
  }
  return {t.begin(), t.end()};
}

std::vector<int> threads_of(const Kernel& k, const std::vector<int>& list) {
  if (k.axis == Axis::serial) return {1};
  return list;
}

constexpr std::size_t kHotFull = 65536;  // "b = full" of the hot sweeps: the whole 2^16 rows

// Rows of the largest f32 dataset of a sweep with `d` features that fits the memory budget
// (a quarter of physical memory), as a power of two; 0 when not even 2^20 rows fit.
std::size_t max_rows(std::size_t d, std::size_t cap) {
  const std::size_t budget = physical_memory_bytes() / 4;
  std::size_t n = cap;
  while (n >= (std::size_t{1} << 20) && n * (d + 1) * sizeof(float) > budget) n /= 2;
  return n >= (std::size_t{1} << 20) ? n : 0;
}

void register_plan(bool full) {
  const KernelSets ks = select_kernels();
  const std::vector<int> threads = thread_list(full);
  const int hw = hardware_threads();
  const std::vector<int> hw_only{hw};
  const std::vector<int> one{1};

  register_ceilings(threads);

  // 1. Every kernel at a few shapes: the table of all variants.
  //    loss at (b 512, d 64: in L2) and (b 4096, d 8: rows shorter than a register);
  //    grad (all three algorithms) at b 512, d 64, so gradient/loss time ratios are direct.
  const std::vector<std::size_t> all_d =
      full ? std::vector<std::size_t>{4, 8, 16, 64, 256, 1024} : std::vector<std::size_t>{};
  const std::vector<std::size_t> all_b =
      full ? std::vector<std::size_t>{1, 8, 64, 512, 4096, kHotFull} : std::vector<std::size_t>{};
  for (const Kernel* k : ks.loss_owner)
    for (int t : threads_of(*k, threads)) {
      add_kernel(Family::loss, *k, 512, 64, t);
      add_kernel(Family::loss, *k, 4096, 8, t);
    }
  for (const Kernel* k : ks.all)
    for (int t : threads_of(*k, threads)) add_kernel(Family::grad, *k, 512, 64, t);
  if (full) {
    for (const Kernel* k : ks.loss_owner)
      for (int t : threads_of(*k, threads))
        for (std::size_t d : all_d)
          for (std::size_t b : all_b) add_kernel(Family::loss, *k, b, d, t);
    for (const Kernel* k : ks.all)
      for (int t : threads_of(*k, threads))
        for (std::size_t d : all_d)
          for (std::size_t b : all_b)
            // Blackbox is O(b d^2): keep one call under 2^28 flops (~0.1 s scalar).
            if (flops_per_call(grad_op(*k), b, d) <= std::ldexp(1.0, 28))
              add_kernel(Family::grad, *k, b, d, t);
  }

  // 2. Sweeps of the showcase families (f32 in quick, every type in full) and the peers.
  auto showcase = [&](const Kernel& k) {
    if (!ks.showcase.count(family_prefix(k.id))) return false;
    return full || types_suffix(k.id) == "f32";
  };
  auto sweep_threads = [&](const Kernel& k) { return k.axis == Axis::serial ? one : hw_only; };
  const std::vector<DType> peer_types =
      full ? std::vector<DType>{DType::f32, DType::f64} : std::vector<DType>{DType::f32};

  // 2a. loss against d on hot 1 MiB f32 batches (b = 2^18 / d; small d is where generic
  // libraries lose), and against b at d 64.
  const std::vector<std::size_t> d_sweep = full ? std::vector<std::size_t>{4, 8, 16, 64, 256, 1024}
                                                : std::vector<std::size_t>{4, 8, 16, 64, 256};
  const std::vector<std::size_t> b_sweep{1, 8, 64, 512, 4096, kHotFull};
  for (std::size_t d : d_sweep) {
    const std::size_t b = (std::size_t{1} << 18) / d;
    for (const Kernel* k : ks.loss_owner)
      if (showcase(*k))
        for (int t : sweep_threads(*k)) add_kernel(Family::loss, *k, b, d, t);
    for (DType t : peer_types) register_peer_loss(t, b, d, one);
  }
  for (std::size_t b : b_sweep) {
    for (const Kernel* k : ks.loss_owner)
      if (showcase(*k))
        for (int t : sweep_threads(*k)) add_kernel(Family::loss, *k, b, 64, t);
    for (DType t : peer_types) register_peer_loss(t, b, 64, one);
  }

  // 2b. gradients against b at d 16 (residual and analytic), blackbox at two sizes, with the
  // OpenBLAS analytic and Eigen blackbox peers.
  for (std::size_t b : b_sweep) {
    for (const Kernel* k : ks.all)
      if (showcase(*k) && k->algorithm != Algorithm::blackbox)
        for (int t : sweep_threads(*k)) add_kernel(Family::grad, *k, b, 16, t);
    for (DType t : peer_types) register_peer_analytic(t, b, 16, one);
  }
  for (std::size_t b : {std::size_t{64}, std::size_t{4096}}) {
    for (const Kernel* k : ks.all)
      if (showcase(*k) && k->algorithm == Algorithm::blackbox)
        for (int t : sweep_threads(*k)) add_kernel(Family::grad, *k, b, 16, t);
    for (DType t : peer_types) register_peer_blackbox(t, b, 16);
  }
  for (DType t : peer_types) register_peer_blackbox(t, 512, 64);
  for (DType t : peer_types) register_peer_analytic(t, 512, 64, one);
  for (DType t : peer_types) {
    register_peer_loss(t, 512, 64, one);
    register_peer_loss(t, 4096, 8, one);
  }

  // 2c. thread scaling of the parallel showcase families, with OpenBLAS beside them.
  for (const Kernel* k : ks.all)
    if (showcase(*k) && k->axis != Axis::serial && k->algorithm == Algorithm::residual)
      for (int t : threads) add_kernel(Family::grad, *k, 4096, 64, t);
  for (const Kernel* k : ks.loss_owner)
    if (showcase(*k) && k->axis != Axis::serial)
      for (int t : threads) add_kernel(Family::loss, *k, kHotFull, 64, t);
  register_peer_loss(DType::f32, kHotFull, 64, threads);
  register_peer_analytic(DType::f32, 4096, 64, threads);

  // 2d. cold: batches rotating through 4x the LLC.
  for (std::size_t d : full ? std::vector<std::size_t>{8, 64, 256} : std::vector<std::size_t>{64})
    for (std::size_t b :
         full ? std::vector<std::size_t>{64, 512, 4096} : std::vector<std::size_t>{4096})
      for (const Kernel* k : full ? ks.all : ks.loss_owner)
        if (showcase(*k) || full)
          for (int t : full ? threads_of(*k, threads) : sweep_threads(*k)) {
            if (k->algorithm == Algorithm::residual) add_kernel(Family::grad_cold, *k, b, d, t);
            if (std::find(ks.loss_owner.begin(), ks.loss_owner.end(), k) != ks.loss_owner.end())
              add_kernel(Family::loss_cold, *k, b, d, t);
          }

  // 2e. epoch: time per epoch against b for a fixed dataset (residual and analytic).
  const std::vector<std::size_t> epoch_n =
      full ? std::vector<std::size_t>{1 << 14, 1 << 18} : std::vector<std::size_t>{1 << 14};
  for (std::size_t n : epoch_n)
    for (std::size_t b :
         {std::size_t{1}, std::size_t{8}, std::size_t{64}, std::size_t{512}, std::size_t{4096}, n})
      for (const Kernel* k : ks.all)
        if (showcase(*k) && k->algorithm != Algorithm::blackbox)
          for (int t : full ? threads_of(*k, threads) : sweep_threads(*k))
            add_kernel(Family::epoch, *k, b, 16, t, n);

  // 2f. one full batch of a large dataset: quick runs the 1 GiB f32 case (2^22 x 64), full
  // sweeps N from 2^10 up to what a quarter of memory holds (at most 2^24 rows).
  std::vector<std::size_t> big_n;
  if (full) {
    for (std::size_t n = 1 << 10; n <= (std::size_t{1} << 24); n <<= 4)
      if (n < (std::size_t{1} << 20) || max_rows(64, n) == n) big_n.push_back(n);
  } else if (max_rows(64, std::size_t{1} << 22) == (std::size_t{1} << 22)) {
    big_n.push_back(std::size_t{1} << 22);
  }
  for (std::size_t n : big_n) {
    for (const Kernel* k : ks.loss_owner)
      if (in_showcase(ks, *k))
        for (int t : threads_of(*k, threads)) add_kernel(Family::loss, *k, n, 64, t);
    register_peer_loss(DType::f32, n, 64, threads);
    if (n >= (std::size_t{1} << 20)) register_dataset_read(n, 64, threads);
  }
}

// The `scaling` preset: thread scaling where it can pay (b d = 2^20 and above), for the
// parallel showcase families against their own serial inner kernel at one thread, with the
// OpenBLAS peers at the same thread counts. Thread counts 1, 2, 4, ... and the hardware count.
std::vector<int> scaling_threads() {
  const int hw = hardware_threads();
  std::set<int> t{hw};
  for (int i = 1; i < hw; i *= 2) t.insert(i);
  return {t.begin(), t.end()};
}

// The limit of a t-way split of serial kernel k's gradient: t threads each run k on their own
// 1/t of the rows at the same time, with no join, no shared output and no load balancing
// (one task per thread, static partitioner). What t threads can do without coordinating,
// given the caches and memory bandwidth they share; a parallel kernel at t threads is
// measured against it. Named as a ceiling: ceiling/split.<id>/N:b/d:d/threads:t.
template <class T>
void register_split_ceiling(const Kernel& k, std::size_t b, std::size_t d, int t) {
  const std::string nm = "ceiling/split." + k.id + "/N:" + std::to_string(b) +
                         "/d:" + std::to_string(d) + "/threads:" + std::to_string(t);
  add_benchmark(nm, [&k, b, d, t](benchmark::State& state) {
    const BenchData<T>& bd = bench_data<T>(b, d);
    const BatchView<T> all = bd.data.all();
    const std::span<const T> w(bd.w);
    std::vector<T> h(d);
    make_steps<T>(StepPolicy{}, all, w, h);
    std::vector<std::vector<double>> g(t, std::vector<double>(d));
    const std::size_t part = ((b + t - 1) / t + 15) / 16 * 16;  // every row, whole 16-row units
    tbb::task_arena arena(t);
    for (auto _ : state) {
      on_threads(&arena, t, [&](int i) {
        const std::size_t r0 = std::min(b, i * part), r1 = std::min(b, r0 + part);
        if (r0 < r1)
          k.fns<T>().gradient(all.rows_range(r0, r1), w.data(), h.data(), g[i].data(), Exec{1});
      });
      benchmark::DoNotOptimize(g.data());
      benchmark::ClobberMemory();
    }
  });
}

void register_scaling_plan() {
  const KernelSets ks = select_kernels();
  const std::vector<int> threads = scaling_threads();
  const std::vector<int> one{1};
  register_ceilings(threads);
  struct Shape {
    std::size_t b, d;
  };
  const Shape shapes[] = {{16384, 64}, {4096, 256}};
  std::set<std::string> inner_prefixes;  // serial families the parallel showcase wraps
  for (const Kernel* k : ks.all)
    if (ks.showcase.count(family_prefix(k->id)) && k->axis != Axis::serial &&
        types_suffix(k->id) == "f32") {
      const std::string prefix = family_prefix(k->id);  // "tbb.<axis>.<inner>"
      inner_prefixes.insert(prefix.substr(prefix.find('.', 4) + 1));
      for (const Shape& s : shapes)
        for (int t : threads) add_kernel(Family::grad, *k, s.b, s.d, t);
    }
  for (const Kernel* k : ks.all)
    if (k->axis == Axis::serial && inner_prefixes.count(family_prefix(k->id)) &&
        types_suffix(k->id) == "f32")
      for (const Shape& s : shapes) {
        add_kernel(Family::grad, *k, s.b, s.d, 1);
        for (int t : threads)
          if (t > 1) register_split_ceiling<float>(*k, s.b, s.d, t);
      }
  for (const Kernel* k : ks.loss_owner)
    if (types_suffix(k->id) == "f32" &&
        ((ks.showcase.count(family_prefix(k->id)) && k->axis != Axis::serial) ||
         (k->axis == Axis::serial && inner_prefixes.count(family_prefix(k->id)))))
      for (int t : k->axis == Axis::serial ? one : threads)
        add_kernel(Family::loss, *k, 1 << 20, 64, t);
  register_peer_loss(DType::f32, 1 << 20, 64, threads);
  for (const Shape& s : shapes) register_peer_analytic(DType::f32, s.b, s.d, threads);
}

// --- Context: what the report header records ------------------------------------------------

std::string cpu_field(const std::string& key) {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(colon + 2);
    }
  return "";
}

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void add_context(const std::string& preset) {
  using benchmark::AddCustomContext;
  AddCustomContext("numgrad.preset", preset);
  AddCustomContext("numgrad.cpu_model", cpu_field("model name"));
  std::string isas;
  const std::string flags = " " + cpu_field("flags") + " ";
  for (const char* f : {"sse2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl",
                        "avx512_bf16", "avx512_fp16", "amx_tile"})
    if (flags.find(std::string(" ") + f + " ") != std::string::npos)
      isas.append(isas.empty() ? "" : " ").append(f);
  AddCustomContext("numgrad.cpu_isas", isas);
  AddCustomContext("numgrad.best_isa", std::string(name(best_isa())));
  AddCustomContext("numgrad.hardware_threads", std::to_string(hardware_threads()));
  const CacheSizes& c = cache_sizes();
  AddCustomContext("numgrad.cache_bytes", "l1d=" + std::to_string(c.l1d) +
                                              " l2=" + std::to_string(c.l2) +
                                              " llc=" + std::to_string(c.llc));
  AddCustomContext("numgrad.memory_bytes", std::to_string(physical_memory_bytes()));
  AddCustomContext("numgrad.compiler", std::string("g++ ") + __VERSION__);
  AddCustomContext("numgrad.eigen", std::to_string(EIGEN_WORLD_VERSION) + "." +
                                        std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                        std::to_string(EIGEN_MINOR_VERSION));
  AddCustomContext("numgrad.openblas", openblas_version());
  AddCustomContext("numgrad.tbb", std::to_string(TBB_VERSION_MAJOR) + "." +
                                      std::to_string(TBB_VERSION_MINOR) + " (runtime interface " +
                                      std::to_string(TBB_runtime_interface_version()) + ")");
  AddCustomContext("numgrad.xsimd", std::to_string(XSIMD_VERSION_MAJOR) + "." +
                                        std::to_string(XSIMD_VERSION_MINOR) + "." +
                                        std::to_string(XSIMD_VERSION_PATCH));
  const Ceilings& ce = ceilings();
  AddCustomContext("numgrad.ceiling_isa", ce.isa);
  for (int l = 0; l < 4; ++l)
    for (auto [t, v] : ce.read_bw[l])
      AddCustomContext(
          std::string("ceiling.read_bw.") + kLevelNames[l] + ".threads:" + std::to_string(t),
          fmt_double(v));
  for (auto [t, v] : ce.fma_f32)
    AddCustomContext("ceiling.fma_peak.f32.threads:" + std::to_string(t), fmt_double(v));
  for (auto [t, v] : ce.fma_f64)
    AddCustomContext("ceiling.fma_peak.f64.threads:" + std::to_string(t), fmt_double(v));
  for (const Kernel& k : registry()) {
    std::ostringstream o;
    o << "elem=" << name(k.elem) << " acc=" << name(k.acc) << " algorithm=" << name(k.algorithm)
      << " axis=" << name(k.axis) << " isa=" << name(k.isa) << " deterministic=" << k.deterministic
      << " supported=" << k.is_supported();
    AddCustomContext("kernel." + k.id, o.str());
  }
}

// --- Reporter: progress, errors, exit status -----------------------------------------------

// Wraps the display reporter (console or JSON): counts benchmarks done against the number the
// filter selects, shows a progress line on stderr, and remembers every error so main() can
// fail the run (a reference-check failure is an error, never a silently wrong number).
template <class Base>
class Tracking : public Base {
 public:
  using Base::Base;
  std::size_t total = 0;
  std::set<std::string> done, failed;

  // The console's context block would list ~200 kernel and ceiling entries on stderr; they
  // are in the JSON context, so the console gets a short version.
  bool ReportContext(const benchmark::BenchmarkReporter::Context& context) override {
    if constexpr (!std::is_same_v<Base, benchmark::ConsoleReporter>) {
      return Base::ReportContext(context);
    } else {
      const Ceilings& c = ceilings();
      const int hw = hardware_threads();
      std::fprintf(stderr,
                   "numgrad_bench: %s, %d threads; ceilings (%s): read %.1f GB/s L2, %.1f GB/s "
                   "DRAM (1 thread), %.1f GB/s DRAM (%d threads); f32 FMA peak %.0f GFLOP/s "
                   "(1 thread), %.0f (%d threads)\n",
                   cpu_field("model name").c_str(), hw, c.isa.c_str(),
                   read_bw_ceiling(Level::l2, 1) / 1e9, read_bw_ceiling(Level::dram, 1) / 1e9,
                   read_bw_ceiling(Level::dram, hw) / 1e9, hw, fma_ceiling(DType::f32, 1) / 1e9,
                   fma_ceiling(DType::f32, hw) / 1e9, hw);
      return true;
    }
  }

  void ReportRuns(const std::vector<benchmark::BenchmarkReporter::Run>& runs) override {
    for (const auto& r : runs) {
      const std::string nm = r.run_name.str();
      done.insert(nm);
      if (r.error_occurred && failed.insert(nm).second)
        std::fprintf(stderr, "%sERROR %s: %s\n", tty_ ? "\r\033[K" : "", nm.c_str(),
                     r.error_message.c_str());
    }
    Base::ReportRuns(runs);
    progress(runs.empty() ? "" : runs.back().run_name.str());
  }
  void Finalize() override {
    Base::Finalize();
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "numgrad_bench: %zu benchmarks done, %zu failed\n", done.size(),
                 failed.size());
  }

 private:
  bool tty_ = isatty(2) != 0;
  std::size_t last_shown_ = 0;
  void progress(const std::string& nm) {
    const std::size_t n = done.size();
    const std::size_t t = std::max(total, n);
    if (tty_) {
      std::fprintf(stderr, "\r\033[K[%zu/%zu %3.0f%%] %s", n, t, 100.0 * n / t, nm.c_str());
      std::fflush(stderr);
    } else if (n == t || n - last_shown_ >= std::max<std::size_t>(1, t / 20)) {
      last_shown_ = n;
      std::fprintf(stderr, "[%zu/%zu %3.0f%%] %s\n", n, t, 100.0 * n / t, nm.c_str());
    }
  }
};

// How many registered names --benchmark_filter selects (same rule as GB 1.7.1: extended
// regex search, "all" or empty = everything, a leading '-' negates).
std::size_t count_selected(const std::string& filter) {
  const auto& names = registered_names();
  if (filter.empty() || filter == "all") return names.size();
  bool negate = filter[0] == '-';
  try {
    const std::regex re(negate ? filter.substr(1) : filter, std::regex::extended);
    return std::count_if(names.begin(), names.end(),
                         [&](const std::string& n) { return std::regex_search(n, re) != negate; });
  } catch (const std::regex_error&) {
    return names.size();
  }
}

std::string flag_value(const std::vector<std::string>& args, const std::string& flag) {
  std::string v;
  for (const auto& a : args)
    if (a.rfind(flag + "=", 0) == 0) v = a.substr(flag.size() + 1);
  return v;
}

}  // namespace
}  // namespace numgrad::bench

int main(int argc, char** argv) {
  using namespace numgrad::bench;
  std::string preset = "quick";
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--preset=", 0) == 0) {
      preset = a.substr(9);
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "numgrad_bench [--preset=quick|full|scaling] [Google Benchmark flags]\n"
          "  quick (default): every kernel at a few shapes plus small sweeps, ~3 min on 2 cores\n"
          "  full: every kernel over b x d x threads, cold, epoch and N sweeps (long)\n"
          "  scaling: parallel families over 1, 2, 4, ... hardware threads at b*d >= 2^20\n"
          "Names: family/kernel/N:n/b:b/d:d/threads:t/real_time; families loss, grad,\n"
          "loss_cold, grad_cold, epoch, peer, ceiling. Exit status 1 when any benchmark\n"
          "errored (a failed reference check included) or none matched the filter.\n\n");
      args.push_back(a);
    } else {
      args.push_back(a);
    }
  }
  if (preset != "quick" && preset != "full" && preset != "scaling") {
    std::fprintf(stderr, "numgrad_bench: --preset=%s is not one of quick, full, scaling\n",
                 preset.c_str());
    return 2;
  }
  const bool full = preset == "full";
  // Preset defaults that explicit flags override (GB keeps the last occurrence).
  const bool scaling = preset == "scaling";
  std::vector<std::string> defaults{full || scaling ? "--benchmark_min_time=0.1"
                                                    : "--benchmark_min_time=0.02"};
  args.insert(args.begin() + 1, defaults.begin(), defaults.end());
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int cargc = static_cast<int>(args.size());

  if (scaling)
    register_scaling_plan();
  else
    register_plan(full);
  benchmark::Initialize(&cargc, cargv.data());
  if (benchmark::ReportUnrecognizedArguments(cargc, cargv.data())) return 2;

  const std::string list_flag = flag_value(args, "--benchmark_list_tests");
  const bool list_only =
      std::find(args.begin(), args.end(), "--benchmark_list_tests") != args.end() ||
      list_flag == "true" || list_flag == "1";
  if (!list_only) {
    std::fprintf(stderr, "numgrad_bench: measuring ceilings (read bandwidth, FMA peak)...\n");
    measure_ceilings(scaling ? scaling_threads() : thread_list(full));
  }
  add_context(preset);

  const std::string format = flag_value(args, "--benchmark_format");
  std::size_t failed = 0, done = 0;
  const std::size_t total = count_selected(flag_value(args, "--benchmark_filter"));
  if (format == "json") {
    Tracking<benchmark::JSONReporter> rep;
    rep.total = total;
    benchmark::RunSpecifiedBenchmarks(&rep);
    failed = rep.failed.size(), done = rep.done.size();
  } else {
    const bool color = isatty(1) != 0 && flag_value(args, "--benchmark_color") != "false";
    Tracking<benchmark::ConsoleReporter> rep(color ? benchmark::ConsoleReporter::OO_ColorTabular
                                                   : benchmark::ConsoleReporter::OO_Tabular);
    rep.total = total;
    benchmark::RunSpecifiedBenchmarks(&rep);
    failed = rep.failed.size(), done = rep.done.size();
  }
  benchmark::Shutdown();
  if (list_only) return 0;
  if (done == 0) {
    std::fprintf(stderr, "numgrad_bench: no benchmark matched the filter\n");
    return 1;
  }
  if (failed > 0) {
    std::fprintf(stderr, "numgrad_bench: %zu benchmark(s) failed (see ERROR lines)\n", failed);
    return 1;
  }
  return 0;
}
