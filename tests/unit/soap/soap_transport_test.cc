// The SOAP transport in-process: a fake InboundSink behind a listener on 127.0.0.1:0 (inbound
// answers), and a SoapPeer as the next hop (outbound request shape, failover, classification).
#include "soap_transport.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "itk/envelope/builders.h"
#include "itk/envelope/reader.h"
#include "itk/envelope/vocabulary.h"
#include "itk/uuid.h"
#include "soap_config.h"
#include "support/http_client.h"
#include "support/soap_peer.h"
#include "unit/envelope/test_messages.h"

namespace itk {
namespace {

using namespace std::chrono_literals;
namespace testing2 = itk2::testing;
using test::SoapPeer;

class FixedClock final : public Clock {
 public:
  TimePoint now() const override { return fromEpochMillis(ms_.load()); }
  void set(TimePoint t) { ms_ = toEpochMillis(t); }

 private:
  std::atomic<int64_t> ms_{0};
};

// Records what the listener hands over and answers as the test says (inline, like a router
// that refuses at once, or later from another thread).
class FakeSink final : public InboundSink {
 public:
  void accept(Message message, AcceptCallback done) override {
    AcceptOutcome outcome;
    bool hold;
    {
      std::lock_guard lock(mu_);
      messages_.push_back(message);
      outcome = next_;
      hold = hold_;
      if (hold) held_.push_back(std::move(done));
    }
    if (hold) return;
    if (from_another_thread_) {
      std::thread([done = std::move(done), outcome] { done(outcome); }).detach();
    } else {
      done(outcome);
    }
  }
  void reportUnreadable(const Origin& from, const Status& why) override {
    std::lock_guard lock(mu_);
    unreadable_.emplace_back(from, why);
  }

  void answerWith(AcceptOutcome o, bool from_another_thread = false) {
    std::lock_guard lock(mu_);
    next_ = std::move(o);
    from_another_thread_ = from_another_thread;
  }
  void holdAnswers() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void releaseHeld() {
    std::vector<AcceptCallback> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& h : held) h(AcceptOutcome::accepted(1));
  }
  std::vector<Message> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  size_t unreadable() {
    std::lock_guard lock(mu_);
    return unreadable_.size();
  }

 private:
  std::mutex mu_;
  AcceptOutcome next_ = AcceptOutcome::accepted(1);
  bool from_another_thread_ = false;
  bool hold_ = false;
  std::vector<AcceptCallback> held_;
  std::vector<Message> messages_;
  std::vector<std::pair<Origin, Status>> unreadable_;
};

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  std::optional<itk2::ItkDocument> doc;  // when the body is an ITK document
};

class SoapTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.set(testing2::fixtureNow());
    ctx_.identity.username = "itk-router-test";
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    sink_.releaseHeld();
    transport_.reset();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  void start(const std::string& yaml =
                 "listeners: [{name: itk, listen: 127.0.0.1:0, "
                 "path: /itk}]") {
    auto factory = makeSoapTransportFactory();
    auto t = factory->create(YAML::Load(yaml), ctx_);
    ASSERT_TRUE(t.ok()) << t.status().toString();
    transport_ = std::move(*t);
    Status s = transport_->start(sink_);
    ASSERT_TRUE(s.ok()) << s.toString();
    port_ = soapListenerPort(*transport_, "itk");
    EXPECT_TRUE(transport_->ready());
  }
  // A transport with no listener: it only sends.
  void startOutbound() { start("{}"); }

  Reply post(const std::string& body, std::map<std::string, std::string> headers = {},
             const std::string& target = "/itk", const std::string& method = "POST") {
    EXPECT_NE(port_, 0) << "no listener named itk";
    if (!headers.count("Content-Type")) headers["Content-Type"] = "text/xml; charset=UTF-8";
    test::HttpConnection c(port_);
    auto r = c.request(method, target, body, headers);
    Reply reply;
    if (!r) return reply;
    reply.status = r->status;
    reply.headers = r->headers;
    reply.body = r->body;
    auto doc = itk2::readItkDocument(reply.body);
    if (doc.ok()) reply.doc = std::move(*doc);
    return reply;
  }
  Reply postRequest(const std::string& soap = testing2::soapRequest(),
                    std::string action = "\"" + std::string(testing2::kService) + "\"") {
    return post(soap, {{"SOAPAction", action}});
  }
  // The fault's faultcode local name and toolkit ErrorCode, or "" when it is not a fault.
  static std::pair<std::string, std::string> faultOf(const Reply& r) {
    if (!r.doc || !r.doc->soap.fault || !r.doc->soap.fault->code) return {};
    return {std::string(itk2::faultCodeName(*r.doc->soap.fault->code)),
            r.doc->soap.fault->toolkit_error ? r.doc->soap.fault->toolkit_error->code : ""};
  }

  // --- outbound ---
  static EndpointSpec endpoint(const std::string& yaml, int max_concurrency = 4) {
    auto parsed = soap::parseEndpointConfig(YAML::Load(yaml));
    EXPECT_TRUE(parsed.ok()) << parsed.status().toString();
    EndpointSpec spec;
    spec.name = "peer";
    spec.transport = "soap";
    spec.max_concurrency = max_concurrency;
    if (parsed.ok()) spec.config = *parsed;
    return spec;
  }
  static OutboundMessage outbound(std::string de = testing2::validDe()) {
    auto doc = itk2::readItkDocument(de);
    EXPECT_TRUE(doc.ok());
    auto header = itk2::messageHeaderOf(*doc->de);
    EXPECT_TRUE(header.ok());
    auto m = std::make_shared<Message>();
    m->header = *header;
    m->body = std::make_shared<const std::string>(std::move(de));
    OutboundMessage out;
    out.message = m;
    out.delivery_id = 7;
    out.route = "r";
    out.time_to_live = std::chrono::seconds(600);
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
  static std::string fixtureFile(const std::string& relative) {
    return testing2::fixture(relative);
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::vector<std::thread> threads_;
  FixedClock clock_;
  RouterIdentity identity_;
  prometheus::Registry registry_;
  TransportContext ctx_{io_, clock_, identity_, registry_, "var", nullptr};
  FakeSink sink_;
  std::unique_ptr<Transport> transport_;
  uint16_t port_ = 0;
};

// --- inbound ------------------------------------------------------------------------------------

TEST_F(SoapTransportTest, AcceptsAValidRequestAndAnswersSimpleMessageResponse) {
  start();
  Reply r = postRequest();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/xml; charset=UTF-8");
  ASSERT_TRUE(r.doc);
  EXPECT_EQ(r.doc->soap.action, std::string(testing2::kService) + "Response");
  EXPECT_EQ(r.doc->soap.relates_to, std::string(testing2::kMessageId));
  EXPECT_EQ(r.doc->soap.simple_message_response, "OK");
  EXPECT_TRUE(itk2::checkSoapResponse(*r.doc).ok());

  auto messages = sink_.messages();
  ASSERT_EQ(messages.size(), 1u);
  const Message& m = messages[0];
  EXPECT_EQ(m.header.service, testing2::kService);
  EXPECT_EQ(m.header.tracking_id, testing2::kTrackingId);
  EXPECT_EQ(m.header.addresses.size(), 2u);
  // The DE as received, standing alone (it inherits no namespace from the SOAP envelope).
  EXPECT_EQ(*m.body, testing2::validDe());
  EXPECT_EQ(m.origin.transport, "soap");
  EXPECT_EQ(m.origin.authenticated_as, "TKS Server test");
  EXPECT_EQ(m.origin.transport_message_id, testing2::kMessageId);
  ASSERT_TRUE(m.origin.attribute("soap.listener"));
  EXPECT_EQ(*m.origin.attribute("soap.listener"), "itk");
  EXPECT_EQ(m.received_at, testing2::fixtureNow());
}

TEST_F(SoapTransportTest, AcceptsAnUnquotedSoapAction) {
  start();
  Reply r = postRequest(testing2::soapRequest(), std::string(testing2::kService));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(SoapTransportTest, ADuplicateIsAnsweredAsAccepted) {
  start();
  sink_.answerWith(AcceptOutcome::duplicate(1));
  Reply r = postRequest();
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.doc);
  EXPECT_EQ(r.doc->soap.simple_message_response, "OK");
}

TEST_F(SoapTransportTest, ARefusalIsAFaultWithItsToolkitCode) {
  start();
  sink_.answerWith(AcceptOutcome::rejected(
      Status::unknownAddress("route not found").withToolkit(ToolkitCode::kNotRetryable)));
  Reply r = postRequest();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(faultOf(r), (std::pair<std::string, std::string>{"Client", "2200"}));
  EXPECT_EQ(r.doc->soap.relates_to, std::string(testing2::kMessageId));
  EXPECT_EQ(r.doc->soap.action, std::string(itk2::kWsaSoapFaultAction));
}

TEST_F(SoapTransportTest, ARetryableRefusalIsAServerFault2100) {
  start();
  sink_.answerWith(AcceptOutcome::rejected(
                       Status::timeout("peer timed out").withToolkit(ToolkitCode::kRetryable)),
                   /*from_another_thread=*/true);
  Reply r = postRequest();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(faultOf(r), (std::pair<std::string, std::string>{"Server", "2100"}));
}

TEST_F(SoapTransportTest, BusyIsTheItkBusyTone503) {
  start();
  sink_.answerWith(AcceptOutcome::busy(Status::unavailable("the store cannot accept")));
  Reply r = postRequest();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["retry-after"], "5");
  EXPECT_EQ(faultOf(r), (std::pair<std::string, std::string>{"Server", "2100"}));
}

