// Step policies for the central difference. The loss is exactly quadratic in w, so the
// difference has no truncation error and the best step is on the scale of the data
// (docs/design.md §3.1); the textbook rules are offered for comparison, not as defaults.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "numgrad/batch.hpp"

namespace numgrad {

enum class StepRule {
  fixed,     // h_j = h for every coordinate
  relative,  // h_j = cbrt(eps_T) * max(1, |w_j|): the generic checker rule
  data,      // h_j = ||r|| / ||X_j||, rounded to a power of two: optimal for this loss
};

struct StepPolicy {
  StepRule rule = StepRule::data;
  double h = 0;  // used by StepRule::fixed
};

// Parses "fixed:H", "relative" or "auto" (the data-aware rule); throws std::invalid_argument
// naming the text otherwise.
StepPolicy parse_step_policy(std::string_view text);
std::string to_string(const StepPolicy& policy);

// Fills h (length d) for the batch and weights. The data rule needs one pass over the batch
// (residuals and column norms, in double). Every step returned moves w_j in type T.
template <class T>
void make_steps(const StepPolicy& policy, const BatchView<T>& batch, std::span<const T> w,
                std::span<T> h);

}  // namespace numgrad
