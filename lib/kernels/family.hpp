// Plain tables of function pointers through which per-ISA translation units hand their
// kernels to the rest of the library. Only PODs cross that boundary: a per-ISA unit never
// instantiates std:: containers or any inline code shared with other units, so the linker can
// never pick an AVX-512 copy of a function that baseline code calls (docs/design.md §5).
#pragma once

#include <cstddef>

#include "numgrad/kernel.hpp"

namespace numgrad::detail {

// The serial building blocks of one (T, Acc) on a row range; see compose.hpp for the contract.
template <class T, class Acc>
struct OpsTable {
  using value_type = T;
  using acc_type = Acc;
  Acc (*loss_sum)(const BatchView<T>& rows, const T* w);
  void (*residuals)(const BatchView<T>& rows, const T* w, Acc* r);
  Acc (*residual_squares)(const BatchView<T>& rows, const T* w, Acc* r, Acc* col2);
  void (*perturbed_sums)(const BatchView<T>& rows, const Acc* r, const Acc* dp, const Acc* dm,
                         std::size_t j0, std::size_t j1, Acc* plus, Acc* minus);
  void (*gradient_sums)(const BatchView<T>& rows, const Acc* r, std::size_t j0, std::size_t j1,
                        Acc* out);
  void (*square_sums)(const BatchView<T>& rows, const Acc* r, std::size_t j0, std::size_t j1,
                      Acc* out);
  SumDepths (*depths)(std::size_t b, std::size_t d);
  // The data-aware steps from the sums (compose.hpp finish_steps) as compiled in the same unit:
  // its window vectorises with AVX2, AVX-512 and NEON, never in the baseline unit of the
  // wrappers that compose these tables.
  void (*finish_steps)(const T* w, double r2, const Acc* col2, std::size_t d, T* h);
};

struct OpsFamily {
  OpsTable<float, float> f32;
  OpsTable<float, double> f32acc64;
  OpsTable<double, double> f64;
};

// Finished kernel functions of one (T, Acc): the loss, one gradient per algorithm
// (analytic_central is the analytic gradient behind the gradient signature; it ignores h),
// the data-aware steps, each gradient with those steps chosen first (*_auto: h is written),
// and the partial sums of a range of row chunks (KernelFns::chunk_sums).
template <class T>
struct ImplFns {
  using Gradient = void (*)(const BatchView<T>&, const T*, const T*, double*, const Exec&);
  using GradientAuto = void (*)(const BatchView<T>&, const T*, T*, double*, const Exec&);
  double (*loss)(const BatchView<T>&, const T*, const Exec&);
  Gradient blackbox, residual, analytic_central;
  void (*analytic)(const BatchView<T>&, const T*, double*, const Exec&);
  void (*steps)(const BatchView<T>&, const T*, T*, const Exec&);
  GradientAuto blackbox_auto, residual_auto, analytic_auto;
  SumDepths (*depths)(std::size_t b, std::size_t d);
  void (*chunk_sums)(Sums, const BatchView<T>&, std::size_t b, std::size_t k0, std::size_t k1,
                     const T*, const T*, double*, const Exec&);
};

struct FamilyFns {
  ImplFns<float> f32;
  ImplFns<float> f32acc64;
  ImplFns<double> f64;
};

}  // namespace numgrad::detail
