#include "itk/clock.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace itk {

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

namespace {

struct Civil {
  int year, month, day, hour, minute, second, millis;
};

Civil toCivil(TimePoint t) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(t.time_since_epoch());
  auto days = floor<std::chrono::days>(ms);
  year_month_day ymd{sys_days{days}};
  auto rest = ms - days;
  auto h = floor<hours>(rest);
  rest -= h;
  auto m = floor<minutes>(rest);
  rest -= m;
  auto s = floor<seconds>(rest);
  rest -= s;
  return Civil{int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())),
               int(h.count()), int(m.count()), int(s.count()), int(rest.count())};
}

bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string formatIsoSeconds(TimePoint t) {
  Civil c = toCivil(t);
  char buf[64];  // room for any int, so the compiler can prove no truncation
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

std::string formatIsoMillis(TimePoint t) {
  Civil c = toCivil(t);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day,
                c.hour, c.minute, c.second, c.millis);
  return buf;
}

std::string formatCompact(TimePoint t) {
  Civil c = toCivil(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

bool parseIsoDateTime(std::string_view s, TimePoint* out) {
  using namespace std::chrono;
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &mo) ||
      s[7] != '-' || !digits(s, 8, 2, &d) || s[10] != 'T' || !digits(s, 11, 2, &h) ||
      s[13] != ':' || !digits(s, 14, 2, &mi) || s[16] != ':' || !digits(s, 17, 2, &sec)) {
    return false;
  }
  size_t pos = 19;
  long long frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    long long scale = 100000000;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (scale > 0) frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  int offset_minutes = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int sign = s[pos] == '-' ? -1 : 1;
      int oh, om;
      if (!digits(s, pos + 1, 2, &oh)) return false;
      size_t mpos = pos + 3;
      if (mpos < s.size() && s[mpos] == ':') ++mpos;
      if (!digits(s, mpos, 2, &om)) return false;
      offset_minutes = sign * (oh * 60 + om);
      pos = mpos + 2;
    } else {
      return false;
    }
  }
  if (pos != s.size()) return false;
  year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return false;
  auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + nanoseconds{frac_ns} -
            minutes{offset_minutes};
  *out = time_point_cast<Duration>(tp);
  return true;
}

}  // namespace itk
