// The presets: which benchmarks a run registers. quick (every kernel at a few shapes plus
// sweeps of the showcase families and the peers), full (every kernel over b x d x threads,
// cold, epoch and dataset-size sweeps) and scaling (parallel families over 1, 2, 4, ... threads
// at b d >= 2^20 against their serial inner kernel and its split limit). Kernels are never
// listed here: the registry is enumerated.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "numgrad/isa.hpp"
#include "numgrad/registry.hpp"

namespace numgrad::bench {
namespace {

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

std::vector<int> quick_or_full_threads(bool full) {
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

// The loss sweep over d: hot f32 batches whose X and y fill half of the L2 the model measured
// at one thread, well inside it (a batch of the level's full size sits on its edge, where the
// bandwidth already falls), in whole 16-row units. Without a measured L2 (a model still to be
// measured, or a curve that shows none), 1 MiB of X.
std::size_t loss_sweep_rows(std::size_t d) {
  const auto& threads = machine_model().threads;
  double bytes = 0;
  if (const auto it = threads.find(1); it != threads.end())
    for (const CacheLevel& level : it->second.levels)
      if (level.name == "l2") bytes = level.knee_bytes / 2;
  if (bytes <= 0) return (std::size_t{1} << 18) / d;
  const auto units = static_cast<std::size_t>(bytes / ((d + 1) * sizeof(float)) / 16);
  return std::max<std::size_t>(1, units) * 16;
}
const std::vector<std::size_t> kLossSweepD{4, 8, 16, 64, 256};
const std::vector<std::size_t> kLossSweepDFull{4, 8, 16, 64, 256, 1024};

// The quick and full presets, phase by phase. Every phase registers kernels of the registry
// (enumerated, never listed) and the peers at the same shapes.
struct Plan {
  KernelSets ks = select_kernels();
  bool full;
  std::vector<int> threads = quick_or_full_threads(full);
  std::vector<int> hw_only{hardware_threads()}, one{1};
  std::vector<DType> peer_types =
      full ? std::vector<DType>{DType::f32, DType::f64} : std::vector<DType>{DType::f32};
  std::vector<std::size_t> b_sweep{1, 8, 64, 512, 4096, kHotFull};

  // Showcase families in the sweeps: f32 in quick, every type in full.
  bool showcase(const Kernel& k) const {
    return ks.showcase.count(family_prefix(k.id)) && (full || types_suffix(k.id) == "f32");
  }
  const std::vector<int>& sweep_threads(const Kernel& k) const {
    return k.axis == Axis::serial ? one : hw_only;
  }

  // 1. Every kernel at a few shapes: the table of all variants. loss at (b 512, d 64: in L2)
  //    and (b 4096, d 8: rows shorter than a register); grad (all three algorithms) at b 512,
  //    d 64, so gradient/loss time ratios are direct. Full: every kernel over b x d.
  void all_kernels() const {
    for (const Kernel* k : ks.loss_owner)
      for (int t : threads_of(*k, threads)) {
        add_kernel(Family::loss, *k, 512, 64, t);
        add_kernel(Family::loss, *k, 4096, 8, t);
      }
    for (const Kernel* k : ks.all)
      for (int t : threads_of(*k, threads)) {
        add_kernel(Family::grad, *k, 512, 64, t);
        // The steps chosen in the call against the same gradient with given steps: what the
        // data-aware rule costs (the residual algorithm shares its residuals with it); for the
        // showcase families also the steps alone.
        if (k->algorithm == Algorithm::residual) {
          add_kernel(Family::grad_auto, *k, 512, 64, t);
          if (showcase(*k)) add_kernel(Family::steps, *k, 512, 64, t);
        }
      }
    if (!full) return;
    const std::vector<std::size_t> all_d{4, 8, 16, 64, 256, 1024};
    for (const Kernel* k : ks.loss_owner)
      for (int t : threads_of(*k, threads))
        for (std::size_t d : all_d)
          for (std::size_t b : b_sweep) add_kernel(Family::loss, *k, b, d, t);
    for (const Kernel* k : ks.all)
      for (int t : threads_of(*k, threads))
        for (std::size_t d : all_d)
          for (std::size_t b : b_sweep)
            // Blackbox is O(b d^2): keep one call under 2^28 flops (~0.1 s scalar).
            if (flops_per_call(grad_op(*k), b, d) <= std::ldexp(1.0, 28))
              add_kernel(Family::grad, *k, b, d, t);
  }

  // 2a. loss against d on hot f32 batches of half the measured L2 (loss_sweep_rows; small d
  // is where generic libraries lose), and against b at d 64.
  void loss_sweeps() const {
    for (std::size_t d : full ? kLossSweepDFull : kLossSweepD) {
      const std::size_t b = loss_sweep_rows(d);
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
  }

  // 2b. gradients against b at d 16 (residual and analytic), blackbox at two sizes, with the
  // OpenBLAS analytic and Eigen blackbox peers.
  void grad_sweeps() const {
    for (std::size_t b : b_sweep) {
      for (const Kernel* k : ks.all)
        if (showcase(*k) && k->algorithm != Algorithm::blackbox)
          for (int t : sweep_threads(*k)) {
            add_kernel(Family::grad, *k, b, 16, t);
            if (k->algorithm == Algorithm::residual) {
              add_kernel(Family::grad_auto, *k, b, 16, t);
              add_kernel(Family::steps, *k, b, 16, t);
            }
          }
      for (DType t : peer_types) register_peer_analytic(t, b, 16, one);
    }
    for (std::size_t b : {std::size_t{64}, std::size_t{4096}}) {
      for (const Kernel* k : ks.all)
        if (showcase(*k) && k->algorithm == Algorithm::blackbox)
          for (int t : sweep_threads(*k)) add_kernel(Family::grad, *k, b, 16, t);
      for (DType t : peer_types) register_peer_blackbox(t, b, 16);
    }
    for (DType t : peer_types) {
      register_peer_blackbox(t, 512, 64);
      register_peer_analytic(t, 512, 64, one);
      register_peer_loss(t, 512, 64, one);
      register_peer_loss(t, 4096, 8, one);
    }
  }

  // 2c. thread scaling of the parallel showcase families, with OpenBLAS beside them.
  void thread_scaling() const {
    for (const Kernel* k : ks.all)
      if (showcase(*k) && k->axis != Axis::serial && k->algorithm == Algorithm::residual)
        for (int t : threads) {
          add_kernel(Family::grad, *k, 4096, 64, t);
          add_kernel(Family::grad_auto, *k, 4096, 64, t);
        }
    for (const Kernel* k : ks.loss_owner)
      if (showcase(*k) && k->axis != Axis::serial)
        for (int t : threads) add_kernel(Family::loss, *k, kHotFull, 64, t);
    register_peer_loss(DType::f32, kHotFull, 64, threads);
    register_peer_analytic(DType::f32, 4096, 64, threads);
  }

  // 2d. cold: batches rotating through cold_buffer_bytes().
  void cold() const {
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
  }

  // 2e. epoch: time per epoch against b for a fixed dataset (residual and analytic).
  void epochs() const {
    const std::vector<std::size_t> epoch_n =
        full ? std::vector<std::size_t>{1 << 14, 1 << 18} : std::vector<std::size_t>{1 << 14};
    for (std::size_t n : epoch_n)
      for (std::size_t b : {std::size_t{1}, std::size_t{8}, std::size_t{64}, std::size_t{512},
                            std::size_t{4096}, n})
        for (const Kernel* k : ks.all)
          if (showcase(*k) && k->algorithm != Algorithm::blackbox)
            for (int t : full ? threads_of(*k, threads) : sweep_threads(*k))
              add_kernel(Family::epoch, *k, b, 16, t, n);
  }

  // 2f. one full batch of a large dataset: quick runs the 1 GiB f32 case (2^22 x 64), full
  // sweeps N from 2^10 up to what a quarter of memory holds (at most 2^24 rows).
  void large() const {
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

  // 2g. the serial SIMD residual gradient from memory beside the same kernel's loss (two
  // passes over each piece of rows, one from memory) and beside itself without the prefetch
  // of the next piece (grad_noprefetch, in the same run; only rows of at most 256 bytes
  // prefetch), and the same dataset read once, summed alone and with the gradient's FMAs
  // (ceiling/sum and sum_fma: what a pass hiding them behind the stream takes): quick at the 1 GiB
  // f32 case of large(), full also at 256 MiB of X for d 16, 64, 256 in f32 and f64. Best ISA only:
  // from memory every ISA reads at the same speed.
  void from_memory() const {
    struct Shape {
      DType t;
      std::size_t n, d;
    };
    std::vector<Shape> shapes{{DType::f32, std::size_t{1} << 22, 64}};
    if (full)
      for (DType t : {DType::f32, DType::f64})
        for (std::size_t d : {16, 64, 256})
          shapes.push_back({t, (std::size_t{1} << 28) / (d * (t == DType::f32 ? 4 : 8)), d});
    for (const Shape& s : shapes) {
      const double bytes =
          static_cast<double>(s.n) * static_cast<double>(s.d + 1) * (s.t == DType::f32 ? 4 : 8);
      if (bytes > static_cast<double>(physical_memory_bytes()) / 4) continue;
      for (const Kernel* k : ks.all)
        if (k->axis == Axis::serial && k->algorithm == Algorithm::residual &&
            k->isa == best_isa() && k->id.starts_with("simd.") &&
            types_suffix(k->id) == name(s.t)) {
          add_kernel(Family::loss, *k, s.n, s.d, 1);
          add_kernel(Family::grad, *k, s.n, s.d, 1);
          add_kernel(Family::grad_noprefetch, *k, s.n, s.d, 1);
        }
      register_dataset_once(s.t, s.n, s.d);
    }
  }
};

// The `scaling` preset: thread scaling where it can pay (b d = 2^20 and above), for the
// parallel showcase families against their own serial inner kernel at one thread, with the
// OpenBLAS peers at the same thread counts. Thread counts 1, 2, 4, ... and the hardware count.
std::vector<int> scaling_threads() {
  const int hw = hardware_threads();
  std::set<int> t{hw};
  for (int i = 1; i < hw; i *= 2) t.insert(i);
  return {t.begin(), t.end()};
}

void register_scaling_plan() {
  const KernelSets ks = select_kernels();
  const std::vector<int> threads = scaling_threads();
  const std::vector<int> one{1};
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

}  // namespace

std::string loss_sweep_shapes(const std::string& preset) {
  if (preset == "scaling") return "";
  std::string out;
  for (std::size_t d : preset == "full" ? kLossSweepDFull : kLossSweepD) {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "..." + std::string&&.
    if (!out.empty()) out += ' ';
    out.append(std::to_string(d)).append(":").append(std::to_string(loss_sweep_rows(d)));
  }
  return out;
}

std::vector<int> preset_threads(const std::string& preset) {
  return preset == "scaling" ? scaling_threads() : quick_or_full_threads(preset == "full");
}

void register_preset(const std::string& preset) {
  register_ceilings(preset_threads(preset));
  if (preset == "scaling") return register_scaling_plan();
  const Plan p{.full = preset == "full"};
  p.all_kernels();
  p.loss_sweeps();
  p.grad_sweeps();
  p.thread_scaling();
  p.cold();
  p.epochs();
  p.large();
  p.from_memory();
}

}  // namespace numgrad::bench
