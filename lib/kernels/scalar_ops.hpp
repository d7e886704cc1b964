// The scalar building blocks: plain loops in the order a textbook writes them. Compiled
// without ISA flags they are the `scalar` family; compiled in the per-ISA units they are the
// `autovec.<isa>` families, which show what the compiler's vectorizer makes of the same
// source (it may not reorder the floating-point reductions, so mostly the row-major
// perturbed and gradient sums vectorize, across j).
#pragma once

#include <cstddef>

#include "tiled.hpp"

namespace numgrad::detail {
namespace {

template <class T, class Acc>
struct ScalarOps {
  using value_type = T;
  using acc_type = Acc;

  static Acc residual(const T* x, const T* w, T y, std::size_t d) {
    Acc p = 0;
    for (std::size_t k = 0; k < d; ++k) p += static_cast<Acc>(x[k]) * static_cast<Acc>(w[k]);
    return p - static_cast<Acc>(y);
  }
  static Acc loss_sum(const BatchView<T>& B, const T* w) {
    Acc s = 0;
    for (std::size_t i = 0; i < B.rows; ++i) {
      const Acc r = residual(B.row(i), w, B.y[i], B.d);
      s += r * r;
    }
    return s;
  }
  static void residuals(const BatchView<T>& B, const T* w, Acc* r) {
    for (std::size_t i = 0; i < B.rows; ++i) r[i] = residual(B.row(i), w, B.y[i], B.d);
  }
  static Acc residual_squares(const BatchView<T>& B, const T* w, Acc* r, Acc* col2) {
    for (std::size_t j = 0; j < B.d; ++j) col2[j] = 0;
    Acc s = 0;
    for (std::size_t i = 0; i < B.rows; ++i) {
      const T* x = B.row(i);
      r[i] = residual(x, w, B.y[i], B.d);
      s += r[i] * r[i];
      for (std::size_t j = 0; j < B.d; ++j)
        col2[j] += static_cast<Acc>(x[j]) * static_cast<Acc>(x[j]);
    }
    return s;
  }
  // Row-major: X is streamed once and every row updates all 2(j1 - j0) sums.
  static void perturbed_sums(const BatchView<T>& B, const Acc* r, const Acc* dp, const Acc* dm,
                             std::size_t j0, std::size_t j1, Acc* plus, Acc* minus) {
    for (std::size_t j = j0; j < j1; ++j) plus[j] = minus[j] = 0;
    for (std::size_t i = 0; i < B.rows; ++i) {
      const T* x = B.row(i);
      const Acc ri = r[i];
      for (std::size_t j = j0; j < j1; ++j) {
        const Acc xv = static_cast<Acc>(x[j]);
        const Acc a = ri + dp[j] * xv, c = ri - dm[j] * xv;
        plus[j] += a * a;
        minus[j] += c * c;
      }
    }
  }
  static void gradient_sums(const BatchView<T>& B, const Acc* r, std::size_t j0, std::size_t j1,
                            Acc* out) {
    for (std::size_t j = j0; j < j1; ++j) out[j] = 0;
    for (std::size_t i = 0; i < B.rows; ++i) {
      const T* x = B.row(i);
      for (std::size_t j = j0; j < j1; ++j) out[j] += static_cast<Acc>(x[j]) * r[i];
    }
  }
  static void square_sums(const BatchView<T>& B, const Acc*, std::size_t j0, std::size_t j1,
                          Acc* out) {
    for (std::size_t j = j0; j < j1; ++j) out[j] = 0;
    for (std::size_t i = 0; i < B.rows; ++i) {
      const T* x = B.row(i);
      for (std::size_t j = j0; j < j1; ++j)
        out[j] += static_cast<Acc>(x[j]) * static_cast<Acc>(x[j]);
    }
  }
  // Sequential sums: b terms over the batch, d products plus y within a prediction.
  static SumDepths depths(std::size_t b, std::size_t d) { return sequential_depths(b, d); }
};

template <class T, class Acc>
using ScalarSerial = Serial<ScalarOps<T, Acc>>;

}  // namespace
}  // namespace numgrad::detail

// The table an autovec.<isa> unit exports (units/autovec_<isa>.cpp): the scalar source
// compiled with that unit's flags, to show what the compiler's vectorizer makes of it.
#define NUMGRAD_AUTOVEC_UNIT(isa)                                                       \
  namespace numgrad::detail {                                                           \
  extern constinit const FamilyFns autovec_##isa##_family = family_fns<ScalarSerial>(); \
  }
