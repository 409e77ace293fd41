#include "itk/http/message.h"

#include <algorithm>
#include <cctype>

namespace itk::http {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void Headers::set(std::string_view name, std::string value) {
  fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                               [&](const auto& f) { return iequals(f.first, name); }),
                fields_.end());
  fields_.emplace_back(std::string(name), std::move(value));
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [n, v] : fields_)
    if (iequals(n, name)) return std::string_view(v);
  return std::nullopt;
}

std::string_view Request::path() const {
  std::string_view t(target);
  return t.substr(0, t.find('?'));
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

}  // namespace itk::http
