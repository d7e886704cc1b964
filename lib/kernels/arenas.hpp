// The thread counts and oneTBB arenas the parallel kernels run in (threads.cpp). Exec::threads
// reaches a kernel already checked (kernels/api.cpp validates it once per call), so resolving
// it here never throws inside a kernel.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include "numgrad/kernel.hpp"

namespace numgrad::detail {

// exec.threads, or default_threads() when it is 0.
int resolve_threads(const Exec& exec);
// The arena with `threads` slots (1..kMaxThreads), created on first use and kept for the life
// of the process.
tbb::task_arena& arena_for(int threads);

}  // namespace numgrad::detail
