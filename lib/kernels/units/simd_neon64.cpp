// simd.neon64: the xsimd kernels of simd_ops.hpp for xsimd::neon64 (AArch64 Advanced SIMD),
// compiled with this unit's neon64 flags (lib/CMakeLists.txt: none, NEON is the aarch64
// baseline).
#include "kernels/simd_ops.hpp"

NUMGRAD_SIMD_UNIT(neon64, xsimd::neon64)
