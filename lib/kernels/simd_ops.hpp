// The hand-written SIMD building blocks (the Ops contract of compose.hpp), written once as a
// template on the xsimd 8.1 arch tag over the lane primitives of simd_lanes.hpp, and
// instantiated by the per-ISA units simd_<isa>.cpp.
// Dot products transpose-and-reduce blocks of W rows (xsimd::haddp, or pair_sums for rows
// packed in registers), so short rows cost one load and one FMA each, not a horizontal sum; the
// perturbed and gradient sums sweep X row-major across j. Everything sits in an unnamed namespace
// (docs/design.md §5, ODR).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "simd_lanes.hpp"
#include "tiled.hpp"

namespace numgrad::detail {
namespace {

constexpr std::size_t ceil_div(std::size_t a, std::size_t b) {
  return (a + b - 1) / b;
}
constexpr std::size_t ceil_log2(std::size_t n) {
  std::size_t k = 0;
  while ((std::size_t{1} << k) < n) ++k;
  return k;
}
constexpr std::size_t min_size(std::size_t a, std::size_t b) {
  return a < b ? a : b;
}

template <class T, class Acc, class Arch>
struct SimdOps : SimdLanes<T, Acc, Arch> {
  using value_type = T;
  using acc_type = Acc;
  // The lane primitives, named here so that a call such as fma(a, b, c) always means the
  // member (ordinary lookup finds it, so argument-dependent lookup never reaches xsimd::fma).
  using Lanes = SimdLanes<T, Acc, Arch>;
  using Lanes::fma, Lanes::fnma, Lanes::load, Lanes::zero, Lanes::pair_sums, Lanes::first_lanes,
      Lanes::load_tail, Lanes::load_acc_tail, Lanes::store_acc, Lanes::safe_rows, Lanes::haddp_slot;
  using Lanes::W, Lanes::kRegisters;
  using typename Lanes::Mask;
  using typename Lanes::V;
  // Independent FMA chains needed to keep the FMA units busy: latency 4 cycles x 2 ports
  // (Skylake-SP, Sapphire Rapids, Zen 4). Fewer chains and the loop waits on its own sums.
  static constexpr std::size_t kChains = 8;
  // Accumulators per row in the dot products. Rows are independent chains that out-of-order
  // execution overlaps (block_dots), so W >= 8 lanes need one; narrower registers (sse2, f64
  // on avx2) split each row into A chains, each again covering 8 elements per step.
  static constexpr std::size_t A = W >= kChains ? 1 : kChains / W;
  // Rows of X per block of the column sweeps: the block's strip stays in L1 while every tile
  // of columns passes over it, so X is read from memory once.
  static constexpr std::size_t kBlockBytes = 16384;

  // --- Dot products: W rows per block ------------------------------------------------------

  // Rows of up to kHeld full vectors have their count NV as a template argument: the row
  // loop unrolls and w stays in registers for the whole block, so a row costs one load per
  // vector (a w reload per FMA halves what the L1 ports deliver of X: 57 against 85 GB/s at
  // d = 64 f32 from L2 on Zen 4). The row sums go to memory (haddp's input), so kHeld leaves
  // four registers for the row in flight; longer rows (NV = 0) loop at run time and reload w
  // from L1.
  static constexpr std::size_t kHeld = min_size(16, kRegisters - 4);

