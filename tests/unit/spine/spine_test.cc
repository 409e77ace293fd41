// The Spine transport (spec/itk2.md §7): the trunk's wire formats against our own builders and
// the real CIAO fixtures, then the transport in-process: a SoapPeer plays the receiving MHS (and
// the sender's ack endpoint), a fake InboundSink plays the router.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "itk/envelope/reader.h"
#include "itk/spine/ebxml.h"
#include "itk/spine/transport.h"
#include "itk/uuid.h"
#include "support/http_client.h"
#include "support/soap_peer.h"
#include "unit/envelope/test_messages.h"

namespace itk::spine {
namespace {

using namespace std::chrono_literals;
namespace testing2 = itk2::testing;
using test::SoapPeer;

constexpr const char* kFixtureContentType =
    "multipart/related; boundary=\"--=_MIME-Boundary\"; type=\"text/xml\"; "
    "start=\"<80c4eaee-db6a-4113-99dd-a6bd4d9380e7>\"";
constexpr const char* kRefToMessageId = "5F21C7C0-6CD2-4A50-A879-F3241BA7BE29";

std::string spineFixture(const std::string& name) {
  return testing2::fixture("spine/" + name);
}
bool spineFixturesPresent() {
  return std::filesystem::is_directory(std::string(ITK_FIXTURES_DIR) + "/itk2/spine");
}
#define REQUIRE_SPINE_FIXTURES()                           \
  if (!spineFixturesPresent())                             \
  GTEST_SKIP() << "the shared fixtures (" ITK_FIXTURES_DIR \
                  "/itk2/spine) are not here; "            \
                  "the fixture tests need them"

TrunkSpec spec() {
  TrunkSpec s;
  s.from_party = "X26HUB-807354";
  s.to_party = "BBB-654321";
  s.cpa_id = "S3024519A3110234";
  s.message_id = "89EEFD54-7C9E-4B6F-93A8-835CFE6EFC95";
  s.conversation_id = s.message_id;
  s.timestamp = "2026-11-25T10:00:00Z";
  s.sender_asid = "200000001234";
  s.receiver_asid = "000000000000";
  s.hl7_id = "FA808398-27DB-4F95-A652-D9A6310D42A8";
  s.hl7_creation_time = "20261125100000";
  s.ebxml_content_id = "ebxml@test";
  s.hl7_content_id = "hl7@test";
  s.de_content_id = "de@test";
  return s;
}

// ---- wire formats --------------------------------------------------------------------------

TEST(SpineWireTest, ATrunkRequestReadsBackAsBuilt) {
  const std::string de = testing2::validDe();
  BuiltRequest built = buildTrunkRequest(spec(), de);
  EXPECT_EQ(built.content_type.rfind("multipart/related; boundary=\"", 0), 0u);
  EXPECT_NE(built.content_type.find("type=\"text/xml\"; start=\"<ebxml@test>\""),
            std::string::npos);
  auto m = parseTrunkMessage(built.content_type, built.body);
  ASSERT_TRUE(m.ok()) << m.status().toString();
  EXPECT_EQ(m->de, de);  // verbatim
  EXPECT_EQ(m->ebxml.from_party, "X26HUB-807354");
  EXPECT_EQ(m->ebxml.to_party, "BBB-654321");
  EXPECT_EQ(m->ebxml.cpa_id, "S3024519A3110234");
  EXPECT_EQ(m->ebxml.message_id, "89EEFD54-7C9E-4B6F-93A8-835CFE6EFC95");
  EXPECT_EQ(m->ebxml.conversation_id, "89EEFD54-7C9E-4B6F-93A8-835CFE6EFC95");
  EXPECT_EQ(m->ebxml.service, "urn:nhs:names:services:itk");
  EXPECT_EQ(m->ebxml.action, "COPC_IN000001GB01");
  EXPECT_EQ(m->ebxml.timestamp, "2026-11-25T10:00:00Z");
  EXPECT_TRUE(m->ebxml.duplicate_elimination);
  EXPECT_TRUE(m->ebxml.ack_requested);
  EXPECT_FALSE(m->ebxml.sync_reply);
  EXPECT_EQ(m->ebxml.kind(), EbxmlHeader::Kind::kMessage);
  ASSERT_EQ(m->ebxml.manifest.size(), 2u);
  EXPECT_EQ(m->ebxml.manifest[0].href, "cid:hl7@test");
  EXPECT_TRUE(m->ebxml.manifest[0].hl7_payload);
  EXPECT_EQ(m->ebxml.manifest[1].description, "ITK Trunk Message");
  ASSERT_TRUE(readHl7Asids(m->hl7, &m->sender_asid, &m->receiver_asid).ok());
  EXPECT_EQ(m->sender_asid, "200000001234");
  EXPECT_EQ(m->receiver_asid, "000000000000");
}

TEST(SpineWireTest, TheBoundaryIsNotInAnyPart) {
  std::vector<MimePart> parts{{"a", "text/xml", "", "x"}};
  std::string b = chooseBoundary(parts);
  parts[0].body = "--" + b;
  EXPECT_NE(chooseBoundary(parts), b);
  auto back = parseMultipart(buildMultipart(b + "x", {{"a", "text/xml", "", "body"}}), b + "x");
  ASSERT_TRUE(back.ok()) << back.status().toString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].body, "body");
}

