// The kernel benchmarks: one registry kernel in one family (loss, grad, grad_auto,
// grad_noprefetch, steps, loss_cold, grad_cold, epoch) at one shape and thread count, checked
// once against the long-double reference before it is timed, with the counters of
// bench_common.hpp; and the split limit of a serial kernel (what t threads reach running it on
// 1/t of the rows each). Which ones run is bench_plan.cpp.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "numgrad/step.hpp"

namespace numgrad::bench {
namespace {

constexpr const char* kFamilyNames[] = {"loss",  "grad",      "grad_auto", "grad_noprefetch",
                                        "steps", "loss_cold", "grad_cold", "epoch"};

bool is_loss(Family f) {
  return f == Family::loss || f == Family::loss_cold;
}

// Rows a cold benchmark rotates over: X and y together cold_buffer_bytes() (4x the measured
// last cache level), so each batch comes from memory however that level is shared.
template <class T>
std::size_t cold_rows(std::size_t b, std::size_t d) {
  const std::size_t bytes = cold_buffer_bytes();
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
  if (fam == Family::grad_auto) {
    numgrad::gradient_auto<T>(k, S, w, h, g, exec);  // h: the steps it chose
  } else if (fam == Family::steps) {
    // The kernel's steps against make_steps' (the same rule on another kernel's sums, which
    // may differ in their last bits: a near-tie can then pick another step of the rule's
    // window of four powers of two, so within a factor of 8), then its gradient with them.
    data_aware_steps<T>(k, S, w, h, exec);
    std::vector<T> want(S.d);
    make_steps<T>(StepPolicy{}, S, w, want);
    for (std::size_t j = 0; j < S.d; ++j) {
      int e = 0;
      const double ratio = static_cast<double>(h[j]) / static_cast<double>(want[j]);
      if (!(std::isfinite(h[j]) && h[j] > 0 && std::frexp(h[j], &e) == T(0.5) && ratio >= 0.125 &&
            ratio <= 8)) {
        std::ostringstream os;
        os << std::setprecision(9) << "steps: h[" << j << "]=" << h[j]
           << " is not a power of two within a factor of 8 of make_steps' " << want[j];
        return os.str();
      }
    }
    numgrad::gradient<T>(k, S, w, h, g, exec);
  } else {
    make_steps<T>(StepPolicy{}, S, w, h);
    numgrad::gradient<T>(k, S, w, h, g, exec);
  }
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

  const Op op = is_loss(fam) ? Op::loss : fam == Family::steps ? Op::steps : grad_op(k);
  Work work;
  work.acc = k.acc;
  work.threads = threads;
  const double row_bytes = static_cast<double>((d + 1) * sizeof(T));

  auto time_gradient = [&] {
    for (auto _ : state) {
      f.gradient(first, w0.data(), h.data(), g.data(), exec);
      benchmark::DoNotOptimize(g.data());
      benchmark::ClobberMemory();
    }
  };
  switch (fam) {
    case Family::loss:
      for (auto _ : state) benchmark::DoNotOptimize(f.loss(first, w0.data(), exec));
      break;
    case Family::grad:
      time_gradient();
      break;
    case Family::grad_noprefetch: {
      // The kernel's library reads NUMGRAD_PREFETCH on every call; the benchmarks run one at a
      // time, so setting it around the loop reaches only this one.
      const char* had = std::getenv("NUMGRAD_PREFETCH");
      const std::string saved = had != nullptr ? had : "";
      setenv("NUMGRAD_PREFETCH", "0", 1);
      time_gradient();
      if (had != nullptr)
        setenv("NUMGRAD_PREFETCH", saved.c_str(), 1);
      else
        unsetenv("NUMGRAD_PREFETCH");
      break;
    }
    case Family::grad_auto:  // the data-aware steps chosen in the call, then the gradient
      for (auto _ : state) {
        f.gradient_auto(first, w0.data(), h.data(), g.data(), exec);
        benchmark::DoNotOptimize(g.data());
        benchmark::ClobberMemory();
      }
      break;
    case Family::steps:  // the pass for the sums, then the rule (the same steps every call)
      for (auto _ : state) {
        f.steps(first, w0.data(), h.data(), exec);
        benchmark::DoNotOptimize(h.data());
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
  work.working_set = fam == Family::epoch ? static_cast<double>(n) * row_bytes : work.bytes;
  work.cold = cold;
  set_counters(state, work);
}

}  // namespace

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

void add_kernel(Family fam, const Kernel& k, std::size_t b, std::size_t d, int threads,
                std::size_t n) {
  const bool f32 = k.elem == DType::f32;
  if (fam == Family::loss || fam == Family::grad || fam == Family::grad_auto ||
      fam == Family::grad_noprefetch || fam == Family::steps)
    n = b;  // hot: the dataset is the batch
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

template void register_split_ceiling<float>(const Kernel&, std::size_t, std::size_t, int);
template void register_split_ceiling<double>(const Kernel&, std::size_t, std::size_t, int);

}  // namespace numgrad::bench
