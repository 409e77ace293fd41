// An HTTP/1.1 client (optionally TLS 1.2+ with a client certificate) with pooled keep-alive
// connections per origin. One Client per outbound endpoint, since each endpoint has its own TLS
// files. Beast-free header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "itk/http/message.h"
#include "itk/status.h"

namespace boost::asio {
class io_context;
}

namespace itk::http {

// http://host[:port]/path?query or https://...
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  uint16_t port = 0;   // the scheme's default when absent
  std::string target;  // "/path?query" ("/" when absent)

  static Result<Url> parse(std::string_view text);
  std::string origin() const;  // "https://host:port"
  std::string toString() const;
};

struct ClientTlsConfig {
  std::string ca_file;    // PEM bundle the server's certificate must chain to; empty: system CAs
  std::string cert_file;  // PEM client certificate chain (mutual TLS); optional
  std::string key_file;   // its private key
  bool verify_peer = true;
  // The name the server's certificate must carry (and the SNI); empty: the URL's host.
  std::string server_name;
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};   // TCP connect plus TLS handshake
  std::chrono::milliseconds response_timeout{30000};  // default per request
  size_t max_connections_per_origin = 16;  // requests beyond this wait for a free connection
  std::chrono::milliseconds idle_keepalive{60000};    // an idle pooled connection is closed after
  size_t max_response_bytes = size_t{110} << 20;      // MESH chunks can be 100 MB
  std::string user_agent = "itk-router";
};

struct ClientRequest {
  std::string method = "POST";
  std::string url;  // absolute
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{0};  // 0: ClientOptions::response_timeout
};

// Called exactly once, never inline from request(), on an I/O thread. Errors: kUnavailable
// (cannot connect, connection reset, TLS failure — with the reason), kTimeout (no complete
// response in time), kInvalid (bad URL, response too large or malformed).
using ResponseCallback = std::function<void(Result<Response>)>;

class Client {
 public:
  // Fails when the TLS files cannot be loaded.
  static Result<std::unique_ptr<Client>> create(boost::asio::io_context& io,
                                                ClientOptions options,
                                                std::optional<ClientTlsConfig> tls = {});
  virtual ~Client() = default;
  // Thread-safe. A request is sent on an idle pooled connection to its origin, or a new one.
  virtual void request(ClientRequest request, ResponseCallback done) = 0;
  // Closes idle connections; requests in flight complete. Thread-safe.
  virtual void shutdown() = 0;
};

}  // namespace itk::http
