// The kernels that measure the machine: a STREAM-like read-bandwidth sum and an FMA-peak loop,
// run on 1..T threads. bench_machine.cpp sweeps them into the machine model; the ceiling/...
// benchmarks registered here measure the model's ceilings again inside a run, so the report
// can show how far this run's machine state was from the model (docs/design.md §4.1: compare as
// ratios in one run), and sum a large dataset itself, alone and doing the gradient's FMAs.
//
// Why target attributes: bench_*.cpp are compiled with the baseline flags (no global -march,
// docs/design.md §5), and baseline SSE2 reaches neither the L1/L2 bandwidth nor the FMA peak. The
// wide x86 kernels below carry their ISA in __attribute__((target(...))), use only intrinsics
// (always-inline, no shared inline code, so no ODR hazard), sit in an unnamed namespace, and
// are chosen at run time with numgrad::isa_available, which also honours NUMGRAD_ISA. On
// aarch64 the NEON kernels need no attribute: Advanced SIMD with FMA is the baseline there, and
// 128 bits is its only width.
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <type_traits>

#include "bench_common.hpp"
#include "numgrad/isa.hpp"

namespace numgrad::bench {
namespace {

// --- FMA peak: K independent chains acc_k = acc_k * m + a. An FMA has ~4 cycles latency and
// up to 2 issue ports, so at least 8 chains must be in flight; 16 (AVX-512: 32 registers) and
// 12 (AVX2: 16 registers) leave margin without spilling. m < 1 and a > 0 keep every value
// near 1: no overflow, no subnormals. The chains never collapse algebraically, and the result
// is returned, so the compiler must issue every FMA (checked with objdump: 16 vfmadd per
// iteration for AVX-512).

#define NUMGRAD_FMA_KERNEL(NAME, TARGET, VEC, SCALAR, K, SET1, FMA, ADD, STORE)             \
  TARGET __attribute__((noinline)) SCALAR NAME(std::int64_t iters) {                        \
    const VEC m = SET1(static_cast<SCALAR>(0.999999)), a = SET1(static_cast<SCALAR>(1e-6)); \
    VEC acc[K];                                                                             \
    _Pragma("GCC unroll 16") for (int k = 0; k < K; ++k) acc[k] =                           \
        SET1(static_cast<SCALAR>(1 + k * 1e-3));                                            \
    for (std::int64_t i = 0; i < iters; ++i) {                                              \
      _Pragma("GCC unroll 16") for (int k = 0; k < K; ++k) acc[k] = FMA(acc[k], m, a);      \
    }                                                                                       \
    _Pragma("GCC unroll 16") for (int k = 1; k < K; ++k) acc[0] = ADD(acc[0], acc[k]);      \
    alignas(64) SCALAR lanes[sizeof(VEC) / sizeof(SCALAR)];                                 \
    STORE(lanes, acc[0]);                                                                   \
    SCALAR s = 0;                                                                           \
    for (SCALAR v : lanes) s += v;                                                          \
    return s;                                                                               \
  }

#if defined(__x86_64__)
// Without FMA (SSE2 baseline) a chain is a multiply then an add: the same 2 flops per lane.
#define NUMGRAD_MULADD_PS(x, m, a) _mm_add_ps(_mm_mul_ps(x, m), a)
#define NUMGRAD_MULADD_PD(x, m, a) _mm_add_pd(_mm_mul_pd(x, m), a)

NUMGRAD_FMA_KERNEL(fma_f32_avx512, __attribute__((target("avx512f"))), __m512, float, 16,
                   _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_store_ps)
NUMGRAD_FMA_KERNEL(fma_f64_avx512, __attribute__((target("avx512f"))), __m512d, double, 16,
                   _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd, _mm512_store_pd)
NUMGRAD_FMA_KERNEL(fma_f32_avx2, __attribute__((target("avx2,fma"))), __m256, float, 11,
                   _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_store_ps)
NUMGRAD_FMA_KERNEL(fma_f64_avx2, __attribute__((target("avx2,fma"))), __m256d, double, 11,
                   _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, _mm256_store_pd)
NUMGRAD_FMA_KERNEL(fma_f32_sse2, , __m128, float, 11, _mm_set1_ps, NUMGRAD_MULADD_PS, _mm_add_ps,
                   _mm_store_ps)
NUMGRAD_FMA_KERNEL(fma_f64_sse2, , __m128d, double, 11, _mm_set1_pd, NUMGRAD_MULADD_PD, _mm_add_pd,
                   _mm_store_pd)
#elif defined(__aarch64__)
// FMLA accumulates into its first operand: vfmaq(a, x, m) = a + x * m. 16 chains: the widest
// cores issue 4 128-bit FMAs a cycle at 4 cycles' latency (Neoverse V1/V2, Apple M1), and 32
// vector registers leave room for them.
#define NUMGRAD_FMLA_PS(x, m, a) vfmaq_f32(a, x, m)
#define NUMGRAD_FMLA_PD(x, m, a) vfmaq_f64(a, x, m)
NUMGRAD_FMA_KERNEL(fma_f32_neon, , float32x4_t, float, 16, vdupq_n_f32, NUMGRAD_FMLA_PS, vaddq_f32,
                   vst1q_f32)
NUMGRAD_FMA_KERNEL(fma_f64_neon, , float64x2_t, double, 16, vdupq_n_f64, NUMGRAD_FMLA_PD, vaddq_f64,
                   vst1q_f64)
#endif

// --- Read bandwidth: sum a buffer with enough independent accumulators that the loads,
// not the add latency, limit the loop (8 vectors in flight: 4-cycle add latency x 2 loads
// per cycle). The sum is returned and fed to DoNotOptimize, so no pass can be elided.
// F > 0 replaces each add with F FMAs on C chains f = f m + x that take the loaded x as their
// addend (m < 1 keeps them finite): C = 16 where there are 32 vector registers, 11 with 16
// (AVX2, SSE2), where m and x fit beside them (AVX2 without a spill; SSE2, which multiplies
// and adds, spills a few), so that no chain takes more than 4 FMAs per step of 8 vectors and
// the FMA ports, not the latency, bound the loop.
// F = kGradFmas is the serial residual gradient's arithmetic per vector of X, one FMA for the
// residual and four for the two perturbed squares, in the one pass the loss makes, and without
// the rest of its work (the residuals' reductions, their stores, the steps' loads): a floor for
// that gradient. Where that pass takes no longer than the sum, the machine hides the arithmetic
// behind the stream (README "From memory"). Per vector the count is the same in f32 and f64.
constexpr int kGradFmas = 5;
#define NUMGRAD_SUM_KERNEL(NAME, TARGET, VEC, SCALAR, C, ZERO, SET1, LOAD, ADD, FMA, STORE)        \
  template <int F>                                                                                 \
  TARGET __attribute__((noinline)) SCALAR NAME(const SCALAR* p, std::size_t n, std::size_t reps) { \
    constexpr std::size_t kLanes = sizeof(VEC) / sizeof(SCALAR), kStep = 8 * kLanes;               \
    const VEC m = SET1(static_cast<SCALAR>(0.999));                                                \
    VEC acc[8], f[C];                                                                              \
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) acc[k] = ZERO();                           \
    _Pragma("GCC unroll 16") for (int k = 0; k < C; ++k) f[k] =                                    \
        SET1(static_cast<SCALAR>(1 + k * 1e-3));                                                   \
    SCALAR s = 0;                                                                                  \
    /* The passes share the accumulators, so a cache-resident pass pays no reduction. */           \
    for (std::size_t r = 0; r < reps; ++r) {                                                       \
      std::size_t i = 0;                                                                           \
      for (; i + kStep <= n; i += kStep) {                                                         \
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) {                                      \
          const VEC x = LOAD(p + i + k * kLanes);                                                  \
          if constexpr (F == 0) acc[k] = ADD(acc[k], x);                                           \
          _Pragma("GCC unroll 5") for (int q = 0; q < F; ++q) {                                    \
            VEC& c = f[(k * F + q) % C];                                                           \
            c = FMA(c, m, x);                                                                      \
          }                                                                                        \
        }                                                                                          \
      }                                                                                            \
      for (; i < n; ++i) s += p[i];                                                                \
    }                                                                                              \
    _Pragma("GCC unroll 8") for (int k = 1; k < 8; ++k) acc[0] = ADD(acc[0], acc[k]);              \
    if constexpr (F > 0)                                                                           \
      _Pragma("GCC unroll 16") for (int k = 0; k < C; ++k) acc[0] = ADD(acc[0], f[k]);             \
    /* Through memory rather than a reduce intrinsic, which trips GCC 12's                         \
       -Wmaybe-uninitialized inside its own header. */                                             \
    alignas(64) SCALAR lanes[kLanes];                                                              \
    STORE(lanes, acc[0]);                                                                          \
    for (SCALAR v : lanes) s += v;                                                                 \
    return s;                                                                                      \
  }

