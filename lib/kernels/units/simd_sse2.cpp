// simd.sse2: the xsimd kernels of simd_ops.hpp for xsimd::sse2, compiled with this unit's sse2
// flags (lib/CMakeLists.txt).
#include "kernels/simd_ops.hpp"

NUMGRAD_SIMD_UNIT(sse2, xsimd::sse2)
