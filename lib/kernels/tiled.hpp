// The row-chunked composition of an Ops type, free of oneTBB so that the per-ISA units can
// instantiate it: the fixed chunk grid of a batch (it depends on b and d only, never on the
// thread count), per-chunk partial sums joined in chunk order, and Tiled<>, which runs the
// three algorithms over (row chunk) x (coordinate block) tiles with an executor chosen by its
// Runner. Serial<Ops> is Tiled in order on the calling thread; parallel.hpp runs the same tiles
// on oneTBB arenas. Everything sits in an unnamed namespace (docs/design.md §5).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <type_traits>

#include "compose.hpp"
#include "numgrad/chunks.hpp"
#include "scratch.hpp"

namespace numgrad::detail {
namespace {

// Elements of X per row chunk. 2^14 is 64 KiB of f32: a chunk stays in L2 while a task makes
// its passes over it (2 for residual, 2d for blackbox), and any batch with b*d <= 2^14 is one
// chunk, i.e. exactly the serial kernel.
constexpr std::size_t kChunkElems = std::size_t{1} << 14;
// Chunks are whole multiples of 16 rows (every SIMD width divides it, so only the batch's last
// chunk has a tail) and there are at most 256 of them: enough tasks to balance 16 threads, and
// the partial arrays (2 x chunks x d accumulators) stay small. A chunk that cap makes larger
// than kChunkElems is computed in pieces of about kChunkElems (RowChunks::piece): from 16 MiB
// of f32 or 32 MiB of f64, where chunks grow to 1 MiB and more, an L2's size, and the sweep
// after the residual pass found less and less of its chunk in cache (AVX-512, 256 MiB, medians
// of 8 alternating runs: the gradient took 0.76x the time at f64 d = 256, 0.80-0.87x at f64
// d = 64 and f32 d = 64, 256, the same at d = 16; README "From memory").
constexpr std::size_t kRowUnit = 16;
constexpr std::size_t kMaxChunks = 256;
// Prefetching the next piece (tiles below). A piece's residual pass streams it from memory
// and its column sweep then computes from cache with the memory bus idle, so a gradient from
// memory costs its loss plus the sweep. So while a thread computes piece q it requests piece
// q+1 of its range in step with its work: kAheadResidualPct of the bytes during the residual
// pass, the rest during the sweep, so that the transfer spreads over both passes. A quarter
// did best at every shape (then with whole chunks, e.g. f64 d = 64 1.35 -> 1.20x, f32 d = 256
// 1.72 -> 1.55x); the sweep alone, a half, or two chunks ahead were slower at some shapes, and
// the locality hint made no difference. With pieces (Zen 4 VM, 256 MiB, medians of 4
// alternating runs) it still paid for rows of up to 256 bytes (f32 d = 64: gradient / loss
// 1.17x against 1.26x without, f32 d = 16 1.60x / 1.86x, f64 d = 16 1.17x / 1.39x), and cost
// for longer ones (f32 d = 256 1.71x / 1.48x, f64 d = 64 1.42x / 1.32x, f64 d = 256 1.68x /
// 1.43x): hence kAheadMaxRowBytes. (Those rows are the ones the SIMD sweep cuts into row
// blocks that fill L1, which the requested lines may evict. But requesting one line in 4, 8 or
// 16, for the hardware prefetchers to follow, did not pay at d = 256 either: 3 alternating
// runs each, f32 and f64, within the noise or slower. So eviction alone does not explain it,
// and the cause is not known.) In cache the requests only cost (+5-25% at 1 MiB, +0-13% at
// 8 MiB, in its L3), hence kAheadMinBytes: from 32 MiB, past that VM's 32 MiB L3, they paid; a
// machine with a larger cache pays their cost up to its size. They change the timing, never a
// result; NUMGRAD_PREFETCH=0 turns them off to compare (the grad_noprefetch benchmarks, README
// "From memory"). Contiguous batches only (ld == d), the layout of every batch numgrad itself
// makes.
constexpr std::size_t kAheadResidualPct = 25;
constexpr std::size_t kAheadMinBytes = std::size_t{32} << 20;
constexpr std::size_t kAheadMaxRowBytes = 256;
inline void prefetch_ahead(PrefetchStream& s, std::size_t bytes) {
  s.credit += bytes;
  for (; s.credit >= 64 && s.next < s.end; s.next += 64, s.credit -= 64)
    __builtin_prefetch(reinterpret_cast<const void*>(s.next), 0, 2);
}
// Points the stream at the lines of `rows`, a piece of a contiguous batch (ld == d: the
// passes earn their credit by the row's d elements). Integer addresses from the first line
// down, so that no pointer is formed past the batch.
template <class T>
void prefetch_rows(PrefetchStream& s, const BatchView<T>& rows) {
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(rows.x);
  s.next = first & ~std::uintptr_t{63};
  s.end = first + rows.rows * rows.d * sizeof(T);
  s.credit = 0;
}

// Coordinates per block: 16 keeps every block's sums on their own 64-byte lines (the inner
// kernels accumulate into them in place, so neighbouring tasks must not share a line).
constexpr std::size_t kColUnit = 16;
constexpr std::size_t div_up(std::size_t a, std::size_t b) {
  return (a + b - 1) / b;
}
constexpr std::size_t round_up_to(std::size_t a, std::size_t unit) {
  return div_up(a, unit) * unit;
}

// A batch of at most kChunkElems elements is one chunk and one block for every wrapper, i.e.
// the serial kernel. Tested first, with a multiply, because computing the plans takes several
// integer divisions: tens of nanoseconds, a visible share of a call on a tiny batch.
template <class T>
bool one_tile(const BatchView<T>& B) {
  return B.rows * B.d <= kChunkElems;
}

// A split of b rows into `count` chunks of `size` rows (the last may be shorter), each cut
// from its first row into pieces of `piece` rows (the last may be shorter; piece == size
// unless the chunk count is capped). It depends on the problem only (b and the task width),
// never on the thread count: that, and joining the chunks' sums in chunk order, is what makes
// results bitwise identical for every thread count.
struct RowChunks {
  std::size_t rows, size, count, piece;
  std::size_t first(std::size_t k) const { return k * size; }
  template <class T>
  BatchView<T> chunk(const BatchView<T>& B, std::size_t k) const {
    return B.rows_range(k * size, std::min(rows, (k + 1) * size));
  }
};

// Chunks of about kChunkElems elements when each task covers `width` coordinates of a row.
constexpr RowChunks row_chunks(std::size_t b, std::size_t width) {
  const std::size_t piece = round_up_to(std::max(kRowUnit, div_up(kChunkElems, width)), kRowUnit);
  std::size_t size = piece;
  if (div_up(b, size) > kMaxChunks) size = round_up_to(div_up(b, kMaxChunks), kRowUnit);
  return {b, size, div_up(b, size), std::min(piece, size)};
}

// The sums over [j0, j1) of one chunk's `rows` (r: theirs) as every residual-based tile
// computes them, piece by piece: before(piece, i0) (the piece's residual pass, or nothing),
// then sums(piece, r + i0, j0, j1, outs) while the piece is in cache, the first piece's into
// out, each later one's into this thread's kSlotPiece arrays and then added, in order. So a
// chunk's sum is its first piece's deep plus one addition per later piece (chunked_depths).
template <std::size_t Sets, class T, class Acc, class Before, class Sums>
void by_pieces(const RowChunks& rc, const BatchView<T>& rows, Acc* r, std::size_t j0,
               std::size_t j1, Acc* const* out, const Before& before, const Sums& sums) {
  // Taken before any pass: before() may set the prefetch stream, and nothing that can throw
  // (an allocation) may run until the tile clears it (tiles).
  Acc* spare[Sets] = {};
  if (rows.rows > rc.piece) {
    const std::size_t stride = align64(rows.d * sizeof(Acc)) / sizeof(Acc);
    auto* base = static_cast<Acc*>(scratch_bytes(kSlotPiece, Sets * stride * sizeof(Acc)));
    for (std::size_t set = 0; set < Sets; ++set) spare[set] = base + set * stride;
  }
  for (std::size_t i0 = 0; i0 < rows.rows; i0 += rc.piece) {
    const BatchView<T> piece = rows.rows_range(i0, std::min(rows.rows, i0 + rc.piece));
    before(piece, i0);
    if (i0 == 0) {
      sums(piece, static_cast<const Acc*>(r), j0, j1, out);
      continue;
    }
    sums(piece, static_cast<const Acc*>(r != nullptr ? r + i0 : r), j0, j1, spare);
    for (std::size_t set = 0; set < Sets; ++set)
      for (std::size_t j = j0; j < j1; ++j) out[set][j] += spare[set][j];
  }
}
constexpr auto no_pass = [](const auto&, std::size_t) {};

// Coordinate blocks [blk * width, min(d, (blk + 1) * width)).
struct ColBlocks {
  std::size_t d, width, count;
  std::size_t j0(std::size_t blk) const { return blk * width; }
  std::size_t j1(std::size_t blk) const { return std::min(d, (blk + 1) * width); }
};
constexpr ColBlocks col_blocks(std::size_t d, std::size_t width) {
  return {d, width, div_up(d, width)};
}

// Depths of a row split: the inner kernel's over one chunk, plus the in-order join of the chunk
// partials (count - 1 more additions on the way to the total; docs/design.md §3.4).
// With pieces, a residual-based chunk sum is one piece deep plus pieces - 1 additions
// (by_pieces), the loss, blackbox and the steps' one-pass sums a whole chunk deep: the larger.
template <class Ops>
SumDepths chunked_depths(const RowChunks& rc, std::size_t d) {
  if (rc.count == 1) return Ops::depths(rc.rows, d);
  const SumDepths inner = Ops::depths(rc.size, d);
  const double pieced =
      Ops::depths(rc.piece, d).batch + static_cast<double>(div_up(rc.size, rc.piece) - 1);
  return {std::max(inner.batch, pieced) + static_cast<double>(rc.count - 1), inner.features};
}

// Executors: ex(n, body) calls body(lo, hi) on subranges covering [0, n). Every index does the
// same arithmetic whichever executor runs it and however the range is cut, so the choice
// between them changes the speed only.
struct InOrder {
  template <class F>
  void operator()(std::size_t n, const F& body) const {
    if (n > 0) body(0, n);
  }
};
// Per-chunk partial arrays in the calling thread's kSlotParallel scratch, each row 64-byte
// aligned: `sets` arrays (plus and minus, or one gradient) of `count` rows of d accumulators.
template <class Acc>
struct Partials {
  Acc* base;
  std::size_t stride, count;
  Acc* row(std::size_t set, std::size_t k) const { return base + (set * count + k) * stride; }
};
template <class Acc>
Partials<Acc> partials(std::size_t sets, std::size_t count, std::size_t d) {
  const std::size_t stride = align64(d * sizeof(Acc)) / sizeof(Acc);
  if (count == 1) return {nullptr, stride, 1};  // the tiles write the outputs directly
  return {static_cast<Acc*>(scratch_bytes(kSlotParallel, sets * count * stride * sizeof(Acc))),
          stride, count};
}

// out[j] = row 0 + row 1 + ... of one set, in chunk order, for j in [j0, j1): kColUnit
// columns at a time (join_sets' blocks are multiples of it, so only d's last block has a tail)
// kept in a local array across the chunks, which the compiler holds in registers. Folding each
// chunk into `out` instead (a load and a store of out per partial element) was 12% of the CPU
// time of tbb.samples' residual gradient at 4096 x 256 f32 on two threads (perf), now 5%; the
// additions and their order are the same.
template <class Acc>
void join_chunks(const Partials<Acc>& p, std::size_t set, std::size_t j0, std::size_t j1,
                 Acc* out) {
  constexpr std::size_t U = kColUnit;
  // n columns from j; a compile-time n for full blocks, so that acc stays in registers.
  auto fold = [&](std::size_t j, auto n) {
    Acc acc[U];
    for (std::size_t u = 0; u < n; ++u) acc[u] = p.row(set, 0)[j + u];
    for (std::size_t k = 1; k < p.count; ++k)
      for (std::size_t u = 0; u < n; ++u) acc[u] += p.row(set, k)[j + u];
    for (std::size_t u = 0; u < n; ++u) out[j + u] = acc[u];
  };
  std::size_t j = j0;
  for (; j + U <= j1; j += U) fold(j, std::integral_constant<std::size_t, U>{});
  if (j < j1) fold(j, j1 - j);
}

template <class Ex, class Acc>
void join_sets(const Ex& ex, const Partials<Acc>& p, std::size_t sets, std::size_t d,
               Acc* const* out) {
  const ColBlocks cb = col_blocks(d, kColUnit);
  ex(cb.count, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t s = 0; s < sets; ++s) join_chunks(p, s, cb.j0(lo), cb.j1(hi - 1), out[s]);
  });
}

