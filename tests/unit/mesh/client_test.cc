// The MESH client against the fake MESH server (an independent python implementation of the
// spec): auth as the server verifies it, chunked and gzip send and download, the 500 cap, REPORTs,
// acknowledge, tracking and the error codes.
#include <gtest/gtest.h>

#include "itk/mesh/client.h"
#include "support/fake_mesh.h"

namespace itk::mesh {
namespace {

using test::Await;

class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(std::chrono::minutes offset) : offset_(offset) {}
  TimePoint now() const override { return std::chrono::system_clock::now() + offset_; }

 private:
  std::chrono::minutes offset_;
};

class MeshClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.running())
      GTEST_FAIL() << "the fake MESH server did not start:\n" << server_.log();
  }

  std::shared_ptr<Client> client(const std::string& mailbox,
                                 const std::string& password = "password",
                                 const std::string& key = "TestKey",
                                 const Clock& clock = SystemClock::instance()) {
    ClientConfig c;
    c.base_url = server_.baseUrl();
    c.credentials = {mailbox, password, key};
    c.max_message_bytes = 1 << 20;
    return Client::create(
        c,
        [this](http::ClientRequest r, http::ResponseCallback d) {
          exchange_(std::move(r), std::move(d));
        },
        [this](std::function<void()> f) { exchange_.post(std::move(f)); }, clock);
  }

  Result<std::string> send(Client& c, SendRequest r) {
    Await<Result<std::string>> a;
    c.send(std::move(r), a.callback());
    return a.get();
  }
  Result<DownloadedMessage> download(Client& c, const std::string& id) {
    Await<Result<DownloadedMessage>> a;
    c.download(id, a.callback());
    return a.get();
  }
  Result<InboxPage> list(Client& c, std::string next = {}) {
    Await<Result<InboxPage>> a;
    c.listInbox("", std::move(next), a.callback());
    return a.get();
  }
  Status ack(Client& c, const std::string& id) {
    Await<Status> a;
    c.acknowledge(id, a.callback());
    return a.get();
  }
  Status handshake(Client& c) {
    Await<Status> a;
    c.handshake(a.callback());
    return a.get();
  }

  static SendRequest request(const std::string& data, size_t chunk_size, bool compress,
                             const std::string& to = "X26ABC2",
                             const std::string& wf = "TEST_WORKFLOW") {
    SendRequest r;
    r.headers = {to, wf, "a subject", "TRACK-1", "TRACK-1.xml", "application/fhir+xml"};
    r.data = std::make_shared<const std::string>(data);
    r.chunk_size = chunk_size;
    r.compress = compress;
    return r;
  }

  static std::string text(size_t n) {
    std::string s;
    for (size_t i = 0; s.size() < n; ++i) s += "<line n=\"" + std::to_string(i) + "\"/>\n";
    s.resize(n);
    return s;
  }

  test::FakeMeshServer server_;
  test::ThreadExchange exchange_;
};

TEST_F(MeshClientTest, HandshakeWithGoodAndBadCredentials) {
  EXPECT_TRUE(handshake(*client("X26ABC1")).ok());
  Status wrong_password = handshake(*client("X26ABC1", "nope"));
  EXPECT_EQ(wrong_password.code(), Code::kAccessDenied) << wrong_password.toString();
  EXPECT_EQ(handshake(*client("X26ABC1", "password", "OtherKey")).code(), Code::kAccessDenied);
  EXPECT_EQ(handshake(*client("NOSUCHBOX")).code(), Code::kAccessDenied);
  auto stats = server_.admin("GET", "stats").as_object();
  EXPECT_EQ(stats.at("auth_failures").at("hmac").as_int64(), 2);
  EXPECT_EQ(stats.at("auth_failures").at("unknown_mailbox").as_int64(), 1);
}

TEST_F(MeshClientTest, ClockSkewBeyondTwoHoursIsRefused) {
  OffsetClock late(std::chrono::minutes(-121));
  OffsetClock close(std::chrono::minutes(-110));
  EXPECT_EQ(handshake(*client("X26ABC1", "password", "TestKey", late)).code(), Code::kAccessDenied);
  EXPECT_TRUE(handshake(*client("X26ABC1", "password", "TestKey", close)).ok());
  EXPECT_EQ(server_.admin("GET", "stats").at("auth_failures").at("skew").as_int64(), 1);
}

