#include "delivery/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace itk {

std::chrono::milliseconds RetryPolicy::backoff(int attempts_made) const {
  double initial = static_cast<double>(spec_.initial_backoff.count());
  double cap = static_cast<double>(spec_.max_backoff.count());
  double delay = initial * std::pow(std::max(spec_.multiplier, 1.0), std::max(attempts_made - 1, 0));
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(delay, cap)));
}

std::optional<TimePoint> RetryPolicy::nextAttempt(int attempts_made, TimePoint now,
                                                  TimePoint deadline, double unit_random) const {
  if (attempts_made >= spec_.max_attempts) return std::nullopt;
  double base = static_cast<double>(backoff(attempts_made).count());
  // Jitter spreads retries of many messages to one endpoint: base * (1 +/- jitter).
  double factor = 1.0 + spec_.jitter * (2.0 * unit_random - 1.0);
  auto delay = std::chrono::milliseconds(static_cast<int64_t>(std::max(base * factor, 0.0)));
  TimePoint next = now + delay;
  if (next > deadline) return std::nullopt;
  return next;
}

}  // namespace itk
