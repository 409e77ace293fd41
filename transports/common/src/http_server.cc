// The HTTP/1.1 server. This is one of the few translation units that compile Beast.
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <optional>

#include "itk/http/server.h"
#include "itk/log.h"
#include "tls_context.h"

namespace itk::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// State shared by the listener and its connections; connections keep it alive.
struct Core {
  Core(asio::io_context& io, ServerConfig config, Handler handler)
      : io(io), config(std::move(config)), handler(std::move(handler)),
        acceptor(asio::make_strand(io)) {}

  asio::io_context& io;
  ServerConfig config;
  Handler handler;
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor;
  ServerStats stats;
  std::atomic<bool> stopping{false};
  std::atomic<bool> listening{false};
};

std::string peerOf(const tcp::socket& socket) {
  error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string subjectOf(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return {};
  std::string out;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }
  X509_free(cert);
  return out;
}

// If a handler drops its Responder without answering (a bug), the client still gets a 500
// instead of a connection that hangs until it times out.
struct ResponderState {
  std::function<void(Response)> deliver;
  std::atomic<bool> answered{false};
  ~ResponderState() {
    if (!answered.exchange(true) && deliver)
      deliver(Response::text(500, "internal error: the request was not answered\n"));
  }
};

template <bool kTls>
class Session : public std::enable_shared_from_this<Session<kTls>> {
  using Stream =
      std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  Session(tcp::socket&& socket, std::shared_ptr<Core> core)
      : core_(std::move(core)),
        peer_(peerOf(socket)),
        stream_(makeStream(std::move(socket), *core_)),
        idle_timer_(stream_.get_executor()) {
    core_->stats.open_connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() { core_->stats.open_connections.fetch_sub(1, std::memory_order_relaxed); }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->lowest().expires_after(self->limits().read_timeout);
        self->stream_.async_handshake(ssl::stream_base::server,
                                      beast::bind_front_handler(&Session::onHandshake, self));
      } else {
        self->waitForRequest();
      }
    });
  }

 private:
  static Stream makeStream(tcp::socket&& socket, Core& core) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *core.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerLimits& limits() const { return core_->config.limits; }

  void onHandshake(error_code ec) {
    if (ec) {
      core_->stats.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      if (core_->config.on_tls_handshake_failure) core_->config.on_tls_handshake_failure();
      log::debug("http.tls_handshake_failed",
                 {{"listener", core_->config.name}, {"peer", peer_}, {"error", ec.message()}});
      return close();
    }
    tls_subject_ = subjectOf(stream_.native_handle());
    waitForRequest();
  }

  // Waits for the first byte of the next request, at most idle_timeout.
  void waitForRequest() {
    if (core_->stopping) return shutdown();
    if (buffer_.size() > 0) return readRequest();  // pipelined bytes already here
    idle_timer_.expires_after(limits().idle_timeout);
    idle_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec) self->lowest().socket().cancel();
    });
    waitReadable();
  }

  void waitReadable() {
    lowest().socket().async_wait(tcp::socket::wait_read,
                                 [self = this->shared_from_this()](error_code ec) {
                                   if (ec) {
                                     self->idle_timer_.cancel();
                                     return self->close();
                                   }
                                   // Readiness is a hint: another thread's epoll can report
                                   // bytes that were already read. Keep waiting (under the idle
                                   // timeout, not the shorter read timeout) until there is
                                   // really something to read, or the peer closed.
                                   if (self->nothingToRead()) return self->waitReadable();
                                   self->idle_timer_.cancel();
                                   self->readRequest();
                                 });
  }

  bool nothingToRead() {
    char c;
    ssize_t n = ::recv(lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  // Reads one whole request within read_timeout, so a slow-loris client is cut off.
  void readRequest() {
    parser_.emplace();
    // Limits against abuse: a body or header larger than configured is refused, not buffered.
    parser_->body_limit(limits().max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(limits().max_header_bytes));
    lowest().expires_after(limits().read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::onRead, this->shared_from_this()));
  }

  void onRead(error_code ec, std::size_t) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == ssl::error::stream_truncated) {
      return shutdown();
    }
    if (ec == beast::error::timeout) {
      core_->stats.timeouts.fetch_add(1, std::memory_order_relaxed);
      log::debug("http.read_timeout", {{"listener", core_->config.name}, {"peer", peer_}});
      return close();
    }
    if (ec == bhttp::error::body_limit) return refuse(413, "request body too large\n");
    if (ec == bhttp::error::header_limit) return refuse(431, "request header too large\n");
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return refuse(400, "malformed HTTP request\n");
    }
    if (ec) {
      log::debug("http.read_failed",
                 {{"listener", core_->config.name}, {"peer", peer_}, {"error", ec.message()}});
      return close();
    }

    auto message = parser_->release();
    keep_alive_ = message.keep_alive();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      request.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.peer = peer_;
    request.tls = kTls;
    request.tls_client_subject = tls_subject_;
    core_->stats.requests.fetch_add(1, std::memory_order_relaxed);
    // The handler's own time is not bounded here: it answers after a durable commit or a
    // proxied response, each with its own timeout.
    lowest().expires_never();

    auto state = std::make_shared<ResponderState>();
    state->deliver = [self = this->shared_from_this()](Response r) {
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
    };
    core_->handler(std::move(request), [state](Response r) {
      if (!state->answered.exchange(true)) state->deliver(std::move(r));
    });
  }

  void refuse(int status, std::string text) {
    core_->stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
    Response r = Response::text(status, std::move(text));
    r.close = true;
    write(std::move(r));
  }

  void write(Response r) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    for (const auto& [name, value] : r.headers.all()) res->insert(name, value);
    if (!r.headers.get("Server")) res->set(bhttp::field::server, "itk-router");
    res->keep_alive(keep_alive_ && !r.close && !core_->stopping);
    res->body() = std::move(r.body);
    res->prepare_payload();
    lowest().expires_after(limits().write_timeout);
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res](error_code ec, std::size_t) {
                         if (ec) return self->close();
                         if (!res->keep_alive()) return self->shutdown();
                         self->waitForRequest();
                       });
  }

  void shutdown() {
    if constexpr (kTls) {
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](error_code) { self->close(); });
    } else {
      error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      close();
    }
  }

  void close() {
    error_code ec;
    idle_timer_.cancel();
    lowest().socket().close(ec);
  }

  std::shared_ptr<Core> core_;
  std::string peer_;
  Stream stream_;
  asio::steady_timer idle_timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = true;
  std::string tls_subject_;
};

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~ServerImpl() override { stopAccepting(); }

  Status listen() {
    error_code ec;
    auto address = asio::ip::make_address(core_->config.address, ec);
    if (ec) return Status::invalid("listener " + core_->config.name + ": bad address '" +
                                   core_->config.address + "'");
    tcp::endpoint endpoint(address, core_->config.port);
    auto& a = core_->acceptor;
    a.open(endpoint.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(endpoint, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::unavailable("listener " + core_->config.name + ": cannot listen on " +
                                 core_->config.address + ":" +
                                 std::to_string(core_->config.port) + ": " + ec.message());
    }
    port_ = a.local_endpoint().port();
    core_->listening = true;
    accept(core_);
    return Status();
  }

  uint16_t port() const override { return port_; }
  bool listening() const override { return core_->listening; }
  const ServerStats& stats() const override { return core_->stats; }

  void stopAccepting() override {
    if (core_->stopping.exchange(true)) return;
    asio::post(core_->acceptor.get_executor(), [core = core_] {
      error_code ec;
      core->acceptor.close(ec);
      core->listening = false;
    });
  }

 private:
  static void accept(std::shared_ptr<Core> core) {
    auto& a = core->acceptor;
    a.async_accept(asio::make_strand(core->io),
                   [core](error_code ec, tcp::socket socket) {
                     if (ec == asio::error::operation_aborted || core->stopping) return;
                     if (ec) {
                       // e.g. EMFILE: log and keep accepting; the next accept may succeed.
                       log::warn("http.accept_failed",
                                 {{"listener", core->config.name}, {"error", ec.message()}});
                     } else if (static_cast<size_t>(core->stats.open_connections.load()) >=
                                core->config.limits.max_connections) {
                       core->stats.connections_refused.fetch_add(1, std::memory_order_relaxed);
                       error_code ignored;
                       socket.close(ignored);
                     } else {
                       core->stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
                       if (core->tls) {
                         std::make_shared<Session<true>>(std::move(socket), core)->run();
                       } else {
                         std::make_shared<Session<false>>(std::move(socket), core)->run();
                       }
                     }
                     accept(core);
                   });
  }

  std::shared_ptr<Core> core_;
  uint16_t port_ = 0;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(asio::io_context& io, ServerConfig config,
                                              Handler handler) {
  auto core = std::make_shared<Core>(io, std::move(config), std::move(handler));
  if (core->config.tls) {
    auto context = makeServerTlsContext(*core->config.tls);
    if (!context.ok()) return context.status();
    core->tls.emplace(std::move(*context));
  }
  auto server = std::make_unique<ServerImpl>(core);
  Status s = server->listen();
  if (!s.ok()) return s;
  log::info("http.listening", {{"listener", core->config.name},
                               {"address", core->config.address},
                               {"port", static_cast<int>(server->port())},
                               {"tls", core->config.tls.has_value()}});
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace itk::http
