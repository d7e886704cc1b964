// The oneTBB families: OverWeights, OverSamples and OverBoth (parallel.hpp) composed with the
// scalar and simd kernels of other translation units through their exported tables (the
// OpsTable building blocks for the split work, the finished serial functions for batches too
// small to split). Compiled once with the baseline flags: no oneTBB code is ever built with
// ISA flags (docs/design.md §5), and the inner kernel costs one indirect call per row range.
#include <type_traits>

#include "parallel.hpp"

namespace numgrad::detail {

extern const OpsFamily scalar_ops, simd_sse2_ops, simd_avx2_ops, simd_avx512_ops;
extern const FamilyFns scalar_family, simd_sse2_family, simd_avx2_family, simd_avx512_family;

namespace {

// The member of a per-type table pair for one (T, Acc).
template <class T, class Acc, class Pair>
constexpr const auto& of_types(const Pair& pair) {
  if constexpr (std::is_same_v<T, double>)
    return pair.f64;
  else if constexpr (std::is_same_v<Acc, double>)
    return pair.f32acc64;
  else
    return pair.f32;
}

// Another unit's finished serial functions seen as the `Small` of a wrapper (parallel.hpp).
template <const FamilyFns& F, class T, class Acc>
struct TableImpl {
  static constexpr const ImplFns<T>& fns = of_types<T, Acc>(F);
  static double loss(const BatchView<T>& B, const T* w, const Exec& e) { return fns.loss(B, w, e); }
  static void blackbox(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    fns.blackbox(B, w, h, g, e);
  }
  static void residual(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    fns.residual(B, w, h, g, e);
  }
  static void analytic(const BatchView<T>& B, const T* w, double* g, const Exec& e) {
    fns.analytic(B, w, g, e);
  }
};

// Wrap<inner ops, inner serial functions> for each (T, Acc): the form family_fns<> takes.
template <template <class Ops, class Small> class Wrap, const OpsFamily& Ops,
          const FamilyFns& Serial>
struct Over {
  template <class T, class Acc>
  using type = Wrap<TableOps<of_types<T, Acc>(Ops)>, TableImpl<Serial, T, Acc>>;
};

template <const OpsFamily& Ops, const FamilyFns& Serial>
struct Axes {
  static constexpr FamilyFns weights = family_fns<Over<OverWeights, Ops, Serial>::template type>();
  static constexpr FamilyFns samples = family_fns<Over<OverSamples, Ops, Serial>::template type>();
  static constexpr FamilyFns both = family_fns<Over<OverBoth, Ops, Serial>::template type>();
};

}  // namespace

// Exported as tbb_<axis>_<inner>_family; registry.cpp adds one line per family.
#define NUMGRAD_TBB_FAMILIES(inner)                               \
  extern constinit const FamilyFns tbb_weights_##inner##_family = \
      Axes<inner##_ops, inner##_family>::weights;                 \
  extern constinit const FamilyFns tbb_samples_##inner##_family = \
      Axes<inner##_ops, inner##_family>::samples;                 \
  extern constinit const FamilyFns tbb_both_##inner##_family =    \
      Axes<inner##_ops, inner##_family>::both;

NUMGRAD_TBB_FAMILIES(scalar)
NUMGRAD_TBB_FAMILIES(simd_sse2)
NUMGRAD_TBB_FAMILIES(simd_avx2)
NUMGRAD_TBB_FAMILIES(simd_avx512)
#undef NUMGRAD_TBB_FAMILIES

}  // namespace numgrad::detail
