// The checking API of numgrad/check.hpp: errors against the reference beside their bounds,
// with one rule for turning an error and its bound into a ratio (error_ratio) and one for
// picking the worst coordinate of a vector (the largest ratio; a NaN result counts as +inf).
#include "numgrad/check.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

namespace numgrad {

double error_ratio(double error, double bound) {
  if (!std::isfinite(error)) return std::numeric_limits<double>::infinity();
  if (error == 0) return 0;
  if (!(bound > 0)) return std::numeric_limits<double>::infinity();
  return error / bound;
}

std::string ErrorCheck::describe(const std::string& what) const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%.17g, reference %.17g: |error| %.3g %s the bound %.3g", got,
                want, error, ok() ? "within" : "exceeds", bound);
  return what + buf;
}

ErrorCheck check_value(double got, double want, double bound) {
  ErrorCheck c;
  c.got = got, c.want = want, c.bound = bound;
  c.error = c.max_error = std::abs(got - want);
  c.ratio = error_ratio(c.error, bound);
  if (std::isnan(c.error)) c.max_error = std::numeric_limits<double>::infinity();
  return c;
}

ErrorCheck check_vector(std::span<const double> got, std::span<const double> want,
                        std::span<const double> bound) {
  ErrorCheck worst;
  worst.ratio = -1;
  double max_error = 0;
  for (std::size_t j = 0; j < want.size(); ++j) {
    ErrorCheck c = check_value(got[j], want[j], bound[j]);
    max_error = std::max(max_error, c.max_error);
    if (c.ratio > worst.ratio) worst = c, worst.worst = j;
  }
  if (worst.ratio < 0) worst = ErrorCheck{};
  worst.max_error = max_error;
  return worst;
}

ErrorCheck check_loss(double got, const Reference& ref, DType acc, SumDepths depths) {
  return check_value(got, ref.loss, loss_bound(ref, acc, depths));
}

ErrorCheck check_analytic(std::span<const double> got, const Reference& ref, DType acc,
                          SumDepths depths) {
  return check_vector(got, ref.grad, gradient_bound(ref, acc, depths));
}

template <class T>
ErrorCheck check_central(std::span<const double> got, const BatchView<T>& batch,
                         std::span<const T> w, std::span<const T> h, const Reference& ref,
                         DType acc, SumDepths depths) {
  const CentralReference c = central_reference(batch, w, h, ref, acc, depths);
  return check_vector(got, c.grad, c.bound);
}

template <class T>
ErrorCheck check_step(std::span<const double> got, std::span<const T> w, std::span<const T> h,
                      const Reference& ref, DType acc, SumDepths depths) {
  std::vector<double> tol = gradient_bound(ref, acc, depths);
  const double u = unit_roundoff(dtype_of<T>);
  for (std::size_t j = 0; j < tol.size(); ++j)
    tol[j] += ref.curvature[j] * u * (std::abs(static_cast<double>(w[j])) + h[j]);
  return check_vector(got, ref.grad, tol);
}

template <class T>
KernelCheck check_kernel(const Kernel& k, const BatchView<T>& batch, std::span<const T> w,
                         std::span<const T> h, const Reference& ref, Exec exec) {
  const SumDepths depths = k.depths(batch.rows, batch.d);
  KernelCheck out;
  out.loss = check_loss(loss<T>(k, batch, w, exec), ref, k.acc, depths);
  std::vector<double> g(batch.d);
  analytic_gradient<T>(k, batch, w, g, exec);
  out.analytic = check_analytic(g, ref, k.acc, depths);
  gradient<T>(k, batch, w, h, g, exec);
  if (k.algorithm == Algorithm::analytic) {
    out.central = out.step = check_analytic(g, ref, k.acc, depths);
  } else {
    out.central = check_central<T>(g, batch, w, h, ref, k.acc, depths);
    out.step = check_step<T>(g, w, h, ref, k.acc, depths);
  }
  return out;
}

#define NUMGRAD_INSTANTIATE(T)                                                                   \
  template ErrorCheck check_central<T>(std::span<const double>, const BatchView<T>&,             \
                                       std::span<const T>, std::span<const T>, const Reference&, \
                                       DType, SumDepths);                                        \
  template ErrorCheck check_step<T>(std::span<const double>, std::span<const T>,                 \
                                    std::span<const T>, const Reference&, DType, SumDepths);     \
  template KernelCheck check_kernel<T>(const Kernel&, const BatchView<T>&, std::span<const T>,   \
                                       std::span<const T>, const Reference&, Exec);
NUMGRAD_INSTANTIATE(float)
NUMGRAD_INSTANTIATE(double)
#undef NUMGRAD_INSTANTIATE

}  // namespace numgrad