TEST(SpineWireTest, ReadsTheCiaoTrunkFixture) {
  REQUIRE_SPINE_FIXTURES();
  const std::string body = spineFixture("ciao-test-trunk.multipart");
  auto m = parseTrunkMessage(kFixtureContentType, body);
  ASSERT_TRUE(m.ok()) << m.status().toString();
  EXPECT_EQ(m->ebxml.from_party, "AAA-123456");
  EXPECT_EQ(m->ebxml.to_party, "BBB-654321");
  EXPECT_EQ(m->ebxml.cpa_id, "S3024519A3110234");
  EXPECT_EQ(m->ebxml.message_id, "89EEFD54-7C9E-4B6F-93A8-835CFE6EFC95");
  EXPECT_EQ(m->ebxml.action, "COPC_IN000001GB01");
  EXPECT_TRUE(m->ebxml.ack_requested);
  ASSERT_TRUE(readHl7Asids(m->hl7, &m->sender_asid, &m->receiver_asid).ok());
  EXPECT_EQ(m->sender_asid, "866971180017");
  EXPECT_EQ(m->receiver_asid, "000000000000");
  auto header = itk2::readDistributionEnvelope(m->de);
  ASSERT_TRUE(header.ok()) << header.status().toString();
  EXPECT_EQ(header->tracking_id, "7D6F23E0-AE1A-11DB-8707-B18E1E0994EF");
  EXPECT_EQ(header->service, "urn:nhs-itk:services:201005:SendCDADocument-v2-0");
}

TEST(SpineWireTest, ReadsTheCiaoAckErrorAndDeliveryFailure) {
  REQUIRE_SPINE_FIXTURES();
  auto ack = parseEbxml(spineFixture("ciao-test-ack.xml"));
  ASSERT_TRUE(ack.ok()) << ack.status().toString();
  EXPECT_EQ(ack->kind(), EbxmlHeader::Kind::kAcknowledgment);
  EXPECT_EQ(ack->ref_to_message_id, kRefToMessageId);
  EXPECT_EQ(ack->from_party, "BBB-654321");

  auto error = parseEbxml(spineFixture("ciao-test-error.xml"));
  ASSERT_TRUE(error.ok()) << error.status().toString();
  EXPECT_EQ(error->kind(), EbxmlHeader::Kind::kMessageError);
  EXPECT_EQ(error->ref_to_message_id, kRefToMessageId);
  ASSERT_EQ(error->errors.size(), 1u);
  EXPECT_EQ(error->errors[0].code, "code");
  EXPECT_EQ(error->errors[0].severity, "Error");
  EXPECT_EQ(error->errors[0].context, "context");
  EXPECT_EQ(error->errors[0].description, "Details of the error");

  auto failure = parseEbxml(spineFixture("ciao-test-delivery-failure.xml"));
  ASSERT_TRUE(failure.ok()) << failure.status().toString();
  EXPECT_EQ(failure->kind(), EbxmlHeader::Kind::kDeliveryFailure);  // not a plain ack
  EXPECT_TRUE(failure->acknowledgment);
  EXPECT_EQ(failure->ref_to_message_id, kRefToMessageId);
}