  // x . w for one row: C accumulators, vector v of the row into accumulator v mod C, the
  // tail vector into accumulator 0, then joined pairwise. C = A, except that a held row of
  // 4+ vectors gets two chains even when A = 1: a row is then one dependent FMA chain per
  // call site, and halving it was 4% faster at d = 256 f32 from L2. NV > 0: full == NV W,
  // and wv holds w in registers (null: w is reloaded from L1).
  // kSq also adds each loaded vector's squares to the column sums of squares: sq (NV + 1
  // registers, the last for the tail) for a held row, col2 in memory for a long one. The
  // vector is loaded once for both, so the steps' sums cost FMAs, not another pass over X.
  template <bool kSafeTail, std::size_t NV, bool kSq = false>
  static V row_dot(const T* x, const T* w, const V* wv, std::size_t full, std::size_t tail,
                   const V& wtail, const Mask& tmask, V* sq = nullptr, Acc* col2 = nullptr) {
    constexpr std::size_t C = NV >= 4 && A == 1 ? 2 : A;
    V acc[C];
    for (std::size_t a = 0; a < C; ++a) acc[a] = zero();
    // The square of the vector at element k into its column sums (slot: its register).
    auto square = [&](const V& xv, std::size_t k, std::size_t slot) {
      if constexpr (!kSq) return;
      if constexpr (NV > 0) {
        sq[slot] = fma(xv, xv, sq[slot]);
      } else {
        fma(xv, xv, V::load_aligned(col2 + k)).store_aligned(col2 + k);
      }
    };
    if constexpr (NV > 0) {
      for (std::size_t v = 0; v < NV; ++v) {
        const V xv = load(x + v * W);
        acc[v % C] = fma(xv, wv != nullptr ? wv[v] : load(w + v * W), acc[v % C]);
        square(xv, v * W, v);
      }
    } else {
      auto step = [&](std::size_t k, std::size_t a) {
        const V xv = load(x + k);
        acc[a] = fma(xv, load(w + k), acc[a]);
        square(xv, k, 0);
      };
      std::size_t k = 0;
      for (; k + A * W <= full; k += A * W)
        for (std::size_t a = 0; a < A; ++a) step(k + a * W, a);
      if constexpr (A > 1)
        for (std::size_t a = 0; a + 1 < A; ++a)
          if (k + a * W < full) step(k + a * W, a);
    }
    if (tail != 0) {
      const V xt = load_tail(x + full, tail, tmask, kSafeTail);
      acc[0] = fma(xt, wtail, acc[0]);
      square(xt, full, NV);
    }
    for (std::size_t step = 1; step < C; step *= 2)
      for (std::size_t a = 0; a + step < C; a += 2 * step) acc[a] += acc[a + step];
    return acc[0];
  }

