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
  void (*perturbed_sums)(const BatchView<T>& rows, const Acc* r, const Acc* dp, const Acc* dm,
                         std::size_t j0, std::size_t j1, Acc* plus, Acc* minus);
  void (*gradient_sums)(const BatchView<T>& rows, const Acc* r, std::size_t j0, std::size_t j1,
                        Acc* out);
  SumDepths (*depths)(std::size_t b, std::size_t d);
};

struct OpsFamily {
  OpsTable<float, float> f32;
  OpsTable<float, double> f32acc64;
  OpsTable<double, double> f64;
};

// Finished kernel functions of one (T, Acc): the loss, one gradient per algorithm
// (analytic_central is the analytic gradient behind the gradient signature; it ignores h).
template <class T>
struct ImplFns {
  double (*loss)(const BatchView<T>&, const T*, const Exec&);
  void (*blackbox)(const BatchView<T>&, const T*, const T*, double*, const Exec&);
  void (*residual)(const BatchView<T>&, const T*, const T*, double*, const Exec&);
  void (*analytic_central)(const BatchView<T>&, const T*, const T*, double*, const Exec&);
  void (*analytic)(const BatchView<T>&, const T*, double*, const Exec&);
  SumDepths (*depths)(std::size_t b, std::size_t d);
};

struct FamilyFns {
  ImplFns<float> f32;
  ImplFns<float> f32acc64;
  ImplFns<double> f64;
};

}  // namespace numgrad::detail
