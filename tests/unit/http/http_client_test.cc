#include "itk/http/client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "itk/http/server.h"
#include "support/http_client.h"

namespace itk::http {
namespace {

using namespace std::chrono_literals;

// --- Url ------------------------------------------------------------------------------------

TEST(UrlTest, ParsesSchemeHostPortAndTarget) {
  auto u = Url::parse("HTTPS://Peer.Example.NHS.uk:8443/itk/soap?x=1");
  ASSERT_TRUE(u.ok()) << u.status().toString();
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "peer.example.nhs.uk");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/itk/soap?x=1");
  EXPECT_TRUE(u->tls());
  EXPECT_EQ(u->origin(), "https://peer.example.nhs.uk:8443");
  EXPECT_EQ(u->hostHeader(), "peer.example.nhs.uk:8443");
}

TEST(UrlTest, DefaultsPortAndTarget) {
  auto u = Url::parse("http://127.0.0.1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->hostHeader(), "127.0.0.1");
  EXPECT_EQ(u->toString(), "http://127.0.0.1/");
  auto q = Url::parse("https://h?a=b#frag");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->port, 443);
  EXPECT_EQ(q->target, "/?a=b");
}

TEST(UrlTest, ParsesBracketedIpv6) {
  auto u = Url::parse("http://[::1]:9000/p");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->hostHeader(), "[::1]:9000");
}

TEST(UrlTest, RefusesWhatItCannotUse) {
  for (const char* bad :
       {"ftp://h/", "h:80/", "http://", "http://:80/", "http://h:0/", "http://h:70000/",
        "http://h:8x/", "http://user@h/", "http://h/a b", "http://[::1/", "http://h%/"}) {
    auto u = Url::parse(bad);
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) {
      EXPECT_EQ(u.status().code(), Code::kInvalid) << bad;
    }
  }
}

// --- a scripted raw HTTP peer, for the connection-level cases a real server never produces --

class RawPeer {
 public:
  RawPeer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~RawPeer() {
    if (thread_.joinable()) thread_.join();
    for (int fd : open_) ::close(fd);
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  void run(std::function<void(RawPeer&)> script) {
    thread_ = std::thread([this, script = std::move(script)] { script(*this); });
  }
  // Accepts one connection (30 s at most); -1 when none came.
  int accept() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 30000) != 1) return -1;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    open_.push_back(fd);
    ++accepted;
    return fd;
  }
  // Reads one request (headers and a Content-Length body); false on EOF or timeout.
  bool readRequest(int fd) {
    std::string buf;
    char chunk[4096];
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<size_t>(n));
    }
    size_t length = 0;
    auto cl = buf.find("Content-Length: ");
    if (cl != std::string::npos && cl < end) length = std::stoul(buf.substr(cl + 16));
    while (buf.size() < end + 4 + length) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<size_t>(n));
    }
    return true;
  }
  static void send(int fd, const std::string& bytes) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  void close(int fd) {
    ::close(fd);
    open_.erase(std::remove(open_.begin(), open_.end(), fd), open_.end());
  }
  static std::string ok(const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  std::atomic<int> accepted{0};

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<int> open_;
  std::thread thread_;
};

