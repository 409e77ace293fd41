#include "syntax.h"

#include <cctype>

#include "itk/envelope/vocabulary.h"
#include "itk/uuid.h"
#include "itk/xml/text.h"

namespace itk::itk2::internal {
namespace {

bool isAsciiAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

bool isPrefixedUuid(std::string_view text, bool upper_only) {
  constexpr size_t kUuidLength = 36;
  // Try each split of [a-zA-Z_:]* prefix and UUID, as a backtracking regex would.
  for (size_t prefix = 0; prefix + kUuidLength <= text.size(); ++prefix) {
    if (isUuid(text.substr(prefix, kUuidLength), upper_only)) return true;
    char c = text[prefix];
    if (!(isAsciiAlpha(c) || c == '_' || c == ':')) return false;
  }
  return false;
}

bool isNcName(std::string_view text) {
  if (text.empty()) return false;
  auto start = [](unsigned char c) { return isAsciiAlpha(c) || c == '_' || c >= 0x80; };
  if (!start(text[0])) return false;
  for (unsigned char c : text.substr(1)) {
    if (!(start(c) || isDigit(c) || c == '-' || c == '.')) return false;
  }
  return true;
}

bool isItkAddress(std::string_view uri) {
  if (!uri.starts_with(kItkAddressPrefix) || uri.size() == kItkAddressPrefix.size()) return false;
  char c = uri[kItkAddressPrefix.size()];
  return isAsciiAlpha(c) || isDigit(c) || c == '_' || c == ':';
}

bool isToolkitIdentity(std::string_view uri) {
  if (!uri.starts_with(kItkIdentityPrefix)) return false;
  std::string_view rest = uri.substr(kItkIdentityPrefix.size());
  size_t tokens = 0;
  size_t start = 0;
  while (true) {
    size_t colon = rest.find(':', start);
    std::string_view token = rest.substr(start, colon - start);
    if (token.empty()) return false;
    ++tokens;
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return tokens >= 2;
}

bool isOid(std::string_view text) {
  bool digit_run = false;
  for (char c : text) {
    if (isDigit(c)) {
      digit_run = true;
    } else if (c == '.' && digit_run) {
      digit_run = false;
    } else {
      return false;
    }
  }
  return digit_run;
}

bool isAbsoluteUri(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || !isAsciiAlpha(text[0])) return false;
  std::string_view scheme = text.substr(0, colon);
  for (char c : scheme) {
    if (!(isAsciiAlpha(c) || isDigit(c) || c == '+' || c == '-' || c == '.')) return false;
  }
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty()) return false;
  for (unsigned char c : rest) {
    if (c <= 0x20 || c == 0x7F || c == '<' || c == '>' || c == '"' || c == '{' || c == '}' ||
        c == '|' || c == '\\' || c == '^' || c == '`') {
      return false;
    }
  }
  if (equalsIgnoreCase(scheme, "http") || equalsIgnoreCase(scheme, "https")) {
    return rest.starts_with("//") && rest.size() > 2 && rest[2] != '/';
  }
  return true;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

bool parseItkBoolean(std::string_view text) {
  return equalsIgnoreCase(xml::trimXmlSpace(text), "true");
}

}  // namespace itk::itk2::internal