  // x_i . w for the W rows from i0 in lane i - i0 (n < W: the missing rows repeat row n-1,
  // keeping the block fully unrolled; the caller zeroes those lanes), transposed by haddp:
  // per row that is one load and one FMA per vector plus 1/W of a W x W reduction, so rows
  // of a few registers cost little more than their bytes.
  // Access order: each row is read whole, left to right, before the next, so X streams
  // through memory strictly in address order. Walking a column chunk across the W rows
  // instead (one w load per W FMAs) was 2-3x slower from DRAM on Zen 4 for rows of 256 B
  // and more, with or without software prefetch: interleaved streams ld apart inside a page
  // defeat the hardware stream prefetchers, which are what keeps enough misses in flight.
  // The rows are unrolled and independent, so out-of-order execution overlaps one row's FMA
  // chain with the next row's loads. Held rows (NV > 0) are a loop over the W rows, which
  // GCC keeps in row order with w in registers (fully unrolled, it interleaved the rows and
  // spilled w); the run-time loop (NV = 0) is unrolled over the rows. A pair_sums tree in
  // place of haddp was no faster, and folding pairs as soon as both rows were done was 2.7x
  // slower from DRAM (the shuffles, waiting on outstanding misses, hold up later loads).
  // Not inlined: with the W unrolled rows inside residual_blocks, GCC 12 allocated the
  // registers of the packed short-row loop there worse (d = 4: 0.6x instead of 0.95x of read
  // bandwidth in L2); a call per W rows costs little against W rows of loads.
  // kSq: rows i0 .. i0 + n - 1 (not the repeats) also add their squares to col2 (see
  // row_dot), held in registers for a full block when the row is.
  template <bool kSafeTail, std::size_t NV, bool kSq>
  [[gnu::noinline]] static V block_dots(const BatchView<T>& B, std::size_t i0, std::size_t n,
                                        const T* w, std::size_t full, std::size_t tail,
                                        const V& wtail, const Mask& tmask, Acc* col2) {
    V wv[NV > 0 ? NV : 1];
    for (std::size_t v = 0; v < NV; ++v) wv[v] = load(w + v * W);
    const T* x0 = B.row(i0);
    V sums[W];
    if constexpr (NV > 0) {
      auto row = [&](std::size_t r) { return x0 + min_size(r, n - 1) * B.ld; };
      if (kSq && n == W) {
        // The tail's slot only with a tail (a loop to NV + (tail != 0) became a memcpy).
        V sq[NV + 1];
        for (std::size_t v = 0; v < NV; ++v) sq[v] = V::load_aligned(col2 + v * W);
        sq[NV] = tail != 0 ? V::load_aligned(col2 + NV * W) : zero();
        // Squares and w held need 2 NV + 5 registers and GCC 12 spilled from 2 NV + 8 of 16:
        // then w comes from L1 (a spilled square stalls each row: 1.6x, d = 64 f32 AVX2).
        const V* held_w = 2 * NV + 9 <= kRegisters ? wv : nullptr;
        for (std::size_t r = 0; r < W; ++r)
          sums[haddp_slot(r)] =
              row_dot<kSafeTail, NV, kSq>(row(r), w, held_w, full, tail, wtail, tmask, sq);
        for (std::size_t v = 0; v < NV; ++v) sq[v].store_aligned(col2 + v * W);
        if (tail != 0) sq[NV].store_aligned(col2 + NV * W);
      } else {
        // Unrolled where W <= 4: GCC 12 kept that loop rolled, the chains' join on the stack
        // (1.6x the time, SSE2 f64 d = 8). Wider blocks stay a loop (see above).
        if constexpr (W <= 4) {
#pragma GCC unroll 4
          for (std::size_t r = 0; r < W; ++r)
            sums[haddp_slot(r)] = row_dot<kSafeTail, NV>(row(r), w, wv, full, tail, wtail, tmask);
        } else {
          for (std::size_t r = 0; r < W; ++r)
            sums[haddp_slot(r)] = row_dot<kSafeTail, NV>(row(r), w, wv, full, tail, wtail, tmask);
        }
        // The last, partial block's squares through memory, in the same order (held squares
        // looped to a run-time n went through the stack in pieces: 3x, d = 16 f32 AVX2).
        if constexpr (kSq)
          for (std::size_t r = 0; r < n; ++r)
            row_dot<kSafeTail, 0, true>(row(r), w, wv, full, tail, wtail, tmask, nullptr, col2);
      }
    } else {
      [&]<std::size_t... R>(std::index_sequence<R...>) {
        ((sums[haddp_slot(R)] =
              kSq && R < n ? row_dot<kSafeTail, NV, kSq>(x0 + min_size(R, n - 1) * B.ld, w, wv,
                                                         full, tail, wtail, tmask, nullptr, col2)
                           : row_dot<kSafeTail, NV>(x0 + min_size(R, n - 1) * B.ld, w, wv, full,
                                                    tail, wtail, tmask)),
         ...);
      }
      (std::make_index_sequence<W>());
    }
    return xsimd::haddp(sums);
  }

  // The block_dots instantiation for rows of `full` elements in full vectors: NV = full / W
  // when that is held in registers, else the run-time loop (NV = 0). Chosen once per call.
  using DotsFn = V (*)(const BatchView<T>&, std::size_t, std::size_t, const T*, std::size_t,
                       std::size_t, const V&, const Mask&, Acc*);
  template <bool kSafeTail, bool kSq>
  static DotsFn pick_dots(std::size_t full) {
    static constexpr auto table = []<std::size_t... NV>(std::index_sequence<NV...>) {
      return std::array<DotsFn, sizeof...(NV)>{&block_dots<kSafeTail, NV, kSq>...};
    }
    (std::make_index_sequence<kHeld + 1>());
    const std::size_t nv = full / W;
    return table[nv <= kHeld ? nv : 0];
  }