TEST(SpineWireTest, TheManifestFixtureIsNotATrunkMessage) {
  REQUIRE_SPINE_FIXTURES();
  auto m = parseEbxml(spineFixture("ciao-test-manifest.xml"));
  ASSERT_TRUE(m.ok()) << m.status().toString();
  EXPECT_EQ(m->action, "QWERTY");
  EXPECT_FALSE(m->ack_requested);
  ASSERT_EQ(m->manifest.size(), 2u);
  EXPECT_TRUE(m->manifest[0].hl7_payload);
  EXPECT_EQ(m->manifest[1].description, "ITK Trunk Message");
}

TEST(SpineWireTest, OurAckAndErrorReadBack) {
  ReplySpec r{"X26HUB-807354",
              "AAA-123456",
              "CPA",
              "CONV",
              "ID1",
              "2026-11-25T10:00:00Z",
              "89EEFD54-7C9E-4B6F-93A8-835CFE6EFC95"};
  auto ack = parseEbxml(buildAcknowledgment(r));
  ASSERT_TRUE(ack.ok()) << ack.status().toString();
  EXPECT_EQ(ack->kind(), EbxmlHeader::Kind::kAcknowledgment);
  EXPECT_EQ(ack->service, kEbxmlService);
  EXPECT_EQ(ack->ref_to_message_id, r.ref_to_message_id);
  EXPECT_EQ(ack->from_party, "X26HUB-807354");
  auto error = parseEbxml(buildMessageError(r, {"1000", "Error", "ctx", "bad <thing> & more"}));
  ASSERT_TRUE(error.ok()) << error.status().toString();
  EXPECT_EQ(error->kind(), EbxmlHeader::Kind::kMessageError);
  EXPECT_EQ(error->errorText(), "1000 (Error, ctx): bad <thing> & more");
}

TEST(SpineWireTest, HostileInputIsRefusedNotCrashed) {
  const std::string ct = "multipart/related; boundary=\"b\"; start=\"<x>\"";
  for (std::string body : {std::string(), std::string("garbage"), std::string("--b\r\n"),
                           std::string("--b\r\nContent-Id: <x>\r\n\r\nno close"),
                           std::string("--b\r\nContent-Id: <x>\r\n\r\n<a/>\r\n--b--"),
                           std::string("--b\r\n\r\n\r\n--b--")}) {
    auto m = parseTrunkMessage(ct, body);
    EXPECT_FALSE(m.ok()) << body;
  }
  std::string many;
  for (int i = 0; i < 40; ++i) many += "--b\r\n\r\nx\r\n";
  many += "--b--";
  auto parts = parseMultipart(many, "b");
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find("more than 16 parts"), std::string::npos);
  EXPECT_FALSE(parseMultipartType("text/xml").ok());
  EXPECT_FALSE(parseMultipartType("multipart/related; type=text/xml").ok());
  EXPECT_FALSE(parseEbxml("<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>").ok());
  EXPECT_FALSE(parseEbxml("<Envelope/>").ok());
  EXPECT_FALSE(parseEbxml("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>")
                   .ok());  // no MessageHeader
}

TEST(SpineWireTest, TheMessageIdIsStablePerDelivery) {
  std::string a = messageIdFor("X26HUB-807354", "T1", 7);
  EXPECT_TRUE(isUuid(a, true)) << a;
  EXPECT_EQ(a, messageIdFor("X26HUB-807354", "T1", 7));
  EXPECT_NE(a, messageIdFor("X26HUB-807354", "T1", 8));
  EXPECT_NE(a, messageIdFor("X26HUB-807354", "T2", 7));
  EXPECT_NE(a, messageIdFor("OTHER-1", "T1", 7));
}

// ---- configuration -------------------------------------------------------------------------

TEST(SpineConfigTest, TheHubExampleEndpointParses) {
  auto ep = parseEndpoint(
      YAML::Load("party_key: X26HUB-807354\nasid: \"200000001234\"\n"
                 "url: https://msg.spine.nhs.example/reliablemessaging/reliablerequest\n"));
  ASSERT_TRUE(ep.ok()) << ep.status().toString();
  EXPECT_EQ((*ep)->party_key, "X26HUB-807354");
  EXPECT_EQ((*ep)->asid, "200000001234");
  EXPECT_TRUE((*ep)->cpa_id.empty());
}

