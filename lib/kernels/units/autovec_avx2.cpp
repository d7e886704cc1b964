// autovec.avx2: the scalar source compiled with this unit's avx2 flags (lib/CMakeLists.txt),
// to show what the compiler's auto-vectorizer achieves beside the hand-written kernels.
#include "kernels/scalar_ops.hpp"

NUMGRAD_AUTOVEC_UNIT(avx2)
