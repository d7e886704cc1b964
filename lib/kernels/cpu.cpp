// Which instruction sets this CPU runs, capped by NUMGRAD_ISA, for the ISAs of
// numgrad/isa_list.hpp. Read once: the environment of a running process does not change
// under it.
#if defined(__aarch64__)
#include <sys/auxv.h>  // getauxval, HWCAP_ASIMD: the aarch64 list's runs_here test
#endif

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "numgrad/isa.hpp"

namespace numgrad {
namespace {

#define NUMGRAD_ISA_ENTRY(name, runs_here) Isa::name,
constexpr Isa kIsas[] = {NUMGRAD_ISAS(NUMGRAD_ISA_ENTRY)};
#undef NUMGRAD_ISA_ENTRY

bool cpu_has(Isa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();  // the x86 list's __builtin_cpu_supports needs it
#endif
  switch (isa) {
#define NUMGRAD_ISA_CASE(name, runs_here) \
  case Isa::name:                         \
    return runs_here;
    NUMGRAD_ISAS(NUMGRAD_ISA_CASE)
#undef NUMGRAD_ISA_CASE
    default:
      return true;  // none, dispatch
  }
}

// The best ISA NUMGRAD_ISA allows (the last one when unset), by its rank in the list.
Isa cap() {
  static const Isa value = [] {
    const char* env = std::getenv("NUMGRAD_ISA");
    if (env == nullptr || *env == '\0') return std::end(kIsas)[-1];
    for (Isa i : kIsas)
      if (name(i) == env) return i;
    return Isa::none;
  }();
  if (value == Isa::none) {
    std::string names;
    for (Isa i : kIsas) names += (names.empty() ? "" : ", ") + std::string(name(i));
    throw std::invalid_argument("NUMGRAD_ISA='" + std::string(std::getenv("NUMGRAD_ISA")) +
                                "' is not one of " + names);
  }
  return value;
}

}  // namespace

std::vector<Isa> compiled_isas() {
  return {std::begin(kIsas), std::end(kIsas)};
}

bool isa_available(Isa isa) {
  if (isa == Isa::none) return true;
  if (isa == Isa::dispatch) return best_isa() != Isa::none;
  return isa <= cap() && cpu_has(isa);
}

Isa best_isa() {
  Isa best = Isa::none;
  for (Isa i : kIsas)
    if (isa_available(i)) best = i;
  return best;
}

bool Kernel::is_supported() const {
  return isa_available(isa);
}

}  // namespace numgrad