TEST_F(MeshClientTest, AReusedTokenIsRefused) {
  std::string token = authorizationHeader({"X26ABC1", "password", "TestKey"}, "fixed-nonce", 1,
                                          std::chrono::system_clock::now());
  std::map<std::string, std::string> h = {{"Authorization", token},
                                          {"Accept", std::string(kAcceptV2)}};
  test::HttpConnection c1(server_.port());
  EXPECT_EQ(c1.request("GET", "/messageexchange/X26ABC1/inbox", "", h)->status, 200);
  test::HttpConnection c2(server_.port());
  EXPECT_EQ(c2.request("GET", "/messageexchange/X26ABC1/inbox", "", h)->status, 403);
  // Our client never reuses one: many requests in a row all pass.
  auto c = client("X26ABC1");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(list(*c).ok());
}

TEST_F(MeshClientTest, SendListDownloadAcknowledgeTrack) {
  auto sender = client("X26ABC1");
  auto receiver = client("X26ABC2");
  std::string data = text(5000);
  auto id = send(*sender, request(data, 1 << 20, true));
  ASSERT_TRUE(id.ok()) << id.status().toString();
  auto meta = server_.message(*id);
  EXPECT_EQ(meta.at("content_encoding").as_string(), "gzip");
  EXPECT_EQ(meta.at("total_chunks").as_int64(), 1);
  EXPECT_EQ(meta.at("local_id").as_string(), "TRACK-1");
  EXPECT_EQ(meta.at("workflow_id").as_string(), "TEST_WORKFLOW");
  EXPECT_EQ(test::FakeMeshServer::unbase64(meta.at("data_b64").as_string()), data);

  auto page = list(*receiver);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->message_ids, std::vector<std::string>{*id});
  EXPECT_EQ(page->approx_inbox_count, 1);
  auto got = download(*receiver, *id);
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_EQ(got->data, data);
  EXPECT_EQ(got->headers.from, "X26ABC1");
  EXPECT_EQ(got->headers.local_id, "TRACK-1");
  EXPECT_EQ(got->headers.workflow_id, "TEST_WORKFLOW");
  EXPECT_FALSE(got->headers.isReport());
  EXPECT_TRUE(ack(*receiver, *id).ok());
  EXPECT_TRUE(list(*receiver)->message_ids.empty());
  EXPECT_EQ(download(*receiver, *id).status().code(), Code::kNotFound);  // 410 once acknowledged

  Await<Result<Tracking>> t;
  sender->tracking(*id, t.callback());
  auto tracking = t.get();
  ASSERT_TRUE(tracking.ok());
  EXPECT_EQ(tracking->status, "acknowledged");
  EXPECT_EQ(tracking->local_id, "TRACK-1");
  // Tracking is only for the sender (404, not 403).
  Await<Result<Tracking>> other;
  receiver->tracking(*id, other.callback());
  EXPECT_EQ(other.get().status().code(), Code::kNotFound);
}

TEST_F(MeshClientTest, ChunkedSendEachChunkGzippedOnItsOwn) {
  auto sender = client("X26ABC1");
  std::string data = text(3500);
  for (bool compress : {true, false}) {
    auto id = send(*sender, request(data, 1000, compress));
    ASSERT_TRUE(id.ok()) << id.status().toString();
    auto meta = server_.message(*id);
    EXPECT_EQ(meta.at("total_chunks").as_int64(), 4);
    EXPECT_EQ(meta.at("chunks_received").as_int64(), 4);
    EXPECT_EQ(meta.at("status").as_string(), "accepted");
    EXPECT_EQ(meta.at("content_encoding").as_string(), compress ? "gzip" : "");
    EXPECT_EQ(test::FakeMeshServer::unbase64(meta.at("data_b64").as_string()), data);
    auto got = download(*client("X26ABC2"), *id);
    ASSERT_TRUE(got.ok()) << got.status().toString();
    EXPECT_EQ(got->chunks, 4);
    EXPECT_EQ(got->data, data);
  }
}

TEST_F(MeshClientTest, DownloadsInjectedChunkedMessages) {
  std::string data = text(2500);
  for (bool gzip : {true, false}) {
    std::string id = server_.inject("X26ABC2", "X26ABC1", "TEST_WORKFLOW", data, 600, gzip, "L-9");
    ASSERT_FALSE(id.empty());
    auto got = download(*client("X26ABC1"), id);
    ASSERT_TRUE(got.ok()) << got.status().toString();
    EXPECT_EQ(got->chunks, 5);
    EXPECT_EQ(got->data, data);
    EXPECT_EQ(got->headers.message_id, id);
    EXPECT_EQ(got->headers.local_id, "L-9");
  }
}

