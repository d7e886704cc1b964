// The function tables the families export, declared once for the baseline code that composes
// them (the registry, simd.auto, the oneTBB families): the scalar family, and for each ISA of
// numgrad/isa_list.hpp the simd family (and the autovec family where the list has one) of its
// units in units/. Declarations and addresses only; no per-ISA unit includes this header.
#pragma once

#include <array>
#include <cstddef>

#include "family.hpp"

namespace numgrad::detail {

extern const FamilyFns scalar_family;
extern const OpsFamily scalar_ops;
extern const FamilyFns simd_auto_family;  // simd_dispatch.cpp

#define NUMGRAD_DECLARE_ISA_TABLES(isa, runs_here) \
  extern const FamilyFns simd_##isa##_family;      \
  extern const OpsFamily simd_##isa##_ops;
NUMGRAD_ISAS(NUMGRAD_DECLARE_ISA_TABLES)
#undef NUMGRAD_DECLARE_ISA_TABLES
#define NUMGRAD_DECLARE_AUTOVEC_TABLE(isa, runs_here) extern const FamilyFns autovec_##isa##_family;
NUMGRAD_AUTOVEC_ISAS(NUMGRAD_DECLARE_AUTOVEC_TABLE)
#undef NUMGRAD_DECLARE_AUTOVEC_TABLE

// One serial family of one ISA.
struct IsaFamily {
  Isa isa;
  const FamilyFns* fns;
};
// The simd families, one per ISA of the list, and the autovec families of the ISAs that have
// one (NUMGRAD_AUTOVEC_ISAS; none on aarch64, hence std::array, which may be empty), in the
// list's order.
#define NUMGRAD_SIMD_ROW(isa, runs_here) IsaFamily{Isa::isa, &simd_##isa##_family},
#define NUMGRAD_AUTOVEC_ROW(isa, runs_here) IsaFamily{Isa::isa, &autovec_##isa##_family},
#define NUMGRAD_COUNT_ISA(isa, runs_here) +1
inline constexpr std::array<IsaFamily, 0 NUMGRAD_ISAS(NUMGRAD_COUNT_ISA)> kSimdFamilies = {
    {NUMGRAD_ISAS(NUMGRAD_SIMD_ROW)}};
inline constexpr std::array<IsaFamily, 0 NUMGRAD_AUTOVEC_ISAS(NUMGRAD_COUNT_ISA)> kAutovecFamilies =
    {{NUMGRAD_AUTOVEC_ISAS(NUMGRAD_AUTOVEC_ROW)}};
#undef NUMGRAD_SIMD_ROW
#undef NUMGRAD_AUTOVEC_ROW
#undef NUMGRAD_COUNT_ISA

// The three oneTBB families over one inner family ("scalar", "simd.<isa>"), in registry order
// (parallel_families.cpp).
struct ParallelFamilies {
  const char* inner;
  Isa isa;
  const FamilyFns* weights;
  const FamilyFns* samples;
  const FamilyFns* both;
};
extern const ParallelFamilies kParallelFamilies[];
extern const std::size_t kParallelFamilyCount;

}  // namespace numgrad::detail
