// The injectable clock: production code asks a Clock for the time, tests advance a ManualClock
// (tests/support) instead of sleeping.
#pragma once

#include <chrono>
#include <string>

namespace itk {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;

// Thread-safe: now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
  // The process-wide instance.
  static const SystemClock& instance();
};

// yyyy-MM-ddTHH:mm:ssZ (the ITK timestamp form, UTC, no fraction).
std::string formatIsoSeconds(TimePoint t);
// yyyy-MM-ddTHH:mm:ss.mmmZ (logs).
std::string formatIsoMillis(TimePoint t);
// yyyyMMddHHmmss (HL7, DTS StatusRecord), UTC.
std::string formatCompact(TimePoint t);
// Parses xs:dateTime: yyyy-MM-ddTHH:mm:ss[.fff][Z|(+|-)HH[:]MM]. No offset means UTC.
bool parseIsoDateTime(std::string_view text, TimePoint* out);

// Milliseconds since the Unix epoch; the store's portable time representation.
inline int64_t toEpochMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint fromEpochMillis(int64_t ms) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::milliseconds(ms)));
}

}  // namespace itk
