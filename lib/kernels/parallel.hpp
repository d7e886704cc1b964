// oneTBB-parallel compositions of a serial Ops type (compose.hpp): OverWeights (tasks own
// coordinate blocks), OverSamples (tasks own the fixed row chunks of Serial<Ops>, whose
// partial sums are joined in chunk order: the serial kernel's numbers at any thread count) and
// OverBoth (row chunks x coordinate blocks), the last two as Tiled<> (tiled.hpp) on an arena.
// Each exposes the static members of Serial<Ops>, so family_fns<> turns it into a table. Include
// only from baseline translation units: oneTBB's templates must never be compiled with ISA flags
// (docs/design.md §5).
#pragma once

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <cstddef>

#include "arenas.hpp"
#include "tiled.hpp"

namespace numgrad::detail {

namespace {

// OverBoth's tiles are wider, so that a tile (chunk x block) is worth a task.
constexpr std::size_t kBothCols = 128;
// Below this much work a call runs on the calling thread: waking the arena's workers costs
// microseconds, more than the work saves. The work is b*d elements of X for the loss and the
// residual and analytic gradients, 2d*b*d for blackbox (2d loss passes). On the Zen 4 VM, two
// threads ran the loss and the residual and analytic gradients at 0.87-0.95x the serial kernel
// at b*d = 2^16 (1024x64, 256x256) and at 1.2-1.5x from 2^17 (2048x64, 512x256).
constexpr double kParallelElems = 1 << 17;

// The oneTBB executor: subranges of [0, n) as tasks of the current arena.
struct OnArena {
  template <class F>
  void operator()(std::size_t n, const F& body) const {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n),
                      [&](const tbb::blocked_range<std::size_t>& r) { body(r.begin(), r.end()); });
  }
};

// Runs phases(ex) with the arena of the call's thread count when `elems` is worth it, else on
// this thread. One arena entry per call, however many phases.
template <class Phases>
void run(const Exec& exec, double elems, const Phases& phases) {
  const int threads = elems >= kParallelElems ? resolve_threads(exec) : 1;
  if (threads <= 1) {
    phases(InOrder{});
    return;
  }
  arena_for(threads).execute([&] { phases(OnArena{}); });
}
struct ArenaRunner {
  static constexpr double kSplitElems = kParallelElems;
  template <class Phases>
  static void run(const Exec& exec, double elems, const Phases& phases) {
    numgrad::detail::run(exec, elems, phases);
  }
};

// Coordinate blocks of OverWeights, fixed by (b, d). Each task reads a strip of every row, so
// strips are at least 32 coordinates (two 64-byte lines of f32, which the adjacent-line
// prefetcher fetches together anyway); each block covers at least kChunkElems elements of X
// (a batch with b*d <= kChunkElems is one block, exactly the serial kernel, and no task is too
// short to pay for itself); and there are at most 64 blocks (enough tasks for 16 threads).
constexpr ColBlocks weight_blocks(std::size_t b, std::size_t d) {
  const std::size_t width = std::max({2 * kColUnit, div_up(kChunkElems, b), div_up(d, 64)});
  return col_blocks(d, round_up_to(width, kColUnit));
}

// Sums over [j0, j1) of the rows of B, chunk by chunk over rc (the serial kernel's chunks,
// each by its pieces: by_pieces) and joined in chunk order: sums(rows, r, j0, j1, outs) writes
// Sets arrays for one piece; the first chunk's go to `out`, each later one's to this thread's
// scratch, added in. A coordinate's sums are then as deep as the serial kernel's, however
// wide the block.
template <std::size_t Sets, class T, class Acc, class Sums>
void block_over_chunks(const RowChunks& rc, const BatchView<T>& B, Acc* r, std::size_t j0,
                       std::size_t j1, Acc* const* out, const Sums& sums) {
  by_pieces<Sets>(rc, rc.chunk(B, 0), r, j0, j1, out, no_pass, sums);
  if (rc.count == 1) return;
  const Partials<Acc> tmp = partials<Acc>(Sets, 2, B.d);  // row 0 of each set
  Acc* part[Sets];
  for (std::size_t set = 0; set < Sets; ++set) part[set] = tmp.row(set, 0);
  for (std::size_t k = 1; k < rc.count; ++k) {
    by_pieces<Sets>(rc, rc.chunk(B, k), r != nullptr ? r + rc.first(k) : r, j0, j1, part, no_pass,
                    sums);
    for (std::size_t set = 0; set < Sets; ++set)
      for (std::size_t j = j0; j < j1; ++j) out[set][j] += part[set][j];
  }
}