// r over the fixed row chunks, one inner call per chunk. The serial tiles compute it per piece
// instead, and the steps per chunk: the same bits, since pieces start at multiples of 16 rows
// from a chunk's first, and no inner kernel's r_i depends on more of where its range starts
// than the row's position modulo 16 (SIMD row blocks of W rows, W dividing 16).
template <class Ops, class Ex, class T, class Acc>
void chunked_residuals(const Ex& ex, const RowChunks& rc, const BatchView<T>& B, const T* w,
                       Acc* r) {
  ex(rc.count, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t k = lo; k < hi; ++k) Ops::residuals(rc.chunk(B, k), w, r + rc.first(k));
  });
}

// KernelFns::chunk_sums (numgrad/chunks.hpp): the partial sums of chunks [k0, k1) of the
// serial grid row_chunks(b, d), from `rows`, those chunks' rows. Each chunk is one tile of
// every coordinate, computed as Serial<Ops> and OverSamples compute it (residuals, then sums,
// piece by piece: by_pieces), so joining every chunk's partials in chunk order gives their
// bits on the whole batch, whichever process computed each chunk. A chunk's sums land in its
// own 64-byte aligned rows of the parallel slot (one per set: plus and minus, or one), then in
// `out` as doubles, which hold every accumulator exactly.
template <class Ops, class Runner>
struct ChunkSums {
  using T = typename Ops::value_type;
  using Acc = typename Ops::acc_type;