  // Short rows (d = D, a power of two up to W; below W also ld == d): the W rows of a block
  // are D full registers, P = W / D rows each. Multiply by w tiled P times, then log2 D
  // rounds of pair_sums fold each row's D lanes into one, in row order: per row that is D / W
  // of a load, a multiply and a shuffle-add, so such rows run at memory speed. At D = W (any
  // ld) that is one register per row and a pair_sums transpose inline in the block loop:
  // 1.6x block_dots' speed at d = 16 f32 in L2, where a call per 16 rows of 64 B is not small.
  // kSq also sums the squares of every register into col2 (lane l holds column l mod D): S
  // chains, folded once at the end.
  template <std::size_t D, bool kSq, class Emit>
  static std::size_t packed_blocks(const BatchView<T>& B, const T* w, Emit& emit, Acc* col2) {
    alignas(64) T wbuf[W];
    for (std::size_t l = 0; l < W; ++l) wbuf[l] = w[l % D];
    const V wtile = load(wbuf);
    constexpr std::size_t S = D < 4 ? D : 4;
    V sq[S];
    for (std::size_t s = 0; s < S; ++s) sq[s] = zero();
    std::size_t i0 = 0;
    for (; i0 + W <= B.rows; i0 += W) {
      const T* x = B.row(i0);
      V p[D];
      for (std::size_t m = 0; m < D; ++m) {
        const V xm = load(D == W ? B.row(i0 + m) : x + m * W);
        if constexpr (kSq) sq[m % S] = fma(xm, xm, sq[m % S]);
        p[m] = xm * wtile;
      }
      for (std::size_t n = D; n > 1; n /= 2)
        for (std::size_t m = 0; m < n / 2; ++m) p[m] = pair_sums(p[2 * m], p[2 * m + 1]);
      emit(i0, W, p[0] - load(B.y + i0));
    }
    if constexpr (kSq) {
      for (std::size_t step = 1; step < S; step *= 2)
        for (std::size_t s = 0; s + step < S; s += 2 * step) sq[s] += sq[s + step];
      alignas(64) Acc lanes[W];
      sq[0].store_aligned(lanes);
      for (std::size_t l = 0; l < W; ++l) col2[l % D] += lanes[l];
    }
    return i0;
  }
  template <bool kSq, class Emit, std::size_t D = 1>
  static std::size_t packed_rows(const BatchView<T>& B, const T* w, Emit& emit, Acc* col2) {
    if constexpr (D <= W) {
      if (B.d == D) return packed_blocks<D, kSq>(B, w, emit, col2);
      return packed_rows<kSq, Emit, 2 * D>(B, w, emit, col2);
    }
    return 0;
  }

  // Calls emit(i0, n, r) for each block of up to W rows; lane l of r is x_{i0+l} . w - y_{i0+l}
  // and lanes >= n are zero. kSq: also adds sum_i x_ij^2 to col2 (zeroed by the caller, room
  // for whole vectors).
  template <bool kSq = false, class Emit>
  static void residual_blocks(const BatchView<T>& B, const T* w, Emit&& emit, Acc* col2 = nullptr) {
    std::size_t start = 0;
    if ((B.ld == B.d && B.d < W) || B.d == W) start = packed_rows<kSq>(B, w, emit, col2);
    const std::size_t full = B.d / W * W, tail = B.d - full;
    alignas(64) T wbuf[W] = {};
    for (std::size_t t = 0; t < tail; ++t) wbuf[t] = w[full + t];
    const V wtail = load(wbuf);
    const Mask tmask = first_lanes(tail);
    const std::size_t safe = tail != 0 ? safe_rows(B, full) : B.rows;
    const DotsFn safe_dots = pick_dots<true, kSq>(full), edge_dots = pick_dots<false, kSq>(full);
    for (std::size_t i0 = start; i0 < B.rows; i0 += W) {
      const std::size_t n = min_size(W, B.rows - i0);
      const V dots =
          (i0 + n <= safe ? safe_dots : edge_dots)(B, i0, n, w, full, tail, wtail, tmask, col2);
      if (n == W) {
        emit(i0, n, dots - load(B.y + i0));
      } else {
        alignas(64) T ybuf[W] = {};
        for (std::size_t t = 0; t < n; ++t) ybuf[t] = B.y[i0 + t];
        emit(i0, n, xsimd::select(first_lanes(n), dots - load(ybuf), zero()));
      }
    }
  }

  static Acc loss_sum(const BatchView<T>& B, const T* w) {
    // One chain per W rows: a block's dot products take far longer than the FMA latency.
    V s = zero();
    residual_blocks(B, w, [&](std::size_t, std::size_t, const V& r) { s = fma(r, r, s); });
    return xsimd::hadd(s);
  }

