// Per-thread scratch memory for kernels: grown on first use, then reused, so hot paths do
// not allocate on every call. Each slot is an independent buffer so that a parallel wrapper
// and the serial kernel it runs on the same thread do not overwrite each other.
#pragma once

#include <cstddef>
#include <cstdint>

namespace numgrad::detail {

enum ScratchSlot : unsigned {
  kSlotResidual,  // r, one accumulator per row
  kSlotSteps,     // w+, w-, dp, dm per coordinate
  kSlotSums,      // perturbed or gradient sums
  kSlotWeights,   // the perturbed copy of w in blackbox
  kSlotParallel,  // partials owned by a parallel wrapper
  kSlotPiece,     // one piece's sums before they are added to its chunk's (tiled.hpp)
  kSlotCount
};

// 64-byte aligned, at least `bytes` long, valid until the next call with the same slot on
// this thread. Not inline and not a template, so that ISA-flagged translation units never
// instantiate it (docs/design.md §5, ODR).
void* scratch_bytes(unsigned slot, std::size_t bytes);

// The calling thread's prefetch stream (tiled.hpp prefetch_ahead): the addresses [next, end)
// of the rows (piece) it computes next, which the SIMD passes over the current piece request a
// few lines at a time. Empty (next == end, as zero-initialised) outside those passes. One
// object per thread shared by every unit: the baseline units' tiles (parallel_families.cpp)
// set it and the ISA units' passes consume it, so it cannot live in an unnamed namespace. A
// trivial type with constinit, so that every access is a plain thread-local load, no wrapper
// call, and no unit emits a constructor.
struct PrefetchStream {
  std::uintptr_t next, end;
  std::size_t credit;  // bytes earned and not yet requested
};
extern thread_local constinit PrefetchStream tl_prefetch;

}  // namespace numgrad::detail