  static void run(Sums what, const BatchView<T>& rows, std::size_t b, std::size_t k0,
                  std::size_t k1, const T* w, const T* h, double* out, const Exec& e) {
    const std::size_t d = rows.d, n = k1 - k0, width = sums_per_chunk(what, d);
    if (n == 0) return;
    const RowChunks rc = row_chunks(b, d);
    const std::size_t sets = what == Sums::blackbox || what == Sums::residual ? 2 : 1;
    const std::size_t acc_width = what == Sums::loss ? 1 : d;
    const std::size_t stride = align64(acc_width * sizeof(Acc)) / sizeof(Acc);
    Acc* part = static_cast<Acc*>(scratch_bytes(kSlotParallel, n * sets * stride * sizeof(Acc)));
    Acc* r =
        what == Sums::loss || what == Sums::blackbox ? nullptr : residual_buffer<Acc>(rows.rows);
    Steps<T, Acc> s{};
    if (sets == 2) s = prepare_steps<T, Acc>(w, h, d);
    const double work = (what == Sums::blackbox ? 2.0 * d : 1.0) * rows.rows * d;
    Runner::run(e, work, [&](const auto& ex) {
      ex(n, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k) {
          const std::size_t i0 = k * rc.size;
          const BatchView<T> chunk = rows.rows_range(i0, std::min(rows.rows, i0 + rc.size));
          Acc* o = part + k * sets * stride;
          Acc* const os[2] = {o, o + stride};
          Acc* rk = r == nullptr ? nullptr : r + i0;
          auto residuals = [&](const BatchView<T>& piece, std::size_t p0) {
            Ops::residuals(piece, w, rk + p0);
          };
          switch (what) {
            case Sums::loss:
              o[0] = Ops::loss_sum(chunk, w);
              break;
            case Sums::blackbox:
              blackbox_sums<Ops>(chunk, w, s, 0, d, weights_copy(w, d), o, o + stride);
              break;
            case Sums::residual:
              by_pieces<2>(rc, chunk, rk, 0, d, os, residuals,
                           [&](const auto& p, const Acc* pr, auto j0, auto j1, Acc* const* po) {
                             Ops::perturbed_sums(p, pr, s.dp, s.dm, j0, j1, po[0], po[1]);
                           });
              break;
            case Sums::analytic:
              by_pieces<1>(rc, chunk, rk, 0, d, os, residuals,
                           [&](const auto& p, const Acc* pr, auto j0, auto j1, Acc* const* po) {
                             Ops::gradient_sums(p, pr, j0, j1, po[0]);
                           });
              break;
            case Sums::steps:
              out[k * width + d] = static_cast<double>(Ops::residual_squares(chunk, w, rk, o));
              break;
          }
        }
      });
    });
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t set = 0; set < sets; ++set)
        for (std::size_t j = 0; j < acc_width; ++j)
          out[k * width + set * acc_width + j] =
              static_cast<double>(part[(k * sets + set) * stride + j]);
  }
};

