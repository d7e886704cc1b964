// The dot products of the SIMD kernels (simd_ops.hpp): x_i . w for blocks of W rows,
// transposed and reduced together, with the column sums of squares of the data-aware steps
// taken from the same loads. A base of SimdOps, apart so that the residual pass and the
// column sweeps each fit a file; the same template on the xsimd arch tag, in an unnamed
// namespace (docs/design.md §5, ODR).
#pragma once

#include <array>
#include <cstddef>
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
struct SimdDots : SimdLanes<T, Acc, Arch> {
  // The lane primitives, named here so that a call such as fma(a, b, c) always means the
  // member (ordinary lookup finds it, so argument-dependent lookup never reaches xsimd::fma).
  using Lanes = SimdLanes<T, Acc, Arch>;
  using Lanes::fma, Lanes::load, Lanes::zero, Lanes::pair_sums, Lanes::first_lanes,
      Lanes::load_tail, Lanes::safe_rows, Lanes::haddp_slot;
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

  // --- Dot products: W rows per block ------------------------------------------------------

  // Rows of up to kHeld full vectors have their count NV as a template argument: the row
  // loop unrolls and w stays in registers for the whole block, so a row costs one load per
  // vector (a w reload per FMA halves what the L1 ports deliver of X: 57 against 85 GB/s at
  // d = 64 f32 from L2 on Zen 4). The row sums go to memory (haddp's input), so kHeld leaves
  // four registers for the row in flight. Longer rows on 32-register ISAs (NV = kLong) hold
  // their first kHeld vectors of w the same way and reload the rest from L1 in a run-time
  // loop: against reloading all of it (2 loads per FMA), the AVX-512 f64 loss at d = 256 took
  // 0.73x the time in L2 and the gradient 0.85x (b = 64, medians of 8 alternating runs), and
  // from DRAM both stayed within the noise; AVX-512 f32 (d > 256) and neon64 take the same
  // path by their register count, not measured. With 16 registers GCC 12 spilled the held
  // part from the unrolled rows (the AVX2 and SSE2 loss 1.1-1.3x slower), so there long rows,
  // like rows of no full vector (d < W), loop from the start (NV = 0). Sharing each w load
  // between two rows instead did as well in cache but read 2.5x slower from DRAM: two streams
  // 2 KiB apart (see block_dots).
  static constexpr std::size_t kHeld = min_size(16, kRegisters - 4), kLong = kHeld + 1;
  static constexpr bool kHoldLong = kRegisters >= 32;
  // Vectors of w a block holds in registers, and whether the whole row is held.
  static constexpr std::size_t held(std::size_t nv) { return nv == kLong ? kHeld : nv; }
  static constexpr bool whole_held(std::size_t nv) { return nv > 0 && nv <= kHeld; }

