// TLS between the project's HTTP client and server, with certificates the test makes with the
// openssl command line: server-only TLS, host name checks, wrong CA, and client certificates
// none / optional / required.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "itk/http/client.h"
#include "itk/http/server.h"
#include "support/http_client.h"
#include "support/test_pki.h"

namespace itk::http {
namespace {

using namespace std::chrono_literals;
using ClientCert = TlsServerConfig::ClientCert;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    std::string error;
    auto pki = test::TestPki::generate(*dir_, &error);
    if (!pki) {
      ADD_FAILURE() << "cannot generate test certificates: " << error;
      return;
    }
    pki_ = new test::TestPki(*pki);
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(pki_, nullptr);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    clients_.clear();
    for (auto& s : servers_) s->stopAccepting();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    servers_.clear();
  }

  // A TLS server that records what it saw of each request and answers 200 "ok".
  Server& startTlsServer(ClientCert client_cert,
                         std::function<void()> on_tls_handshake_failure = nullptr) {
    ServerConfig config;
    config.name = "tls-test";
    config.on_tls_handshake_failure = std::move(on_tls_handshake_failure);
    config.tls = TlsServerConfig{pki_->server_cert, pki_->server_key, pki_->ca_cert, client_cert};
    auto server = Server::start(io_, config, [this](Request&& r, Responder respond) {
      {
        std::lock_guard lock(mu_);
        seen_.push_back({r.tls, r.tls_client_subject});
      }
      respond(Response::text(200, "ok"));
    });
    EXPECT_TRUE(server.ok()) << server.status().toString();
    servers_.push_back(std::move(*server));
    return *servers_.back();
  }
  Client& makeClient(ClientTlsConfig tls, ClientOptions options = {}) {
    auto client = Client::create(io_, options, tls);
    EXPECT_TRUE(client.ok()) << client.status().toString();
    clients_.push_back(std::move(*client));
    return *clients_.back();
  }
  ClientTlsConfig trusting() const {
    ClientTlsConfig tls;
    tls.ca_file = pki_->ca_cert;
    return tls;
  }
  ClientTlsConfig withClientCert() const {
    ClientTlsConfig tls = trusting();
    tls.cert_file = pki_->client_cert;
    tls.key_file = pki_->client_key;
    return tls;
  }
  static std::string urlOf(const Server& s) {
    return "https://127.0.0.1:" + std::to_string(s.port()) + "/itk";
  }
  static Result<Response> call(Client& client, const std::string& url) {
    auto promise = std::make_shared<std::promise<Result<Response>>>();
    auto future = promise->get_future();
    ClientRequest r;
    r.url = url;
    r.body = "<x/>";
    client.request(r, [promise](Result<Response> res) { promise->set_value(std::move(res)); });
    if (future.wait_for(60s) != std::future_status::ready)
      return Status::internal("test: the callback never came");
    return future.get();
  }
  struct Seen {
    bool tls;
    std::string subject;
  };
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  static test::TempDir* dir_;
  static test::TestPki* pki_;

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

test::TempDir* TlsTest::dir_ = nullptr;
test::TestPki* TlsTest::pki_ = nullptr;

TEST_F(TlsTest, ServerOnlyTls) {
  Server& server = startTlsServer(ClientCert::kNone);
  Client& client = makeClient(trusting());
  auto r = call(client, urlOf(server));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].tls);
  EXPECT_EQ(s[0].subject, "");
}

TEST_F(TlsTest, KeepsTlsConnectionsAlive) {
  Server& server = startTlsServer(ClientCert::kNone);
  Client& client = makeClient(trusting());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(client, urlOf(server)).ok());
  EXPECT_EQ(server.stats().connections_accepted.load(), 1u);
  EXPECT_EQ(client.stats().reused, 2u);
}

TEST_F(TlsTest, ChecksTheServerNameGivenInTheEndpoint) {
  Server& server = startTlsServer(ClientCert::kNone);
  ClientTlsConfig good = trusting();
  good.server_name = "localhost";  // a DNS subjectAltName of the server certificate
  auto ok = call(makeClient(good), urlOf(server));
  ASSERT_TRUE(ok.ok()) << ok.status().toString();

  ClientTlsConfig wrong = trusting();
  wrong.server_name = "peer.example.nhs.uk";
  auto r = call(makeClient(wrong), urlOf(server));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("hostname mismatch"), std::string::npos)
      << r.status().message();
}

TEST_F(TlsTest, AServerCertificateFromAnotherCaIsUnavailable) {
  Server& server = startTlsServer(ClientCert::kNone);
  ClientTlsConfig other;
  other.ca_file = pki_->other_ca_cert;
  auto r = call(makeClient(other), urlOf(server));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("TLS handshake"), std::string::npos) << r.status().message();
  EXPECT_TRUE(seen().empty());
}

TEST_F(TlsTest, RequiredClientCertificateRefusesAClientWithoutOne) {
  Server& server = startTlsServer(ClientCert::kRequired);
  auto r = call(makeClient(trusting()), urlOf(server));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_TRUE(seen().empty());
  EXPECT_TRUE(
      test::eventuallyTrue([&] { return server.stats().tls_handshake_failures.load() >= 1u; }));
}

TEST_F(TlsTest, AFailedHandshakeIsReportedToTheListenersOwner) {
  std::atomic<int> reported{0};
  Server& server = startTlsServer(ClientCert::kRequired, [&reported] { ++reported; });
  ASSERT_FALSE(call(makeClient(trusting()), urlOf(server)).ok());
  EXPECT_TRUE(test::eventuallyTrue([&] { return reported.load() >= 1; }));
  EXPECT_GE(server.stats().tls_handshake_failures.load(), 1u);
}

TEST_F(TlsTest, RequiredClientCertificateRefusesOneFromAnotherCa) {
  Server& server = startTlsServer(ClientCert::kRequired);
  ClientTlsConfig intruder = trusting();
  intruder.cert_file = pki_->other_client_cert;
  intruder.key_file = pki_->other_client_key;
  auto r = call(makeClient(intruder), urlOf(server));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_TRUE(seen().empty());
}

TEST_F(TlsTest, PresentsTheEndpointsClientCertificateToAServerThatRequiresOne) {
  Server& server = startTlsServer(ClientCert::kRequired);
  auto r = call(makeClient(withClientCert()), urlOf(server));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->status, 200);
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].subject, pki_->client_subject);
}

TEST_F(TlsTest, OptionalClientCertificate) {
  Server& server = startTlsServer(ClientCert::kOptional);
  auto without = call(makeClient(trusting()), urlOf(server));
  ASSERT_TRUE(without.ok()) << without.status().toString();
  auto with = call(makeClient(withClientCert()), urlOf(server));
  ASSERT_TRUE(with.ok()) << with.status().toString();
  auto s = seen();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].subject, "");
  EXPECT_EQ(s[1].subject, pki_->client_subject);
}

TEST_F(TlsTest, PlainHttpToATlsListenerIsNotServed) {
  Server& server = startTlsServer(ClientCert::kNone);
  test::HttpConnection c(server.port());
  ASSERT_TRUE(c.connected());
  auto r = c.request("POST", "/itk", "<x/>");
  EXPECT_TRUE(!r || r->status == 0);
  EXPECT_TRUE(seen().empty());
}

TEST_F(TlsTest, AHandshakeThatNeverCompletesIsUnavailableAfterTheConnectTimeout) {
  // A socket that listens but never accepts: the kernel completes TCP, nobody answers TLS.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ClientOptions options;
  options.connect_timeout = 300ms;
  Client& client = makeClient(trusting(), options);
  auto r = call(client, "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/");
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace itk::http
