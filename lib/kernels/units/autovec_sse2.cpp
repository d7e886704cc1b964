// autovec.sse2: the scalar source compiled with this unit's sse2 flags (lib/CMakeLists.txt),
// to show what the compiler's auto-vectorizer achieves beside the hand-written kernels.
#include "kernels/scalar_ops.hpp"

NUMGRAD_AUTOVEC_UNIT(sse2)