  // f(0), ..., f(N - 1), unrolled by the compiler's front end. A loop that loads a row of
  // vectors into an array of registers, or stores it, is a copy to GCC 12, which made it a
  // memcpy through the stack in 16-byte pieces (generic tuning splits unaligned 32-byte
  // moves); reloading 32 bytes from two 16-byte stores cannot be forwarded, a stall per block.
  template <std::size_t N, class F>
  static void each(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(I), ...);
    }
    (std::make_index_sequence<N>());
  }

  // x . w for one row: C accumulators, vector v of the row into accumulator v mod C, the
  // tail vector into accumulator 0, then joined pairwise. C = A, except that a held row of
  // 4+ vectors gets two chains even when A = 1: a row is then one dependent FMA chain per
  // call site, and halving it was 4% faster at d = 256 f32 from L2; a long row keeps A, and
  // vector v goes to chain v mod A in both its parts. 0 < NV <= kHeld: full == NV W, and wv
  // holds w in registers (null: w is reloaded from L1); NV = kLong: wv holds its first kHeld.
  // kSq also adds each loaded vector's squares to the column sums of squares: sq (NV + 1
  // registers, the last for the tail) for a held row, col2 in memory for a long one. The
  // vector is loaded once for both, so the steps' sums cost FMAs, not another pass over X.
  template <bool kSafeTail, std::size_t NV, bool kSq = false>
  static V row_dot(const T* x, const T* w, const V* wv, std::size_t full, std::size_t tail,
                   const V& wtail, const Mask& tmask, V* sq = nullptr, Acc* col2 = nullptr) {
    constexpr bool kHeldRow = whole_held(NV);
    constexpr std::size_t C = kHeldRow && NV >= 4 && A == 1 ? 2 : A;
    V acc[C];
    for (std::size_t a = 0; a < C; ++a) acc[a] = zero();
    // The square of the vector at element k into its column sums (slot: its register).
    auto square = [&](const V& xv, std::size_t k, std::size_t slot) {
      if constexpr (!kSq) return;
      if constexpr (kHeldRow) {
        sq[slot] = fma(xv, xv, sq[slot]);
      } else {
        fma(xv, xv, V::load_aligned(col2 + k)).store_aligned(col2 + k);
      }
    };
    for (std::size_t v = 0; v < held(NV); ++v) {
      const V xv = load(x + v * W);
      acc[v % C] = fma(xv, wv != nullptr ? wv[v] : load(w + v * W), acc[v % C]);
      square(xv, v * W, v);
    }
    if constexpr (!kHeldRow) {
      auto step = [&](std::size_t k, std::size_t a) {
        const V xv = load(x + k);
        acc[a] = fma(xv, load(w + k), acc[a]);
        square(xv, k, 0);
      };
      static_assert(!kHoldLong || kHeld % A == 0, "a long row's loop starts on chain 0");
      std::size_t k = held(NV) * W;
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

  // x_i . w for the W rows from i0 in lane i - i0 (n < W: lanes n and up are zero),
  // transposed by haddp: per row that is one load and one FMA per vector plus 1/W of a W x W
  // reduction, so rows of a few registers cost little more than their bytes.
  // Access order: each row is read whole, left to right, before the next, so X streams
  // through memory strictly in address order. Walking a column chunk across the W rows
  // instead (one w load per W FMAs) was 2-3x slower from DRAM on Zen 4 for rows of 256 B
  // and more, with or without software prefetch: interleaved streams ld apart inside a page
  // defeat the hardware stream prefetchers, which are what keeps enough misses in flight.
  // The rows are unrolled and independent, so out-of-order execution overlaps one row's FMA
  // chain with the next row's loads. Held rows (0 < NV <= kHeld) are a loop over the W rows,
  // which GCC keeps in row order with w in registers (fully unrolled, it interleaved the rows
  // and spilled w); rows with a run-time loop (NV = 0 or kLong) are unrolled over the rows,
  // whose loops keep them apart (kLong: w stays in 16 registers, no spill, GCC 12.2 -O3). A
  // pair_sums tree in place of haddp was no faster, and folding pairs as soon as both rows were
  // done was 2.7x slower from DRAM (the shuffles, waiting on outstanding misses, hold up later
  // loads). Not inlined: with the W unrolled rows inside residual_blocks, GCC 12 allocated the
  // registers of the packed short-row loop there worse (d = 4: 0.6x instead of 0.95x of read
  // bandwidth in L2); a call per W rows costs little against W rows of loads.
  // kSq: the rows also add their squares to col2 (see row_dot), held in registers for a full
  // block when the row is.
  template <bool kSafeTail, std::size_t NV, bool kSq>
  [[gnu::noinline]] static V block_dots(const BatchView<T>& B, std::size_t i0, std::size_t n,
                                        const T* w, std::size_t full, std::size_t tail,
                                        const V& wtail, const Mask& tmask, Acc* col2) {
    V wv[NV > 0 ? held(NV) : 1];
    each<held(NV)>([&](std::size_t v) { wv[v] = load(w + v * W); });
    const T* x0 = B.row(i0);
    V sums[W];
    if (n < W) {
      // A batch's last, partial block: its n rows only, each as in a full block, the held
      // rows' squares through memory (squares held in registers and looped to a run-time n
      // went through the stack in pieces: 3x, d = 16 f32 AVX2). Repeating row n - 1 to fill
      // the block instead cost W rows for b = 1: 30% of a gradient call, AVX-512 f32 d = 16.
      // One loop (a separate zeroing loop became a rep stos of W vectors, 36% of the call).
      for (std::size_t r = 0; r < W; ++r) {
        if (r >= n) {
          sums[haddp_slot(r)] = zero();
        } else if constexpr (whole_held(NV)) {
          const T* x = x0 + r * B.ld;
          sums[haddp_slot(r)] = row_dot<kSafeTail, NV>(x, w, wv, full, tail, wtail, tmask);
          if constexpr (kSq)
            row_dot<kSafeTail, 0, true>(x, w, wv, full, tail, wtail, tmask, nullptr, col2);
        } else {
          sums[haddp_slot(r)] = row_dot<kSafeTail, NV, kSq>(x0 + r * B.ld, w, wv, full, tail, wtail,
                                                            tmask, nullptr, col2);
        }
      }
      return xsimd::haddp(sums);
    }
    if constexpr (whole_held(NV)) {
      auto row = [&](std::size_t r) { return x0 + r * B.ld; };
      if constexpr (kSq) {
        // The tail's slot only with a tail (a loop to NV + (tail != 0) became a memcpy).
        V sq[NV + 1];
        each<NV>([&](std::size_t v) { sq[v] = V::load_aligned(col2 + v * W); });
        sq[NV] = tail != 0 ? V::load_aligned(col2 + NV * W) : zero();
        // Squares and w held need 2 NV + 5 registers and GCC 12 spilled from 2 NV + 8 of 16:
        // then w comes from L1 (a spilled square stalls each row: 1.6x, d = 64 f32 AVX2).
        const V* held_w = 2 * NV + 9 <= kRegisters ? wv : nullptr;
        for (std::size_t r = 0; r < W; ++r)
          sums[haddp_slot(r)] =
              row_dot<kSafeTail, NV, kSq>(row(r), w, held_w, full, tail, wtail, tmask, sq);
        each<NV>([&](std::size_t v) { sq[v].store_aligned(col2 + v * W); });
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
      }
    } else {
      [&]<std::size_t... R>(std::index_sequence<R...>) {
        ((sums[haddp_slot(R)] = row_dot<kSafeTail, NV, kSq>(x0 + R * B.ld, w, wv, full, tail, wtail,
                                                            tmask, nullptr, col2)),
         ...);
      }
      (std::make_index_sequence<W>());
    }
    return xsimd::haddp(sums);
  }

  // The block_dots instantiation for rows of `full` elements in full vectors: NV = full / W
  // when that is held in registers, else kLong (32 registers) or the run-time loop alone
  // (NV = 0). Chosen once per call.
  using DotsFn = V (*)(const BatchView<T>&, std::size_t, std::size_t, const T*, std::size_t,
                       std::size_t, const V&, const Mask&, Acc*);
  template <bool kSafeTail, bool kSq>
  static DotsFn pick_dots(std::size_t full) {
    static constexpr auto table = []<std::size_t... NV>(std::index_sequence<NV...>) {
      return std::array<DotsFn, sizeof...(NV)>{&block_dots<kSafeTail, NV, kSq>...};
    }
    (std::make_index_sequence<(kHoldLong ? kLong : kHeld) + 1>());
    const std::size_t nv = full / W;
    return table[nv <= kHeld ? nv : kHoldLong ? kLong : 0];
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
};

}  // namespace
}  // namespace numgrad::detail
