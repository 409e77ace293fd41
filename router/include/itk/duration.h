#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace itk {

// Parses "250ms", "30s", "5m", "2h", "5d" (a bare number is seconds). False on anything else.
bool parseDuration(std::string_view text, std::chrono::milliseconds* out);
// The shortest exact form: 90000ms -> "90s", 7200000ms -> "2h".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace itk