  static void residuals(const BatchView<T>& B, const T* w, Acc* out) {
    auto store = [&](std::size_t i0, std::size_t n, const V& r) { store_acc(r, out + i0, n); };
    if (tl_prefetch.next == tl_prefetch.end) return residual_blocks(B, w, store);
    // The next chunk's share of this pass (tiled.hpp prefetch_ahead), from a local copy that
    // the loop keeps in registers. A separate instantiation, so that without a stream the
    // pass is the one it always was.
    PrefetchStream ahead = tl_prefetch;
    const std::size_t ahead_bytes = B.d * sizeof(T) * kAheadResidualPct / 100;
    residual_blocks(B, w, [&](std::size_t i0, std::size_t n, const V& r) {
      store(i0, n, r);
      prefetch_ahead(ahead, n * ahead_bytes);
    });
    tl_prefetch = ahead;
  }

  // One pass for the data-aware steps: r, the columns' sums of squares and sum_i r_i^2.
  static Acc residual_squares(const BatchView<T>& B, const T* w, Acc* r, Acc* col2) {
    for (std::size_t j = 0; j < ceil_div(B.d, W) * W; ++j) col2[j] = 0;
    V s = zero();
    residual_blocks<true>(
        B, w,
        [&](std::size_t i0, std::size_t n, const V& ri) {
          store_acc(ri, r + i0, n);
          s = fma(ri, ri, s);
        },
        col2);
    return xsimd::hadd(s);
  }

  // --- Column sweeps: row-major over X, vectorized across j --------------------------------

  // out_j += x_ij r_i
  struct GradientRow {
    static constexpr std::size_t kAcc = 1, kMaxVectors = 8;
    struct Coef {};
    Coef coef(std::size_t) const { return {}; }
    template <std::size_t D>
    Coef tiled() const {
      return {};
    }
    static void update(V* acc, const V& x, const V& ri, const Coef&) {
      acc[0] = SimdOps::fma(x, ri, acc[0]);
    }
  };

  // out_j += x_ij^2 (r is loaded by the sweep, unused here)
  struct SquareRow {
    static constexpr std::size_t kAcc = 1, kMaxVectors = 8;
    struct Coef {};
    Coef coef(std::size_t) const { return {}; }
    template <std::size_t D>
    Coef tiled() const {
      return {};
    }
    static void update(V* acc, const V& x, const V&, const Coef&) {
      acc[0] = SimdOps::fma(x, x, acc[0]);
    }
  };

  // plus_j += (r_i + dp_j x_ij)^2, minus_j += (r_i - dm_j x_ij)^2. dp and dm start at j0;
  // their last partial vector comes from zero-padded copies, so no read leaves the arrays.
  struct PerturbedRow {
    static constexpr std::size_t kAcc = 2, kMaxVectors = 4;
    const Acc *dp, *dm;
    std::size_t cols;
    V dp_tail, dm_tail;
    struct Coef {
      V dp, dm;
    };
    Coef coef(std::size_t c) const {
      if (c + W <= cols) return {V::load_unaligned(dp + c), V::load_unaligned(dm + c)};
      return {dp_tail, dm_tail};
    }
    // dp and dm repeated every D lanes, for rows packed P per register.
    template <std::size_t D>
    Coef tiled() const {
      alignas(64) Acc a[W], b[W];
      for (std::size_t l = 0; l < W; ++l) a[l] = dp[l % D], b[l] = dm[l % D];
      return {V::load_aligned(a), V::load_aligned(b)};
    }
    static void update(V* acc, const V& x, const V& ri, const Coef& k) {
      const V a = SimdOps::fma(k.dp, x, ri), c = SimdOps::fnma(k.dm, x, ri);
      acc[0] = SimdOps::fma(a, a, acc[0]);
      acc[1] = SimdOps::fma(c, c, acc[1]);
    }
  };

  struct Sweep {
    std::size_t j0, cols, tail;  // tail: columns in the last, partial vector (0: none)
    std::size_t safe;            // rows whose partial vector may be read in full
    Mask tmask;
  };

