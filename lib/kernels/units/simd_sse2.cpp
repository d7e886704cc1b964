// simd.sse2: the xsimd kernels of simd_ops.hpp instantiated for xsimd::sse2, compiled with this
// unit's sse2 flags (kernels/CMakeLists.txt). Only the two POD tables leave the unit.
#include "kernels/simd_ops.hpp"

namespace numgrad::detail {

extern constinit const FamilyFns simd_sse2_family = family_fns<SimdOn<xsimd::sse2>::Kernel>();
extern constinit const OpsFamily simd_sse2_ops = ops_family<SimdOn<xsimd::sse2>::Ops>();

}  // namespace numgrad::detail
