#include "itk/duration.h"

#include <charconv>

namespace itk {

bool parseDuration(std::string_view text, std::chrono::milliseconds* out) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data() || value < 0) return false;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  long long scale;
  if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "ms") scale = 1;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  else return false;
  if (value > (1LL << 52) / scale) return false;  // absurdly long: refuse rather than overflow
  *out = std::chrono::milliseconds(value * scale);
  return true;
}

std::string formatDuration(std::chrono::milliseconds d) {
  long long ms = d.count();
  struct Unit {
    long long scale;
    const char* suffix;
  };
  for (Unit u : {Unit{86'400'000, "d"}, Unit{3'600'000, "h"}, Unit{60'000, "m"}, Unit{1000, "s"}}) {
    if (ms != 0 && ms % u.scale == 0) return std::to_string(ms / u.scale) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace itk
