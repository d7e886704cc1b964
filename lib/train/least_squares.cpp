// The closed-form least-squares fit of a dataset (numgrad/train.hpp), what SGD is judged
// against: the normal equations accumulated and Cholesky-factored in long double, so that the
// fit's own error stays far below the gap between SGD and the minimum it approaches.
#include "numgrad/train.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace numgrad {
namespace {

using LD = long double;

// The upper triangle of X^T X (row-major d x d) and X^T y.
struct NormalEquations {
  std::vector<LD> a, rhs;
};

// Plain long-double sums: relative error up to n 2^-64 (5e-14 at n = 1e6). It moves the
// solution by cond(X^T X) times that, and the loss, which is at its minimum, only by the square.
template <class T>
NormalEquations normal_equations(const BatchView<T>& all) {
  const std::size_t d = all.d;
  NormalEquations eq{std::vector<LD>(d * d, 0.0L), std::vector<LD>(d, 0.0L)};
  std::vector<LD> x(d);
  for (std::size_t i = 0; i < all.rows; ++i) {
    const T* row = all.row(i);
    for (std::size_t j = 0; j < d; ++j) x[j] = static_cast<LD>(row[j]);
    const LD yi = static_cast<LD>(all.y[i]);
    for (std::size_t j = 0; j < d; ++j) {
      LD* aj = eq.a.data() + j * d;
      for (std::size_t k = j; k < d; ++k) aj[k] += x[j] * x[k];
      eq.rhs[j] += x[j] * yi;
    }
  }
  return eq;
}

// Cholesky A = R^T R (R upper, stored over a), dropping dependent columns: a pivot that lost
// all but ~1e-16 of its diagonal marks a column the others (almost) span, where the f64
// answer would be noise anyway; its weight is fixed at 0 and the rest still minimise.
// Returns which columns were kept.
std::vector<bool> cholesky(std::vector<LD>& a, std::size_t d) {
  const LD tol = 1e3L * static_cast<LD>(d) * std::numeric_limits<LD>::epsilon();
  std::vector<bool> kept(d, false);
  for (std::size_t j = 0; j < d; ++j) {
    LD s = a[j * d + j];
    for (std::size_t k = 0; k < j; ++k)
      if (kept[k]) s -= a[k * d + j] * a[k * d + j];
    if (!(s > tol * a[j * d + j])) continue;
    kept[j] = true;
    const LD rjj = std::sqrt(s);
    a[j * d + j] = rjj;
    for (std::size_t c = j + 1; c < d; ++c) {
      LD t = a[j * d + c];
      for (std::size_t k = 0; k < j; ++k)
        if (kept[k]) t -= a[k * d + j] * a[k * d + c];
      a[j * d + c] = t / rjj;
    }
  }
  return kept;
}

// R^T z = rhs, then R w = z, over the kept columns only (the others' weights stay 0).
std::vector<LD> solve(const std::vector<LD>& r, const std::vector<LD>& rhs,
                      const std::vector<bool>& kept) {
  const std::size_t d = rhs.size();
  std::vector<LD> z(d, 0.0L), w(d, 0.0L);
  for (std::size_t j = 0; j < d; ++j) {
    if (!kept[j]) continue;
    LD t = rhs[j];
    for (std::size_t k = 0; k < j; ++k)
      if (kept[k]) t -= r[k * d + j] * z[k];
    z[j] = t / r[j * d + j];
  }
  for (std::size_t j = d; j-- > 0;) {
    if (!kept[j]) continue;
    LD t = z[j];
    for (std::size_t c = j + 1; c < d; ++c)
      if (kept[c]) t -= r[j * d + c] * w[c];
    w[j] = t / r[j * d + j];
  }
  return w;
}

// The loss from the data, not from the normal equations (y^T y - w^T X^T y cancels badly).
template <class T>
double mean_squared_error(const BatchView<T>& all, const std::vector<LD>& w) {
  LD sum = 0;
  for (std::size_t i = 0; i < all.rows; ++i) {
    const T* row = all.row(i);
    LD r = -static_cast<LD>(all.y[i]);
    for (std::size_t j = 0; j < all.d; ++j) r += static_cast<LD>(row[j]) * w[j];
    sum += r * r;
  }
  return static_cast<double>(sum / static_cast<LD>(all.rows));
}

}  // namespace

// Normal equations -> Cholesky -> solve -> the loss at the solution.
template <class T>
LeastSquares least_squares(const Dataset<T>& data) {
  if (data.n == 0) throw std::invalid_argument("least_squares: no rows (n=0)");
  const BatchView<T> all = data.all();
  validate_batch(all);
  NormalEquations eq = normal_equations(all);
  const std::vector<bool> kept = cholesky(eq.a, all.d);
  const std::vector<LD> w = solve(eq.a, eq.rhs, kept);
  LeastSquares out;
  for (bool k : kept) out.rank += k;
  out.weights.assign(w.begin(), w.end());
  out.loss = mean_squared_error(all, w);
  return out;
}

template LeastSquares least_squares<float>(const Dataset<float>&);
template LeastSquares least_squares<double>(const Dataset<double>&);

}  // namespace numgrad
