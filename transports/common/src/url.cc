// Absolute http(s) URLs for the client: enough of RFC 3986 for endpoint configuration.
#include <cctype>
#include <charconv>

#include "itk/http/client.h"

namespace itk::http {

namespace {

uint16_t defaultPort(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool validHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

}  // namespace

Result<Url> Url::parse(std::string_view text) {
  auto bad = [&](std::string why) {
    return Status::invalid("bad URL '" + std::string(text) + "': " + std::move(why));
  };
  Url url;
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return bad("it must start with http:// or https://");
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") return bad("the scheme must be http or https");
  std::string_view rest = text.substr(sep + 3);
  auto path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (authority.find('@') != std::string_view::npos)
    return bad("user information in URLs is not supported");

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after the IPv6 address");
      port_text = after.substr(1);
    }
    for (char c : url.host)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return bad("bad IPv6 address");
  } else {
    auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    for (char c : url.host)
      if (!validHostChar(c)) return bad("bad character in the host name");
    url.host = lower(url.host);
  }
  if (url.host.empty()) return bad("no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
      return bad("the port must be a number from 1 to 65535");
    url.port = static_cast<uint16_t>(port);
  } else {
    url.port = defaultPort(url.scheme);
  }
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad("spaces or control characters in the path");
  // Appended piece by piece: GCC 12 at -O3 misreports "/" + string as an overlapping copy.
  if (target.empty() || target.front() == '?') url.target += '/';
  url.target.append(target);
  return url;
}

namespace {

// The host as it appears in a URL: an IPv6 address in brackets.
std::string urlHost(const std::string& host) {
  if (host.find(':') == std::string::npos) return host;
  std::string h;
  h.reserve(host.size() + 2);
  h += '[';
  h += host;
  h += ']';
  return h;
}

}  // namespace

std::string Url::hostHeader() const {
  std::string h = urlHost(host);
  if (port != defaultPort(scheme)) {
    h += ':';
    h += std::to_string(port);
  }
  return h;
}

std::string Url::origin() const {
  return scheme + "://" + urlHost(host) + ":" + std::to_string(port);
}

std::string Url::toString() const {
  return scheme + "://" + hostHeader() + target;
}

}  // namespace itk::http