#if defined(__x86_64__)
NUMGRAD_SUM_KERNEL(sum_f32_avx512, __attribute__((target("avx512f"))), __m512, float, 16,
                   _mm512_setzero_ps, _mm512_set1_ps, _mm512_load_ps, _mm512_add_ps,
                   _mm512_fmadd_ps, _mm512_store_ps)
NUMGRAD_SUM_KERNEL(sum_f64_avx512, __attribute__((target("avx512f"))), __m512d, double, 16,
                   _mm512_setzero_pd, _mm512_set1_pd, _mm512_load_pd, _mm512_add_pd,
                   _mm512_fmadd_pd, _mm512_store_pd)
NUMGRAD_SUM_KERNEL(sum_f32_avx2, __attribute__((target("avx2,fma"))), __m256, float, 11,
                   _mm256_setzero_ps, _mm256_set1_ps, _mm256_load_ps, _mm256_add_ps,
                   _mm256_fmadd_ps, _mm256_store_ps)
NUMGRAD_SUM_KERNEL(sum_f64_avx2, __attribute__((target("avx2,fma"))), __m256d, double, 11,
                   _mm256_setzero_pd, _mm256_set1_pd, _mm256_load_pd, _mm256_add_pd,
                   _mm256_fmadd_pd, _mm256_store_pd)
