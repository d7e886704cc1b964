// Checking a kernel against the high-precision reference: every error beside its bound from
// docs/design.md §3.3 (computed from the data with the kernel's accumulator and depths, never
// a hand-picked tolerance), for the loss, the analytic gradient and the central difference.
// The tests, `numgrad verify` and numgrad_bench's reference check all go through here, so
// "agrees" means one thing everywhere.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "numgrad/kernel.hpp"
#include "numgrad/reference.hpp"

namespace numgrad {

// An error over its bound. A bound is exactly 0 where the rounding it allows for has nothing
// to act on (an all-zero column, an exact fit), and a right result then has error 0: 0, not
// NaN. A nonzero error against a zero bound, or a non-finite error, is +inf. Never NaN, which
// every comparison would silently let through.
double error_ratio(double error, double bound);

// One value checked, or the worst coordinate of a vector (the one with the largest ratio).
struct ErrorCheck {
  double got = 0, want = 0;  // at the worst coordinate
  double error = 0;          // |got - want| there
  double bound = 0;          // its bound there
  double ratio = 0;          // error_ratio(error, bound): <= 1 passes
  double max_error = 0;      // the largest |got_j - want_j| over all coordinates
  std::size_t worst = 0;     // the worst coordinate (0 for a value)
  bool ok() const { return ratio <= 1; }
  // "<what>[j] <got>, reference <want>: |error| <e> exceeds the bound <b>" (or "within").
  std::string describe(const std::string& what) const;
};

ErrorCheck check_value(double got, double want, double bound);
ErrorCheck check_vector(std::span<const double> got, std::span<const double> want,
                        std::span<const double> bound);

// A loss against the reference of its batch, and an analytic gradient against the reference's.
ErrorCheck check_loss(double got, const Reference& ref, DType acc, SumDepths depths);
ErrorCheck check_analytic(std::span<const double> got, const Reference& ref, DType acc,
                          SumDepths depths);
// A central difference against the exact quotient at the points really evaluated, w_j +- h_j
// rounded to T, with that quotient's bound (central_reference): is the kernel right?
template <class T>
ErrorCheck check_central(std::span<const double> got, const BatchView<T>& batch,
                         std::span<const T> w, std::span<const T> h, const Reference& ref,
                         DType acc, SumDepths depths);
// The same central difference against the exact gradient, allowing what this kernel's analytic
// gradient may err plus the rounding of w_j +- h_j to T (it moves the midpoint by at most
// u_T (|w_j| + h_j), which costs c_j times that): is the step good? A step that throws the
// digits away fails here while check_central passes.
template <class T>
ErrorCheck check_step(std::span<const double> got, std::span<const T> w, std::span<const T> h,
                      const Reference& ref, DType acc, SumDepths depths);

// Everything about one kernel on one batch, at one Exec.
struct KernelCheck {
  ErrorCheck loss, analytic;
  ErrorCheck central;  // gradient(): check_central (check_analytic for analytic kernels)
  ErrorCheck step;     // gradient(): check_step (check_analytic for analytic kernels)
  bool ok() const { return loss.ok() && analytic.ok() && central.ok() && step.ok(); }
};

// Runs k's loss, analytic gradient and gradient (steps h) on the batch and checks each. `ref`
// is reference(batch, w), passed in so that many kernels share one. Throws what the validated
// API throws.
template <class T>
KernelCheck check_kernel(const Kernel& k, const BatchView<T>& batch, std::span<const T> w,
                         std::span<const T> h, const Reference& ref, Exec exec = {});

}  // namespace numgrad
