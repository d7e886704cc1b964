// Per-thread scratch memory for kernels: grown on first use, then reused, so hot paths do
// not allocate on every call. Each slot is an independent buffer so that a parallel wrapper
// and the serial kernel it runs on the same thread do not overwrite each other.
#pragma once

#include <cstddef>

namespace numgrad::detail {

enum ScratchSlot : unsigned {
  kSlotResidual,  // r, one accumulator per row
  kSlotSteps,     // w+, w-, dp, dm per coordinate
  kSlotSums,      // perturbed or gradient sums
  kSlotWeights,   // the perturbed copy of w in blackbox
  kSlotParallel,  // partials owned by a parallel wrapper
  kSlotCount
};

// 64-byte aligned, at least `bytes` long, valid until the next call with the same slot on
// this thread. Not inline and not a template, so that ISA-flagged translation units never
// instantiate it (docs/design.md §5, ODR).
void* scratch_bytes(unsigned slot, std::size_t bytes);

}  // namespace numgrad::detail