TEST(SpineConfigTest, EndpointMistakesAreNamed) {
  auto missing = parseEndpoint(YAML::Load("url: http://x/\nasid: \"1\"\n"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("party_key is required"), std::string::npos);
  auto unknown = parseEndpoint(YAML::Load("url: http://x/\nasid: \"1\"\nparty_key: P\nparty: Q\n"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown option party"), std::string::npos);
  auto asid = parseEndpoint(YAML::Load("url: http://x/\nasid: abc\nparty_key: P\n"));
  ASSERT_FALSE(asid.ok());
  EXPECT_NE(asid.status().message().find("asid must be digits"), std::string::npos);
  auto tls = parseEndpoint(YAML::Load("url: http://x/\nasid: \"1\"\nparty_key: P\ntls: {}\n"));
  EXPECT_FALSE(tls.ok());
}

TEST(SpineConfigTest, TheTransportSectionParses) {
  auto c = parseTransportConfig(YAML::Load(
      "party_key: X26HUB-807354\nasid: \"200000001234\"\ncpa_id: S1\nlisten: 127.0.0.1:0\n"
      "ack_urls: {AAA-123456: http://127.0.0.1:1/reliablemessaging/intermediary}\n"
      "ack_timeout: 2s\n"));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->path, "/reliablemessaging/intermediary");
  ASSERT_TRUE(c->listener);
  EXPECT_EQ(c->listener->port, 0);
  EXPECT_EQ(c->ack_urls.at("AAA-123456"), "http://127.0.0.1:1/reliablemessaging/intermediary");
  EXPECT_EQ(c->ack_timeout, 2s);
  auto bad = parseTransportConfig(YAML::Load("asid: \"1\"\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("transports.spine.party_key is required"),
            std::string::npos);
  EXPECT_FALSE(
      parseTransportConfig(YAML::Load("party_key: P\nasid: \"1\"\nack_urls: {A: nope}")).ok());
}

// ---- the transport -------------------------------------------------------------------------

class FakeSink final : public InboundSink {
 public:
  void accept(Message message, AcceptCallback done) override {
    AcceptOutcome o;
    {
      std::lock_guard lock(mu_);
      messages_.push_back(std::move(message));
      o = next_;
    }
    done(o);
  }
  void reportUnreadable(const Origin&, const Status& why) override {
    std::lock_guard lock(mu_);
    unreadable_.push_back(why);
  }
  void reportDeliveryFailure(DeliveryFailureReport report,
                             std::function<void(Status)> done) override {
    Status answer;
    {
      std::lock_guard lock(mu_);
      reports_.push_back(std::move(report));
      if (defer_reports_ > 0) {
        --defer_reports_;
        answer = Status::unavailable("still in flight");
      }
    }
    done(answer);
  }
  void answerWith(AcceptOutcome o) {
    std::lock_guard lock(mu_);
    next_ = std::move(o);
  }
  void deferReports(int n) {
    std::lock_guard lock(mu_);
    defer_reports_ = n;
  }
  std::vector<Message> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::vector<Status> unreadable() {
    std::lock_guard lock(mu_);
    return unreadable_;
  }
  std::vector<DeliveryFailureReport> reports() {
    std::lock_guard lock(mu_);
    return reports_;
  }

 private:
  std::mutex mu_;
  AcceptOutcome next_ = AcceptOutcome::accepted(1);
  int defer_reports_ = 0;
  std::vector<Message> messages_;
  std::vector<Status> unreadable_;
  std::vector<DeliveryFailureReport> reports_;
};

Result<Message> decodeDe(std::shared_ptr<const std::string> bytes) {
  auto header = itk2::readDistributionEnvelope(*bytes);
  if (!header.ok()) return header.status();
  Message m;
  m.header = std::move(*header);
  m.body = std::move(bytes);
  return m;
}

class SpineTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(peer_.started()) << peer_.error();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    peer_.releaseHeld();
    transport_.reset();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  void start(const std::string& extra = "") {
    auto t = makeSpineTransportFactory()->create(
        YAML::Load("party_key: X26HUB-807354\nasid: \"200000001234\"\ncpa_id: S3024519A3110234\n"
                   "listen: 127.0.0.1:0\nack_timeout: 60s\nack_urls:\n  AAA-123456: " +
                   peer_.url("/reliablemessaging/intermediary") + "\n" + extra),
        ctx_);
    ASSERT_TRUE(t.ok()) << t.status().toString();
    transport_ = std::move(*t);
    Status s = transport_->start(sink_);
    ASSERT_TRUE(s.ok()) << s.toString();
    port_ = spineListenerPort(*transport_);
    ASSERT_NE(port_, 0);
    EXPECT_TRUE(transport_->ready());
  }

  EndpointSpec endpoint(const std::string& url) {
    auto parsed = parseEndpoint(
        YAML::Load("url: " + url + "\nparty_key: BBB-654321\nasid: \"000000000000\"\n"));
    EXPECT_TRUE(parsed.ok()) << parsed.status().toString();
    EndpointSpec spec;
    spec.name = "trunk";
    spec.transport = "spine";
    if (parsed.ok()) spec.config = *parsed;
    return spec;
  }
  static OutboundMessage outbound(int64_t delivery_id = 7) {
    auto m = std::make_shared<Message>();
    auto header = itk2::readDistributionEnvelope(testing2::validDe());
    EXPECT_TRUE(header.ok());
    m->header = *header;
    m->body = std::make_shared<const std::string>(testing2::validDe());
    OutboundMessage out;
    out.message = m;
    out.delivery_id = delivery_id;
    out.timeout = 30s;
    return out;
  }
  SendResult send(const EndpointSpec& ep, OutboundMessage out = outbound()) {
    auto promise = std::make_shared<std::promise<SendResult>>();
    auto future = promise->get_future();
    transport_->send(std::move(out), ep, [promise](SendResult r) { promise->set_value(r); });
    if (future.wait_for(60s) != std::future_status::ready)
      return SendResult::permanent("test: the callback never came");
    return future.get();
  }
  std::optional<test::HttpReply> post(const std::string& soap_action, const std::string& body,
                                      const std::string& content_type = "text/xml") {
    test::HttpConnection c(port_);
    std::map<std::string, std::string> headers{{"Content-Type", content_type}};
    if (!soap_action.empty()) headers["SOAPAction"] = soap_action;
    return c.request("POST", "/reliablemessaging/intermediary", body, headers);
  }
  std::string trunkBody(const std::string& message_id, const std::string& from = "AAA-123456") {
    TrunkSpec s = spec();
    s.from_party = from;
    s.to_party = "X26HUB-807354";
    s.message_id = message_id;
    s.conversation_id = message_id;
    BuiltRequest b = buildTrunkRequest(s, testing2::validDe());
    content_type_ = b.content_type;
    return b.body;
  }

  SoapPeer peer_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::vector<std::thread> threads_;
  RouterIdentity identity_;
  prometheus::Registry registry_;
  TransportContext ctx_{io_, SystemClock::instance(), identity_, registry_, "var", decodeDe};
  FakeSink sink_;
  std::unique_ptr<Transport> transport_;
  uint16_t port_ = 0;
  std::string content_type_;
};

TEST_F(SpineTransportTest, SendPostsAThreePartTrunkMessage) {
  start();
  peer_.script({SoapPeer::respond(202)});
  SendResult r = send(endpoint(peer_.url("/reliablemessaging/reliablerequest")));
  ASSERT_EQ(r.outcome, SendResult::Outcome::kDelivered) << r.detail;
  const std::string id = messageIdFor("X26HUB-807354", std::string(testing2::kTrackingId), 7);
  EXPECT_EQ(r.remote_id, id);
  ASSERT_EQ(peer_.count(), 1u);
  auto got = peer_.received()[0];
  EXPECT_EQ(got.target, "/reliablemessaging/reliablerequest");
  EXPECT_EQ(*got.headers.get("SOAPAction"), "\"urn:nhs:names:services:itk/COPC_IN000001GB01\"");
  std::string ct(*got.headers.get("Content-Type"));
  auto type = parseMultipartType(ct);
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type->type, "text/xml");
  auto parts = parseMultipart(got.body, type->boundary);
  ASSERT_TRUE(parts.ok()) << parts.status().toString();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].content_id, type->start);
  EXPECT_EQ((*parts)[0].content_type, "text/xml");
  EXPECT_EQ((*parts)[1].content_type, "application/xml; charset=UTF-8");
  EXPECT_EQ((*parts)[2].body, testing2::validDe());
  auto m = parseTrunkMessage(ct, got.body);
  ASSERT_TRUE(m.ok()) << m.status().toString();
  EXPECT_EQ(m->ebxml.from_party, "X26HUB-807354");
  EXPECT_EQ(m->ebxml.to_party, "BBB-654321");
  EXPECT_EQ(m->ebxml.cpa_id, "S3024519A3110234");
  EXPECT_EQ(m->ebxml.message_id, id);
  EXPECT_EQ(m->ebxml.conversation_id, id);
  EXPECT_TRUE(m->ebxml.ack_requested);
  EXPECT_TRUE(m->ebxml.duplicate_elimination);
  ASSERT_TRUE(readHl7Asids(m->hl7, &m->sender_asid, &m->receiver_asid).ok());
  EXPECT_EQ(m->sender_asid, "200000001234");
  EXPECT_EQ(m->receiver_asid, "000000000000");
}

