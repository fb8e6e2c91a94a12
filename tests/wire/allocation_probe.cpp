// The global operator new/delete replacement behind AllocationProbe: plain malloc/free, plus the
// largest request size while a probe is armed. Atomics keep it well defined if doctest or the
// standard library allocates from another thread.
#include "tests/wire/allocation_probe.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<bool> armed{false};
std::atomic<std::size_t> largest_request{0};

void record(std::size_t size) noexcept {
  if (!armed.load(std::memory_order_relaxed)) return;
  std::size_t seen = largest_request.load(std::memory_order_relaxed);
  while (size > seen && !largest_request.compare_exchange_weak(seen, size)) {
  }
}

}  // namespace

void* operator new(std::size_t size) {
  record(size);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace starling::wire::testing {

AllocationProbe::AllocationProbe() {
  largest_request.store(0);
  armed.store(true);
}

AllocationProbe::~AllocationProbe() { armed.store(false); }

std::size_t AllocationProbe::largest() const { return largest_request.load(); }

}  // namespace starling::wire::testing
