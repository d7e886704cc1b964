// The oneTBB families: OverWeights, OverSamples and OverBoth (parallel.hpp) composed with the
// scalar and simd kernels of other translation units through their exported tables (the
// OpsTable building blocks for the split work, the finished serial functions for batches too
// small to split). Compiled once with the baseline flags: no oneTBB code is ever built with
// ISA flags (docs/design.md §5), and the inner kernel costs one indirect call per row range.
#include <type_traits>

#include "parallel.hpp"
#include "tables.hpp"

namespace numgrad::detail {

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
  static void steps(const BatchView<T>& B, const T* w, T* h, const Exec& e) {
    fns.steps(B, w, h, e);
  }
  static void residual_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
    fns.residual_auto(B, w, h, g, e);
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

// The row of kParallelFamilies for one inner family.
template <const OpsFamily& Ops, const FamilyFns& Serial>
constexpr ParallelFamilies over(const char* inner, Isa isa) {
  using A = Axes<Ops, Serial>;
  return {inner, isa, &A::weights, &A::samples, &A::both};
}

}  // namespace

#define NUMGRAD_PARALLEL_ROW(isa, runs_here) \
  over<simd_##isa##_ops, simd_##isa##_family>("simd." #isa, Isa::isa),
extern constinit const ParallelFamilies kParallelFamilies[] = {
    over<scalar_ops, scalar_family>("scalar", Isa::none), NUMGRAD_ISAS(NUMGRAD_PARALLEL_ROW)};
#undef NUMGRAD_PARALLEL_ROW
extern constinit const std::size_t kParallelFamilyCount =
    sizeof(kParallelFamilies) / sizeof(kParallelFamilies[0]);

}  // namespace numgrad::detail
