// Thread-local scratch buffers (see scratch.hpp). Growth is geometric, so a sweep over
// increasing sizes reallocates O(log size) times per thread.
#include "scratch.hpp"

#include <cstdlib>
#include <memory>
#include <new>

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

}  // namespace numgrad::detail
