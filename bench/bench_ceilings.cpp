// The machine's ceilings, measured inside the benchmark binary: a STREAM-like read-bandwidth
// sum over buffers sized for L1, L2, LLC and DRAM, and an FMA-peak loop, each for 1..T
// threads. Every kernel's frac_bw / frac_peak counter divides by these numbers, measured in
// the same process just before the kernels run (DESIGN.md §4: compare as ratios).
//
// Why target attributes: bench_*.cpp are compiled with the baseline flags (no global -march,
// DESIGN.md §5), and baseline SSE2 reaches neither the L1/L2 bandwidth nor the FMA peak. The
// wide kernels below carry their ISA in __attribute__((target(...))), use only intrinsics
// (always-inline, no shared inline code, so no ODR hazard), sit in an unnamed namespace, and
// are chosen at run time with numgrad::isa_available, which also honours NUMGRAD_ISA.
#include <immintrin.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "bench_common.hpp"
#include "numgrad/isa.hpp"

namespace numgrad::bench {
namespace {

// --- Read bandwidth: sum a buffer with enough independent accumulators that the loads,
// not the add latency, limit the loop (8 vectors in flight: 4-cycle add latency x 2 loads
// per cycle). The sum is returned and fed to DoNotOptimize, so no pass can be elided.

#define NUMGRAD_SUM_KERNEL(NAME, TARGET, VEC, ZERO, LOAD, ADD, STORE)                 \
  TARGET __attribute__((noinline)) float NAME(const float* p, std::size_t n) {        \
    constexpr std::size_t kLanes = sizeof(VEC) / sizeof(float), kStep = 8 * kLanes;   \
    VEC acc[8];                                                                       \
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; ++k) acc[k] = ZERO();              \
    std::size_t i = 0;                                                                \
    for (; i + kStep <= n; i += kStep) {                                              \
      _Pragma("GCC unroll 8") for (std::size_t k = 0; k < 8; ++k) acc[k] =            \
          ADD(acc[k], LOAD(p + i + k * kLanes));                                      \
    }                                                                                 \
    _Pragma("GCC unroll 8") for (int k = 1; k < 8; ++k) acc[0] = ADD(acc[0], acc[k]); \
    /* Through memory rather than a reduce intrinsic, which trips GCC 12's            \
       -Wmaybe-uninitialized inside its own header. */                                \
    alignas(64) float lanes[kLanes];                                                  \
    STORE(lanes, acc[0]);                                                             \
    float s = 0;                                                                      \
    for (float v : lanes) s += v;                                                     \
    for (; i < n; ++i) s += p[i];                                                     \
    return s;                                                                         \
  }

NUMGRAD_SUM_KERNEL(sum_avx512, __attribute__((target("avx512f"))), __m512, _mm512_setzero_ps,
                   _mm512_load_ps, _mm512_add_ps, _mm512_store_ps)
NUMGRAD_SUM_KERNEL(sum_avx2, __attribute__((target("avx2"))), __m256, _mm256_setzero_ps,
                   _mm256_load_ps, _mm256_add_ps, _mm256_store_ps)
NUMGRAD_SUM_KERNEL(sum_sse2, , __m128, _mm_setzero_ps, _mm_load_ps, _mm_add_ps, _mm_store_ps)

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

// Without FMA (SSE2 baseline) a chain is a multiply then an add: the same 2 flops per lane.
#define NUMGRAD_MULADD_PS(x, m, a) _mm_add_ps(_mm_mul_ps(x, m), a)
#define NUMGRAD_MULADD_PD(x, m, a) _mm_add_pd(_mm_mul_pd(x, m), a)

NUMGRAD_FMA_KERNEL(fma_f32_avx512, __attribute__((target("avx512f"))), __m512, float, 16,
                   _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_store_ps)
NUMGRAD_FMA_KERNEL(fma_f64_avx512, __attribute__((target("avx512f"))), __m512d, double, 16,
                   _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd, _mm512_store_pd)
NUMGRAD_FMA_KERNEL(fma_f32_avx2, __attribute__((target("avx2,fma"))), __m256, float, 12,
                   _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_store_ps)
NUMGRAD_FMA_KERNEL(fma_f64_avx2, __attribute__((target("avx2,fma"))), __m256d, double, 12,
                   _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, _mm256_store_pd)
NUMGRAD_FMA_KERNEL(fma_f32_sse2, , __m128, float, 12, _mm_set1_ps, NUMGRAD_MULADD_PS, _mm_add_ps,
                   _mm_store_ps)
NUMGRAD_FMA_KERNEL(fma_f64_sse2, , __m128d, double, 12, _mm_set1_pd, NUMGRAD_MULADD_PD, _mm_add_pd,
                   _mm_store_pd)

struct Kernels {
  float (*sum)(const float*, std::size_t);
  float (*fma_f32)(std::int64_t);
  double (*fma_f64)(std::int64_t);
  double flops_f32, flops_f64;  // per iteration of the FMA loop
  const char* isa;
};

const Kernels& kernels() {
  static const Kernels k = [] {
    if (isa_available(Isa::avx512))
      return Kernels{&sum_avx512, &fma_f32_avx512, &fma_f64_avx512,
                     16 * 16 * 2, 16 * 8 * 2,      "avx512"};
    if (isa_available(Isa::avx2))
      return Kernels{&sum_avx2, &fma_f32_avx2, &fma_f64_avx2, 12 * 8 * 2, 12 * 4 * 2, "avx2"};
    return Kernels{&sum_sse2, &fma_f32_sse2, &fma_f64_sse2, 12 * 4 * 2, 12 * 2 * 2, "sse2"};
  }();
  return k;
}

// One read-bandwidth workload: `threads` chunks of `chunk` floats, each read `reps` times.
struct ReadJob {
  AlignedBuffer<float> buf;
  std::size_t chunk = 0;
  int reps = 1, threads = 1;
  double bytes() const { return 4.0 * chunk * reps * threads; }
};

ReadJob make_read_job(Level level, int threads) {
  ReadJob j;
  j.threads = threads;
  const std::size_t bytes = ceiling_buffer_bytes(level, threads);
  const bool per_thread = level == Level::l1 || level == Level::l2;
  const std::size_t total = per_thread ? bytes * threads : bytes;
  j.chunk = std::max<std::size_t>(total / threads / 4 / 128 * 128, 128);
  // Repeat cache-resident chunks so one pass moves >= 8 MiB per thread: the first read of
  // each pass (which may miss) and the task start-up then cost under a few per cent.
  j.reps = static_cast<int>(std::max<std::size_t>(1, (std::size_t{8} << 20) / (j.chunk * 4)));
  if (!per_thread) j.reps = 1;
  j.buf = AlignedBuffer<float>(j.chunk * threads);
  for (std::size_t i = 0; i < j.buf.size(); ++i) j.buf[i] = static_cast<float>(i & 7);
  return j;
}

float run_read(tbb::task_arena* arena, const ReadJob& j) {
  float sums[256] = {};
  const auto sum = kernels().sum;
  on_threads(arena, j.threads, [&](int t) {
    float s = 0;
    for (int r = 0; r < j.reps; ++r) s += sum(j.buf.data() + t * j.chunk, j.chunk);
    sums[t % 256] += s;
  });
  return sums[0];
}

constexpr std::int64_t kFmaIters = 1 << 20;

template <class T>
double run_fma(tbb::task_arena* arena, int threads, std::int64_t iters) {
  double sums[256] = {};
  on_threads(arena, threads, [&](int t) {
    if constexpr (sizeof(T) == 4)
      sums[t % 256] += kernels().fma_f32(iters);
    else
      sums[t % 256] += kernels().fma_f64(iters);
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

Ceilings& mutable_ceilings() {
  static Ceilings c;
  return c;
}

}  // namespace

void measure_ceilings(const std::vector<int>& thread_counts) {
  Ceilings& c = mutable_ceilings();
  c.isa = kernels().isa;
  for (int t : thread_counts) {
    tbb::task_arena arena(t);
    for (int l = 0; l < 4; ++l) {
      const ReadJob job = make_read_job(static_cast<Level>(l), t);
      run_read(&arena, job);  // first touch and warm-up
      const double s =
          best_seconds(l == 3 ? 5 : 7, [&] { benchmark::DoNotOptimize(run_read(&arena, job)); });
      c.read_bw[l][t] = job.bytes() / s;
    }
    const double s32 = best_seconds(
        5, [&] { benchmark::DoNotOptimize(run_fma<float>(&arena, t, kFmaIters / 8)); });
    c.fma_f32[t] = kernels().flops_f32 * (kFmaIters / 8) * t / s32;
    const double s64 = best_seconds(
        5, [&] { benchmark::DoNotOptimize(run_fma<double>(&arena, t, kFmaIters / 8)); });
    c.fma_f64[t] = kernels().flops_f64 * (kFmaIters / 8) * t / s64;
  }
}

const Ceilings& ceilings() {
  return mutable_ceilings();
}

double read_bw_ceiling(Level level, int threads) {
  const auto& m = ceilings().read_bw[static_cast<int>(level)];
  auto it = m.find(threads);
  return it == m.end() ? 0 : it->second;
}

double fma_ceiling(DType acc, int threads) {
  const auto& m = acc == DType::f32 ? ceilings().fma_f32 : ceilings().fma_f64;
  auto it = m.find(threads);
  return it == m.end() ? 0 : it->second;
}

// DRAM bandwidth on a shared VM depends on the buffer (where its pages landed): the same sum
// over different buffers has read anywhere from 13 to 21 GB/s here. So beside the generic
// ceiling, a large dataset gets a ceiling of its own: the same sum over that very X and y.
void register_dataset_read(std::size_t n, std::size_t d, const std::vector<int>& thread_counts) {
  for (int t : thread_counts) {
    const std::string name = "ceiling/read_bw.dataset/N:" + std::to_string(n) +
                             "/d:" + std::to_string(d) + "/threads:" + std::to_string(t);
    add_benchmark(name, [n, d, t](benchmark::State& state) {
      const Dataset<float>& data = bench_data<float>(n, d).data;
      const std::size_t nx = n * data.ld;
      tbb::task_arena arena(t);
      // Chunk starts stay 64-byte aligned (the sum uses aligned loads); the sum's scalar tail
      // reads what a chunk leaves over.
      auto part = [t](std::size_t len, int i) {
        const std::size_t chunk = len / t / 16 * 16;
        return std::pair<std::size_t, std::size_t>{i * chunk, i + 1 == t ? len : (i + 1) * chunk};
      };
      auto pass = [&] {
        float sums[256] = {};
        on_threads(&arena, t, [&](int i) {
          const auto [x0, x1] = part(nx, i);
          const auto [y0, y1] = part(n, i);
          sums[i % 256] += kernels().sum(data.x.data() + x0, x1 - x0) +
                           kernels().sum(data.y.data() + y0, y1 - y0);
        });
        return sums[0];
      };
      pass();
      for (auto _ : state) benchmark::DoNotOptimize(pass());
      state.counters["bytes/s"] =
          benchmark::Counter(4.0 * (nx + n), benchmark::Counter::kIsIterationInvariantRate);
      state.SetLabel(kernels().isa);
    });
  }
}

void register_ceilings(const std::vector<int>& thread_counts) {
  for (int t : thread_counts) {
    for (int l = 0; l < 4; ++l) {
      const Level level = static_cast<Level>(l);
      const std::size_t bytes = ceiling_buffer_bytes(level, t);
      const std::string name = std::string("ceiling/read_bw.") + kLevelNames[l] +
                               "/bytes:" + std::to_string(bytes) + "/threads:" + std::to_string(t);
      add_benchmark(name, [level, t](benchmark::State& state) {
        const ReadJob job = make_read_job(level, t);
        tbb::task_arena arena(t);
        run_read(&arena, job);
        for (auto _ : state) benchmark::DoNotOptimize(run_read(&arena, job));
        state.counters["bytes/s"] =
            benchmark::Counter(job.bytes(), benchmark::Counter::kIsIterationInvariantRate);
        state.SetLabel(kernels().isa);
      });
    }
    for (int bits : {32, 64}) {
      const std::string name =
          "ceiling/fma_peak.f" + std::to_string(bits) + "/threads:" + std::to_string(t);
      add_benchmark(name, [bits, t](benchmark::State& state) {
        tbb::task_arena arena(t);
        const std::int64_t iters = kFmaIters / 8;
        for (auto _ : state)
          benchmark::DoNotOptimize(bits == 32 ? run_fma<float>(&arena, t, iters)
                                              : run_fma<double>(&arena, t, iters));
        const double per = (bits == 32 ? kernels().flops_f32 : kernels().flops_f64) * iters * t;
        state.counters["flop/s"] =
            benchmark::Counter(per, benchmark::Counter::kIsIterationInvariantRate);
        state.SetLabel(kernels().isa);
      });
    }
  }
}

}  // namespace numgrad::bench
