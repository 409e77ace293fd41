#include "itk/uuid.h"

#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <random>

namespace itk {
namespace {

std::string format(bool upper) {
  std::array<uint8_t, 16> b;
  // OpenSSL's CSPRNG: ids are not secrets, but they must not collide across router restarts.
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    thread_local std::mt19937_64 fallback{std::random_device{}()};
    for (auto& x : b) x = static_cast<uint8_t>(fallback());
  }
  b[6] = (b[6] & 0x0F) | 0x40;  // version 4
  b[8] = (b[8] & 0x3F) | 0x80;  // RFC 4122 variant
  const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0x0F];
  }
  return out;
}

}  // namespace

std::string newUuid() { return format(true); }
std::string newUuidLower() { return format(false); }

bool isUuid(std::string_view s, bool upper_only) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!(std::isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'F') ||
                 (!upper_only && c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace itk
