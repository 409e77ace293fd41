#include "itk/routing/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace itk {
namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};
// Longest name first so "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 5> kUnits = {{
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};

}  // namespace

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text.empty()) return Status::invalid("empty duration");
  std::string quoted = "'";
  quoted += text;
  quoted += '\'';
  int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t digits = 0;
    int64_t value = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) {
        return Status::invalid("duration " + quoted + " is too long");
      }
      value = value * 10 + (rest[digits] - '0');
      ++digits;
    }
    if (digits == 0) {
      return Status::invalid("duration " + quoted +
                             " must be a number with a unit (ms, s, m, h, d), e.g. 30s");
    }
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (rest.starts_with(u.name)) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) {
      return Status::invalid("duration " + quoted +
                             " needs a unit after each number: ms, s, m, h or d");
    }
    rest.remove_prefix(unit->name.size());
    if (value > (std::numeric_limits<int64_t>::max() - total) / unit->ms) {
      return Status::invalid("duration " + quoted + " is too long");
    }
    total += value * unit->ms;
  }
  return std::chrono::milliseconds(total);
}

std::string formatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (ms >= it->ms) {
      out += std::to_string(ms / it->ms);
      out += it->name;
      ms %= it->ms;
    }
  }
  return out;
}

}  // namespace itk
