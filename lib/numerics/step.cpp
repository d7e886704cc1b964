// Step policies (see step.hpp). The data-aware rule minimizes the rounding error of the
// central difference of a quadratic: the error is about u (L + h^2 c_j) / h with
// c_j = ||X_j||^2 / b and L = ||r||^2 / b, smallest at h = ||r|| / ||X_j||.
#include "numgrad/step.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "numgrad/kernel.hpp"

namespace numgrad {

StepPolicy parse_step_policy(std::string_view text) {
  if (text == "auto" || text == "data") return {StepRule::data, 0};
  if (text == "relative") return {StepRule::relative, 0};
  if (text.starts_with("fixed:")) {
    const std::string num(text.substr(6));
    char* end = nullptr;
    const double h = std::strtod(num.c_str(), &end);
    if (!num.empty() && end == num.c_str() + num.size() && std::isfinite(h) && h > 0)
      return {StepRule::fixed, h};
  }
  throw std::invalid_argument("step: '" + std::string(text) +
                              "' is not one of fixed:H (H > 0), relative, auto");
}

std::string to_string(const StepPolicy& p) {
  switch (p.rule) {
    case StepRule::fixed: {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, p.h);
      return "fixed:" + std::string(buf, ec == std::errc() ? end : buf);
    }
    case StepRule::relative:
      return "relative";
    case StepRule::data:
      return "auto";
  }
  return "?";
}

namespace {

// Smallest power of two that moves v by at least two units in the last place of T.
template <class T>
double resolution_floor(T v) {
  const double ulp = std::max<double>(std::abs(static_cast<double>(v)), 1e-300) *
                     std::numeric_limits<T>::epsilon();
  return std::exp2(std::ceil(
             std::log2(std::max(ulp, static_cast<double>(std::numeric_limits<T>::min()))))) *
         2;
}

template <class T>
T pow2_round(double v) {
  return static_cast<T>(std::exp2(std::round(std::log2(v))));
}

}  // namespace

template <class T>
void make_steps(const StepPolicy& p, const BatchView<T>& batch, std::span<const T> w,
                std::span<T> h) {
  validate_batch(batch);
  const std::size_t d = batch.d;
  if (w.size() != d)
    throw std::invalid_argument("w: length " + std::to_string(w.size()) +
                                ", expected d=" + std::to_string(d));
  if (h.size() != d)
    throw std::invalid_argument("h: length " + std::to_string(h.size()) +
                                ", expected d=" + std::to_string(d));
  const double relative_scale = std::cbrt(static_cast<double>(std::numeric_limits<T>::epsilon()));
  auto relative = [&](std::size_t j) {
    return relative_scale * std::max(1.0, std::abs(static_cast<double>(w[j])));
  };
  switch (p.rule) {
    case StepRule::fixed:
      if (!(p.h > 0) || !std::isfinite(p.h))
        throw std::invalid_argument("step: fixed h=" + std::to_string(p.h) +
                                    " must be positive and finite");
      std::fill(h.begin(), h.end(), static_cast<T>(p.h));
      return;
    case StepRule::relative:
      for (std::size_t j = 0; j < d; ++j) h[j] = static_cast<T>(relative(j));
      return;
    case StepRule::data:
      break;
  }
  double r2 = 0;
  std::vector<double> col2(d, 0.0);
  for (std::size_t i = 0; i < batch.rows; ++i) {
    const T* x = batch.row(i);
    double p = -static_cast<double>(batch.y[i]);
    for (std::size_t j = 0; j < d; ++j) {
      p += static_cast<double>(x[j]) * static_cast<double>(w[j]);
      col2[j] += static_cast<double>(x[j]) * static_cast<double>(x[j]);
    }
    r2 += p * p;
  }
  const double largest = static_cast<double>(std::numeric_limits<T>::max()) / 4;
  for (std::size_t j = 0; j < d; ++j) {
    double v = std::sqrt(r2 / col2[j]);
    // Exact fit (r = 0) or an all-zero column: every step is equally good; take the
    // relative rule's magnitude so the step still moves w_j.
    if (!(v > 0) || !std::isfinite(v)) v = relative(j);
    v = std::clamp(v, resolution_floor(w[j]), largest);
    h[j] = pow2_round<T>(v);
  }
}

template void make_steps<float>(const StepPolicy&, const BatchView<float>&, std::span<const float>,
                                std::span<float>);
template void make_steps<double>(const StepPolicy&, const BatchView<double>&,
                                 std::span<const double>, std::span<double>);

}  // namespace numgrad
