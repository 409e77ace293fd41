// Structured logging: one line per event, with key=value fields (text) or one JSON object (json).
// Thread-safe. Never logs payload content: callers pass identifiers, not bodies.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace itk::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

struct Field {
  std::string_view key;
  std::string value;
  Field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, long long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, double v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
};

// Process-wide settings; call before starting threads. Default: text, info, to stderr.
void configure(Format format, Level level);
bool parseFormat(std::string_view text, Format* out);
bool parseLevel(std::string_view text, Level* out);
bool enabled(Level level);

// `event` is a dotted name such as "message.accepted"; fields follow in the given order.
void write(Level level, std::string_view event, std::initializer_list<Field> fields);

// Formats one line without writing it (used by write(), exposed for tests).
std::string formatLine(Format format, Level level, std::string_view timestamp,
                       std::string_view event, std::initializer_list<Field> fields);

inline void debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, event, fields);
}
inline void info(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::kInfo, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::kWarn, event, fields);
}
inline void error(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::kError, event, fields);
}

}  // namespace itk::log
