// Step policies (see step.hpp). The data-aware rule minimizes the rounding error of the
// central difference of a quadratic: the error is about u (L + h^2 c_j) / h with
// c_j = ||X_j||^2 / b and L = ||r||^2 / b, smallest at h = ||r|| / ||X_j||. Its passes are a
// kernel's (KernelFns::steps: vectorized, parallel, the rounding to an exact power of two in
// lib/kernels/compose.hpp), so there is one implementation of the rule.
#include "numgrad/step.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "numgrad/isa.hpp"
#include "numgrad/kernel.hpp"
#include "numgrad/registry.hpp"

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

// The widest SIMD family over row chunks on the arena, accumulating in f64 (the steps need no
// more than their exponent right, but an f32 sum over a long batch could move it).
template <class T>
const Kernel& data_steps_kernel() {
  static const Kernel& kernel = []() -> const Kernel& {
    const std::string types = std::is_same_v<T, float> ? "f32acc64" : "f64";
    const std::string simd =
        "tbb.samples.simd." + std::string(name(best_isa())) + ".residual." + types;
    for (const Kernel& k : registry())
      if (k.id == simd) return k;
    return find_kernel("tbb.samples.scalar.residual." + types);
  }();
  return kernel;
}

template <class T>
void rule_steps(const StepPolicy& p, std::span<const T> w, std::span<T> h) {
  const std::size_t d = w.size();
  if (h.size() != d)
    throw std::invalid_argument("h: length " + std::to_string(h.size()) +
                                ", expected d=" + std::to_string(d));
  const double relative_scale = std::cbrt(static_cast<double>(std::numeric_limits<T>::epsilon()));
  switch (p.rule) {
    case StepRule::fixed:
      if (!(p.h > 0) || !std::isfinite(p.h))
        throw std::invalid_argument("step: fixed h=" + std::to_string(p.h) +
                                    " must be positive and finite");
      std::fill(h.begin(), h.end(), static_cast<T>(p.h));
      return;
    case StepRule::relative:
      for (std::size_t j = 0; j < d; ++j)
        h[j] = static_cast<T>(relative_scale * std::max(1.0, std::abs(static_cast<double>(w[j]))));
      return;
    case StepRule::data:
      break;
  }
  throw std::invalid_argument("step: the data rule (auto) needs the batch (make_steps)");
}

template <class T>
void make_steps(const StepPolicy& p, const BatchView<T>& batch, std::span<const T> w,
                std::span<T> h, Exec exec) {
  validate_batch(batch);
  const std::size_t d = batch.d;
  if (w.size() != d)
    throw std::invalid_argument("w: length " + std::to_string(w.size()) +
                                ", expected d=" + std::to_string(d));
  if (p.rule == StepRule::data)
    data_aware_steps<T>(data_steps_kernel<T>(), batch, w, h, exec);
  else
    rule_steps<T>(p, w, h);
}

#define NUMGRAD_INSTANTIATE_STEPS(T)                                                      \
  template void make_steps<T>(const StepPolicy&, const BatchView<T>&, std::span<const T>, \
                              std::span<T>, Exec);                                        \
  template void rule_steps<T>(const StepPolicy&, std::span<const T>, std::span<T>);       \
  template const Kernel& data_steps_kernel<T>();
NUMGRAD_INSTANTIATE_STEPS(float)
NUMGRAD_INSTANTIATE_STEPS(double)
#undef NUMGRAD_INSTANTIATE_STEPS

}  // namespace numgrad
