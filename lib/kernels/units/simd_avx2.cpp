// simd.avx2: the xsimd kernels of simd_ops.hpp instantiated for xsimd::fma3<xsimd::avx2>, compiled
// with this unit's avx2 + fma flags (kernels/CMakeLists.txt). Only the two POD tables leave the
// unit.
#include "kernels/simd_ops.hpp"

namespace numgrad::detail {

extern constinit const FamilyFns simd_avx2_family =
    family_fns<SimdOn<xsimd::fma3<xsimd::avx2>>::Kernel>();
extern constinit const OpsFamily simd_avx2_ops =
    ops_family<SimdOn<xsimd::fma3<xsimd::avx2>>::Ops>();

}  // namespace numgrad::detail
