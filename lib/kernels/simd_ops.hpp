// The hand-written SIMD building blocks (the Ops contract of compose.hpp), written once as a
// template on the xsimd 8.1 arch tag over the lane primitives of simd_lanes.hpp and the dot
// products of simd_dots.hpp, and instantiated by the per-ISA units simd_<isa>.cpp.
// Dot products transpose-and-reduce blocks of W rows (xsimd::haddp, or pair_sums for rows
// packed in registers), so short rows cost one load and one FMA each, not a horizontal sum; the
// perturbed and gradient sums sweep X row-major across j. Everything sits in an unnamed namespace
// (docs/design.md §5, ODR).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "simd_dots.hpp"

namespace numgrad::detail {
namespace {

template <class T, class Acc, class Arch>
struct SimdOps : SimdDots<T, Acc, Arch> {
  using value_type = T;
  using acc_type = Acc;
  // The primitives and dot products, named here so that a call such as fma(a, b, c) always
  // means the member (ordinary lookup finds it, so argument-dependent lookup never reaches
  // xsimd::fma).
  using Dots = SimdDots<T, Acc, Arch>;
  using Dots::fma, Dots::fnma, Dots::load, Dots::zero, Dots::pair_sums, Dots::first_lanes,
      Dots::load_tail, Dots::load_acc_tail, Dots::store_acc, Dots::safe_rows, Dots::residual_blocks;
  using Dots::W, Dots::A, Dots::kChains;
  using typename Dots::Mask;
  using typename Dots::V;
  // Rows of X per block of the column sweeps: the block's strip stays in L1 while every tile
  // of columns passes over it, so X is read from memory once.
  static constexpr std::size_t kBlockBytes = 16384;

  static Acc loss_sum(const BatchView<T>& B, const T* w) {
    // One chain per W rows: a block's dot products take far longer than the FMA latency.
    V s = zero();
    residual_blocks(B, w, [&](std::size_t, std::size_t, const V& r) { s = fma(r, r, s); });
    return xsimd::hadd(s);
  }

  static void residuals(const BatchView<T>& B, const T* w, Acc* out) {
    auto store = [&](std::size_t i0, std::size_t n, const V& r) { store_acc(r, out + i0, n); };
    if (tl_prefetch.next == tl_prefetch.end) return residual_blocks(B, w, store);
    // The next piece's share of this pass (tiled.hpp prefetch_ahead), from a local copy that
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
    Dots::template residual_blocks<true>(
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
    Dots::template each<G>([&](std::size_t g) {  // not a loop, which became a memcpy (Dots::each)
      for (std::size_t k = 0; k < K; ++k) {
        Acc* o = out[k] + c + g * W;
        acc[0][g][k] = kTail && g == G - 1 ? load_acc_tail(o, sw.tail) : V::load_unaligned(o);
        for (std::size_t s = 1; s < S; ++s) acc[s][g][k] = zero();
      }
    });
    // kAhead: the next piece's share of this tile (prefetch_ahead) per group of S rows, from
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
    Dots::template each<G>([&](std::size_t g) {
      for (std::size_t k = 0; k < K; ++k)
        store_acc(acc[0][g][k], out[k] + c + g * W, kTail && g == G - 1 ? sw.tail : W);
    });
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
  //   (4 <= NV <= kHeld vectors) with A = 1 uses 2 chains: ceil(NV / 2) + 1 (tail) + 1
  //   (join) + log2 W, within the bound; longer rows keep A.
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
