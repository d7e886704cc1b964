// Thread counts for the parallel kernels. The count is a parameter of each call (Exec::threads);
// this header only says what 0 ("the default") means, so tools and kernels agree on it.
#pragma once

namespace numgrad {

// Largest thread count Exec::threads and NUMGRAD_THREADS accept.
inline constexpr int kMaxThreads = 1024;

// NUMGRAD_THREADS when set and not empty (a whole number from 1 to kMaxThreads, else
// std::invalid_argument naming the variable and its value); otherwise the number of hardware
// threads this process may run on (oneTBB's default concurrency, which honours the CPU
// affinity mask, e.g. under taskset).
int default_threads();

}  // namespace numgrad