// Tiles of (row chunk) x (coordinate block), written once for the serial kernels and both
// row-splitting parallel variants (the Runner decides where the tiles run):
//   Serial (InOrderRunner below): chunks of about kChunkElems elements of whole rows, one block
//     of all d coordinates, in order on the calling thread. Every pass an algorithm makes over
//     a chunk (a piece, for the residual-based ones) after the first is served from cache, so
//     a batch larger than the cache is read from memory once, and the sums over rows are a
//     chunk deep plus the join.
//   OverSamples (parallel.hpp): the same chunks as tasks, so the same numbers.
//   OverBoth (parallel.hpp): chunks sized for a kBothCols-wide tile, so taller and fewer than
//     OverSamples' when d is large (fewer partials to join), and coordinate blocks that give
//     tasks to spare when b is small.
// Partials are joined in chunk order. A batch of one chunk and one block is exactly
// Small = Whole<Ops>, the whole batch at once; with one chunk the tiles write the outputs
// directly.
template <class Ops, class Small, std::size_t PlanCols, std::size_t BlockCols,
          std::size_t BlackboxCols, class Runner>
struct Tiled {
  using T = typename Ops::value_type;
  using Acc = typename Ops::acc_type;

  static RowChunks plan(std::size_t b, std::size_t d) {
    return row_chunks(b, std::min(d, PlanCols));
  }
  // Coordinate blocks of the residual-based tiles: `cols` wide, widened so that a tile covers
  // at least kChunkElems elements of X (a small batch is then one tile: the serial kernel).
  static ColBlocks blocks(const RowChunks& rc, std::size_t d) {
    const std::size_t rows = std::min(rc.rows, rc.size);
    const std::size_t width = std::min(d, std::max(BlockCols, div_up(kChunkElems, rows)));
    return col_blocks(d, round_up_to(width, kColUnit));
  }
  // Where the partial sums of chunk k go: straight to the output when there is one chunk.
  static Acc* target(const Partials<Acc>& p, Acc* const* out, std::size_t set, std::size_t k) {
    return p.count == 1 ? out[set] : p.row(set, k);
  }

