// File names built from what a peer sent (tracking ids, mailbox and message ids): only
// [A-Za-z0-9_-], so no path separator, dot or control character ever reaches the file system.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace itk {

// True when `s` may be used as it is: 1..`max` characters of [A-Za-z0-9_-].
bool isSafeFileToken(std::string_view s, size_t max = 100);

// `s` cut to `max` characters with every other character replaced by '_' ("message" when empty).
std::string safeFileName(std::string_view s, size_t max = 80);

}  // namespace itk
