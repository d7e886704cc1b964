// Instruction sets: which were compiled in, which this CPU runs, and the NUMGRAD_ISA cap
// (one of the names in numgrad/isa_list.hpp) that lets a user see how an older target fares.
#pragma once

#include <string_view>
#include <vector>

#include "numgrad/kernel.hpp"

namespace numgrad {

// The architecture this binary was built for ("x86_64", "aarch64"): whose instruction sets
// (numgrad/isa_list.hpp) the lists below hold.
inline constexpr std::string_view kArchitecture = NUMGRAD_ARCH;

// ISAs with kernels in this binary, best last.
std::vector<Isa> compiled_isas();
// True when this CPU runs `isa` and NUMGRAD_ISA does not cap it away. Throws
// std::invalid_argument for an unknown NUMGRAD_ISA value.
bool isa_available(Isa isa);
// Best available compiled ISA (what Isa::dispatch kernels run).
Isa best_isa();

}  // namespace numgrad
