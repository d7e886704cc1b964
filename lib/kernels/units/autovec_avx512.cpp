// autovec.avx512: the scalar source compiled with this unit's avx512 flags
// (lib/CMakeLists.txt), to show what the compiler's auto-vectorizer achieves.
#include "kernels/scalar_ops.hpp"

NUMGRAD_AUTOVEC_UNIT(avx512)
