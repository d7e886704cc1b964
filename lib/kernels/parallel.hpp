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

// Tasks own coordinate blocks, fixed by d. Every sum runs over the whole batch, so the
// summation depths are those of Serial<Ops>; the numbers are too when the inner kernel's sum
// for a coordinate does not depend on the block it is computed in (true of scalar, not of
// simd, whose tile shapes follow the block width).
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
    Acc* plus = sum_arrays<Acc>(d);
    Acc* minus = second_array(plus, d);
    // Any cut of [0, d) is fine: each coordinate is two full loss passes, written once.
    run(e, 2.0 * d * B.rows * d, [&](const auto& ex) {
      ex(d, [&](std::size_t j0, std::size_t j1) {
        blackbox_sums<Ops>(B, w, s, j0, j1, weights_copy(w, d), plus, minus);
      });
    });
    finish_central(B.rows, s, plus, minus, d, g);
  }
  static void residual(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    if (one_tile(B)) return Small::residual(B, w, h, g, e);
    const std::size_t d = B.d;
    const auto s = prepare_steps<T, Acc>(w, h, d);
    Acc* r = residual_buffer<Acc>(B.rows);
    Acc* plus = sum_arrays<Acc>(d);
    Acc* minus = second_array(plus, d);
    const ColBlocks cb = weight_blocks(B.rows, d);
    if (cb.count == 1 && row_chunks(B.rows, d).count == 1) return Small::residual(B, w, h, g, e);
    run(e, 1.0 * B.rows * d, [&](const auto& ex) {
      chunked_residuals<Ops>(ex, row_chunks(B.rows, d), B, w, r);
      ex(cb.count, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k)
          Ops::perturbed_sums(B, r, s.dp, s.dm, cb.j0(k), cb.j1(k), plus, minus);
      });
    });
    finish_central(B.rows, s, plus, minus, d, g);
  }
  static void analytic(const BatchView<T>& B, const T* w, double* g, const Exec& e) {
    if (one_tile(B)) return Small::analytic(B, w, g, e);
    const std::size_t d = B.d;
    Acc* r = residual_buffer<Acc>(B.rows);
    Acc* sums = sum_arrays<Acc>(d);
    const ColBlocks cb = weight_blocks(B.rows, d);
    if (cb.count == 1 && row_chunks(B.rows, d).count == 1) return Small::analytic(B, w, g, e);
    run(e, 1.0 * B.rows * d, [&](const auto& ex) {
      chunked_residuals<Ops>(ex, row_chunks(B.rows, d), B, w, r);
      ex(cb.count, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k) Ops::gradient_sums(B, r, cb.j0(k), cb.j1(k), sums);
      });
    });
    finish_analytic(B.rows, sums, d, g);
  }
  // r over the row chunks, the columns' sums of squares over coordinate blocks.
  static void steps(const BatchView<T>& B, const T* w, T* h, const Exec& e) {
    if (one_tile(B)) return Small::steps(B, w, h, e);
    const std::size_t d = B.d;
    const ColBlocks cb = weight_blocks(B.rows, d);
    if (cb.count == 1 && row_chunks(B.rows, d).count == 1) return Small::steps(B, w, h, e);
    Acc* r = residual_buffer<Acc>(B.rows);
    Acc* col2 = sum_arrays<Acc>(d);
    run(e, 1.0 * B.rows * d, [&](const auto& ex) {
      chunked_residuals<Ops>(ex, row_chunks(B.rows, d), B, w, r);
      ex(cb.count, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k) Ops::square_sums(B, r, cb.j0(k), cb.j1(k), col2);
      });
    });
    finish_steps(w, squared_norm(r, B.rows), col2, d, B.rows, h);
  }
  static void residual_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
    if (one_tile(B)) return Small::residual_auto(B, w, h, g, e);
    const std::size_t d = B.d;
    const ColBlocks cb = weight_blocks(B.rows, d);
    if (cb.count == 1 && row_chunks(B.rows, d).count == 1)
      return Small::residual_auto(B, w, h, g, e);
    steps(B, w, h, e);
    const auto s = prepare_steps<T, Acc>(w, h, d);
    const Acc* r = residual_buffer<Acc>(B.rows);
    Acc* plus = sum_arrays<Acc>(d);
    Acc* minus = second_array(plus, d);
    run(e, 1.0 * B.rows * d, [&](const auto& ex) {
      ex(cb.count, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k)
          Ops::perturbed_sums(B, r, s.dp, s.dm, cb.j0(k), cb.j1(k), plus, minus);
      });
    });
    finish_central(B.rows, s, plus, minus, d, g);
  }
  static SumDepths depths(std::size_t b, std::size_t d) { return Ops::depths(b, d); }
};

template <class Ops, class Small = Serial<Ops>>
using OverSamples = Tiled<Ops, Small, kAllCols, kAllCols, kAllCols, ArenaRunner>;
template <class Ops, class Small = Serial<Ops>>
using OverBoth = Tiled<Ops, Small, kBothCols, kBothCols, kColUnit, ArenaRunner>;

}  // namespace
}  // namespace numgrad::detail
