// The registry: the one list of kernels. Tests, benchmarks and tools enumerate it; nothing
// else lists kernels. A family contributes through one function in its own source file.
#pragma once

#include <string_view>
#include <vector>

#include "numgrad/kernel.hpp"

namespace numgrad {

const std::vector<Kernel>& registry();

// The entry with this id; when unknown, throws std::invalid_argument listing the ids that
// contain it (e.g. "simd.avx2.residual" without its element type), else every valid id.
const Kernel& find_kernel(std::string_view id);

}  // namespace numgrad
