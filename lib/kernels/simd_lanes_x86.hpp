// The x86 lane primitives of the SIMD kernels, for xsimd 8.1's sse2, fma3<avx2> and avx512f:
// FMA, the widening load, the pair sums, the register count and avx512f's haddp lane order.
// simd_lanes.hpp includes this file on x86-64 (after <immintrin.h> and xsimd) and builds the
// arch-independent lanes on it; see there for the contract. Unnamed namespace (docs/design.md
// §5, ODR).
#pragma once

#include <cstddef>
#include <type_traits>

namespace numgrad::detail {
namespace {

template <class T, class Acc, class Arch>
struct ArchLanes {
  using V = xsimd::batch<Acc, Arch>;
  static constexpr bool kAvx512 = std::is_same_v<Arch, xsimd::avx512f>;
  // Vector registers the kernels may plan for (simd_dots.hpp: w held across a block of rows).
  static constexpr std::size_t kRegisters = kAvx512 ? 32 : 16;

  // xsimd 8.1 has no avx512f FMA kernel of its own: the intrinsics make the fused operation
  // explicit for that arch rather than leave it to how xsimd's generic path compiles (with
  // these flags it does emit vfmadd). The others take xsimd's (sse2: mul + add).
  static V fma(const V& a, const V& b, const V& c) {
    if constexpr (kAvx512 && std::is_same_v<Acc, float>)
      return _mm512_fmadd_ps(a, b, c);
    else if constexpr (kAvx512)
      return _mm512_fmadd_pd(a, b, c);
    else
      return xsimd::fma(a, b, c);
  }
  // c - a * b
  static V fnma(const V& a, const V& b, const V& c) {
    if constexpr (kAvx512 && std::is_same_v<Acc, float>)
      return _mm512_fnmadd_ps(a, b, c);
    else if constexpr (kAvx512)
      return _mm512_fnmadd_pd(a, b, c);
    else
      return xsimd::fnma(a, b, c);
  }

  // W floats as double lanes (T = float, Acc = double). xsimd 8.1 converts float to double
  // through a stack buffer, so the widening load is one cvtps2pd per arch instead.
  static V widen(const T* p) {
    if constexpr (kAvx512)
      return _mm512_cvtps_pd(_mm256_loadu_ps(p));
    else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>)
      return _mm256_cvtps_pd(_mm_loadu_ps(p));
    else if constexpr (std::is_same_v<Arch, xsimd::sse2>)
      return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    else
      static_assert(std::is_same_v<T, Acc>, "no widening load for this arch");
  }

  // Sums of adjacent lane pairs: lanes [0, W/2) from a, [W/2, W) from b, in order. xsimd 8.1
  // has no two-source deinterleave, so this is the one shuffle written per arch.
  static V pair_sums(const V& a, const V& b) {
    constexpr bool f32 = std::is_same_v<Acc, float>;
    if constexpr (kAvx512 && f32) {
      const __m512i even =
          _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
      return _mm512_add_ps(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b));
    } else if constexpr (kAvx512) {
      const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
      const __m512i odd = _mm512_add_epi64(even, _mm512_set1_epi64(1));
      return _mm512_add_pd(_mm512_permutex2var_pd(a, even, b), _mm512_permutex2var_pd(a, odd, b));
    } else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>) {
      // In-lane pair sums leave the 64-bit chunks as a-lo, b-lo, a-hi, b-hi; swap the middle.
      __m256d s;
      if constexpr (f32)
        s = _mm256_castps_pd(_mm256_add_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                                           _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))));
      else
        s = _mm256_add_pd(_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
      s = _mm256_permute4x64_pd(s, _MM_SHUFFLE(3, 1, 2, 0));
      if constexpr (f32)
        return _mm256_castpd_ps(s);
      else
        return s;
    } else if constexpr (f32) {
      return _mm_add_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    } else {
      return _mm_add_pd(_mm_unpacklo_pd(a, b), _mm_unpackhi_pd(a, b));
    }
  }

  // Slot of row r in the haddp input. xsimd 8.1's avx512f haddp for float returns the sums of
  // rows 2,3 in lanes 4,5 and vice versa (likewise 10,11 and 12,13); the swap is its own
  // inverse, so feeding the rows swapped puts every sum in its row's lane.
  static constexpr std::size_t haddp_slot(std::size_t r) {
    if constexpr (kAvx512 && std::is_same_v<Acc, float>) {
      const std::size_t q = r % 8;
      if (q == 2 || q == 3) return r + 2;
      if (q == 4 || q == 5) return r - 2;
    }
    return r;
  }
};

}  // namespace
}  // namespace numgrad::detail