TEST_F(SpineTransportTest, ARetriedDeliveryKeepsItsMessageId) {
  start();
  peer_.script({SoapPeer::respond(503), SoapPeer::respond(200)});
  auto ep = endpoint(peer_.url());
  OutboundMessage first = outbound(9);
  SendResult a = send(ep, first);
  EXPECT_EQ(a.outcome, SendResult::Outcome::kRetryable) << a.detail;
  OutboundMessage second = outbound(9);
  second.attempt = 2;
  SendResult b = send(ep, second);
  EXPECT_EQ(b.outcome, SendResult::Outcome::kDelivered) << b.detail;
  auto got = peer_.received();
  ASSERT_EQ(got.size(), 2u);
  auto id = [](const SoapPeer::Received& r) {
    auto m = parseTrunkMessage(std::string(*r.headers.get("Content-Type")), r.body);
    return m.ok() ? m->ebxml.message_id : std::string("?");
  };
  EXPECT_EQ(id(got[0]), id(got[1]));
}

TEST_F(SpineTransportTest, SendClassifiesEachAnswer) {
  start();
  ReplySpec reply{"BBB-654321",
                  "X26HUB-807354",
                  "S1",
                  "C",
                  "E1",
                  "2026-11-25T10:00:00Z",
                  messageIdFor("X26HUB-807354", std::string(testing2::kTrackingId), 7)};
  peer_.script({SoapPeer::respond(200), SoapPeer::respond(202, buildAcknowledgment(reply)),
                SoapPeer::respond(202, buildMessageError(reply, {"ValueNotRecognized", "Error", "",
                                                                 "no such party"})),
                SoapPeer::respond(500), SoapPeer::respond(400)});
  auto ep = endpoint(peer_.url());
  EXPECT_EQ(send(ep).outcome, SendResult::Outcome::kDelivered);
  EXPECT_EQ(send(ep).outcome, SendResult::Outcome::kDelivered);
  SendResult error = send(ep);
  EXPECT_EQ(error.outcome, SendResult::Outcome::kPermanent);
  EXPECT_NE(error.detail.find("ValueNotRecognized"), std::string::npos) << error.detail;
  EXPECT_NE(error.detail.find("no such party"), std::string::npos) << error.detail;
  EXPECT_EQ(send(ep).outcome, SendResult::Outcome::kRetryable);
  EXPECT_EQ(send(ep).outcome, SendResult::Outcome::kPermanent);
  // Nobody listening: a connection failure.
  uint16_t closed_port;
  {
    SoapPeer gone;
    closed_port = gone.port();
  }
  SendResult refused =
      send(endpoint("http://127.0.0.1:" + std::to_string(closed_port) + "/reliablemessaging"));
  EXPECT_EQ(refused.outcome, SendResult::Outcome::kRetryable) << refused.detail;
}

