// Durations as administrators write them in YAML: "250ms", "30s", "5m", "2h", "5d", "1h30m".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "itk/status.h"

namespace itk {

// One or more <digits><unit> parts, unit one of ms, s, m, h, d; no sign, no spaces. A bare
// number is refused: its unit would be a guess. Errors say what is wrong with the text.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);
// The shortest exact form: 90000ms -> "1m30s", 0 -> "0s".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace itk
