// simd.avx2: the xsimd kernels of simd_ops.hpp for xsimd::fma3<xsimd::avx2>, compiled with this
// unit's avx2 and fma flags (lib/CMakeLists.txt).
#include "kernels/simd_ops.hpp"

NUMGRAD_SIMD_UNIT(avx2, xsimd::fma3<xsimd::avx2>)