TEST_F(SpineTransportTest, AnAsynchronousMessageErrorBecomesADeliveryFailureReport) {
  start();
  peer_.script({SoapPeer::respond(202)});
  SendResult r = send(endpoint(peer_.url()));
  ASSERT_EQ(r.outcome, SendResult::Outcome::kDelivered);
  ReplySpec reply{"BBB-654321", "X26HUB-807354",        "S1",       r.remote_id,
                  "E1",         "2026-11-25T10:00:00Z", r.remote_id};
  // The router cannot take it at once (the send's outcome not yet recorded): offered again.
  sink_.deferReports(1);
  auto answer = post("\"urn:oasis:names:tc:ebxml-msg:service/MessageError\"",
                     buildMessageError(reply, {"DeliveryFailure", "Error", "", "not delivered"}));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_TRUE(answer->body.empty());
  auto reports = sink_.reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].transport, "spine");
  EXPECT_EQ(reports[1].remote_id, r.remote_id);
  EXPECT_EQ(reports[1].tracking_id, testing2::kTrackingId);
  EXPECT_EQ(reports[1].code, "DeliveryFailure");
  EXPECT_NE(reports[1].description.find("not delivered"), std::string::npos);
  EXPECT_EQ(reports[1].report_id, "E1");
}

TEST_F(SpineTransportTest, TheCiaoFixturesOnTheListener) {
  REQUIRE_SPINE_FIXTURES();
  start();
  auto ack = post("urn:oasis:names:tc:ebxml-msg:service/Acknowledgment",
                  spineFixture("ciao-test-ack.xml"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, 200);
  EXPECT_TRUE(sink_.reports().empty());  // an ack is counted, not reported
  // SpineTools' typo.
  auto error = post("\"urn:urn:oasis:names:tc:ebxml-msg:service/MessageError\"",
                    spineFixture("ciao-test-error.xml"));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 200);
  auto failure = post("\"urn:oasis:names:tc:ebxml-msg:service/Acknowledgment\"",
                      spineFixture("ciao-test-delivery-failure.xml"));
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->status, 200);
  auto reports = sink_.reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].remote_id, kRefToMessageId);
  EXPECT_EQ(reports[0].code, "code");
  EXPECT_EQ(reports[1].remote_id, kRefToMessageId);
  EXPECT_EQ(reports[1].code, "DeliveryFailure");
}

