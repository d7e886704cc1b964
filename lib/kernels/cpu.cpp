// Which instruction sets this CPU runs, capped by NUMGRAD_ISA. Read once: the environment
// of a running process does not change under it.
#include "numgrad/isa.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace numgrad {
namespace {

bool cpu_has(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::none:
      return true;
    case Isa::sse2:
      return __builtin_cpu_supports("sse2");
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    case Isa::dispatch:
      return true;
  }
  return false;
}

int rank(Isa isa) {
  switch (isa) {
    case Isa::none:
      return 0;
    case Isa::sse2:
      return 1;
    case Isa::avx2:
      return 2;
    case Isa::avx512:
      return 3;
    case Isa::dispatch:
      return 3;
  }
  return 0;
}

// Highest rank allowed by NUMGRAD_ISA (3 when unset).
int cap() {
  static const int value = [] {
    const char* env = std::getenv("NUMGRAD_ISA");
    if (env == nullptr || *env == '\0') return 3;
    const std::string s = env;
    if (s == "sse2") return 1;
    if (s == "avx2") return 2;
    if (s == "avx512") return 3;
    return -1;
  }();
  if (value < 0)
    throw std::invalid_argument("NUMGRAD_ISA='" + std::string(std::getenv("NUMGRAD_ISA")) +
                                "' is not one of sse2, avx2, avx512");
  return value;
}

}  // namespace

std::vector<Isa> compiled_isas() {
  return {Isa::sse2, Isa::avx2, Isa::avx512};
}

bool isa_available(Isa isa) {
  if (isa == Isa::dispatch) return true;
  return rank(isa) <= cap() && cpu_has(isa);
}

Isa best_isa() {
  Isa best = Isa::none;
  for (Isa i : compiled_isas())
    if (isa_available(i)) best = i;
  return best;
}

}  // namespace numgrad
