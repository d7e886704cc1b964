// The function tables the families export, declared once for the baseline code that composes
// them (the registry, simd.auto, the oneTBB families): the scalar family, and for each ISA of
// numgrad/isa_list.hpp the simd and autovec families of its units in units/. Declarations and
// addresses only; no per-ISA unit includes this header.
#pragma once

#include <cstddef>

#include "family.hpp"

namespace numgrad::detail {

extern const FamilyFns scalar_family;
extern const OpsFamily scalar_ops;
extern const FamilyFns simd_auto_family;  // simd_dispatch.cpp

#define NUMGRAD_DECLARE_ISA_TABLES(isa, runs_here)                    \
  extern const FamilyFns simd_##isa##_family, autovec_##isa##_family; \
  extern const OpsFamily simd_##isa##_ops;
NUMGRAD_ISAS(NUMGRAD_DECLARE_ISA_TABLES)
#undef NUMGRAD_DECLARE_ISA_TABLES

// The serial families of one ISA, in the list's order.
struct IsaFamilies {
  Isa isa;
  const FamilyFns* simd;
  const FamilyFns* autovec;
};
#define NUMGRAD_ISA_FAMILIES(isa, runs_here) \
  {Isa::isa, &simd_##isa##_family, &autovec_##isa##_family},
inline constexpr IsaFamilies kIsaFamilies[] = {NUMGRAD_ISAS(NUMGRAD_ISA_FAMILIES)};
#undef NUMGRAD_ISA_FAMILIES

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