NUMGRAD_SUM_KERNEL(sum_f32_sse2, , __m128, float, 11, _mm_setzero_ps, _mm_set1_ps, _mm_load_ps,
                   _mm_add_ps, NUMGRAD_MULADD_PS, _mm_store_ps)
NUMGRAD_SUM_KERNEL(sum_f64_sse2, , __m128d, double, 11, _mm_setzero_pd, _mm_set1_pd, _mm_load_pd,
                   _mm_add_pd, NUMGRAD_MULADD_PD, _mm_store_pd)
#elif defined(__aarch64__)
float32x4_t neon_zero_f32() {
  return vdupq_n_f32(0);
}
float64x2_t neon_zero_f64() {
  return vdupq_n_f64(0);
}
NUMGRAD_SUM_KERNEL(sum_f32_neon, , float32x4_t, float, 16, neon_zero_f32, vdupq_n_f32, vld1q_f32,
                   vaddq_f32, NUMGRAD_FMLA_PS, vst1q_f32)
NUMGRAD_SUM_KERNEL(sum_f64_neon, , float64x2_t, double, 16, neon_zero_f64, vdupq_n_f64, vld1q_f64,
                   vaddq_f64, NUMGRAD_FMLA_PD, vst1q_f64)
#endif

struct Kernels {
  // The sum ([0]) and kGradFmas FMAs per vector instead of its add ([1]).
  float (*sum_f32[2])(const float*, std::size_t, std::size_t);
  double (*sum_f64[2])(const double*, std::size_t, std::size_t);
  float (*fma_f32)(std::int64_t);
  double (*fma_f64)(std::int64_t);
  double flops_f32, flops_f64;  // per iteration of the FMA loop
  const char* isa;
};

const Kernels& kernels() {
  static const Kernels k = [] {
#if defined(__x86_64__)
    if (isa_available(Isa::avx512))
      return Kernels{{&sum_f32_avx512<0>, &sum_f32_avx512<kGradFmas>},
                     {&sum_f64_avx512<0>, &sum_f64_avx512<kGradFmas>},
                     &fma_f32_avx512,
                     &fma_f64_avx512,
                     16 * 16 * 2,
                     16 * 8 * 2,
                     "avx512"};
    if (isa_available(Isa::avx2))
      return Kernels{{&sum_f32_avx2<0>, &sum_f32_avx2<kGradFmas>},
                     {&sum_f64_avx2<0>, &sum_f64_avx2<kGradFmas>},
                     &fma_f32_avx2,
                     &fma_f64_avx2,
                     12 * 8 * 2,
                     12 * 4 * 2,
                     "avx2"};
    return Kernels{{&sum_f32_sse2<0>, &sum_f32_sse2<kGradFmas>},
                   {&sum_f64_sse2<0>, &sum_f64_sse2<kGradFmas>},
                   &fma_f32_sse2,
                   &fma_f64_sse2,
                   12 * 4 * 2,
                   12 * 2 * 2,
                   "sse2"};
#elif defined(__aarch64__)
    return Kernels{{&sum_f32_neon<0>, &sum_f32_neon<kGradFmas>},
                   {&sum_f64_neon<0>, &sum_f64_neon<kGradFmas>},
                   &fma_f32_neon,
                   &fma_f64_neon,
                   16 * 4 * 2,
                   16 * 2 * 2,
                   "neon64"};
#endif
  }();
  return k;
}

