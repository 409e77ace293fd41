#include "itk/file_names.h"

#include <cctype>

namespace itk {

namespace {
bool safeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}
}  // namespace

bool isSafeFileToken(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!safeChar(c)) return false;
  return true;
}

std::string safeFileName(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += safeChar(c) ? c : '_';
  return out.empty() ? "message" : out;
}

}  // namespace itk
