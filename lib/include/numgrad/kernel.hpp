// The one kernel interface. A Kernel is a registry entry: what a variant is (types, algorithm,
// parallel axis, ISA) and its three functions. The free functions at the bottom are the API
// boundary: they validate once and then call the entry's unchecked functions.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "numgrad/batch.hpp"
#include "numgrad/isa_list.hpp"

namespace numgrad {

// How the central difference is formed. `analytic` entries return the analytic gradient from
// gradient() so that the trainer and benchmarks can drive them like any other kernel.
enum class Algorithm { blackbox, residual, analytic };
// What a parallel variant splits: nothing, coordinates j, rows i, or both (2-D blocks).
enum class Axis { serial, weights, samples, both };
// The sums a kernel function is made of, per row chunk (numgrad/chunks.hpp): the loss's sum of
// squared residuals, a central difference's 2d perturbed sums (blackbox or residual), the
// analytic gradient's d sums, the data-aware steps' d column sums of squares and sum of r^2.
enum class Sums { loss, blackbox, residual, analytic, steps };
// Instruction set a variant is built for (numgrad/isa_list.hpp, best last); `none` is baseline
// code, `dispatch` picks the best available at run time.
#define NUMGRAD_ISA_ENUMERATOR(name, runs_here) name,
enum class Isa { none, NUMGRAD_ISAS(NUMGRAD_ISA_ENUMERATOR) dispatch };
#undef NUMGRAD_ISA_ENUMERATOR

std::string_view name(Algorithm a);
std::string_view name(Axis a);
std::string_view name(Isa i);

// Per-call execution settings. threads = 0 means the default (NUMGRAD_THREADS, else all
// hardware threads). Serial kernels ignore it.
struct Exec {
  int threads = 0;
};

// False when NUMGRAD_PREFETCH is 0, true when it is unset, empty or 1; anything else throws
// std::invalid_argument naming it. The kernels read it on every call that could prefetch (one
// process can then compare both); tools call it first, so that a bad value is reported before
// any work, whatever the shapes.
bool prefetch_enabled();

// Depth of the summation trees this variant uses for a batch of b rows and d features
// (docs/design.md §3.4): `batch` over rows, `features` over the terms of one prediction.
struct SumDepths {
  double batch = 0;
  double features = 0;
};

// Sequential summation depths, {b, d + 1}: a running sum of b terms (b - 1 additions, plus
// one for the accumulator starting at zero) and of d products plus y. The largest any
// ordering can have, and what a scalar loop uses.
SumDepths sequential_depths(std::size_t b, std::size_t d);

// Unchecked functions of one element type. All outputs are double: the conversion from the
// accumulator is exact, so the returned number is exactly what the kernel computed.
//   loss:              L(w) = (1/b) sum_i (w.x_i - y_i)^2
//   gradient:          central difference g_j = (L(w+h_j e_j) - L(w-h_j e_j)) / achieved step,
//                      or the analytic gradient for Algorithm::analytic (h is then unused)
//   analytic_gradient: (2/b) X^T (X w - y)
//   steps:             the data-aware steps h_j = ||r|| / ||X_j|| (docs/design.md §3.1), as
//                      the nearest power of two with w_j +- h_j exact in T, from one pass
//   gradient_auto:     steps, then gradient with them; h receives the steps. The residual
//                      algorithm reuses the steps' residuals: one pass fewer than the two calls
//   chunk_sums:        the partial sums of chunks [k0, k1) of a b-row batch's fixed row-chunk
//                      grid, from those chunks' rows, as doubles (exact): how a batch's work is
//                      split across processes and joined bitwise (numgrad/chunks.hpp)
template <class T>
struct KernelFns {
  double (*loss)(const BatchView<T>& batch, const T* w, const Exec& exec) = nullptr;
  void (*gradient)(const BatchView<T>& batch, const T* w, const T* h, double* g,
                   const Exec& exec) = nullptr;
  void (*analytic_gradient)(const BatchView<T>& batch, const T* w, double* g,
                            const Exec& exec) = nullptr;
  void (*steps)(const BatchView<T>& batch, const T* w, T* h, const Exec& exec) = nullptr;
  void (*gradient_auto)(const BatchView<T>& batch, const T* w, T* h, double* g,
                        const Exec& exec) = nullptr;
  void (*chunk_sums)(Sums what, const BatchView<T>& rows, std::size_t b, std::size_t k0,
                     std::size_t k1, const T* w, const T* h, double* out,
                     const Exec& exec) = nullptr;
};

struct Kernel {
  std::string id;  // e.g. "scalar.residual.f32acc64"; the name tools and filters use
  DType elem = DType::f32;
  DType acc = DType::f32;
  Algorithm algorithm = Algorithm::residual;
  Axis axis = Axis::serial;
  Isa isa = Isa::none;
  bool deterministic = true;  // bitwise identical across thread counts and repeats
  SumDepths (*depths)(std::size_t b, std::size_t d) = nullptr;
  KernelFns<float> f32;
  KernelFns<double> f64;

