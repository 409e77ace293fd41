#include "itk/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "itk/clock.h"

namespace itk::log {
namespace {

std::atomic<Format> g_format{Format::kText};
std::atomic<Level> g_level{Level::kInfo};

spdlog::logger& logger() {
  // spdlog's stderr sink serialises whole lines across threads; we format the line ourselves.
  static auto instance = [] {
    auto l = std::make_shared<spdlog::logger>("itk", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *instance;
}

std::string_view levelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Text values are quoted when they hold spaces, quotes or '=' so a line stays machine-splittable.
void appendTextValue(std::string& out, std::string_view s) {
  bool quote = s.empty() || s.find_first_of(" \"=\t\n\r") != std::string_view::npos;
  if (!quote) {
    out += s;
    return;
  }
  appendJsonString(out, s);
}

}  // namespace

void configure(Format format, Level level) {
  g_format = format;
  g_level = level;
}

bool parseFormat(std::string_view text, Format* out) {
  if (text == "text") *out = Format::kText;
  else if (text == "json") *out = Format::kJson;
  else return false;
  return true;
}

bool parseLevel(std::string_view text, Level* out) {
  if (text == "debug") *out = Level::kDebug;
  else if (text == "info") *out = Level::kInfo;
  else if (text == "warn" || text == "warning") *out = Level::kWarn;
  else if (text == "error") *out = Level::kError;
  else return false;
  return true;
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

std::string formatLine(Format format, Level level, std::string_view timestamp,
                       std::string_view event, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(128);
  if (format == Format::kJson) {
    line += "{\"ts\":";
    appendJsonString(line, timestamp);
    line += ",\"level\":";
    appendJsonString(line, levelName(level));
    line += ",\"event\":";
    appendJsonString(line, event);
    for (const auto& f : fields) {
      line += ',';
      appendJsonString(line, f.key);
      line += ':';
      appendJsonString(line, f.value);
    }
    line += '}';
  } else {
    line += timestamp;
    line += ' ';
    line += levelName(level);
    line += ' ';
    line += event;
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      appendTextValue(line, f.value);
    }
  }
  return line;
}

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line = formatLine(g_format.load(std::memory_order_relaxed), level,
                                formatIsoMillis(SystemClock::instance().now()), event, fields);
  logger().log(spdlog::level::info, "{}", line);
}

}  // namespace itk::log
