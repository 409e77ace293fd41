// The HTTP/1.1 client. This is one of the few translation units that compile Beast.
//
// Shape: a Core shared by the Client and every Connection holds, per origin, a Pool of idle
// connections, a count of open ones and a queue of requests waiting for one (all under one
// mutex, held only for bookkeeping). Each Connection runs on its own strand: resolve, connect,
// TLS handshake, write, read, then either back to the pool (watched for the server closing it
// or idle expiry) or handed straight to the next waiting request.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "itk/http/client.h"
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
using SteadyClock = std::chrono::steady_clock;
using WireRequest = bhttp::request<bhttp::string_body>;

std::string millis(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

// One request, from request() until its callback.
struct Exchange {
  Url url;
  WireRequest wire;
  ResponseCallback done;
  SteadyClock::time_point deadline;
  std::chrono::milliseconds timeout{0};
  bool retried = false;  // already resent once on a fresh connection
};

class Connection;

// A request waiting for a connection to its origin to come free.
struct Waiter {
  explicit Waiter(asio::io_context& io) : timer(asio::make_strand(io)) {}
  std::shared_ptr<Exchange> exchange;  // moved out (under Core::mu) by whoever takes it
  asio::steady_timer timer;
};

// The connections to one origin. Guarded by Core::mu.
struct Pool {
  std::vector<std::shared_ptr<Connection>> idle;  // most recently used last
  size_t open = 0;                                // idle + busy + connecting
  std::deque<std::shared_ptr<Waiter>> waiting;
};

struct Core {
  Core(asio::io_context& io, ClientOptions options, std::optional<ClientTlsConfig> tls_config)
      : io(io), options(std::move(options)), tls_config(std::move(tls_config)) {}

  asio::io_context& io;
  const ClientOptions options;
  const std::optional<ClientTlsConfig> tls_config;
  std::optional<ssl::context> tls;  // for https URLs

  std::mutex mu;
  std::map<std::string, std::shared_ptr<Pool>, std::less<>> pools;  // by origin
  bool shut_down = false;

  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> connections_opened{0};
  std::atomic<uint64_t> reused{0};
  std::atomic<uint64_t> retried{0};

  // Delivers a result. Always posted: the callback never runs inline from request(), and never
  // on a connection's strand while it holds state.
  void complete(std::shared_ptr<Exchange> ex, Result<Response> result) {
    asio::post(io,
               [ex = std::move(ex), r = std::move(result)]() mutable { ex->done(std::move(r)); });
  }

  // Stops a waiter's timer (on the timer's own strand: timers are not thread-safe).
  static void cancelTimer(const std::shared_ptr<Waiter>& w) {
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
  }
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Core> core, std::shared_ptr<Pool> pool, const Url& url)
      : core_(std::move(core)),
        pool_(std::move(pool)),
        strand_(asio::make_strand(core_->io)),
        resolver_(strand_),
        resolve_timer_(strand_),
        idle_timer_(strand_),
        host_(url.host),
        port_(url.port),
        origin_(url.origin()),
        tls_(url.tls()) {}

  // Runs `ex` on this connection; `reused` when it comes from the idle pool. Thread-safe.
  void run(std::shared_ptr<Exchange> ex, bool reused) {
    asio::dispatch(strand_, [self = shared_from_this(), ex = std::move(ex), reused]() mutable {
      self->begin(std::move(ex), reused);
    });
  }

  // Closes a connection that was taken out of the idle pool by shutdown(). Thread-safe.
  void closeFromOutside() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      self->idle_timer_.cancel();
      self->closeStream();
    });
  }

  // Guarded by Core::mu: bumped whenever the connection leaves the idle pool, so that a stale
  // idle-watch handler can tell it no longer owns the connection.
  uint64_t generation = 0;

 private:
  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_stream_) : *plain_; }
  bool hasStream() const { return tls_ ? tls_stream_.has_value() : plain_.has_value(); }

  void begin(std::shared_ptr<Exchange> ex, bool reused) {
    // Stop watching the idle connection: it is busy again.
    idle_timer_.cancel();
    if (hasStream()) {
      error_code ignored;
      lowest().socket().cancel(ignored);
    }
    ex_ = std::move(ex);
    reused_ = reused && hasStream() && lowest().socket().is_open();
    if (reused_) {
      core_->reused.fetch_add(1, std::memory_order_relaxed);
      write();
    } else {
      connect();
    }
  }

  // --- connecting -------------------------------------------------------------------------

  void connect() {
    core_->connections_opened.fetch_add(1, std::memory_order_relaxed);
    closeStream();
    buffer_.clear();
    if (tls_) {
      tls_stream_.emplace(strand_, *core_->tls);
    } else {
      plain_.emplace(strand_);
    }
    // Connecting and the TLS handshake share connect_timeout, within the request's deadline.
    connect_deadline_ =
        std::min(SteadyClock::now() + core_->options.connect_timeout, ex_->deadline);
    resolve_timed_out_ = false;
    resolve_timer_.expires_at(connect_deadline_);
    resolve_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->resolve_timed_out_ = true;
      self->resolver_.cancel();
    });
    resolver_.async_resolve(host_, std::to_string(port_),
                            beast::bind_front_handler(&Connection::onResolve, shared_from_this()));
  }

  void onResolve(error_code ec, tcp::resolver::results_type results) {
    resolve_timer_.cancel();
    if (resolve_timed_out_) return connectTimedOut();
    if (ec) return fail(Status::unavailable("cannot resolve " + host_ + ": " + ec.message()));
    lowest().expires_at(connect_deadline_);
    lowest().async_connect(results,
                           beast::bind_front_handler(&Connection::onConnect, shared_from_this()));
  }

  void onConnect(error_code ec, const tcp::endpoint&) {
    if (ec == beast::error::timeout) return connectTimedOut();
    if (ec) return fail(Status::unavailable("cannot connect to " + origin_ + ": " + ec.message()));
    if (!tls_) return write();
    Status s = prepareTls();
    if (!s.ok()) return fail(std::move(s));
    tls_stream_->async_handshake(
        ssl::stream_base::client,
        beast::bind_front_handler(&Connection::onHandshake, shared_from_this()));
  }

  // SNI and the host name (or IP address) the server's certificate must carry.
  Status prepareTls() {
    SSL* ssl = tls_stream_->native_handle();
    const ClientTlsConfig* config = core_->tls_config ? &*core_->tls_config : nullptr;
    std::string name = config && !config->server_name.empty() ? config->server_name : host_;
    error_code ec;
    asio::ip::make_address(name, ec);
    bool is_ip = !ec;
    // RFC 6066: SNI carries host names only, never IP literals.
    if (!is_ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1)
      return Status::invalid("cannot set TLS server name " + name);
    if (config && !config->verify_peer) return Status();
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                   : SSL_set1_host(ssl, name.c_str());
    if (ok != 1) return Status::invalid("cannot check the TLS peer name " + name);
    return Status();
  }

  void onHandshake(error_code ec) {
    if (ec == beast::error::timeout) return connectTimedOut();
    if (ec) {
      std::string why = ec.message();
      long verify = SSL_get_verify_result(tls_stream_->native_handle());
      if (verify != X509_V_OK)
        why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      return fail(Status::unavailable("TLS handshake with " + origin_ + " failed: " + why));
    }
    write();
  }

  void connectTimedOut() {
    // The request's own deadline was the tighter one: report it as the request timing out.
    if (connect_deadline_ >= ex_->deadline) {
      return fail(Status::timeout("no response from " + origin_ + " within " +
                                  millis(ex_->timeout) + " (still connecting)"));
    }
    fail(Status::unavailable("cannot connect to " + origin_ + ": timed out after " +
                             millis(core_->options.connect_timeout)));
  }

  // --- the exchange -----------------------------------------------------------------------

  void write() {
    lowest().expires_at(ex_->deadline);
    auto handler = beast::bind_front_handler(&Connection::onWrite, shared_from_this());
    if (tls_) {
      bhttp::async_write(*tls_stream_, ex_->wire, std::move(handler));
    } else {
      bhttp::async_write(*plain_, ex_->wire, std::move(handler));
    }
  }

  void onWrite(error_code ec, std::size_t) {
    if (ec) return failIo(ec, /*before_response=*/true);
    parser_.emplace();
    // Limits against a hostile or broken peer: a larger response is refused, not buffered.
    parser_->body_limit(core_->options.max_response_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(core_->options.max_response_header_bytes));
    if (ex_->wire.method() == bhttp::verb::head) parser_->skip(true);
    auto handler = beast::bind_front_handler(&Connection::onRead, shared_from_this());
    if (tls_) {
      bhttp::async_read(*tls_stream_, buffer_, *parser_, std::move(handler));
    } else {
      bhttp::async_read(*plain_, buffer_, *parser_, std::move(handler));
    }
  }

  void onRead(error_code ec, std::size_t) {
    if (ec) return failIo(ec, /*before_response=*/!parser_->got_some());
    auto message = parser_->release();
    Response response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      response.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(message.body());
    response.close = !message.keep_alive();
    // Bytes after the response (the server misbehaving) leave the connection in an unknown
    // state: close it rather than pool it.
    bool keep = message.keep_alive() && buffer_.size() == 0;
    // Pool the connection before the callback can run, so that a caller who sends its next
    // request from the callback finds it idle.
    auto ex = std::move(ex_);
    release(keep);
    core_->complete(std::move(ex), std::move(response));
  }

  // A failure while writing or reading. A pooled connection that fails before any byte of the
  // response is the server having closed it while idle: resend once on a fresh connection.
  void failIo(error_code ec, bool before_response) {
    bool connection_lost = ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
                           ec == asio::error::connection_aborted ||
                           ec == ssl::error::stream_truncated;
    if (reused_ && before_response && connection_lost && !ex_->retried) {
      log::debug("http.client.stale_connection", {{"origin", origin_}, {"error", ec.message()}});
      ex_->retried = true;
      reused_ = false;
      core_->retried.fetch_add(1, std::memory_order_relaxed);
      return connect();
    }
    if (ec == beast::error::timeout) {
      return fail(Status::timeout("no complete response from " + origin_ + " within " +
                                  millis(ex_->timeout)));
    }
    if (ec == bhttp::error::body_limit) {
      return fail(Status::invalid("the response from " + origin_ + " is larger than " +
                                  std::to_string(core_->options.max_response_bytes) + " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      return fail(Status::invalid("the response header from " + origin_ + " is larger than " +
                                  std::to_string(core_->options.max_response_header_bytes) +
                                  " bytes"));
    }
    if (connection_lost || ec == bhttp::error::partial_message) {
      return fail(Status::unavailable("the connection to " + origin_ +
                                      " closed before a complete response (" + ec.message() + ")"));
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
      return fail(Status::invalid("malformed HTTP response from " + origin_ + ": " + ec.message()));
    }
    fail(Status::unavailable("the connection to " + origin_ + " failed: " + ec.message()));
  }

  void fail(Status status) {
    log::debug("http.client.failed", {{"origin", origin_}, {"error", status.toString()}});
    closeStream();
    auto ex = std::move(ex_);
    release(false);
    core_->complete(std::move(ex), std::move(status));
  }

  // --- after the exchange -----------------------------------------------------------------

  // Hands the connection to the next waiting request, back to the pool, or closes it (and then
  // opens a fresh one for a waiting request, which has the slot).
  void release(bool keep) {
    std::shared_ptr<Waiter> next, replace;
    std::shared_ptr<Exchange> next_ex, replace_ex;
    uint64_t generation_now = 0;
    {
      std::lock_guard lock(core_->mu);
      if (keep && !pool_->waiting.empty()) {
        next = std::move(pool_->waiting.front());
        pool_->waiting.pop_front();
        next_ex = std::move(next->exchange);
      } else if (keep && !core_->shut_down) {
        generation_now = ++generation;
        pool_->idle.push_back(shared_from_this());
      } else {
        keep = false;
        --pool_->open;
        if (!pool_->waiting.empty()) {
          replace = std::move(pool_->waiting.front());
          pool_->waiting.pop_front();
          replace_ex = std::move(replace->exchange);
          ++pool_->open;
        }
      }
    }
    if (next) {
      Core::cancelTimer(next);
      return begin(std::move(next_ex), true);
    }
    if (keep) return watchIdle(generation_now);
    closeStream();
    if (replace) {
      Core::cancelTimer(replace);
      auto fresh = std::make_shared<Connection>(core_, pool_, replace_ex->url);
      fresh->run(std::move(replace_ex), false);
    }
  }

  // While pooled: close after idle_keepalive, or as soon as the server closes its end (any
  // readable event on an idle HTTP/1.1 connection is a close or a protocol error).
  void watchIdle(uint64_t my_generation) {
    idle_timer_.expires_after(core_->options.idle_keepalive);
    idle_timer_.async_wait([self = shared_from_this(), my_generation](error_code ec) {
      if (ec != asio::error::operation_aborted) self->leaveIdle(my_generation);
    });
    watchIdleSocket(my_generation);
  }

  void watchIdleSocket(uint64_t my_generation) {
    lowest().socket().async_wait(tcp::socket::wait_read,
                                 [self = shared_from_this(), my_generation](error_code ec) {
                                   if (ec == asio::error::operation_aborted) return;
                                   // Readiness is a hint: another thread's epoll can report the
                                   // response's own arrival after it was read. Only a real end of
                                   // stream (or stray bytes) ends the connection.
                                   if (!ec && self->nothingToRead())
                                     return self->rearmIdle(my_generation);
                                   self->leaveIdle(my_generation);
                                 });
  }

  bool nothingToRead() {
    char c;
    ssize_t n = ::recv(lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  void rearmIdle(uint64_t my_generation) {
    {
      std::lock_guard lock(core_->mu);
      if (generation != my_generation) return;  // taken meanwhile: the request owns the socket
    }
    watchIdleSocket(my_generation);
  }

  void leaveIdle(uint64_t my_generation) {
    {
      std::lock_guard lock(core_->mu);
      if (generation != my_generation) return;  // taken by a request (or shutdown) meanwhile
      ++generation;
      auto& idle = pool_->idle;
      idle.erase(std::remove(idle.begin(), idle.end(), shared_from_this()), idle.end());
      --pool_->open;
    }
    idle_timer_.cancel();
    closeStream();
  }

  void closeStream() {
    if (!hasStream()) return;
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  std::shared_ptr<Core> core_;
  std::shared_ptr<Pool> pool_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  asio::steady_timer idle_timer_;
  const std::string host_;
  const uint16_t port_;
  const std::string origin_;
  const bool tls_;

  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Exchange> ex_;
  bool reused_ = false;
  bool resolve_timed_out_ = false;
  SteadyClock::time_point connect_deadline_;
};

// A header value or name that could split the request (CR/LF) is refused.
bool safeHeaderText(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~ClientImpl() override { shutdown(); }

  void request(ClientRequest req, ResponseCallback done) override {
    core_->requests.fetch_add(1, std::memory_order_relaxed);
    auto ex = std::make_shared<Exchange>();
    ex->done = std::move(done);
    ex->timeout = req.timeout.count() > 0 ? req.timeout : core_->options.response_timeout;
    ex->deadline = SteadyClock::now() + ex->timeout;
    auto url = Url::parse(req.url);
    if (!url.ok()) return core_->complete(std::move(ex), url.status());
    ex->url = std::move(*url);
    Status built = build(req, *ex);
    if (!built.ok()) return core_->complete(std::move(ex), std::move(built));

    std::shared_ptr<Connection> connection;
    bool reused = false;
    std::shared_ptr<Waiter> waiter;
    {
      std::lock_guard lock(core_->mu);
      if (core_->shut_down) {
        return core_->complete(std::move(ex),
                               Status::unavailable("the HTTP client has been shut down"));
      }
      auto& pool = core_->pools[ex->url.origin()];
      if (!pool) pool = std::make_shared<Pool>();
      if (!pool->idle.empty()) {
        connection = std::move(pool->idle.back());
        pool->idle.pop_back();
        ++connection->generation;
        reused = true;
      } else if (pool->open < core_->options.max_connections_per_origin) {
        ++pool->open;
        connection = std::make_shared<Connection>(core_, pool, ex->url);
      } else {
        waiter = std::make_shared<Waiter>(core_->io);
        waiter->exchange = ex;
        pool->waiting.push_back(waiter);
        // Armed under the lock so that whoever takes the waiter finds the wait to cancel.
        waiter->timer.expires_at(ex->deadline);
        waiter->timer.async_wait([core = core_, pool, waiter](error_code ec) {
          if (ec) return;
          std::shared_ptr<Exchange> expired;
          {
            std::lock_guard lock(core->mu);
            auto it = std::find(pool->waiting.begin(), pool->waiting.end(), waiter);
            if (it == pool->waiting.end()) return;
            pool->waiting.erase(it);
            expired = std::move(waiter->exchange);
          }
          std::string origin = expired->url.origin();
          auto timeout = expired->timeout;
          core->complete(std::move(expired),
                         Status::timeout("no connection to " + origin + " came free within " +
                                         millis(timeout)));
        });
      }
    }
    if (connection) connection->run(std::move(ex), reused);
  }

  void shutdown() override {
    std::vector<std::shared_ptr<Connection>> idle;
    {
      std::lock_guard lock(core_->mu);
      if (core_->shut_down) return;
      core_->shut_down = true;
      for (auto& [origin, pool] : core_->pools) {
        for (auto& c : pool->idle) {
          ++c->generation;
          --pool->open;
          idle.push_back(std::move(c));
        }
        pool->idle.clear();
      }
    }
    for (auto& c : idle) c->closeFromOutside();
  }

  ClientStats stats() const override {
    ClientStats s;
    s.requests = core_->requests.load(std::memory_order_relaxed);
    s.connections_opened = core_->connections_opened.load(std::memory_order_relaxed);
    s.reused = core_->reused.load(std::memory_order_relaxed);
    s.retried = core_->retried.load(std::memory_order_relaxed);
    std::lock_guard lock(core_->mu);
    for (const auto& [origin, pool] : core_->pools) s.idle_connections += pool->idle.size();
    return s;
  }

 private:
  Status build(ClientRequest& req, Exchange& ex) const {
    WireRequest& w = ex.wire;
    w.version(11);
    bhttp::verb verb = bhttp::string_to_verb(req.method);
    if (verb == bhttp::verb::unknown) {
      if (req.method.empty() ||
          req.method.find_first_of(" \t\r\n()<>@,;:\\\"/[]?={}") != std::string::npos)
        return Status::invalid("bad HTTP method '" + req.method + "'");
      w.method_string(req.method);
    } else {
      w.method(verb);
    }
    w.target(ex.url.target);
    for (const auto& [name, value] : req.headers.all()) {
      if (name.empty() || !safeHeaderText(name) || name.find(':') != std::string::npos ||
          !safeHeaderText(value))
        return Status::invalid("bad HTTP header '" + name + "'");
      w.insert(name, value);
    }
    if (!req.headers.get("Host")) w.set(bhttp::field::host, ex.url.hostHeader());
    if (!req.headers.get("User-Agent") && !core_->options.user_agent.empty())
      w.set(bhttp::field::user_agent, core_->options.user_agent);
    w.body() = std::move(req.body);
    w.prepare_payload();
    w.keep_alive(true);
    return Status();
  }

  std::shared_ptr<Core> core_;
};

}  // namespace

Result<std::unique_ptr<Client>> Client::create(asio::io_context& io, ClientOptions options,
                                               std::optional<ClientTlsConfig> tls) {
  if (options.max_connections_per_origin == 0) options.max_connections_per_origin = 1;
  auto core = std::make_shared<Core>(io, std::move(options), std::move(tls));
  auto context = makeClientTlsContext(core->tls_config ? *core->tls_config : ClientTlsConfig{});
  if (!context.ok()) return context.status();
  core->tls.emplace(std::move(*context));
  return std::unique_ptr<Client>(std::make_unique<ClientImpl>(std::move(core)));
}

}  // namespace itk::http