  // G column vectors starting at absolute column c, rows [i0, i1). Rows go round-robin to S
  // sets of accumulators so that K * G * S >= kChains chains are in flight: a few columns
  // (short rows) get many row sets, many columns need none. Set 0 starts from the sums of
  // earlier row blocks; the sets are joined pairwise at the end.
  template <class P, std::size_t G, bool kTail, bool kAhead>
  static void sweep_tile(const BatchView<T>& B, const Acc* r, std::size_t i0, std::size_t i1,
                         std::size_t c, const Sweep& sw, const P& p, Acc* const* out) {
    constexpr std::size_t K = P::kAcc, S = ceil_div(kChains, K * G);
    typename P::Coef coef[G];
    for (std::size_t g = 0; g < G; ++g) coef[g] = p.coef(c - sw.j0 + g * W);
    V acc[S][G][K];
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < K; ++k) {
        Acc* o = out[k] + c + g * W;
        acc[0][g][k] = kTail && g == G - 1 ? load_acc_tail(o, sw.tail) : V::load_unaligned(o);
        for (std::size_t s = 1; s < S; ++s) acc[s][g][k] = zero();
      }
    // kAhead: the next chunk's share of this tile (prefetch_ahead) per group of S rows, from
    // a local copy kept in registers, outside the row function, which must stay inlined.
    PrefetchStream ahead{};
    constexpr std::size_t kAheadBytes = S * G * W * sizeof(T) * (100 - kAheadResidualPct) / 100;
    if constexpr (kAhead) ahead = tl_prefetch;
    auto row = [&](std::size_t i, V(&a)[G][K]) __attribute__((always_inline)) {
      const T* x = B.row(i) + c;
      const V ri(r[i]);
      for (std::size_t g = 0; g < G; ++g) {
        const V xv = kTail && g == G - 1 ? load_tail(x + g * W, sw.tail, sw.tmask, i < sw.safe)
                                         : load(x + g * W);
        P::update(a[g], xv, ri, coef[g]);
      }
    };
    std::size_t i = i0;
    for (; i + S <= i1; i += S) {
      for (std::size_t s = 0; s < S; ++s) row(i + s, acc[s]);
      if constexpr (kAhead) prefetch_ahead(ahead, kAheadBytes);
    }
    for (std::size_t s = 0; s + 1 < S; ++s)
      if (i + s < i1) row(i + s, acc[s]);
    for (std::size_t step = 1; step < S; step *= 2)
      for (std::size_t s = 0; s + step < S; s += 2 * step)
        for (std::size_t g = 0; g < G; ++g)
          for (std::size_t k = 0; k < K; ++k) acc[s][g][k] += acc[s + step][g][k];
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < K; ++k)
        store_acc(acc[0][g][k], out[k] + c + g * W, kTail && g == G - 1 ? sw.tail : W);
    if constexpr (kAhead) tl_prefetch = ahead;
  }

  // Picks the instantiation for a tile of g vectors (1 <= g <= kMaxVectors).
  template <class P, std::size_t G = P::kMaxVectors>
  static void run_tile(std::size_t g, bool tail, const BatchView<T>& B, const Acc* r,
                       std::size_t i0, std::size_t i1, std::size_t c, const Sweep& sw, const P& p,
                       Acc* const* out) {
    if constexpr (G > 1)
      if (g < G) return run_tile<P, G - 1>(g, tail, B, r, i0, i1, c, sw, p, out);
    // With a prefetch stream (tiled.hpp; never for the steps' square sums) its own
    // instantiation, so that the sweep without one has no trace of it.
    if constexpr (!std::is_same_v<P, SquareRow>)
      if (tl_prefetch.next < tl_prefetch.end) {
        if (tail) return sweep_tile<P, G, true, true>(B, r, i0, i1, c, sw, p, out);
        return sweep_tile<P, G, false, true>(B, r, i0, i1, c, sw, p, out);
      }
    if (tail)
      sweep_tile<P, G, true, false>(B, r, i0, i1, c, sw, p, out);
    else
      sweep_tile<P, G, false, false>(B, r, i0, i1, c, sw, p, out);
  }

  // Lane l of the swizzle takes lane M * (W / D) + l / D: r of the row that x lane l is in.
  template <std::size_t D, std::size_t M>
  struct Spread {
    static constexpr unsigned get(unsigned l, unsigned) {
      return static_cast<unsigned>(M * (W / D) + l / D);
    }
  };
  using Index =
      xsimd::batch<std::conditional_t<sizeof(Acc) == 4, std::uint32_t, std::uint64_t>, Arch>;

