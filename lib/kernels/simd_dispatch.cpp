// simd.auto: every function forwards to the simd.<isa> table of the best ISA this CPU runs
// under the NUMGRAD_ISA cap (best_isa()). The choice is made once, on first use, and kept in
// a function-local static; a call then costs one indirect jump. Compiled without ISA flags.
#include "numgrad/isa.hpp"
#include "tables.hpp"

namespace numgrad::detail {

namespace {

const FamilyFns& best_simd_family() {
  static const FamilyFns& fns = []() -> const FamilyFns& {
    const Isa best = best_isa();
    for (const IsaFamily& f : kSimdFamilies)
      if (f.isa == best) return *f.fns;
    return *kSimdFamilies[0].fns;  // unreachable: simd.auto is unsupported without any ISA
  }();
  return fns;
}

// Forwarders for one type combination of FamilyFns (Types: &FamilyFns::f32 etc.).
template <class T, ImplFns<T> FamilyFns::*Types>
struct Forward {
  static const ImplFns<T>& fns() { return best_simd_family().*Types; }

  static double loss(const BatchView<T>& B, const T* w, const Exec& e) {
    return fns().loss(B, w, e);
  }
  static void blackbox(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    fns().blackbox(B, w, h, g, e);
  }
  static void residual(const BatchView<T>& B, const T* w, const T* h, double* g, const Exec& e) {
    fns().residual(B, w, h, g, e);
  }
  static void analytic_central(const BatchView<T>& B, const T* w, const T* h, double* g,
                               const Exec& e) {
    fns().analytic_central(B, w, h, g, e);
  }
  static void analytic(const BatchView<T>& B, const T* w, double* g, const Exec& e) {
    fns().analytic(B, w, g, e);
  }
  static void steps(const BatchView<T>& B, const T* w, T* h, const Exec& e) {
    fns().steps(B, w, h, e);
  }
  static void blackbox_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
    fns().blackbox_auto(B, w, h, g, e);
  }
  static void residual_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
    fns().residual_auto(B, w, h, g, e);
  }
  static void analytic_auto(const BatchView<T>& B, const T* w, T* h, double* g, const Exec& e) {
    fns().analytic_auto(B, w, h, g, e);
  }
  static SumDepths depths(std::size_t b, std::size_t d) { return fns().depths(b, d); }
  static void chunk_sums(Sums what, const BatchView<T>& rows, std::size_t b, std::size_t k0,
                         std::size_t k1, const T* w, const T* h, double* out, const Exec& e) {
    fns().chunk_sums(what, rows, b, k0, k1, w, h, out, e);
  }

  static constexpr ImplFns<T> table() {
    return {&loss,          &blackbox,      &residual,      &analytic_central, &analytic,  &steps,
            &blackbox_auto, &residual_auto, &analytic_auto, &depths,           &chunk_sums};
  }
};

}  // namespace

extern constinit const FamilyFns simd_auto_family = {Forward<float, &FamilyFns::f32>::table(),
                                                     Forward<float, &FamilyFns::f32acc64>::table(),
                                                     Forward<double, &FamilyFns::f64>::table()};

}  // namespace numgrad::detail
