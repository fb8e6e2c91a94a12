// AllocationProbe: records the largest single operator new request made while a probe is
// alive, so that tests can show that forged lengths cause no large allocation. The wire test
// executable replaces the global operator new/delete (allocation_probe.cpp) to do it.
// Single-threaded: one probe at a time, on the test thread.
#pragma once

#include <cstddef>

namespace starling::wire::testing {

class AllocationProbe {
 public:
  AllocationProbe();  // starts recording (largest() restarts at 0)
  ~AllocationProbe();
  AllocationProbe(const AllocationProbe&) = delete;
  AllocationProbe& operator=(const AllocationProbe&) = delete;

  // The largest request, in bytes, since construction.
  std::size_t largest() const;
};

}  // namespace starling::wire::testing