  // The column sweep for short contiguous rows (ld == d = D, a power of two below W, all
  // columns): whole registers of P = W / D rows, r spread to the D lanes of its row by one
  // swizzle, coefficients tiled. Lane (s, j) accumulates column j of the rows s mod P; the P
  // segments are folded into out[j] at the end. S sets of accumulators keep kChains chains in
  // flight, U blocks of W rows per step give each set a register. Returns the rows done.
  template <class P, std::size_t D>
  static std::size_t packed_sweep(const BatchView<T>& B, const Acc* r, const P& p,
                                  Acc* const* out) {
    constexpr std::size_t K = P::kAcc, S = ceil_div(kChains, K), U = ceil_div(S, D);
    const typename P::Coef coef = p.template tiled<D>();
    V acc[S][K];
    for (std::size_t s = 0; s < S; ++s)
      for (std::size_t k = 0; k < K; ++k) acc[s][k] = zero();
    auto block = [&]<std::size_t... Ms>(std::size_t i0, std::size_t u, std::index_sequence<Ms...>) {
      const V R = V::load_unaligned(r + i0);
      const T* x = B.x + i0 * D;
      ((P::update(acc[(u * D + Ms) % S], load(x + Ms * W),
                  xsimd::swizzle(R, xsimd::make_batch_constant<Index, Spread<D, Ms>>()), coef)),
       ...);
    };
    std::size_t i0 = 0;
    for (; i0 + U * W <= B.rows; i0 += U * W)
      for (std::size_t u = 0; u < U; ++u) block(i0 + u * W, u, std::make_index_sequence<D>());
    for (; i0 + W <= B.rows; i0 += W) block(i0, 0, std::make_index_sequence<D>());
    for (std::size_t step = 1; step < S; step *= 2)
      for (std::size_t s = 0; s + step < S; s += 2 * step)
        for (std::size_t k = 0; k < K; ++k) acc[s][k] += acc[s + step][k];
    for (std::size_t k = 0; k < K; ++k) {
      alignas(64) Acc lanes[W];
      acc[0][k].store_aligned(lanes);
      for (std::size_t step = 1; step < W / D; step *= 2)
        for (std::size_t q = 0; q + step < W / D; q += 2 * step)
          for (std::size_t j = 0; j < D; ++j) lanes[q * D + j] += lanes[(q + step) * D + j];
      for (std::size_t j = 0; j < D; ++j) out[k][j] += lanes[j];
    }
    return i0;
  }
  template <class P, std::size_t D = 1>
  static std::size_t packed_sweep_rows(const BatchView<T>& B, const Acc* r, const P& p,
                                       Acc* const* out) {
    if constexpr (D < W) {
      if (B.d == D) return packed_sweep<P, D>(B, r, p, out);
      return packed_sweep_rows<P, 2 * D>(B, r, p, out);
    }
    return 0;
  }

  // Row blocks outermost (X read once), tiles of at most kMaxVectors column vectors inside,
  // sized evenly so that no tile is left with a single latency-bound vector. Short
  // contiguous rows take packed_sweep, and only their last b mod W rows come here.
  template <class P>
  static void column_sweep(const BatchView<T>& all, const Acc* r_all, std::size_t j0,
                           std::size_t j1, const P& p, Acc* const* out) {
    for (std::size_t k = 0; k < P::kAcc; ++k)
      for (std::size_t j = j0; j < j1; ++j) out[k][j] = 0;
    const std::size_t cols = j1 - j0;
    if (cols == 0 || all.rows == 0) return;
    std::size_t start = 0;
    if (all.ld == all.d && all.d < W && j0 == 0 && j1 == all.d)
      start = packed_sweep_rows(all, r_all, p, out);
    if (start == all.rows) return;
    // Aggregate, not rows_range(): no inline library code is instantiated in an ISA unit.
    const BatchView<T> B{all.x + start * all.ld, all.y + start, all.rows - start, all.d, all.ld};
    const Acc* r = r_all + start;
    const std::size_t nfull = cols / W, tail = cols - nfull * W, nvec = nfull + (tail != 0);
    const std::size_t ctail = j0 + nfull * W;
    Sweep sw{j0, cols, tail, B.rows, first_lanes(tail)};
    if (tail != 0 && ctail + W > B.d) sw.safe = safe_rows(B, ctail);
    const std::size_t ntiles = ceil_div(nvec, P::kMaxVectors);
    const std::size_t rb = ntiles == 1 ? B.rows : (kBlockBytes / (cols * sizeof(T)) / 16 + 1) * 16;
    for (std::size_t i0 = 0; i0 < B.rows; i0 += rb) {
      const std::size_t i1 = min_size(B.rows, i0 + rb);
      std::size_t v = 0;
      for (std::size_t t = 0; t < ntiles; ++t) {
        const std::size_t g = nvec / ntiles + (t < nvec % ntiles);
        run_tile<P>(g, tail != 0 && v + g == nvec, B, r, i0, i1, j0 + v * W, sw, p, out);
        v += g;
      }
    }
  }

