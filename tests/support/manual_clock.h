// ManualClock: a thread-safe Clock that only moves when the test says so (no sleeps for timing).
#pragma once

#include <mutex>

#include "itk/clock.h"

namespace itk::test {

class ManualClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z unless told otherwise.
  explicit ManualClock(TimePoint start = fromEpochMillis(1767225600000)) : now_(start) {}

  TimePoint now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void set(TimePoint t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }
  void advance(Duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_;
};

}  // namespace itk::test