  template <class T>
  const KernelFns<T>& fns() const {
    if constexpr (sizeof(T) == 4)
      return f32;
    else
      return f64;
  }
  // This CPU runs the kernel's ISA (under the NUMGRAD_ISA cap); throws std::invalid_argument
  // for an unknown NUMGRAD_ISA.
  bool is_supported() const;
};

// True when w + h and w - h are two different finite numbers of type T: the achieved step
// (w + h) - (w - h) is then nonzero and the central difference's quotient means something.
// The validated gradient() requires it of every coordinate.
template <class T>
bool step_moves(T w, T h) {
  const T wp = w + h, wm = w - h;
  return wp > wm && std::isfinite(wp) && std::isfinite(wm);
}

// Unit roundoff of a type: 2^-24 for f32, 2^-53 for f64.
constexpr double unit_roundoff(DType t) {
  return t == DType::f32 ? 0x1p-24 : 0x1p-53;
}

// --- Validated API -------------------------------------------------------------------------
// Each throws std::invalid_argument naming the argument and its value: null pointers, b = 0,
// d = 0, ld < d, a weight/step/output span of the wrong length, a non-positive or non-finite
// step, a step too small to move w_j, a kernel of another element type. A kernel the CPU
// cannot run throws std::runtime_error. NaN or Inf in the data is not checked here (that
// would cost a pass over X per call); it propagates into the result. Tools call
// check_finite() once before running.

void validate_batch(const BatchView<float>& batch);
void validate_batch(const BatchView<double>& batch);

template <class T>
double loss(const Kernel& k, const BatchView<T>& batch, std::span<const T> w, Exec exec = {});
template <class T>
void gradient(const Kernel& k, const BatchView<T>& batch, std::span<const T> w,
              std::span<const T> h, std::span<double> g, Exec exec = {});
template <class T>
void analytic_gradient(const Kernel& k, const BatchView<T>& batch, std::span<const T> w,
                       std::span<double> g, Exec exec = {});
// The central difference with the data-aware steps chosen in the same passes (KernelFns::
// gradient_auto): h receives the steps used.
template <class T>
void gradient_auto(const Kernel& k, const BatchView<T>& batch, std::span<const T> w, std::span<T> h,
                   std::span<double> g, Exec exec = {});
// The data-aware steps alone, with this kernel's passes (vectorized and parallel as it is).
template <class T>
void data_aware_steps(const Kernel& k, const BatchView<T>& batch, std::span<const T> w,
                      std::span<T> h, Exec exec = {});

// Index of the first non-finite value in the batch's X or y, as "x[row][col]" or "y[row]";
// empty when all are finite.
template <class T>
std::string find_non_finite(const BatchView<T>& batch);

}  // namespace numgrad