  static void perturbed_sums(const BatchView<T>& B, const Acc* r, const Acc* dp, const Acc* dm,
                             std::size_t j0, std::size_t j1, Acc* plus, Acc* minus) {
    const std::size_t cols = j1 - j0, last = cols / W * W;
    const PerturbedRow p{dp + j0, dm + j0, cols, load_acc_tail(dp + j0 + last, cols - last),
                         load_acc_tail(dm + j0 + last, cols - last)};
    Acc* const out[2] = {plus, minus};
    column_sweep(B, r, j0, j1, p, out);
  }

  static void gradient_sums(const BatchView<T>& B, const Acc* r, std::size_t j0, std::size_t j1,
                            Acc* out) {
    Acc* const outs[1] = {out};
    column_sweep(B, r, j0, j1, GradientRow{}, outs);
  }

  static void square_sums(const BatchView<T>& B, const Acc* r, std::size_t j0, std::size_t j1,
                          Acc* out) {
    Acc* const outs[1] = {out};
    column_sweep(B, r, j0, j1, SquareRow{}, outs);
  }

  // docs/design.md §3.4 depths of this variant, the larger of its operations':
  // - features: each of a row's A accumulators adds ceil(d / (A W)) products plus the tail
  //   vector, the A-way join and the transpose (haddp or pair_sums) are a tree of depth
  //   log2(A W); then y is subtracted, and the perturbed sums add dp x_ij: + 2. A held row
  //   of NV >= 4 vectors with A = 1 uses 2 chains: ceil(NV / 2) + 1 (tail) + 1 (join) +
  //   log2 W, within the bound.
  // - batch: the loss adds ceil(b / W) squares per lane, then hadd (log2 W). A column sweep
  //   adds per row block ceil(n / S) terms per set and log2 S <= 3 to join the sets; over
  //   blocks of >= 16 rows that is at most b, plus 3 for a short last block. The packed sweep
  //   adds ceil(b / (P S)) + 1 per set (P S >= 2), joins sets and segments (<= 3 + 4), adds
  //   into out (1), then up to W - 1 rows (+ 3) go through the general sweep.
  static SumDepths depths(std::size_t b, std::size_t d) {
    const double features = static_cast<double>(ceil_div(d, A * W) + 1 + ceil_log2(A * W) + 2);
    const std::size_t loss = ceil_div(b, W) + ceil_log2(W), sweep = b + 3,
                      packed = ceil_div(b, 2) + 1 + 7 + 1 + (W - 1) + 3;
    const std::size_t batch = loss > sweep ? loss : sweep;
    return {static_cast<double>(batch > packed ? batch : packed), features};
  }
};

template <class Arch>
struct SimdOn {
  template <class T, class Acc>
  using Ops = SimdOps<T, Acc, Arch>;
  template <class T, class Acc>
  using Kernel = Serial<SimdOps<T, Acc, Arch>>;
};

}  // namespace
}  // namespace numgrad::detail

// The two tables a simd.<isa> unit exports (units/simd_<isa>.cpp): this header instantiated for
// the xsimd arch tag `arch`, compiled with that unit's flags. Only the tables leave the unit.
#define NUMGRAD_SIMD_UNIT(isa, arch)                                                         \
  namespace numgrad::detail {                                                                \
  extern constinit const FamilyFns simd_##isa##_family = family_fns<SimdOn<arch>::Kernel>(); \
  extern constinit const OpsFamily simd_##isa##_ops = ops_family<SimdOn<arch>::Ops>();       \
  }