TEST_F(MeshClientTest, InboxPagesHoldAtMost500) {
  for (int i = 0; i < 503; ++i) {
    // Appended, not "m" + string: GCC 12 -O3 misreports that as an overlapping copy.
    std::string data = std::to_string(i);
    data.insert(0, 1, 'm');
    server_.inject("X26ABC2", "X26ABC3", "WF", data);
  }
  auto c = client("X26ABC3");
  auto first = list(*c);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->message_ids.size(), 500u);
  EXPECT_EQ(first->approx_inbox_count, 503);
  ASSERT_FALSE(first->next.empty());
  auto second = list(*c, first->next);
  ASSERT_TRUE(second.ok()) << second.status().toString();
  EXPECT_EQ(second->message_ids.size(), 3u);
  EXPECT_TRUE(second->next.empty());
}

TEST_F(MeshClientTest, ReportsAreRecognised) {
  auto sender = client("X26ABC1");
  auto id = send(*sender, request("payload", 1 << 20, false, "X26ABC2"));
  ASSERT_TRUE(id.ok());
  boost::json::object report{{"mailbox_id", "X26ABC1"},
                             {"code", "14"},
                             {"description", "Message not collected by recipient after 5 days"},
                             {"workflow_id", "TEST_WORKFLOW"},
                             {"linked_message_id", *id},
                             {"local_id", "TRACK-1"},
                             {"status", "undeliverable"}};
  std::string report_id(server_.admin("POST", "report", report).at("message_id").as_string());
  auto page = list(*sender);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->message_ids, std::vector<std::string>{report_id});
  auto got = download(*sender, report_id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->data.empty());
  auto r = reportOf(got->headers);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->linked_message_id, *id);
  EXPECT_EQ(r->local_id, "TRACK-1");
  EXPECT_EQ(r->status_code, "14");
  EXPECT_EQ(r->status_success, "ERROR");
}

TEST_F(MeshClientTest, ErrorCodesAreClassified) {
  auto c = client("X26ABC1");
  auto unknown = send(*c, request("x", 100, true, "NOWHERE"));
  EXPECT_EQ(unknown.status().code(), Code::kRejected);
  EXPECT_EQ(unknown.status().vocabularyCode(), "12");
  EXPECT_EQ(toSendResult(unknown.status()).outcome, SendResult::Outcome::kPermanent);

  server_.admin("POST", "deny", boost::json::object{{"workflow_id", "BLOCKED"}});
  auto denied = send(*c, request("x", 100, true, "X26ABC2", "BLOCKED"));
  EXPECT_EQ(denied.status().vocabularyCode(), "17");

  EXPECT_EQ(send(*c, request("", 100, true)).status().code(), Code::kRejected);                // 02
  EXPECT_EQ(send(*c, request("x", 100, true, "https://x")).status().code(), Code::kRejected);  // 06

  server_.admin("POST", "fault", boost::json::object{{"op", "send"}, {"status", 503}});
  auto busy = send(*c, request("x", 100, true));
  EXPECT_EQ(busy.status().code(), Code::kUnavailable);
  EXPECT_EQ(toSendResult(busy.status()).outcome, SendResult::Outcome::kRetryable);

  // A lost chunked upload (404 on chunk 2) is retried from the start.
  server_.admin("POST", "fault", boost::json::object{{"op", "send_chunk"}, {"status", 404}});
  auto lost = send(*c, request(text(300), 100, true));
  EXPECT_EQ(lost.status().code(), Code::kUnavailable);
  EXPECT_TRUE(send(*c, request(text(300), 100, true)).ok());

  server_.admin("POST", "fault", boost::json::object{{"op", "send"}, {"drop", true}});
  EXPECT_EQ(send(*c, request("x", 100, true)).status().code(), Code::kUnavailable);

  auto gone = download(*c, "NO-SUCH-ID");
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_EQ(gone.status().vocabularyCode(), "20");
  // Another mailbox's message: 403 from MESH.
  std::string theirs = server_.inject("X26ABC1", "X26ABC2", "WF", "data");
  EXPECT_EQ(download(*c, theirs).status().code(), Code::kAccessDenied);
}

TEST_F(MeshClientTest, OversizedDownloadsAreRefused) {
  std::string id = server_.inject("X26ABC2", "X26ABC1", "WF", text((1 << 20) + 10), 300000, true);
  auto got = download(*client("X26ABC1"), id);
  EXPECT_EQ(got.status().code(), Code::kInvalid);
}

}  // namespace
}  // namespace itk::mesh
