// The instruction sets numgrad builds kernels for on the target architecture, best last, each
// with the test that this CPU runs it: X(name, runs_here). Everything per ISA (the Isa enum and
// its names, CPU detection and the NUMGRAD_ISA cap, the registry's simd/autovec/tbb families,
// simd.auto's choice) expands from this one list. Adding an ISA: a line here, its flags in
// lib/CMakeLists.txt, its units in lib/kernels/units/ (docs/checklists.md §7.2).
//
// NUMGRAD_AUTOVEC_ISAS lists the ISAs that also have an autovec.<isa> unit: the scalar source
// compiled with that ISA's flags. It exists only where those flags differ from the baseline the
// `scalar` family is compiled with; otherwise it would be the scalar family's machine code under
// another name (docs/design.md §5.4).
//
// NUMGRAD_ARCH names the target architecture, as `numgrad info` and the benchmarks report it.
#pragma once

#if defined(__x86_64__)
#define NUMGRAD_ARCH "x86_64"
#define NUMGRAD_ISAS(X)                                                                \
  X(sse2, __builtin_cpu_supports("sse2"))                                              \
  X(avx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))             \
  X(avx512, __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && \
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
#define NUMGRAD_AUTOVEC_ISAS(X) NUMGRAD_ISAS(X)
#elif defined(__aarch64__)
// Advanced SIMD (NEON) with FMA is part of every AArch64 Linux target, so neon64 is also the
// baseline: the hardware capability is still checked (HWCAP_ASIMD, from <sys/auxv.h>, which
// lib/kernels/cpu.cpp includes), and there is no autovec family (the scalar family already is
// the scalar source compiled for NEON). xsimd 8.1 knows no SVE.
#define NUMGRAD_ARCH "aarch64"
#define NUMGRAD_ISAS(X) X(neon64, (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0)
#define NUMGRAD_AUTOVEC_ISAS(X)
#else
#error "numgrad: no instruction-set list for this architecture in numgrad/isa_list.hpp"
#endif