TEST_F(SoapTransportTest, RelaysASynchronousResponseDe) {
  start();
  const std::string response_service = std::string(testing2::kService) + "Response";
  std::string response_de =
      testing2::replaced(testing2::validDe(), testing2::kService, response_service);
  AcceptOutcome o = AcceptOutcome::accepted(0);
  o.response = std::make_shared<const std::string>(response_de);
  sink_.answerWith(o, /*from_another_thread=*/true);
  Reply r = postRequest();
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.doc && r.doc->de);
  EXPECT_EQ(r.doc->soap.action, response_service);
  EXPECT_EQ(r.doc->soap.relates_to, std::string(testing2::kMessageId));
  EXPECT_EQ(r.doc->de->element.in(r.body), response_de);
}

TEST_F(SoapTransportTest, AnswersFault2100WhenTheRouterDoesNotAnswerInTime) {
  start("listeners: [{name: itk, listen: 127.0.0.1:0, path: /itk}]\nanswer_timeout: 200ms");
  sink_.holdAnswers();
  Reply r = postRequest();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(faultOf(r), (std::pair<std::string, std::string>{"Server", "2100"}));
}

TEST_F(SoapTransportTest, APatternOneRequestWithAReplyToIsAnswered202) {
  start();
  const std::string service = "urn:nhs-itk:services:201005:transferPatientUpdateMaster-v1-0";
  std::string soap =
      testing2::replaced(testing2::soapRequest(), std::string(testing2::kService), service);
  soap = testing2::replaced(soap, std::string(testing2::kService), service);  // the DE's
  soap = testing2::replaced(
      soap, "</wsa:From>",
      "</wsa:From><wsa:ReplyTo><wsa:Address>http://sender.example/async</wsa:Address>"
      "</wsa:ReplyTo>");
  Reply r = post(soap, {{"SOAPAction", service}});
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_TRUE(r.body.empty());
  auto messages = sink_.messages();
  ASSERT_EQ(messages.size(), 1u);
  ASSERT_TRUE(messages[0].origin.attribute("soap.reply_to"));
  EXPECT_EQ(*messages[0].origin.attribute("soap.reply_to"), "http://sender.example/async");
}

