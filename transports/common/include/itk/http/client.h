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
#include <string_view>

#include "itk/http/message.h"
#include "itk/status.h"

namespace boost::asio {
class io_context;
}

namespace itk::http {

// http://host[:port]/path?query or https://... (no user info, no fragment).
struct Url {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 0;   // the scheme's default when absent
  std::string target;  // "/path?query" ("/" when absent)

  static Result<Url> parse(std::string_view text);
  bool tls() const { return scheme == "https"; }
  // "host" or "host:port" when the port is not the scheme's default (the Host header).
  std::string hostHeader() const;
  std::string origin() const;  // "https://host:port" (always with the port)
  std::string toString() const;
};

struct ClientTlsConfig {
  std::string ca_file;    // PEM bundle the server's certificate must chain to; empty: system CAs
  std::string cert_file;  // PEM client certificate chain (mutual TLS); optional
  std::string key_file;   // its private key (required with cert_file)
  bool verify_peer = true;
  // The name the server's certificate must carry (and the SNI); empty: the URL's host. An IP
  // address is checked against the certificate's IP subjectAltNames and sends no SNI.
  std::string server_name;
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};   // TCP connect plus TLS handshake
  std::chrono::milliseconds response_timeout{30000};  // default per request
  size_t max_connections_per_origin = 16;  // requests beyond this wait for a free connection
  std::chrono::milliseconds idle_keepalive{60000};  // an idle pooled connection is closed after
  size_t max_response_bytes = size_t{110} << 20;    // MESH chunks can be 100 MB
  size_t max_response_header_bytes = 64 * 1024;
  std::string user_agent = "itk-router";
};

struct ClientRequest {
  std::string method = "POST";
  std::string url;  // absolute
  Headers headers;  // Host, User-Agent and Content-Length are set by the client unless given
  std::string body;
  // The whole exchange (waiting for a pooled connection, connecting, sending, receiving) must
  // finish within this. 0: ClientOptions::response_timeout.
  std::chrono::milliseconds timeout{0};
};

// Counters a client keeps, for metrics and tests. A snapshot.
struct ClientStats {
  uint64_t requests = 0;
  uint64_t connections_opened = 0;  // TCP connections started (each then handshakes TLS)
  uint64_t reused = 0;              // requests sent on a pooled connection
  uint64_t retried = 0;  // requests resent on a fresh connection after a stale pooled one failed
  uint64_t idle_connections = 0;  // pooled and idle now
};

// Called exactly once, never inline from request(), on an I/O thread. Errors: kUnavailable
// (cannot resolve or connect, connect timeout, TLS failure, connection closed or reset — with the
// reason), kTimeout (no complete response within the request's timeout), kInvalid (bad URL,
// response too large or malformed). Any HTTP status is a successful Response.
using ResponseCallback = std::function<void(Result<Response>)>;

class Client {
 public:
  // Fails when the TLS files cannot be loaded. `tls` configures https URLs; without it https
  // URLs are verified against the system CAs. `io` must outlive the client and run its handlers.
  static Result<std::unique_ptr<Client>> create(boost::asio::io_context& io, ClientOptions options,
                                                std::optional<ClientTlsConfig> tls = {});
  // Closes idle connections (as shutdown()). Requests in flight still complete their callbacks
  // as long as the io_context runs.
  virtual ~Client() = default;
  // Thread-safe. The request goes on an idle pooled connection to its origin, or a new one (up
  // to max_connections_per_origin), or waits for one to come free. A pooled connection that
  // fails before any byte of the response arrives (the server closed it while idle) is replaced
  // by a fresh connection once; any other failure is reported, never retried.
  virtual void request(ClientRequest request, ResponseCallback done) = 0;
  // Closes idle connections; requests in flight and waiting complete; later requests fail with
  // kUnavailable. Thread-safe, idempotent.
  virtual void shutdown() = 0;
  virtual ClientStats stats() const = 0;
};

}  // namespace itk::http