// Tasks own row chunks (OverSamples) or chunk x block tiles (OverBoth): Tiled<> on an arena.
template <class Ops, class Small = Serial<Ops>>
using OverSamples = Tiled<Ops, Small, kAllCols, kAllCols, kAllCols, ArenaRunner>;
template <class Ops, class Small = Serial<Ops>>
using OverBoth = Tiled<Ops, Small, kBothCols, kBothCols, kColUnit, ArenaRunner>;

// Tasks own coordinate blocks, fixed by (b, d), and each runs its block over the serial
// kernel's row chunks (block_over_chunks), so the summation depths are Serial<Ops>'s; the
// numbers are too when the inner kernel's sum for a coordinate does not depend on the block
// it is computed in (true of scalar, not of simd, whose tile shapes follow the block width).
//
// `Small` (every wrapper here) runs what stays serial: a batch below the split thresholds, for
// which it must compute exactly what Serial<Ops> computes. The default is Serial<Ops>; a
// wrapper composing another unit's kernels passes that unit's finished serial functions, so a
// small batch costs one indirect call, as the serial kernel does, not one per building block.
template <class Ops, class Small = Serial<Ops>>
struct OverWeights {
  using T = typename Ops::value_type;
  using Acc = typename Ops::acc_type;

  // One reduction over rows and no coordinates to own: splitting rows would make this the
  // samples variant with other numbers, so the loss stays serial.
  static double loss(const BatchView<T>& B, const T* w, const Exec& e) {
    return Small::loss(B, w, e);
  }
  static void blackbox(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    const std::size_t d = B.d;
    // Below the parallel threshold run() would cut nothing: that is the serial kernel. The
    // work is 2 d passes over the batch, so a small batch with many coordinates still splits.
    if (one_tile(B) && 2.0 * d * B.rows * d < kParallelElems) return Small::blackbox(B, w, h, g, e);
    const auto s = prepare_steps<T, Acc>(w, h, d);
    Acc* const out[2] = {sum_arrays<Acc>(d), second_array(sum_arrays<Acc>(d), d)};
    // Whole chunks, as the serial blackbox sums them (no pieces: it has no residual pass).
    RowChunks rc = row_chunks(B.rows, d);
    rc.piece = rc.size;
    // Any cut of [0, d) is fine: each coordinate is two loss passes per chunk, written once.
    run(e, 2.0 * d * B.rows * d, [&](const auto& ex) {
      ex(d, [&](std::size_t j0, std::size_t j1) {
        T* wbuf = weights_copy(w, d);
        block_over_chunks<2>(rc, B, static_cast<Acc*>(nullptr), j0, j1, out,
                             [&](const auto& rows, const Acc*, auto a, auto z, Acc* const* o) {
                               blackbox_sums<Ops>(rows, w, s, a, z, wbuf, o[0], o[1]);
                             });
      });
    });
    finish_central(B.rows, s, out[0], out[1], d, g);
  }
  static void residual(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    if (one_tile(B)) return Small::residual(B, w, h, g, e);
    const auto s = prepare_steps<T, Acc>(w, h, B.d);
    const auto out = block_sums<2>(
        B, w, true, e, [&](const auto& rows, const Acc* r, auto j0, auto j1, Acc* const* o) {
          Ops::perturbed_sums(rows, r, s.dp, s.dm, j0, j1, o[0], o[1]);
        });
    if (!out[0]) return Small::residual(B, w, h, g, e);
    finish_central(B.rows, s, out[0], out[1], B.d, g);
  }
  static void analytic(const BatchView<T>& B, const T* w, double* g, const Exec& e) {
    if (one_tile(B)) return Small::analytic(B, w, g, e);
    const auto out = block_sums<1>(
        B, w, true, e, [&](const auto& rows, const Acc* r, auto j0, auto j1, Acc* const* o) {
          Ops::gradient_sums(rows, r, j0, j1, o[0]);
        });
    if (!out[0]) return Small::analytic(B, w, g, e);
    finish_analytic(B.rows, out[0], B.d, g);
  }
  // Over row chunks, as OverSamples: the steps' sums need not follow the coordinate blocks
  // (any fixed order does), and per chunk they come from the pass that computes r, where
  // blocks would read X a second time for the squares. r stays in the residual buffer.
  static void steps(const BatchView<T>& B, const T* w, T* h, const Exec& e) {
    OverSamples<Ops, Small>::steps(B, w, h, e);
  }
  static void residual_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
    if (one_tile(B) || single_block(B)) return Small::residual_auto(B, w, h, g, e);
    steps(B, w, h, e);
    const auto s = prepare_steps<T, Acc>(w, h, B.d);
    const auto out = block_sums<2>(
        B, w, false, e, [&](const auto& rows, const Acc* r, auto j0, auto j1, Acc* const* o) {
          Ops::perturbed_sums(rows, r, s.dp, s.dm, j0, j1, o[0], o[1]);
        });
    finish_central(B.rows, s, out[0], out[1], B.d, g);
  }
  static SumDepths depths(std::size_t b, std::size_t d) {
    return chunked_depths<Ops>(row_chunks(b, d), d);
  }

  // One block and one chunk: the serial kernel.
  static bool single_block(const BatchView<T>& B) {
    return weight_blocks(B.rows, B.d).count == 1 && row_chunks(B.rows, B.d).count == 1;
  }
  // Sets arrays of sums over coordinate blocks as tasks, each over the row chunks; r computed
  // over the chunks first when `with_residuals`, else as a previous call left it. Null arrays
  // when the batch is the serial kernel's (single_block).
  template <std::size_t Sets, class Sums>
  static std::array<Acc*, Sets> block_sums(const BatchView<T>& B, const T* w, bool with_residuals,
                                           const Exec& e, const Sums& sums) {
    std::array<Acc*, Sets> out{};
    if (single_block(B)) return out;
    const std::size_t d = B.d;
    out[0] = sum_arrays<Acc>(d);
    if constexpr (Sets == 2) out[1] = second_array(out[0], d);
    Acc* r = residual_buffer<Acc>(B.rows);
    const RowChunks rc = row_chunks(B.rows, d);
    const ColBlocks cb = weight_blocks(B.rows, d);
    run(e, 1.0 * B.rows * d, [&](const auto& ex) {
      if (with_residuals) chunked_residuals<Ops>(ex, rc, B, w, r);
      ex(cb.count, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k)
          block_over_chunks<Sets>(rc, B, r, cb.j0(k), cb.j1(k), out.data(), sums);
      });
    });
    return out;
  }
  // A range of the serial grid's chunks is computed as OverSamples computes it, threads over
  // chunks (tbb.samples' bits; docs/design.md §8): a chunk is one task of all d coordinates.
  static void chunk_sums(Sums what, const BatchView<T>& rows, std::size_t b, std::size_t k0,
                         std::size_t k1, const T* w, const T* h, double* out, const Exec& e) {
    ChunkSums<Ops, ArenaRunner>::run(what, rows, b, k0, k1, w, h, out, e);
  }
};

}  // namespace
}  // namespace numgrad::detail
