// An HTTP/1.1 server (optionally TLS 1.2+, with optional or required client certificates) that
// hands each request to an asynchronous handler. Limits keep hostile clients from holding the
// router: body and header size, concurrent connections, an idle timeout while waiting for a
// request and a read timeout for receiving one (a slow-loris client is cut off).
#pragma once

#include <atomic>
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

struct TlsServerConfig {
  std::string cert_file;  // PEM certificate chain
  std::string key_file;   // PEM private key
  std::string ca_file;    // PEM CA bundle that client certificates must chain to
  enum class ClientCert { kNone, kOptional, kRequired } client_cert = ClientCert::kNone;
};

struct ServerLimits {
  size_t max_body_bytes = 10 * 1024 * 1024;
  size_t max_header_bytes = 16 * 1024;
  size_t max_connections = 1024;
  // Waiting for the first byte of a request on an open connection (keep-alive idle).
  std::chrono::milliseconds idle_timeout{60000};
  // Receiving one whole request (and the TLS handshake) once it has started.
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
};

struct ServerConfig {
  std::string name = "http";  // for logs
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (tests)
  std::optional<TlsServerConfig> tls;
  ServerLimits limits;
  // Called on an I/O thread each time an inbound TLS handshake fails (also counted in
  // ServerStats), for the owner's metrics. Must be quick. Optional.
  std::function<void()> on_tls_handshake_failure;
};

// Counters a listener keeps; read them for metrics. All relaxed atomics.
struct ServerStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};  // over max_connections
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> bad_requests{0};  // unparseable, too large
  std::atomic<int64_t> open_connections{0};
};

// Called exactly once per request, from any thread; the server writes it on the connection.
using Responder = std::function<void(Response)>;
// Invoked on an io_context thread for each complete request. It may answer inline or later.
using Handler = std::function<void(Request&&, Responder)>;

class Server {
 public:
  // Binds and starts accepting on `io`'s threads. Fails when the address cannot be bound or the
  // TLS files cannot be loaded. The handler must outlive the server.
  static Result<std::unique_ptr<Server>> start(boost::asio::io_context& io, ServerConfig config,
                                               Handler handler);
  virtual ~Server() = default;

  virtual uint16_t port() const = 0;
  // Closes the listening socket. Connections finish the request they are handling, then close.
  // Thread-safe, idempotent.
  virtual void stopAccepting() = 0;
  virtual bool listening() const = 0;
  virtual const ServerStats& stats() const = 0;
};

}  // namespace itk::http