TEST_F(SoapTransportTest, RefusesAMissingOrDifferentSoapAction) {
  start();
  Reply missing = post(testing2::soapRequest());
  EXPECT_EQ(missing.status, 500);
  EXPECT_EQ(faultOf(missing), (std::pair<std::string, std::string>{"Client", "1000"}));
  Reply other = postRequest(testing2::soapRequest(), "\"urn:nhs-itk:services:201005:other\"");
  EXPECT_EQ(other.status, 500);
  EXPECT_EQ(faultOf(other), (std::pair<std::string, std::string>{"Client", "1000"}));
  EXPECT_TRUE(sink_.messages().empty());
}

TEST_F(SoapTransportTest, RefusesACharsetOtherThanUtf8) {
  start();
  Reply r = post(testing2::soapRequest(), {{"SOAPAction", std::string(testing2::kService)},
                                           {"Content-Type", "text/xml; charset=ISO-8859-1"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(faultOf(r), (std::pair<std::string, std::string>{"Client", "1000"}));
}

TEST_F(SoapTransportTest, RefusesWhatIsNotASoapRequest) {
  start();
  Reply garbage = post("this is not XML", {{"SOAPAction", "x"}});
  EXPECT_EQ(garbage.status, 500);
  EXPECT_EQ(faultOf(garbage), (std::pair<std::string, std::string>{"Client", "1000"}));
  Reply bare = post(testing2::validDe(), {{"SOAPAction", std::string(testing2::kService)}});
  EXPECT_EQ(bare.status, 500);
  EXPECT_EQ(faultOf(bare), (std::pair<std::string, std::string>{"Client", "1000"}));
  EXPECT_EQ(sink_.unreadable(), 2u);
  EXPECT_TRUE(sink_.messages().empty());
}

TEST_F(SoapTransportTest, AnswersOtherPathsAndMethodsPlainly) {
  start();
  EXPECT_EQ(post(testing2::soapRequest(), {}, "/elsewhere").status, 404);
  Reply get = post("", {}, "/itk", "GET");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.headers["allow"], "POST");
}

TEST_F(SoapTransportTest, AppliesTheConfiguredUsernameAllowList) {
  start(
      "listeners: [{name: itk, listen: 127.0.0.1:0, path: /itk}]\n"
      "security: {allowed_usernames: [someone-else]}");
  Reply r = postRequest();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(faultOf(r), (std::pair<std::string, std::string>{"Client", "3000"}));
}

TEST_F(SoapTransportTest, ChecksTimestampsAgainstTheInjectedClock) {
  start();
  clock_.set(testing2::at("2026-11-25T10:20:00Z"));  // past Expires plus the 300 s skew
  Reply r = postRequest();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(faultOf(r), (std::pair<std::string, std::string>{"Client", "1000"}));
  EXPECT_NE(r.doc->soap.fault->toolkit_error->diagnostic.find("expired"), std::string::npos);
}

TEST_F(SoapTransportTest, FailsToStartOnAPortInUse) {
  start();
  auto factory = makeSoapTransportFactory();
  auto second = factory->create(
      YAML::Load("listeners: [{name: itk, listen: 127.0.0.1:" + std::to_string(port_) + "}]"),
      ctx_);
  ASSERT_TRUE(second.ok());
  FakeSink other;
  Status s = (*second)->start(other);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE((*second)->ready());
}

// --- outbound -----------------------------------------------------------------------------------

TEST_F(SoapTransportTest, WrapsTheDeUnchangedInANewSoapRequest) {
  startOutbound();
  SoapPeer peer;
  ASSERT_TRUE(peer.started()) << peer.error();
  SendResult r = send(endpoint("urls: [" + peer.url() + "]"));
  EXPECT_EQ(r.outcome, SendResult::Outcome::kDelivered) << r.detail;
  ASSERT_EQ(peer.count(), 1u);
  auto got = peer.received()[0];
  EXPECT_EQ(got.target, "/itk");
  EXPECT_EQ(got.headers.get("SOAPAction"), "\"" + std::string(testing2::kService) + "\"");
  EXPECT_EQ(got.headers.get("Content-Type"), "text/xml; charset=UTF-8");
  auto doc = itk2::readItkDocument(got.body);
  ASSERT_TRUE(doc.ok()) << doc.status().toString();
  ASSERT_TRUE(doc->de);
  EXPECT_EQ(doc->de->element.in(got.body), testing2::validDe());  // byte-identical
  const auto& soap = doc->soap;
  EXPECT_EQ(soap.action, testing2::kService);
  EXPECT_EQ(soap.to, peer.url());
  EXPECT_EQ(soap.username, "itk-router-test");
  ASSERT_TRUE(soap.timestamp);
  EXPECT_EQ(soap.timestamp->created, "2026-11-25T10:00:30Z");
  EXPECT_EQ(soap.timestamp->expires, "2026-11-25T10:10:30Z");
  ASSERT_TRUE(soap.message_id);
  EXPECT_TRUE(isUuid(*soap.message_id, true));
  // What we send passes our own door checks.
  EXPECT_TRUE(itk2::checkSoapRequest(*doc, {}, testing2::fixtureNow()).ok());
}

TEST_F(SoapTransportTest, A202IsDelivered) {
  startOutbound();
  SoapPeer peer;
  peer.setDefault(SoapPeer::respond(202));
  EXPECT_EQ(send(endpoint("urls: " + peer.url())).outcome, SendResult::Outcome::kDelivered);
}

TEST_F(SoapTransportTest, FailsOverOnBusyToneAndOnConnectionFailure) {
  startOutbound();
  SoapPeer busy, good;
  busy.setDefault(SoapPeer::respond(503));
  uint16_t closed_port;
  {
    SoapPeer gone;  // listens only for its lifetime: afterwards the port refuses connections
    closed_port = gone.port();
  }
  std::string dead = "http://127.0.0.1:" + std::to_string(closed_port) + "/itk";
  SendResult r = send(endpoint("urls: [" + dead + ", " + busy.url() + ", " + good.url() + "]"));
  EXPECT_EQ(r.outcome, SendResult::Outcome::kDelivered) << r.detail;
  EXPECT_EQ(busy.count(), 1u);
  EXPECT_EQ(good.count(), 1u);
  EXPECT_NE(r.detail.find("503"), std::string::npos) << r.detail;
  // Each URL got its own wsa:To.
  auto doc = itk2::readItkDocument(good.received()[0].body);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->soap.to, good.url());
}

TEST_F(SoapTransportTest, EveryUrlBusyIsRetryable) {
  startOutbound();
  SoapPeer a, b;
  a.setDefault(SoapPeer::respond(503));
  b.setDefault(SoapPeer::respond(503));
  SendResult r = send(endpoint("urls: [" + a.url() + ", " + b.url() + "]"));
  EXPECT_EQ(r.outcome, SendResult::Outcome::kRetryable);
}

TEST_F(SoapTransportTest, ATimeoutIsRetryableAndNotFailedOver) {
  startOutbound();
  SoapPeer slow, other;
  slow.setDefault(SoapPeer::hold());
  OutboundMessage out = outbound();
  out.timeout = 200ms;
  SendResult r = send(endpoint("urls: [" + slow.url() + ", " + other.url() + "]"), out);
  EXPECT_EQ(r.outcome, SendResult::Outcome::kRetryable) << r.detail;
  EXPECT_EQ(other.count(), 0u);
}

TEST_F(SoapTransportTest, TheEndpointTimeoutOverridesTheRoutes) {
  startOutbound();
  SoapPeer slow;
  slow.setDefault(SoapPeer::hold());
  OutboundMessage out = outbound();
  out.timeout = 60s;
  SendResult r = send(endpoint("{urls: " + slow.url() + ", timeout: 200ms}"), out);
  EXPECT_EQ(r.outcome, SendResult::Outcome::kRetryable) << r.detail;
}

TEST_F(SoapTransportTest, ClassifiesTheFixtureFaults) {
  if (!testing2::fixturesPresent()) GTEST_SKIP() << "fixtures absent: " << testing2::fixturesDir();
  startOutbound();
  struct Row {
    const char* file;
    SendResult::Outcome outcome;
  };
  for (Row row : {Row{"soap/fault-client-1000.xml", SendResult::Outcome::kPermanent},
                  Row{"soap/fault-client-2200.xml", SendResult::Outcome::kPermanent},
                  Row{"soap/fault-client-3000.xml", SendResult::Outcome::kPermanent},
                  Row{"soap/fault-mustunderstand.xml", SendResult::Outcome::kPermanent},
                  Row{"soap/fault-server-2100.xml", SendResult::Outcome::kRetryable},
                  Row{"soap/fault-server-2200.xml", SendResult::Outcome::kPermanent},
                  Row{"soap/fault-versionmismatch.xml", SendResult::Outcome::kPermanent}}) {
    SoapPeer peer;
    peer.setDefault(SoapPeer::respond(500, fixtureFile(row.file)));
    SendResult r = send(endpoint("urls: " + peer.url()));
    EXPECT_EQ(r.outcome, row.outcome) << row.file << ": " << r.detail;
  }
}

// itk_soap_faults_total{direction,fault,code} from the transport's registry (0 when absent).
double faultsCounted(const prometheus::Registry& registry, const std::string& direction,
                     const std::string& fault, const std::string& code) {
  for (const auto& f : registry.Collect()) {
    if (f.name != "itk_soap_faults_total") continue;
    for (const auto& m : f.metric) {
      std::map<std::string, std::string> labels;
      for (const auto& l : m.label) labels[l.name] = l.value;
      if (labels == std::map<std::string, std::string>{
                        {"direction", direction}, {"fault", fault}, {"code", code}})
        return m.counter.value;
    }
  }
  return 0;
}

TEST_F(SoapTransportTest, FaultsAreCountedByDirectionFaultCodeAndToolkitCode) {
  start();
  sink_.answerWith(AcceptOutcome::rejected(
      Status::unknownAddress("route not found").withToolkit(ToolkitCode::kNotRetryable)));
  EXPECT_EQ(postRequest().status, 500);
  EXPECT_EQ(postRequest().status, 500);
  sink_.answerWith(AcceptOutcome::busy(Status::unavailable("the store cannot accept")));
  EXPECT_EQ(postRequest().status, 503);
  EXPECT_EQ(postRequest("<not-soap/>").status, 500);
  EXPECT_EQ(faultsCounted(registry_, "sent", "Client", "2200"), 2);
  EXPECT_EQ(faultsCounted(registry_, "sent", "Server", "2100"), 1);
  EXPECT_EQ(faultsCounted(registry_, "sent", "Client", "1000"), 1);

  // A next hop's fault.
  SoapPeer peer;
  itk2::SoapFaultSpec busy;
  busy.code = itk2::SoapFaultCode::kServer;
  busy.toolkit = ToolkitCode::kRetryable;
  busy.diagnostic = "try later";
  peer.setDefault(SoapPeer::respond(500, itk2::buildSoapFault(busy)));
  EXPECT_EQ(send(endpoint("urls: " + peer.url())).outcome, SendResult::Outcome::kRetryable);
  EXPECT_EQ(faultsCounted(registry_, "received", "Server", "2100"), 1);
}

TEST_F(SoapTransportTest, AnythingElseIsPermanent) {
  startOutbound();
  for (auto answer : {SoapPeer::respond(404, "not here", "text/plain"),
                      SoapPeer::respond(200, "<html/>", "text/html"), SoapPeer::respond(200),
                      SoapPeer::respond(500, "oops", "text/plain")}) {
    SoapPeer peer;
    peer.setDefault(answer);
    SendResult r = send(endpoint("urls: " + peer.url()));
    EXPECT_EQ(r.outcome, SendResult::Outcome::kPermanent) << r.detail;
  }
}

TEST_F(SoapTransportTest, ReturnsAResponseDeForRelaying) {
  if (!testing2::fixturesPresent()) GTEST_SKIP() << "fixtures absent: " << testing2::fixturesDir();
  startOutbound();
  SoapPeer peer;
  std::string response = fixtureFile("soap/smsp-verifyNHSNumber-sync-response.xml");
  peer.setDefault(SoapPeer::respond(200, response));
  SendResult r = send(endpoint("urls: " + peer.url()));
  ASSERT_EQ(r.outcome, SendResult::Outcome::kDelivered) << r.detail;
  ASSERT_TRUE(r.response);
  auto doc = itk2::readItkDocument(response);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(*r.response, itk2::forwardableBytes(response, *doc->de));
}

TEST_F(SoapTransportTest, SendingToANonSoapEndpointIsPermanentAndNeverInline) {
  startOutbound();
  EndpointSpec spec;
  spec.name = "wrong";
  spec.transport = "loopback";
  auto promise = std::make_shared<std::promise<SendResult>>();
  auto future = promise->get_future();
  std::atomic<bool> inline_call{false};
  const auto caller = std::this_thread::get_id();
  transport_->send(outbound(), spec, [&, promise, caller](SendResult r) {
    inline_call = std::this_thread::get_id() == caller;  // only the I/O threads may call back
    promise->set_value(r);
  });
  ASSERT_EQ(future.wait_for(60s), std::future_status::ready);
  EXPECT_EQ(future.get().outcome, SendResult::Outcome::kPermanent);
  EXPECT_FALSE(inline_call);
}

// --- configuration ------------------------------------------------------------------------------

TEST(SoapConfigTest, ReadsEveryOption) {
  auto c = soap::parseTransportConfig(YAML::Load(R"(
listeners:
  - name: public
    listen: 0.0.0.0:8443
    path: /itk/soap
    tls: {cert: c.pem, key: k.pem, ca: ca.pem, client_cert: required}
    limits: {max_body_bytes: 2048, max_header_bytes: 4096, max_connections: 10,
             idle_timeout: 5s, read_timeout: 2s, write_timeout: 3s}
  - name: local
    listen: 9000
security: {clock_skew: 2m, allowed_usernames: [a, b]}
answer_timeout: 45s
client: {connect_timeout: 3s, idle_keepalive: 20s, max_connections_per_origin: 4,
         max_response_bytes: 4096, user_agent: hub}
)"));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  ASSERT_EQ(c->listeners.size(), 2u);
  const auto& l = c->listeners[0];
  EXPECT_EQ(l.server.name, "public");
  EXPECT_EQ(l.server.address, "0.0.0.0");
  EXPECT_EQ(l.server.port, 8443);
  EXPECT_EQ(l.path, "/itk/soap");
  ASSERT_TRUE(l.server.tls);
  EXPECT_EQ(l.server.tls->client_cert, http::TlsServerConfig::ClientCert::kRequired);
  EXPECT_EQ(l.server.tls->ca_file, "ca.pem");
  EXPECT_EQ(l.server.limits.max_body_bytes, 2048u);
  EXPECT_EQ(l.server.limits.max_connections, 10u);
  EXPECT_EQ(l.server.limits.idle_timeout, 5s);
  EXPECT_EQ(c->listeners[1].server.address, "127.0.0.1");
  EXPECT_EQ(c->listeners[1].server.port, 9000);
  EXPECT_EQ(c->listeners[1].path, "/");
  EXPECT_EQ(c->policy.clock_skew, std::chrono::seconds(120));
  EXPECT_EQ(c->policy.allowed_usernames, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c->answer_timeout, 45s);
  EXPECT_EQ(c->client.connect_timeout, 3s);
  EXPECT_EQ(c->client.max_connections_per_origin, 4u);
  EXPECT_EQ(c->client.user_agent, "hub");
}

TEST(SoapConfigTest, AnAbsentSectionGivesTheDefaults) {
  for (const char* yaml : {"~", "{}"}) {
    auto c = soap::parseTransportConfig(YAML::Load(yaml));
    ASSERT_TRUE(c.ok()) << c.status().toString();
    EXPECT_TRUE(c->listeners.empty());
    EXPECT_EQ(c->policy.clock_skew, std::chrono::seconds(300));
  }
  auto missing = soap::parseTransportConfig(YAML::Load("{}")["soap"]);
  EXPECT_TRUE(missing.ok()) << missing.status().toString();
}

TEST(SoapConfigTest, RefusesMistakesNamingTheOption) {
  struct Case {
    const char* yaml;
    const char* expect;
  };
  for (Case c : {Case{"listners: []", "unknown option transports.soap.listners"},
                 Case{"listeners: [{name: a}]", "listen is required"},
                 Case{"listeners: [{listen: 'x:y'}]", "must be host:port"},
                 Case{"listeners: [{listen: 1, path: itk}]", "must start with /"},
                 Case{"listeners: [{listen: 1, tls: {cert: c}}]", "are both required"},
                 Case{"listeners: [{listen: 1, tls: {cert: c, key: k, client_cert: maybe}}]",
                      "none, optional or required"},
                 Case{"listeners: [{listen: 1, tls: {cert: c, key: k, client_cert: required}}]",
                      "ca is required"},
                 Case{"listeners: [{listen: 1}, {listen: 2}]", "two listeners are named soap"},
                 Case{"listeners: [{listen: 1, limits: {idle: 5s}}]", "unknown option"},
                 Case{"security: {clock_skew: soon}", "positive duration"},
                 Case{"answer_timeout: 0s", "positive duration"},
                 Case{"client: {max_connections_per_origin: 0}", "whole number"},
                 Case{"[1, 2]", "must be a mapping"}}) {
    auto r = soap::parseTransportConfig(YAML::Load(c.yaml));
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << c.yaml << " -> " << r.status().message();
  }
}

TEST(SoapEndpointConfigTest, ReadsUrlsTlsAndTimeout) {
  auto ep = soap::parseEndpointConfig(YAML::Load(R"(
urls: [https://a.example/itk, "https://b.example:8443/itk"]
tls: {ca: ca.pem, cert: c.pem, key: k.pem, server_name: tie.example, verify: true}
timeout: 10s
)"));
  ASSERT_TRUE(ep.ok()) << ep.status().toString();
  EXPECT_EQ((*ep)->urls.size(), 2u);
  ASSERT_TRUE((*ep)->tls);
  EXPECT_EQ((*ep)->tls->server_name, "tie.example");
  EXPECT_EQ((*ep)->tls->cert_file, "c.pem");
  EXPECT_EQ((*ep)->timeout, std::chrono::milliseconds(10000));
  auto one = soap::parseEndpointConfig(YAML::Load("urls: http://127.0.0.1:9/itk"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)->urls.size(), 1u);
  EXPECT_FALSE((*one)->timeout);
}

TEST(SoapEndpointConfigTest, RefusesMistakesNamingTheField) {
  struct Case {
    const char* yaml;
    const char* expect;
  };
  for (Case c : {Case{"{}", "urls: is required"}, Case{"urls: ftp://x/", "urls: bad URL"},
                 Case{"urls: http://x/\ntls: {ca: a}", "no URL is https"},
                 Case{"urls: https://x/\ntls: {cert: c}", "go together"},
                 Case{"urls: https://x/\ntls: {pin: x}", "unknown option tls.pin"},
                 Case{"urls: http://x/\nretries: 3", "unknown option retries"},
                 Case{"urls: http://x/\ntimeout: never", "positive duration"}}) {
    auto r = soap::parseEndpointConfig(YAML::Load(c.yaml));
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << c.yaml << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace itk