// One task arena per thread count, kept for the process: creating one per measurement would
// time the worker threads' start-up.
tbb::task_arena* arena_for(int threads) {
  static std::map<int, std::unique_ptr<tbb::task_arena>> arenas;
  auto& a = arenas[threads];
  if (!a) a = std::make_unique<tbb::task_arena>(threads);
  return a.get();
}

// One timed read: every thread sums its own n floats `reps` times.
float read_pass(const float* buf, std::size_t n, int threads, std::size_t reps) {
  float sums[256] = {};
  on_threads(arena_for(threads), threads, [&](int t) {
    sums[t % 256] += kernels().sum_f32[0](buf + static_cast<std::size_t>(t) * n, n, reps);
  });
  return sums[0];
}

template <class F>
double best_seconds(int tries, const F& f) {
  double best = 1e300;
  for (int i = 0; i < tries; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  return best;
}

// A pass moves at least 64 MiB per thread: cache-resident working sets are read many times
// over, so the arena's wake-up (a few microseconds) and the first, missing read of each pass
// cost under a few per cent.
std::size_t reps_for(std::size_t bytes_per_thread) {
  return std::max<std::size_t>(
      1, (std::size_t{64} << 20) / std::max<std::size_t>(bytes_per_thread, 1));
}

constexpr std::int64_t kFmaIters = 1 << 17;

double fma_pass(bool f64, int threads) {
  double sums[256] = {};
  on_threads(arena_for(threads), threads, [&](int t) {
    sums[t % 256] += f64 ? kernels().fma_f64(kFmaIters) : kernels().fma_f32(kFmaIters);
  });
  return sums[0];
}

double fma_flops_per_pass(bool f64, int threads) {
  return (f64 ? kernels().flops_f64 : kernels().flops_f32) * static_cast<double>(kFmaIters) *
         threads;
}

}  // namespace

const char* ceiling_isa() {
  return kernels().isa;
}

double measure_read(const float* buf, std::size_t bytes_per_thread, int threads, int tries) {
  const std::size_t n = bytes_per_thread / sizeof(float), reps = reps_for(bytes_per_thread);
  benchmark::DoNotOptimize(read_pass(buf, n, threads, 1));  // first touch and warm-up
  const double s =
      best_seconds(tries, [&] { benchmark::DoNotOptimize(read_pass(buf, n, threads, reps)); });
  return static_cast<double>(n * sizeof(float)) * static_cast<double>(reps) * threads / s;
}

double measure_fma(bool f64, int threads, int tries) {
  benchmark::DoNotOptimize(fma_pass(f64, threads));
  const double s = best_seconds(tries, [&] { benchmark::DoNotOptimize(fma_pass(f64, threads)); });
  return fma_flops_per_pass(f64, threads) / s;
}

// DRAM bandwidth on a shared VM depends on the buffer (where its pages landed): the same sum
// over different buffers has read anywhere from 13 to 28 GB/s here. So beside the model's
// memory ceiling, a large dataset gets a ceiling of its own: the same sum over that X and y.
void register_dataset_read(std::size_t n, std::size_t d, const std::vector<int>& thread_counts) {
  for (int t : thread_counts) {
    const std::string name = "ceiling/read_bw.dataset/N:" + std::to_string(n) +
                             "/d:" + std::to_string(d) + "/threads:" + std::to_string(t);
    add_benchmark(name, [n, d, t](benchmark::State& state) {
      const Dataset<float>& data = bench_data<float>(n, d).data;
      const std::size_t nx = n * data.ld;
      // Chunk starts stay 64-byte aligned (the sum uses aligned loads); the sum's scalar tail
      // reads what a chunk leaves over.
      auto part = [t](std::size_t len, int i) {
        const std::size_t chunk = len / t / 16 * 16;
        return std::pair<std::size_t, std::size_t>{i * chunk, i + 1 == t ? len : (i + 1) * chunk};
      };
      auto pass = [&] {
        float sums[256] = {};
        on_threads(arena_for(t), t, [&](int i) {
          const auto [x0, x1] = part(nx, i);
          const auto [y0, y1] = part(n, i);
          sums[i % 256] += kernels().sum_f32[0](data.x.data() + x0, x1 - x0, 1) +
                           kernels().sum_f32[0](data.y.data() + y0, y1 - y0, 1);
        });
        return sums[0];
      };
      pass();
      for (auto _ : state) benchmark::DoNotOptimize(pass());
      Work w;
      w.bytes = w.working_set = 4.0 * static_cast<double>(nx + n);
      w.threads = t;
      set_counters(state, w);
      state.SetLabel(kernels().isa);
    });
  }
}

