// RetryPolicy: pure. Given a route's RetrySpec, the attempt just failed and the time, when is the
// next attempt — or is it time to give up? (DESIGN.md §1: bounded attempts, exponential backoff
// with jitter and a cap, an overall deadline.)
#pragma once

#include <optional>

#include "itk/clock.h"
#include "itk/routing.h"

namespace itk {

class RetryPolicy {
 public:
  explicit RetryPolicy(RetrySpec spec) : spec_(spec) {}

  // `attempts_made` counts the attempt that just failed (1 after the first failure).
  // `unit_random` is a number in [0, 1) from the caller's random source (tests pass fixed values).
  // Returns nullopt when attempts or the deadline are exhausted.
  std::optional<TimePoint> nextAttempt(int attempts_made, TimePoint now, TimePoint deadline,
                                       double unit_random) const;
  // The delay before attempt `attempts_made + 1`, before jitter and the deadline are applied.
  std::chrono::milliseconds backoff(int attempts_made) const;

 private:
  RetrySpec spec_;
};

}  // namespace itk
