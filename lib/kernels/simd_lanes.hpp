// The lane primitives of the SIMD kernels (simd_ops.hpp): FMA, the widening and tail loads,
// partial stores and the one two-source shuffle. What an xsimd 8.1 arch needs its own
// intrinsics for (FMA, the widening load, the pair sums, its register count and haddp lane
// order) is ArchLanes, one header per target architecture: simd_lanes_x86.hpp,
// simd_lanes_neon.hpp; the rest is written once here. Kept apart from the algorithms so that a
// new arch's differences are read in one file. Everything sits in an unnamed namespace
// (docs/design.md §5, ODR).
#pragma once

#include <cstddef>
#include <type_traits>

// GCC 12 reports the _mm512_undefined_* operands of AVX-512 shuffle and convert intrinsics,
// which xsimd's hadd/haddp use, as uninitialized (GCC bug 105593, fixed in 13). The pragma
// covers only those headers' lines; warnings in numgrad code stay on.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop

#include "numgrad/batch.hpp"

#if defined(__x86_64__)
#include "simd_lanes_x86.hpp"
#elif defined(__aarch64__)
#include "simd_lanes_neon.hpp"
#endif

namespace numgrad::detail {
namespace {

// ArchLanes<T, Acc, Arch> provides: kRegisters (vector registers to plan for), fma(a, b, c)
// = a * b + c and fnma(a, b, c) = c - a * b, each rounded once; widen(p), W floats as double
// lanes; pair_sums(a, b), the sums of adjacent lane pairs, lanes [0, W/2) from a and [W/2, W)
// from b in order (xsimd 8.1 has no two-source deinterleave); haddp_slot(r), the slot of row
// r in xsimd::haddp's input that puts its sum in lane r.
template <class T, class Acc, class Arch>
struct SimdLanes : ArchLanes<T, Acc, Arch> {
  using Base = ArchLanes<T, Acc, Arch>;
  using V = xsimd::batch<Acc, Arch>;
  using Mask = xsimd::batch_bool<Acc, Arch>;
  // Lanes of the accumulator; a load reads W elements of T (half a register of floats when
  // f32 data is accumulated in double).
  static constexpr std::size_t W = V::size;

  // W elements of T as accumulator lanes: a plain load, or the arch's widening load when
  // f32 data is accumulated in double.
  static V load(const T* p) {
    if constexpr (std::is_same_v<T, Acc>)
      return V::load_unaligned(p);
    else
      return Base::widen(p);
  }

  static V zero() { return V(Acc(0)); }

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
