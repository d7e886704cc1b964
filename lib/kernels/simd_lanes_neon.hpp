// The AArch64 lane primitives of the SIMD kernels, for xsimd 8.1's neon64 (128-bit Advanced
// SIMD: 4 floats or 2 doubles a register): FMA, the widening load, the pair sums, the register
// count and haddp's lane order. simd_lanes.hpp includes this file on aarch64 (after
// <arm_neon.h> and xsimd) and builds the arch-independent lanes on it; see there for the
// contract. Unnamed namespace (docs/design.md §5, ODR).
#pragma once

#include <cstddef>
#include <type_traits>

namespace numgrad::detail {
namespace {

template <class T, class Acc, class Arch>
struct ArchLanes {
  static_assert(std::is_same_v<Arch, xsimd::neon64>, "the aarch64 units use xsimd::neon64");
  using V = xsimd::batch<Acc, Arch>;
  static constexpr bool kF32 = std::is_same_v<Acc, float>;
  // AArch64 has 32 vector registers (v0-v31), as many as AVX-512.
  static constexpr std::size_t kRegisters = 32;

  // FMLA/FMLS: one rounding each. xsimd's fma is the same instruction, but its generic fnma is
  // a multiply and a subtraction unless the compiler contracts them; the intrinsics make both
  // fused whatever the -ffp-contract setting, as on avx512f.
  static V fma(const V& a, const V& b, const V& c) {
    if constexpr (kF32)
      return vfmaq_f32(c, a, b);
    else
      return vfmaq_f64(c, a, b);
  }
  // c - a * b
  static V fnma(const V& a, const V& b, const V& c) {
    if constexpr (kF32)
      return vfmsq_f32(c, a, b);
    else
      return vfmsq_f64(c, a, b);
  }

  // 2 floats as 2 double lanes: one 64-bit load and FCVTL (xsimd 8.1 converts through memory).
  static V widen(const T* p) { return vcvt_f64_f32(vld1_f32(p)); }

  // FADDP adds adjacent pairs of the concatenation a:b, which is exactly this order.
  static V pair_sums(const V& a, const V& b) {
    if constexpr (kF32)
      return vpaddq_f32(a, b);
    else
      return vpaddq_f64(a, b);
  }

  // xsimd's neon haddp returns row r's sum in lane r (pairwise FADDP), so rows go in order.
  static constexpr std::size_t haddp_slot(std::size_t r) { return r; }
};

}  // namespace
}  // namespace numgrad::detail