TEST_F(SpineTransportTest, AnInboundTrunkMessageIsAcceptedAndAcknowledged) {
  start();
  const std::string id = newUuid();
  auto answer =
      post("\"urn:nhs:names:services:itk/COPC_IN000001GB01\"", trunkBody(id), content_type_);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << answer->body;
  EXPECT_TRUE(answer->body.empty());
  auto messages = sink_.messages();
  ASSERT_EQ(messages.size(), 1u);
  const Message& m = messages[0];
  EXPECT_EQ(*m.body, testing2::validDe());
  EXPECT_EQ(m.header.tracking_id, testing2::kTrackingId);
  EXPECT_EQ(m.origin.transport, "spine");
  EXPECT_EQ(m.origin.peer, "AAA-123456");
  EXPECT_EQ(m.origin.transport_message_id, id);
  ASSERT_TRUE(m.origin.attribute("spine.from_asid"));
  EXPECT_EQ(*m.origin.attribute("spine.from_asid"), "200000001234");
  ASSERT_TRUE(m.origin.attribute("spine.cpa_id"));
  EXPECT_EQ(*m.origin.attribute("spine.cpa_id"), "S3024519A3110234");

  ASSERT_TRUE(peer_.waitFor(1, 30s));
  auto ack = peer_.received()[0];
  EXPECT_EQ(ack.target, "/reliablemessaging/intermediary");
  EXPECT_EQ(*ack.headers.get("SOAPAction"),
            "\"urn:oasis:names:tc:ebxml-msg:service/Acknowledgment\"");
  auto header = parseEbxml(ack.body);
  ASSERT_TRUE(header.ok()) << header.status().toString();
  EXPECT_EQ(header->kind(), EbxmlHeader::Kind::kAcknowledgment);
  EXPECT_EQ(header->ref_to_message_id, id);
  EXPECT_EQ(header->from_party, "X26HUB-807354");
  EXPECT_EQ(header->to_party, "AAA-123456");
  EXPECT_EQ(header->cpa_id, "S3024519A3110234");

  // Redelivered: the router says duplicate; still 200 and acknowledged again.
  sink_.answerWith(AcceptOutcome::duplicate(1));
  auto again =
      post("\"urn:nhs:names:services:itk/COPC_IN000001GB01\"", trunkBody(id), content_type_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  ASSERT_TRUE(peer_.waitFor(2, 30s));
  auto reack = parseEbxml(peer_.received()[1].body);
  ASSERT_TRUE(reack.ok());
  EXPECT_EQ(reack->ref_to_message_id, id);
}

TEST_F(SpineTransportTest, TheCiaoTrunkFixtureIsAccepted) {
  REQUIRE_SPINE_FIXTURES();
  start();
  auto answer = post("\"urn:nhs:names:services:itk/COPC_IN000001GB01\"",
                     spineFixture("ciao-test-trunk.multipart"), kFixtureContentType);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << answer->body;
  auto messages = sink_.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].header.tracking_id, "7D6F23E0-AE1A-11DB-8707-B18E1E0994EF");
  EXPECT_EQ(messages[0].origin.transport_message_id, "89EEFD54-7C9E-4B6F-93A8-835CFE6EFC95");
  ASSERT_TRUE(peer_.waitFor(1, 30s));
  auto ack = parseEbxml(peer_.received()[0].body);
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->ref_to_message_id, "89EEFD54-7C9E-4B6F-93A8-835CFE6EFC95");
}

