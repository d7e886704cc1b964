// The lane primitives of the SIMD kernels (simd_ops.hpp): FMA, the widening and tail loads,
// partial stores and the one two-source shuffle, each the one place where an xsimd 8.1 arch
// needs its own intrinsics. Kept apart from the algorithms so that a new arch's differences
// are read in one file. Everything sits in an unnamed namespace (docs/design.md §5, ODR).
#pragma once

#include <cstddef>
#include <type_traits>

// GCC 12 reports the _mm512_undefined_* operands of AVX-512 shuffle and convert intrinsics,
// which xsimd's hadd/haddp use, as uninitialized (GCC bug 105593, fixed in 13). The pragma
// covers only those headers' lines; warnings in numgrad code stay on.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop

#include "numgrad/batch.hpp"

namespace numgrad::detail {
namespace {

template <class T, class Acc, class Arch>
struct SimdLanes {
  using V = xsimd::batch<Acc, Arch>;
  using Mask = xsimd::batch_bool<Acc, Arch>;
  // Lanes of the accumulator; a load reads W elements of T (half a register of floats when
  // f32 data is accumulated in double).
  static constexpr std::size_t W = V::size;
  static constexpr bool kAvx512 = std::is_same_v<Arch, xsimd::avx512f>;

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

  // W elements of T as accumulator lanes. xsimd 8.1 converts float to double through a
  // stack buffer, so the widening load is one cvtps2pd per arch instead.
  static V load(const T* p) {
    if constexpr (std::is_same_v<T, Acc>)
      return V::load_unaligned(p);
    else if constexpr (kAvx512)
      return _mm512_cvtps_pd(_mm256_loadu_ps(p));
    else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>)
      return _mm256_cvtps_pd(_mm_loadu_ps(p));
    else if constexpr (std::is_same_v<Arch, xsimd::sse2>)
      return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    else
      static_assert(std::is_same_v<T, Acc>, "no widening load for this arch");
  }

  static V zero() { return V(Acc(0)); }

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

  static Mask first_lanes(std::size_t n) {
    alignas(64) Acc index[W];
    for (std::size_t l = 0; l < W; ++l) index[l] = static_cast<Acc>(l);
    return V::load_aligned(index) < V(static_cast<Acc>(n));
  }

  // The first m < W elements at p, other lanes zero. Tail strategy: when a full W-element
  // read stays inside the batch (`safe`), read it (it spills into the next row or the ld
  // padding, both owned by the batch) and blend the extra lanes to zero, which also drops a
  // NaN there; only the last rows of a batch, where a full read would leave it, copy the tail
  // into a zeroed buffer.
  static V load_tail(const T* p, std::size_t m, const Mask& mask, bool safe) {
    if (safe) return xsimd::select(mask, load(p), zero());
    alignas(64) T buf[W] = {};
    for (std::size_t t = 0; t < m; ++t) buf[t] = p[t];
    return load(buf);
  }
  static V load_acc_tail(const Acc* p, std::size_t m) {
    alignas(64) Acc buf[W] = {};
    for (std::size_t t = 0; t < m; ++t) buf[t] = p[t];
    return V::load_aligned(buf);
  }
  static void store_acc(const V& v, Acc* p, std::size_t m) {
    if (m == W) return v.store_unaligned(p);
    alignas(64) Acc buf[W];
    v.store_aligned(buf);
    for (std::size_t t = 0; t < m; ++t) p[t] = buf[t];
  }

  // Leading rows of the batch from which W elements at column `col` can be read without
  // leaving the batch (whose last element is row b-1, column d-1).
  static std::size_t safe_rows(const BatchView<T>& B, std::size_t col) {
    const std::size_t end = (B.rows - 1) * B.ld + B.d;
    std::size_t safe = B.rows;
    while (safe > 0 && (safe - 1) * B.ld + col + W > end) --safe;
    return safe;
  }
};

}  // namespace
}  // namespace numgrad::detail
