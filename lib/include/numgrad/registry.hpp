// The registry: the one list of kernels. Tests, benchmarks and tools enumerate it; nothing
// else lists kernels. A family contributes through one function in its own source file.
#pragma once

#include <string_view>
#include <vector>

#include "numgrad/kernel.hpp"

namespace numgrad {

const std::vector<Kernel>& registry();

// The entry with this id; throws std::invalid_argument listing the valid ids when unknown.
const Kernel& find_kernel(std::string_view id);

}  // namespace numgrad