TEST_F(SpineTransportTest, AnUnknownSenderIsAcceptedButNotAcknowledged) {
  start();
  auto answer = post("urn:nhs:names:services:itk/COPC_IN000001GB01",
                     trunkBody(newUuid(), "ZZZ-000001"), content_type_);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(sink_.messages().size(), 1u);
  EXPECT_EQ(peer_.count(), 0u);  // no ack URL for ZZZ-000001 (logged and counted)
}

TEST_F(SpineTransportTest, GarbageIsAnsweredWithAMessageError) {
  start();
  const std::string id = newUuid();
  std::string body = trunkBody(id);
  // The ebXML part survives, the DE part does not.
  body.replace(body.find("<itk:DistributionEnvelope"), 25, "<garbage");
  for (const auto& [content_type, payload] : std::vector<std::pair<std::string, std::string>>{
           {content_type_, body}, {"text/xml", "not xml at all"}, {content_type_, "\x01\x02"}}) {
    auto answer = post("\"urn:nhs:names:services:itk/COPC_IN000001GB01\"", payload, content_type);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 500);
    auto error = parseEbxml(answer->body);
    ASSERT_TRUE(error.ok()) << answer->body;
    EXPECT_EQ(error->kind(), EbxmlHeader::Kind::kMessageError);
    ASSERT_EQ(error->errors.size(), 1u);
    EXPECT_EQ(error->errors[0].code, "1000");
  }
  EXPECT_TRUE(sink_.messages().empty());
  EXPECT_EQ(sink_.unreadable().size(), 3u);
  EXPECT_EQ(peer_.count(), 0u);
}

TEST_F(SpineTransportTest, ARefusalNamesTheMessage) {
  start();
  const std::string id = newUuid();
  std::string body = trunkBody(id);
  body.replace(body.find("<itk:DistributionEnvelope"), 25, "<garbage");
  auto answer = post("\"urn:nhs:names:services:itk/COPC_IN000001GB01\"", body, content_type_);
  ASSERT_TRUE(answer);
  auto error = parseEbxml(answer->body);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->ref_to_message_id, id);
  EXPECT_EQ(error->to_party, "AAA-123456");
}

TEST_F(SpineTransportTest, ABusyRouterIsA503) {
  start();
  sink_.answerWith(AcceptOutcome::busy(Status::unavailable("queue full")));
  auto answer =
      post("\"urn:nhs:names:services:itk/COPC_IN000001GB01\"", trunkBody(newUuid()), content_type_);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 503);
  EXPECT_EQ(peer_.count(), 0u);  // not acknowledged: the sender retries
}

TEST_F(SpineTransportTest, AnythingElseIsA400) {
  start();
  auto other = post("\"urn:nhs:names:services:pds/QUPA_IN000006UK02\"", "<x/>");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 400);
  auto none = post("", "<x/>");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400);
}

}  // namespace
}  // namespace itk::spine
