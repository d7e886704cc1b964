// simd.avx512: the xsimd kernels of simd_ops.hpp for xsimd::avx512f, compiled with this unit's
// avx512f/dq/vl/bw flags (lib/CMakeLists.txt).
#include "kernels/simd_ops.hpp"

NUMGRAD_SIMD_UNIT(avx512, xsimd::avx512f)
