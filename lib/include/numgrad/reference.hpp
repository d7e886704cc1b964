// High-precision reference and the error bounds of docs/design.md §3.3. Inputs are promoted from
// their stored type to long double and every sum is compensated (Neumaier), so the
// reference is exact to far below the unit roundoff of any kernel it judges.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "numgrad/batch.hpp"
#include "numgrad/kernel.hpp"

namespace numgrad {

// Everything a bound needs about one (batch, w): the exact values and the gauges.
struct Reference {
  double loss = 0;                // L(w)
  double abs_term = 0;            // (2/b) sum_i |r_i| S_i,  S_i = sum_k |x_ik w_k| + |y_i|
  std::vector<double> grad;       // analytic gradient (2/b) X^T r
  std::vector<double> grad_abs;   // G_j = (2/b) sum_i |x_ij| |r_i|
  std::vector<double> grad_data;  // T_j = (2/b) sum_i |x_ij| S_i
  std::vector<double> curvature;  // c_j = (2/b) sum_i x_ij^2, the second derivative along e_j
};

template <class T>
Reference reference(const BatchView<T>& batch, std::span<const T> w);

// The exact central difference at the points the kernel really evaluates: w_j +- h_j rounded
// to T. Because L is quadratic this is the analytic gradient at the midpoint of the two
// rounded points, so it is computed in closed form from `ref` = reference(batch, w), not by
// differencing; `bound` is the docs/design.md §3.3 bound of a kernel with the given
// accumulator and depths.
struct CentralReference {
  std::vector<double> grad;   // exact (L(w+) - L(w-)) / (w+ - w-)
  std::vector<double> bound;  // docs/design.md §3.3 bound of a kernel with the given depths
};

template <class T>
CentralReference central_reference(const BatchView<T>& batch, std::span<const T> w,
                                   std::span<const T> h, const Reference& ref, DType acc,
                                   SumDepths depths, double kappa = 2.0);

// gamma_n = n u / (1 - n u)
double gamma(double n, double u);

// Bounds for a kernel with accumulator `acc` and summation depths `depths` (kappa ~ 2).
double loss_bound(const Reference& ref, DType acc, SumDepths depths, double kappa = 2.0);
std::vector<double> gradient_bound(const Reference& ref, DType acc, SumDepths depths,
                                   double kappa = 2.0);

}  // namespace numgrad
