#include "itk/http/server.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "support/http_client.h"

namespace itk::http {
namespace {

using namespace std::chrono_literals;
using test::HttpConnection;

// A server on 127.0.0.1:0 with its own I/O thread.
class ServerFixture : public ::testing::Test {
 protected:
  void startServer(ServerLimits limits, Handler handler) {
    ServerConfig config;
    config.limits = limits;
    auto server = Server::start(io_, config, std::move(handler));
    ASSERT_TRUE(server.ok()) << server.status().toString();
    server_ = std::move(*server);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stopAccepting();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  static Handler echo() {
    return [](Request&& r, Responder respond) {
      respond(Response::text(200, r.method + " " + r.target + " " + r.body));
    };
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(ServerFixture, ServesSeveralRequestsOnOneKeptAliveConnection) {
  startServer({}, echo());
  HttpConnection c(server_->port());
  ASSERT_TRUE(c.connected());
  auto a = c.request("POST", "/one", "hello");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "POST /one hello");
  auto b = c.request("GET", "/two?x=1");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->body, "GET /two?x=1 ");
  EXPECT_EQ(server_->stats().connections_accepted.load(), 1u);
  EXPECT_EQ(server_->stats().requests.load(), 2u);
}

TEST_F(ServerFixture, RefusesABodyOverTheLimitWith413) {
  ServerLimits limits;
  limits.max_body_bytes = 1024;
  startServer(limits, echo());
  HttpConnection c(server_->port());
  auto r = c.request("POST", "/", std::string(4096, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(server_->stats().bad_requests.load(), 1u);
}

TEST_F(ServerFixture, RefusesAHeaderOverTheLimitWith431) {
  ServerLimits limits;
  limits.max_header_bytes = 512;
  startServer(limits, echo());
  HttpConnection c(server_->port());
  auto r = c.request("GET", "/", "", {{"X-Padding", std::string(2048, 'a')}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

TEST_F(ServerFixture, AnswersGarbageWith400) {
  startServer({}, echo());
  HttpConnection c(server_->port());
  ASSERT_TRUE(c.sendRaw("NOT HTTP AT ALL\r\n\r\n"));
  auto r = c.readReply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(ServerFixture, CutsOffASlowLorisClientAfterTheReadTimeout) {
  ServerLimits limits;
  limits.read_timeout = 300ms;
  startServer(limits, echo());
  HttpConnection c(server_->port());
  // Starts a request and never finishes its headers.
  ASSERT_TRUE(c.sendRaw("POST / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  EXPECT_TRUE(c.closedByPeer());  // the recv returns EOF once the server gives up
  // Beast closes the socket before the read's handler counts the timeout: wait for the count.
  EXPECT_TRUE(test::eventuallyTrue([&] { return server_->stats().timeouts.load() == 1u; }));
}

TEST_F(ServerFixture, ClosesAnIdleKeptAliveConnection) {
  ServerLimits limits;
  limits.idle_timeout = 200ms;
  startServer(limits, echo());
  HttpConnection c(server_->port());
  ASSERT_TRUE(c.request("GET", "/"));
  EXPECT_TRUE(c.closedByPeer());
}

TEST_F(ServerFixture, RefusesConnectionsOverTheLimitButKeepsServingOthers) {
  ServerLimits limits;
  limits.max_connections = 2;
  startServer(limits, echo());
  HttpConnection a(server_->port()), b(server_->port());
  ASSERT_TRUE(a.request("GET", "/a"));
  ASSERT_TRUE(b.request("GET", "/b"));
  HttpConnection over(server_->port());
  EXPECT_TRUE(over.closedByPeer());
  EXPECT_EQ(server_->stats().connections_refused.load(), 1u);
  auto still = a.request("GET", "/again");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200);
}

TEST_F(ServerFixture, AnswersLaterFromAnotherThread) {
  std::vector<std::thread> workers;
  std::mutex mu;
  startServer({}, [&](Request&& r, Responder respond) {
    std::lock_guard lock(mu);
    workers.emplace_back([respond = std::move(respond), body = r.body] {
      respond(Response::text(202, "later:" + body));
    });
  });
  HttpConnection c(server_->port());
  auto r = c.request("POST", "/", "x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "later:x");
  std::lock_guard lock(mu);
  for (auto& w : workers) w.join();
}

TEST_F(ServerFixture, AHandlerThatDropsItsResponderStillAnswers500) {
  startServer({}, [](Request&&, Responder) {});
  HttpConnection c(server_->port());
  auto r = c.request("GET", "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
}

TEST_F(ServerFixture, StopAcceptingRefusesNewConnections) {
  startServer({}, echo());
  uint16_t port = server_->port();
  ASSERT_TRUE(test::httpGet(port, "/"));
  server_->stopAccepting();
  ASSERT_TRUE(test::eventuallyTrue([&] { return !server_->listening(); }));
  HttpConnection late(port);
  EXPECT_FALSE(late.connected());
}

TEST(ServerStartTest, FailsCleanlyOnAPortInUse) {
  boost::asio::io_context io;
  auto first = Server::start(io, ServerConfig{}, [](Request&&, Responder r) {
    r(Response::text(200, ""));
  });
  ASSERT_TRUE(first.ok());
  ServerConfig taken;
  taken.port = (*first)->port();
  auto second = Server::start(io, taken, [](Request&&, Responder r) { r(Response::text(200, "")); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
}

TEST(ServerStartTest, FailsCleanlyOnMissingTlsFiles) {
  boost::asio::io_context io;
  ServerConfig config;
  config.tls = TlsServerConfig{"/nonexistent/cert.pem", "/nonexistent/key.pem", "", {}};
  auto server = Server::start(io, config, [](Request&&, Responder r) {
    r(Response::text(200, ""));
  });
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("/nonexistent/cert.pem"), std::string::npos);
}

}  // namespace
}  // namespace itk::http
