// Step policies for the central difference. The loss is exactly quadratic in w, so the
// difference has no truncation error and the best step is on the scale of the data
// (docs/design.md §3.1); the textbook rules are offered for comparison, not as defaults.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "numgrad/batch.hpp"
#include "numgrad/kernel.hpp"

namespace numgrad {

enum class StepRule {
  fixed,     // h_j = h for every coordinate
  relative,  // h_j = cbrt(eps_T) * max(1, |w_j|): the generic checker rule
  data,      // h_j = ||r|| / ||X_j||, the nearest exact power of two: optimal for this loss
};

struct StepPolicy {
  StepRule rule = StepRule::data;
  double h = 0;  // used by StepRule::fixed
};

// Parses "fixed:H", "relative" or "auto" (the data-aware rule); throws std::invalid_argument
// naming the text otherwise.
StepPolicy parse_step_policy(std::string_view text);
std::string to_string(const StepPolicy& policy);

// Fills h (length d) for the batch and weights. The data rule makes one pass over the batch
// (residuals and the columns' sums of squares, accumulated in f64, with the widest SIMD kernel
// on `exec`'s threads) and returns, per coordinate, the power of two nearest ||r|| / ||X_j||
// for which w_j + h_j and w_j - h_j are both exact in T. Every step returned moves w_j.
template <class T>
void make_steps(const StepPolicy& policy, const BatchView<T>& batch, std::span<const T> w,
                std::span<T> h, Exec exec = {});

// The steps of the rules that look at w only (fixed, relative), as make_steps gives them;
// throws std::invalid_argument for the data rule, which needs the batch.
template <class T>
void rule_steps(const StepPolicy& policy, std::span<const T> w, std::span<T> h);

// The kernel whose passes compute the data rule's steps in make_steps: tbb.samples over the
// widest SIMD family this CPU runs, accumulating in f64 (f32acc64 for f32 data). Its
// chunk_sums give the same steps for a batch split between processes (numgrad/chunks.hpp).
template <class T>
const Kernel& data_steps_kernel();

}  // namespace numgrad
