// autovec.avx512: the scalar source compiled with this unit's avx512 flags (kernels/CMakeLists),
// to show what the compiler's auto-vectorizer achieves beside the hand-written kernels.
#include "kernels/scalar_ops.hpp"

namespace numgrad::detail {

extern constinit const FamilyFns autovec_avx512_family = family_fns<ScalarSerial>();
extern constinit const OpsFamily autovec_avx512_ops = ops_family<ScalarOps>();

}  // namespace numgrad::detail
