// Thread-local scratch buffers (see scratch.hpp). Growth is geometric, so a sweep over
// increasing sizes reallocates O(log size) times per thread. Also the NUMGRAD_PREFETCH switch
// of the prefetch stream that lives here.
#include "scratch.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "numgrad/kernel.hpp"

namespace numgrad::detail {
namespace {

struct FreeAligned {
  void operator()(void* p) const { std::free(p); }
};

struct Buffer {
  std::unique_ptr<void, FreeAligned> p;
  std::size_t bytes = 0;
};

}  // namespace

void* scratch_bytes(unsigned slot, std::size_t bytes) {
  thread_local Buffer buffers[kSlotCount];
  Buffer& b = buffers[slot];
  if (bytes > b.bytes || !b.p) {
    std::size_t want = b.bytes * 2 > bytes ? b.bytes * 2 : bytes;
    want = (want + 63) / 64 * 64;
    if (want == 0) want = 64;
    void* p = std::aligned_alloc(64, want);
    if (p == nullptr) throw std::bad_alloc();
    b.p.reset(p);
    b.bytes = want;
  }
  return b.p.get();
}

thread_local constinit PrefetchStream tl_prefetch{};

}  // namespace numgrad::detail

namespace numgrad {

bool prefetch_enabled() {
  const char* v = std::getenv("NUMGRAD_PREFETCH");
  if (v == nullptr || *v == '\0' || std::strcmp(v, "1") == 0) return true;
  if (std::strcmp(v, "0") == 0) return false;
  throw std::invalid_argument("NUMGRAD_PREFETCH='" + std::string(v) + "' is not 0 or 1");
}

}  // namespace numgrad