// ceiling/sum.dataset.T and ceiling/sum_fma.dataset.T (bench_common.hpp): one thread, the
// dataset's own X and y, as the loss reads them.
template <class T>
void register_once(std::size_t n, std::size_t d, bool with_fmas) {
  constexpr bool f32 = std::is_same_v<T, float>;
  const std::string name = std::string("ceiling/") + (with_fmas ? "sum_fma" : "sum") + ".dataset." +
                           (f32 ? "f32" : "f64") + "/N:" + std::to_string(n) +
                           "/d:" + std::to_string(d) + "/threads:1";
  add_benchmark(name, [n, d, with_fmas](benchmark::State& state) {
    const Dataset<T>& data = bench_data<T>(n, d).data;
    const std::size_t nx = n * data.ld;
    const auto once = [&] {
      if constexpr (f32)
        return kernels().sum_f32[with_fmas];
      else
        return kernels().sum_f64[with_fmas];
    }();
    auto pass = [&] { return once(data.x.data(), nx, 1) + once(data.y.data(), n, 1); };
    benchmark::DoNotOptimize(pass());
    for (auto _ : state) benchmark::DoNotOptimize(pass());
    Work w;
    w.bytes = w.working_set = sizeof(T) * static_cast<double>(nx + n);
    w.flops = with_fmas ? 2.0 * kGradFmas * static_cast<double>(nx + n) : 0;
    w.acc = f32 ? DType::f32 : DType::f64;
    set_counters(state, w);
    state.SetLabel(kernels().isa);
  });
}

void register_dataset_once(DType type, std::size_t n, std::size_t d) {
  for (bool with_fmas : {false, true}) {
    if (type == DType::f64)
      register_once<double>(n, d, with_fmas);
    else
      register_once<float>(n, d, with_fmas);
  }
}

void register_ceilings(const std::vector<int>& thread_counts) {
  const MachineModel& model = machine_model();
  for (int t : thread_counts) {
    const auto it = model.threads.find(t);
    if (it == model.threads.end()) continue;
    for (const CacheLevel& level : it->second.levels) {
      // The middle of the plateau (geometrically), in whole 4 KiB pages per thread.
      const std::size_t bytes = std::max<std::size_t>(
          4096,
          static_cast<std::size_t>(std::sqrt(level.first_bytes * level.last_bytes)) / 4096 * 4096);
      const std::string name = "ceiling/read_bw." + level.name + "/bytes:" + std::to_string(bytes) +
                               "/threads:" + std::to_string(t);
      add_benchmark(name, [bytes, t](benchmark::State& state) {
        AlignedBuffer<float> buf(bytes / sizeof(float) * t);
        for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(i & 7);
        const std::size_t n = bytes / sizeof(float), reps = reps_for(bytes);
        read_pass(buf.data(), n, t, 1);
        for (auto _ : state) benchmark::DoNotOptimize(read_pass(buf.data(), n, t, reps));
        Work w;
        w.bytes = static_cast<double>(bytes) * static_cast<double>(reps) * t;
        w.working_set = static_cast<double>(bytes) * t;
        w.threads = t;
        set_counters(state, w);
        state.SetLabel(kernels().isa);
      });
    }
    for (bool f64 : {false, true}) {
      const std::string name = std::string("ceiling/fma_peak.") + (f64 ? "f64" : "f32") +
                               "/threads:" + std::to_string(t);
      add_benchmark(name, [f64, t](benchmark::State& state) {
        for (auto _ : state) benchmark::DoNotOptimize(fma_pass(f64, t));
        Work w;
        w.flops = fma_flops_per_pass(f64, t);
        w.acc = f64 ? DType::f64 : DType::f32;
        w.threads = t;
        set_counters(state, w);
        state.SetLabel(kernels().isa);
      });
    }
  }
}

}  // namespace numgrad::bench