// --- the client against the project's own server on 127.0.0.1:0 ---------------------------

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    clients_.clear();
    for (auto& s : servers_) s->stopAccepting();
    {
      std::lock_guard lock(held_mu_);
      held_.clear();  // answers 500 to anything still held, on connections already given up
    }
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    servers_.clear();
  }

  Server& startServer(Handler handler, ServerLimits limits = {}) {
    ServerConfig config;
    config.limits = limits;
    auto server = Server::start(io_, config, std::move(handler));
    EXPECT_TRUE(server.ok()) << server.status().toString();
    servers_.push_back(std::move(*server));
    return *servers_.back();
  }
  Client& makeClient(ClientOptions options = {}) {
    auto client = Client::create(io_, options);
    EXPECT_TRUE(client.ok()) << client.status().toString();
    clients_.push_back(std::move(*client));
    return *clients_.back();
  }
  static std::string urlOf(const Server& s, const std::string& path = "/") {
    return "http://127.0.0.1:" + std::to_string(s.port()) + path;
  }
  // Sends one request and waits (generously) for its callback.
  static Result<Response> call(Client& client, ClientRequest request) {
    auto promise = std::make_shared<std::promise<Result<Response>>>();
    auto future = promise->get_future();
    client.request(std::move(request),
                   [promise](Result<Response> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(60s) != std::future_status::ready)
      return Status::internal("test: the callback never came");
    return future.get();
  }
  static ClientRequest post(const std::string& url, std::string body = {}) {
    ClientRequest r;
    r.url = url;
    r.body = std::move(body);
    return r;
  }
  static Handler echo() {
    return [](Request&& r, Responder respond) {
      Response out = Response::text(200, r.body);
      out.headers.set("X-Method", r.method);
      out.headers.set("X-Target", r.target);
      out.headers.set("X-Host", std::string(r.headers.get("Host").value_or("")));
      out.headers.set("X-Agent", std::string(r.headers.get("User-Agent").value_or("")));
      respond(std::move(out));
    };
  }
  // A handler that keeps every responder until the test ends.
  Handler holdForever() {
    return [this](Request&&, Responder respond) {
      std::lock_guard lock(held_mu_);
      held_.push_back(std::move(respond));
    };
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::mutex held_mu_;
  std::vector<Responder> held_;
};

TEST_F(ClientTest, PostsAndReadsTheResponse) {
  Server& server = startServer(echo());
  Client& client = makeClient();
  auto r = call(client, post(urlOf(server, "/itk/soap?x=1"), "hello"));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->headers.get("X-Method"), "POST");
  EXPECT_EQ(r->headers.get("X-Target"), "/itk/soap?x=1");
  EXPECT_EQ(r->headers.get("X-Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(r->headers.get("X-Agent"), "itk-router");
  EXPECT_FALSE(r->close);
}

TEST_F(ClientTest, ReportsAnyHttpStatusAsAResponse) {
  Server& server =
      startServer([](Request&&, Responder respond) { respond(Response::text(503, "busy")); });
  Client& client = makeClient();
  ClientRequest get;
  get.method = "GET";
  get.url = urlOf(server);
  auto r = call(client, get);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "busy");
}

TEST_F(ClientTest, ReusesOnePooledConnectionForSequentialRequests) {
  Server& server = startServer(echo());
  Client& client = makeClient();
  for (int i = 0; i < 5; ++i) {
    auto r = call(client, post(urlOf(server), "n" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().toString();
    EXPECT_EQ(r->body, "n" + std::to_string(i));
  }
  EXPECT_EQ(server.stats().connections_accepted.load(), 1u);
  ClientStats s = client.stats();
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.reused, 4u);
  EXPECT_EQ(s.idle_connections, 1u);
}

TEST_F(ClientTest, CapsConnectionsPerOriginAndQueuesTheRest) {
  // The server answers in batches of three, so exactly three requests are ever in flight.
  std::mutex mu;
  std::vector<std::pair<Responder, std::string>> batch;
  Server& server = startServer([&](Request&& r, Responder respond) {
    std::vector<std::pair<Responder, std::string>> ready;
    {
      std::lock_guard lock(mu);
      batch.emplace_back(std::move(respond), r.body);
      if (batch.size() == 3) ready.swap(batch);
    }
    for (auto& [answer, body] : ready) answer(Response::text(200, body));
  });
  ClientOptions options;
  options.max_connections_per_origin = 3;
  Client& client = makeClient(options);

  constexpr int kRequests = 12;
  std::vector<std::future<Result<Response>>> futures;
  for (int i = 0; i < kRequests; ++i) {
    auto promise = std::make_shared<std::promise<Result<Response>>>();
    futures.push_back(promise->get_future());
    client.request(post(urlOf(server), "r" + std::to_string(i)),
                   [promise](Result<Response> r) { promise->set_value(std::move(r)); });
  }
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(futures[i].wait_for(60s), std::future_status::ready) << i;
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status().toString();
    EXPECT_EQ(r->body, "r" + std::to_string(i));
  }
  EXPECT_EQ(server.stats().connections_accepted.load(), 3u);
  EXPECT_EQ(client.stats().connections_opened, 3u);
}

TEST_F(ClientTest, CarriesLargeBodiesBothWays) {
  ServerLimits limits;
  limits.max_body_bytes = 16u << 20;
  Server& server = startServer(echo(), limits);
  Client& client = makeClient();
  std::string body(8u << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
  auto r = call(client, post(urlOf(server), body));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body);
}

TEST_F(ClientTest, RefusesAResponseOverTheSizeLimit) {
  Server& server = startServer(
      [](Request&&, Responder respond) { respond(Response::text(200, std::string(4096, 'x'))); });
  ClientOptions options;
  options.max_response_bytes = 1024;
  Client& client = makeClient(options);
  auto r = call(client, post(urlOf(server)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("larger than 1024"), std::string::npos);
}

TEST_F(ClientTest, TimesOutWhenTheServerNeverAnswers) {
  Server& server = startServer(holdForever());
  Client& client = makeClient();
  ClientRequest request = post(urlOf(server), "x");
  request.timeout = 200ms;
  auto r = call(client, request);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTimeout);
  EXPECT_EQ(client.stats().idle_connections, 0u);  // a timed-out connection is never pooled
}

TEST_F(ClientTest, AQueuedRequestTimesOutWaitingForAConnection) {
  Server& server = startServer(holdForever());
  ClientOptions options;
  options.max_connections_per_origin = 1;
  Client& client = makeClient(options);
  auto first = std::make_shared<std::promise<Result<Response>>>();
  auto first_done = first->get_future();
  ClientRequest slow = post(urlOf(server), "slow");
  slow.timeout = 60s;
  client.request(slow, [first](Result<Response> r) { first->set_value(std::move(r)); });
  ClientRequest queued = post(urlOf(server), "queued");
  queued.timeout = 200ms;
  auto r = call(client, queued);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTimeout);
  EXPECT_NE(r.status().message().find("came free"), std::string::npos);
  EXPECT_EQ(server.stats().connections_accepted.load(), 1u);
  // Release the first request: answered 500 when its responder is dropped.
  {
    std::lock_guard lock(held_mu_);
    held_.clear();
  }
  ASSERT_EQ(first_done.wait_for(60s), std::future_status::ready);
  auto f = first_done.get();
  ASSERT_TRUE(f.ok()) << f.status().toString();
  EXPECT_EQ(f->status, 500);
}

