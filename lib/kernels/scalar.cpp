// The scalar family: ScalarOps compiled with the baseline flags, the reference point every
// speedup is measured against.
#include "scalar_ops.hpp"

namespace numgrad::detail {

extern constinit const FamilyFns scalar_family = family_fns<ScalarSerial>();
extern constinit const OpsFamily scalar_ops = ops_family<ScalarOps>();

}  // namespace numgrad::detail
