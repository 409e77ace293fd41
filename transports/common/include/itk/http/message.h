// HTTP requests and responses as plain values: no Beast types, so code that handles HTTP need
// not compile Beast (only transports/common/src does).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace itk::http {

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field of that name with one.
  void set(std::string_view name, std::string value);
  // The first value of that name, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& all() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool iequals(std::string_view a, std::string_view b);

struct Request {
  std::string method;  // "POST"
  std::string target;  // "/itk/soap?x=1"
  Headers headers;
  std::string body;
  // Filled by the server: the peer and, over TLS, the verified client certificate's subject
  // (RFC 2253 form, empty when none was presented).
  std::string peer;
  bool tls = false;
  std::string tls_client_subject;

  std::string_view path() const;  // target without the query
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  bool close = false;  // close the connection after this response

  static Response text(int status, std::string body, std::string content_type = "text/plain");
};

}  // namespace itk::http
