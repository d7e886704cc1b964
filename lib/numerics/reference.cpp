// The high-precision reference and the docs/design.md §3.3 error bounds. Products of stored values
// are formed in long double (exact for f32 inputs, 64-bit significand for f64 inputs) and
// every sum is Neumaier-compensated, so the reference error is orders of magnitude below the
// rounding of any kernel under test.
#include "numgrad/reference.hpp"

#include <cmath>
#include <limits>

namespace numgrad {
namespace {

using Real = long double;

// Neumaier's compensated sum: error independent of the number of terms to first order.
struct Neumaier {
  Real sum = 0, comp = 0;
  void add(Real v) {
    const Real t = sum + v;
    if (std::fabs(sum) >= std::fabs(v))
      comp += (sum - t) + v;
    else
      comp += (v - t) + sum;
    sum = t;
  }
  Real value() const { return sum + comp; }
};

}  // namespace

double gamma(double n, double u) {
  const double nu = n * u;
  return nu < 1 ? nu / (1 - nu) : std::numeric_limits<double>::infinity();
}

template <class T>
Reference reference(const BatchView<T>& B, std::span<const T> w) {
  validate_batch(B);
  const std::size_t d = B.d;
  Reference ref;
  Neumaier loss, abs_term;
  std::vector<Neumaier> grad(d), gabs(d), gdata(d), curv(d);
  for (std::size_t i = 0; i < B.rows; ++i) {
    const T* x = B.row(i);
    Neumaier pred;
    Real s = std::fabs(static_cast<Real>(B.y[i]));
    for (std::size_t k = 0; k < d; ++k) {
      const Real p = static_cast<Real>(x[k]) * static_cast<Real>(w[k]);
      pred.add(p);
      s += std::fabs(p);
    }
    pred.add(-static_cast<Real>(B.y[i]));
    const Real r = pred.value();
    loss.add(r * r);
    abs_term.add(std::fabs(r) * s);
    for (std::size_t j = 0; j < d; ++j) {
      const Real xj = x[j];
      grad[j].add(xj * r);
      gabs[j].add(std::fabs(xj * r));
      gdata[j].add(std::fabs(xj) * s);
      curv[j].add(xj * xj);
    }
  }
  const Real b = static_cast<Real>(B.rows);
  ref.loss = static_cast<double>(loss.value() / b);
  ref.abs_term = static_cast<double>(2 * abs_term.value() / b);
  ref.grad.resize(d);
  ref.grad_abs.resize(d);
  ref.grad_data.resize(d);
  ref.curvature.resize(d);
  for (std::size_t j = 0; j < d; ++j) {
    ref.grad[j] = static_cast<double>(2 * grad[j].value() / b);
    ref.curvature[j] = static_cast<double>(2 * curv[j].value() / b);
    ref.grad_abs[j] = static_cast<double>(2 * gabs[j].value() / b);
    ref.grad_data[j] = static_cast<double>(2 * gdata[j].value() / b);
  }
  return ref;
}

double loss_bound(const Reference& ref, DType acc, SumDepths depths, double kappa) {
  const double u = unit_roundoff(acc);
  return kappa * (gamma(depths.batch, u) * ref.loss + gamma(depths.features, u) * ref.abs_term);
}

std::vector<double> gradient_bound(const Reference& ref, DType acc, SumDepths depths,
                                   double kappa) {
  const double u = unit_roundoff(acc);
  const double gs = gamma(depths.batch, u), gr = gamma(depths.features, u);
  std::vector<double> tau(ref.grad.size());
  for (std::size_t j = 0; j < tau.size(); ++j)
    tau[j] = kappa * (gs * ref.grad_abs[j] + gr * ref.grad_data[j]) + u * std::abs(ref.grad[j]);
  return tau;
}

template <class T>
CentralReference central_reference(const BatchView<T>& B, std::span<const T> w,
                                   std::span<const T> h, const Reference& ref, DType acc,
                                   SumDepths depths, double kappa) {
  const std::size_t d = B.d;
  const double u = unit_roundoff(acc);
  const double gs = gamma(depths.batch, u), gr = gamma(depths.features, u);
  CentralReference out;
  out.grad.resize(d);
  out.bound.resize(d);
  for (std::size_t j = 0; j < d; ++j) {
    const T wp = static_cast<T>(w[j] + h[j]), wm = static_cast<T>(w[j] - h[j]);
    const Real c = ref.curvature[j];
    // L is quadratic: (L(w+) - L(w-)) / (w+ - w-) is exactly the derivative at the midpoint.
    const Real shift = (static_cast<Real>(wp) + static_cast<Real>(wm)) / 2 - w[j];
    const Real g = ref.grad[j] + c * shift;
    out.grad[j] = static_cast<double>(g);
    // tau_L at w +- delta e_j, with L(w + delta e_j) = L + delta g_j + delta^2 c_j / 2 and the
    // absolute term bounded by abs_term + |delta| (T_j + G_j) + delta^2 c_j.
    auto tau = [&](Real delta) {
      const Real L = ref.loss + delta * ref.grad[j] + delta * delta * c / 2;
      const Real a = ref.abs_term + std::fabs(delta) * (ref.grad_data[j] + ref.grad_abs[j]) +
                     delta * delta * c;
      return kappa * (gs * std::fabs(L) + gr * a);
    };
    const Real dp = static_cast<Real>(wp) - w[j], dm = static_cast<Real>(wm) - w[j];
    const Real step = static_cast<Real>(wp) - static_cast<Real>(wm);
    out.bound[j] = static_cast<double>((tau(dp) + tau(dm)) / step + 2 * u * std::fabs(g));
  }
  return out;
}

template Reference reference<float>(const BatchView<float>&, std::span<const float>);
template Reference reference<double>(const BatchView<double>&, std::span<const double>);
template CentralReference central_reference<float>(const BatchView<float>&, std::span<const float>,
                                                   std::span<const float>, const Reference&, DType,
                                                   SumDepths, double);
template CentralReference central_reference<double>(const BatchView<double>&,
                                                    std::span<const double>,
                                                    std::span<const double>, const Reference&,
                                                    DType, SumDepths, double);

}  // namespace numgrad
