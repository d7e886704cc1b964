// simd.avx512: the xsimd kernels of simd_ops.hpp instantiated for xsimd::avx512f, compiled with
// this unit's avx512f/dq/vl/bw flags (kernels/CMakeLists.txt). Only the two POD tables leave the
// unit.
#include "kernels/simd_ops.hpp"

namespace numgrad::detail {

extern constinit const FamilyFns simd_avx512_family = family_fns<SimdOn<xsimd::avx512f>::Kernel>();
extern constinit const OpsFamily simd_avx512_ops = ops_family<SimdOn<xsimd::avx512f>::Ops>();

}  // namespace numgrad::detail
