// autovec.avx2: the scalar source compiled with this unit's avx2 flags (kernels/CMakeLists),
// to show what the compiler's auto-vectorizer achieves beside the hand-written kernels.
#include "kernels/scalar_ops.hpp"

namespace numgrad::detail {

extern constinit const FamilyFns autovec_avx2_family = family_fns<ScalarSerial>();
extern constinit const OpsFamily autovec_avx2_ops = ops_family<ScalarOps>();

}  // namespace numgrad::detail
