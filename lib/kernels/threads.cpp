// Thread-count resolution and the cache of oneTBB arenas, one per thread count. Kept in a
// baseline translation unit: the arenas are process-wide objects, and oneTBB's templates must
// never be compiled with ISA flags (docs/design.md §5).
#include "numgrad/threads.hpp"

#include <oneapi/tbb/info.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "arenas.hpp"

namespace numgrad {

int default_threads() {
  // Read on every call (not cached) so that a test or tool that sets the variable sees it;
  // kernels reach this only on their parallel path, where a getenv is noise.
  if (const char* env = std::getenv("NUMGRAD_THREADS"); env != nullptr && *env != '\0') {
    int value = 0;
    const char* end = env + std::strlen(env);
    const auto [ptr, ec] = std::from_chars(env, end, value);
    if (ec != std::errc() || ptr != end || value < 1 || value > kMaxThreads)
      throw std::invalid_argument("NUMGRAD_THREADS='" + std::string(env) +
                                  "': expected a whole number of threads from 1 to " +
                                  std::to_string(kMaxThreads));
    return value;
  }
  static const int hardware = std::max(1, tbb::info::default_concurrency());
  return hardware;
}

namespace detail {

int resolve_threads(const Exec& exec) {
  return exec.threads == 0 ? default_threads() : exec.threads;
}

tbb::task_arena& arena_for(int threads) {
  // One atomic load per call once an arena exists; the mutex is only taken to create one.
  // Arenas are never destroyed: tearing them down during static destruction would race
  // oneTBB's own shutdown, and there are at most kMaxThreads of them.
  static std::atomic<tbb::task_arena*> arenas[kMaxThreads + 1];
  static std::mutex creating;
  tbb::task_arena* arena = arenas[threads].load(std::memory_order_acquire);
  if (arena != nullptr) return *arena;
  std::lock_guard<std::mutex> lock(creating);
  arena = arenas[threads].load(std::memory_order_relaxed);
  if (arena == nullptr) {
    // oneTBB never runs more workers than the machine's concurrency (and warns on stderr when
    // asked to); capping here keeps the tools' output clean. Results do not depend on it:
    // chunking is fixed by the problem, not by the thread count.
    arena = new tbb::task_arena(std::min(threads, tbb::info::default_concurrency()));
    arena->initialize();
    arenas[threads].store(arena, std::memory_order_release);
  }
  return *arena;
}

}  // namespace detail
}  // namespace numgrad
