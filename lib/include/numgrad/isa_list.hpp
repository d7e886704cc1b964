// The instruction sets numgrad builds kernels for on the target architecture, best last, each
// with the test that this CPU runs it: X(name, runs_here). Everything per ISA (the Isa enum and
// its names, CPU detection and the NUMGRAD_ISA cap, the registry's simd/autovec/tbb families,
// simd.auto's choice) expands from this one list. Adding an ISA: a line here, its flags in
// lib/CMakeLists.txt, its two units in lib/kernels/units/ (docs/design.md §7.2).
#pragma once

#if defined(__x86_64__)
#define NUMGRAD_ISAS(X)                                                                \
  X(sse2, __builtin_cpu_supports("sse2"))                                              \
  X(avx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))             \
  X(avx512, __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && \
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
#else
#error "numgrad: no instruction-set list for this architecture in numgrad/isa_list.hpp"
#endif
