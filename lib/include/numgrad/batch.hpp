// BatchView: the view every kernel reads. A batch is b consecutive rows of a row-major
// dataset (leading dimension ld >= d) and the matching targets; it never owns or copies data.
#pragma once

#include <cstddef>
#include <string_view>

namespace numgrad {

enum class DType { f32, f64 };

template <class T>
inline constexpr DType dtype_of = sizeof(T) == 4 ? DType::f32 : DType::f64;

constexpr std::string_view name(DType t) {
  return t == DType::f32 ? "f32" : "f64";
}

template <class T>
struct BatchView {
  const T* x = nullptr;  // row 0 of the batch
  const T* y = nullptr;  // target of row 0
  std::size_t rows = 0;  // b
  std::size_t d = 0;     // features per row
  std::size_t ld = 0;    // distance between consecutive rows, in elements

  const T* row(std::size_t i) const { return x + i * ld; }
  // Rows [r0, r1) as a batch of their own: how parallel wrappers hand out row ranges.
  BatchView rows_range(std::size_t r0, std::size_t r1) const {
    return {x + r0 * ld, y + r0, r1 - r0, d, ld};
  }
};

}  // namespace numgrad