  // The loss has no coordinates: it is the sum of the chunk partials.
  static double loss(const BatchView<T>& B, const T* w, const Exec& e) {
    if (one_tile(B)) return Small::loss(B, w, e);
    const RowChunks rc = plan(B.rows, B.d);
    if (rc.count == 1) return Small::loss(B, w, e);
    Acc* part = static_cast<Acc*>(scratch_bytes(kSlotParallel, rc.count * sizeof(Acc)));
    Runner::run(e, 1.0 * B.rows * B.d, [&](const auto& ex) {
      ex(rc.count, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k) part[k] = Ops::loss_sum(rc.chunk(B, k), w);
      });
    });
    Acc sum = part[0];
    for (std::size_t k = 1; k < rc.count; ++k) sum += part[k];
    return static_cast<double>(sum) / static_cast<double>(B.rows);
  }
  static void blackbox(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    const std::size_t d = B.d;
    if (one_tile(B) && 2.0 * d * B.rows * d < Runner::kSplitElems)
      return Small::blackbox(B, w, h, g, e);
    const RowChunks rc = plan(B.rows, d);
    const ColBlocks cb = col_blocks(d, std::min(d, BlackboxCols));
    // With one chunk every coordinate's sums are the serial kernel's, however they are cut.
    if (rc.count == 1 && (cb.count == 1 || 2.0 * d * B.rows * d < Runner::kSplitElems))
      return Small::blackbox(B, w, h, g, e);
    const auto s = prepare_steps<T, Acc>(w, h, d);
    const Partials<Acc> p = partials<Acc>(2, rc.count, d);
    Acc* const out[2] = {sum_arrays<Acc>(d), second_array(sum_arrays<Acc>(d), d)};
    Runner::run(e, 2.0 * d * B.rows * d, [&](const auto& ex) {
      ex(rc.count * cb.count, [&](std::size_t lo, std::size_t hi) {
        T* wbuf = weights_copy(w, d);
        for (std::size_t t = lo; t < hi; ++t) {
          const std::size_t k = t / cb.count, blk = t % cb.count;
          blackbox_sums<Ops>(rc.chunk(B, k), w, s, cb.j0(blk), cb.j1(blk), wbuf,
                             target(p, out, 0, k), target(p, out, 1, k));
        }
      });
      if (rc.count > 1) join_sets(ex, p, 2, d, out);
    });
    finish_central(B.rows, s, out[0], out[1], d, g);
  }
  static void residual(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    RowChunks rc;
    ColBlocks cb;
    if (is_small(B, rc, cb)) return Small::residual(B, w, h, g, e);
    const auto s = prepare_steps<T, Acc>(w, h, B.d);
    const auto out =
        tile_sums<2>(e, rc, cb, B, w, true,
                     [&](const auto& rows, const Acc* rk, auto j0, auto j1, Acc* const* o) {
                       Ops::perturbed_sums(rows, rk, s.dp, s.dm, j0, j1, o[0], o[1]);
                     });
    finish_central(B.rows, s, out[0], out[1], B.d, g);
  }
  static void analytic(const BatchView<T>& B, const T* w, double* g, const Exec& e) {
    RowChunks rc;
    ColBlocks cb;
    if (is_small(B, rc, cb)) return Small::analytic(B, w, g, e);
    const auto out =
        tile_sums<1>(e, rc, cb, B, w, true,
                     [&](const auto& rows, const Acc* rk, auto j0, auto j1, Acc* const* o) {
                       Ops::gradient_sums(rows, rk, j0, j1, o[0]);
                     });
    finish_analytic(B.rows, out[0], B.d, g);
  }
  // The data-aware steps (compose.hpp finish_steps) from r and the columns' sums of squares,
  // over the tiles. r stays in the residual buffer. With one block per chunk the sums come
  // from the pass that computes r (residual_squares); otherwise from a tile pass of their own.
  static void steps(const BatchView<T>& B, const T* w, T* h, const Exec& e) {
    RowChunks rc;
    ColBlocks cb;
    if (is_small(B, rc, cb)) return Small::steps(B, w, h, e);
    if (cb.count == 1) {
      // Set 0: the chunks' col2; set 1: their sums of r^2, in the first slot of each row.
      const Partials<Acc> p = partials<Acc>(2, rc.count, B.d);
      Acc* r = residual_buffer<Acc>(B.rows);
      Acc* col2 = sum_arrays<Acc>(B.d);
      Runner::run(e, 1.0 * B.rows * B.d, [&](const auto& ex) {
        ex(rc.count, [&](std::size_t lo, std::size_t hi) {
          for (std::size_t k = lo; k < hi; ++k)
            p.row(1, k)[0] = Ops::residual_squares(rc.chunk(B, k), w, r + rc.first(k), p.row(0, k));
        });
        join_sets(ex, p, 1, B.d, &col2);
      });
      double r2 = 0;
      for (std::size_t k = 0; k < rc.count; ++k) r2 += static_cast<double>(p.row(1, k)[0]);
      return ops_finish_steps<Ops>(w, r2, col2, B.d, h);
    }
    const auto out = tile_sums<1>(e, rc, cb, B, w, true,
                                  [&](const auto& rows, const Acc* rk, auto j0, auto j1,
                                      Acc* const* o) { Ops::square_sums(rows, rk, j0, j1, o[0]); });
    ops_finish_steps<Ops>(w, squared_norm(residual_buffer<Acc>(B.rows), B.rows), out[0], B.d, h);
  }
  // The steps, then the perturbed sums of every tile from the residuals the steps left.
  static void residual_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
    RowChunks rc;
    ColBlocks cb;
    if (is_small(B, rc, cb)) return Small::residual_auto(B, w, h, g, e);
    steps(B, w, h, e);
    const auto s = prepare_steps<T, Acc>(w, h, B.d);
    const auto out =
        tile_sums<2>(e, rc, cb, B, w, false,
                     [&](const auto& rows, const Acc* rk, auto j0, auto j1, Acc* const* o) {
                       Ops::perturbed_sums(rows, rk, s.dp, s.dm, j0, j1, o[0], o[1]);
                     });
    finish_central(B.rows, s, out[0], out[1], B.d, g);
  }
  static SumDepths depths(std::size_t b, std::size_t d) {
    return chunked_depths<Ops>(plan(b, d), d);
  }
  // Always the serial grid's tiles, whatever this variant's own plan: the one grid whose
  // partials every process can compute and join (OverBoth's taller chunks and coordinate
  // blocks do not split across processes without changing its bits; docs/design.md §8).
  static void chunk_sums(Sums what, const BatchView<T>& rows, std::size_t b, std::size_t k0,
                         std::size_t k1, const T* w, const T* h, double* out, const Exec& e) {
    ChunkSums<Ops, Runner>::run(what, rows, b, k0, k1, w, h, out, e);
  }

  // The residual-based algorithms' plan, or true when the batch is one tile: Small's.
  static bool is_small(const BatchView<T>& B, RowChunks& rc, ColBlocks& cb) {
    if (one_tile(B)) return true;
    rc = plan(B.rows, B.d);
    cb = blocks(rc, B.d);
    return rc.count == 1 && cb.count == 1;
  }

  // Sums over every tile into Sets arrays of d accumulators (the sums slot), which
  // sums(rows, r_k, j0, j1, outs) writes for its tile and the chunk order joins. r (the
  // residual buffer) is computed first when `with_residuals`, else read as a previous call
  // left it.
  template <std::size_t Sets, class Sums>
  static std::array<Acc*, Sets> tile_sums(const Exec& e, const RowChunks& rc, const ColBlocks& cb,
                                          const BatchView<T>& B, const T* w, bool with_residuals,
                                          const Sums& sums) {
    const std::size_t d = B.d;
    Acc* r = residual_buffer<Acc>(B.rows);
    const Partials<Acc> p = partials<Acc>(Sets, rc.count, d);
    std::array<Acc*, Sets> out;
    out[0] = sum_arrays<Acc>(d);
    if constexpr (Sets == 2) out[1] = second_array(out[0], d);
    auto tile = [&](const BatchView<T>& rows, Acc* rk, std::size_t k, std::size_t j0,
                    std::size_t j1, const auto& before) {
      Acc* outs[Sets];
      for (std::size_t set = 0; set < Sets; ++set) outs[set] = target(p, out.data(), set, k);
      by_pieces<Sets>(rc, rows, rk, j0, j1, outs, before, sums);
    };
    Runner::run(e, 1.0 * B.rows * d, [&](const auto& ex) {
      if (with_residuals) {
        tiles(ex, rc, cb, B, w, r, tile);
      } else {
        ex(rc.count * cb.count, [&](std::size_t lo, std::size_t hi) {
          for (std::size_t t = lo; t < hi; ++t) {
            const std::size_t k = t / cb.count, blk = t % cb.count;
            tile(rc.chunk(B, k), r + rc.first(k), k, cb.j0(blk), cb.j1(blk), no_pass);
          }
        });
      }
      if (rc.count > 1) join_sets(ex, p, Sets, d, out.data());
    });
    return out;
  }

  // The residual-based algorithms: r of each piece, then tile(rows, r, k, j0, j1, before)
  // per tile. With one block per chunk both happen in one task, piece by piece, while the
  // piece is still in cache (the serial kernel streams X once); otherwise the residuals are a
  // phase of their own.
  template <class Ex, class Tile>
  static void tiles(const Ex& ex, const RowChunks& rc, const ColBlocks& cb, const BatchView<T>& B,
                    const T* w, Acc* r, const Tile& tile) {
    if (cb.count == 1) {
      const bool ahead_on = B.ld == B.d && B.d * sizeof(T) <= kAheadMaxRowBytes &&
                            B.rows * B.d * sizeof(T) >= kAheadMinBytes && prefetch_enabled();
      ex(rc.count, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k) {
          const BatchView<T> rows = rc.chunk(B, k);
          Acc* rk = r + rc.first(k);
          // The stream is set and cleared around passes that neither throw nor wait, so no
          // other task runs on this thread in between and no later call sees a stale one.
          auto residuals = [&](const BatchView<T>& piece, std::size_t i0) {
            if (ahead_on) {
              const std::size_t next = i0 + rc.piece;
              if (next < rows.rows)
                prefetch_rows(tl_prefetch,
                              rows.rows_range(next, std::min(rows.rows, next + rc.piece)));
              else if (k + 1 < hi)
                prefetch_rows(
                    tl_prefetch,
                    B.rows_range(rc.first(k + 1), std::min(B.rows, rc.first(k + 1) + rc.piece)));
              else
                tl_prefetch = {};
            }
            Ops::residuals(piece, w, rk + i0);
          };
          tile(rows, rk, k, 0, B.d, residuals);
          if (ahead_on) tl_prefetch = {};
        }
      });
      return;
    }
    chunked_residuals<Ops>(ex, rc, B, w, r);
    ex(rc.count * cb.count, [&](std::size_t lo, std::size_t hi) {
      for (std::size_t t = lo; t < hi; ++t) {
        const std::size_t k = t / cb.count, blk = t % cb.count;
        tile(rc.chunk(B, k), r + rc.first(k), k, cb.j0(blk), cb.j1(blk), no_pass);
      }
    });
  }
};

constexpr std::size_t kAllCols = ~std::size_t{0};

// Every tile on the calling thread, in order. (A Runner's kSplitElems is the work below which
// a batch of one chunk is not worth cutting into coordinate blocks: never, in order.)
struct InOrderRunner {
  static constexpr double kSplitElems = 1e300;
  template <class Phases>
  static void run(const Exec&, double, const Phases& phases) {
    phases(InOrder{});
  }
};

// The serial kernel of an Ops type: its row chunks in order (see Tiled).
template <class Ops>
using Serial = Tiled<Ops, Whole<Ops>, kAllCols, kAllCols, kAllCols, InOrderRunner>;

}  // namespace
}  // namespace numgrad::detail