TEST_F(ClientTest, ConnectionRefusedIsUnavailable) {
  uint16_t port;
  {
    RawPeer closed;  // bound and listening only for its lifetime: the port is then refused
    port = closed.port();
  }
  Client& client = makeClient();
  auto r = call(client, post("http://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot connect"), std::string::npos);
}

TEST_F(ClientTest, AnUnresolvableHostIsUnavailable) {
  Client& client = makeClient();
  auto r = call(client, post("http://no-such-host.invalid/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

TEST_F(ClientTest, ABadUrlOrHeaderIsInvalid) {
  Client& client = makeClient();
  auto r = call(client, post("gopher://h/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  ClientRequest injected = post("http://127.0.0.1:1/");
  injected.headers.add("SOAPAction", "x\r\nX-Evil: 1");
  auto h = call(client, injected);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), Code::kInvalid);
}

TEST_F(ClientTest, ClosesAPooledConnectionAfterTheIdleKeepalive) {
  Server& server = startServer(echo());
  ClientOptions options;
  options.idle_keepalive = 100ms;
  Client& client = makeClient(options);
  ASSERT_TRUE(call(client, post(urlOf(server))).ok());
  EXPECT_TRUE(test::eventuallyTrue([&] {
    return client.stats().idle_connections == 0 && server.stats().open_connections.load() == 0;
  }));
}

TEST_F(ClientTest, NoticesTheServerClosingAnIdleConnection) {
  ServerLimits limits;
  limits.idle_timeout = 100ms;  // the server gives up on idle connections first
  Server& server = startServer(echo(), limits);
  Client& client = makeClient();
  ASSERT_TRUE(call(client, post(urlOf(server), "a")).ok());
  EXPECT_TRUE(test::eventuallyTrue([&] { return client.stats().idle_connections == 0; }));
  auto r = call(client, post(urlOf(server), "b"));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->body, "b");
  EXPECT_EQ(client.stats().retried, 0u);  // dropped from the pool, not discovered by failing
  EXPECT_EQ(client.stats().connections_opened, 2u);
}

TEST_F(ClientTest, ResendsOnceWhenAPooledConnectionDiesBeforeAnyResponseByte) {
  RawPeer peer;
  peer.run([](RawPeer& p) {
    int first = p.accept();
    if (first < 0 || !p.readRequest(first)) return;
    RawPeer::send(first, RawPeer::ok("one"));
    // The next request arrives on the kept-alive connection: close it unanswered, as a server
    // does when its idle timeout fires just as the request arrives.
    if (!p.readRequest(first)) return;
    p.close(first);
    int second = p.accept();
    if (second < 0 || !p.readRequest(second)) return;
    RawPeer::send(second, RawPeer::ok("two"));
  });
  Client& client = makeClient();
  auto a = call(client, post(peer.url(), "1"));
  ASSERT_TRUE(a.ok()) << a.status().toString();
  EXPECT_EQ(a->body, "one");
  auto b = call(client, post(peer.url(), "2"));
  ASSERT_TRUE(b.ok()) << b.status().toString();
  EXPECT_EQ(b->body, "two");
  ClientStats s = client.stats();
  EXPECT_EQ(s.retried, 1u);
  EXPECT_EQ(s.connections_opened, 2u);
  EXPECT_EQ(peer.accepted.load(), 2);
}

TEST_F(ClientTest, NeverResendsOnAFreshConnection) {
  RawPeer peer;
  peer.run([](RawPeer& p) {
    int fd = p.accept();
    if (fd < 0 || !p.readRequest(fd)) return;
    p.close(fd);  // closed unanswered
  });
  Client& client = makeClient();
  auto r = call(client, post(peer.url(), "1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(client.stats().retried, 0u);
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

TEST_F(ClientTest, NeverResendsOnceResponseBytesHaveArrived) {
  RawPeer peer;
  peer.run([](RawPeer& p) {
    int fd = p.accept();
    if (fd < 0 || !p.readRequest(fd)) return;
    RawPeer::send(fd, RawPeer::ok("one"));
    if (!p.readRequest(fd)) return;
    RawPeer::send(fd, "HTTP/1.1 200 OK\r\nContent-Le");  // then the server dies
    p.close(fd);
  });
  Client& client = makeClient();
  ASSERT_TRUE(call(client, post(peer.url(), "1")).ok());
  auto r = call(client, post(peer.url(), "2"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(client.stats().retried, 0u);
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

TEST_F(ClientTest, ShutdownClosesIdleConnectionsAndRefusesNewRequests) {
  Server& server = startServer(echo());
  Client& client = makeClient();
  ASSERT_TRUE(call(client, post(urlOf(server))).ok());
  client.shutdown();
  EXPECT_EQ(client.stats().idle_connections, 0u);
  EXPECT_TRUE(test::eventuallyTrue([&] { return server.stats().open_connections.load() == 0; }));
  auto r = call(client, post(urlOf(server)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

TEST(ClientCallbackTest, NeverRunsTheCallbackInline) {
  boost::asio::io_context io;  // not running: nothing can complete until run() below
  auto client = Client::create(io, {});
  ASSERT_TRUE(client.ok());
  bool called = false;
  ClientRequest r;
  r.url = "not a url";
  (*client)->request(r, [&](Result<Response> result) {
    called = true;
    EXPECT_EQ(result.status().code(), Code::kInvalid);
  });
  EXPECT_FALSE(called);
  io.run();
  EXPECT_TRUE(called);
}

TEST(ClientCreateTest, FailsCleanlyOnMissingTlsFiles) {
  boost::asio::io_context io;
  ClientTlsConfig tls;
  tls.ca_file = "/nonexistent/ca.pem";
  auto client = Client::create(io, {}, tls);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.status().message().find("/nonexistent/ca.pem"), std::string::npos);
  ClientTlsConfig half;
  half.cert_file = "/nonexistent/cert.pem";
  auto c2 = Client::create(io, {}, half);
  ASSERT_FALSE(c2.ok());
}

}  // namespace
}  // namespace itk::http
