// The real itk-router with a SOAP listener, delivering to SOAP test peers (tests/support/
// soap_peer.h) on 127.0.0.1:0: the shared SOAP fixtures accepted and delivered with the DE
// byte-identical, every TKW autotest rejection of spec/itk2.md §4.7 answered with its fault,
// retries on the busy tone, dead letters on a permanent fault, synchronous proxying, TLS both
// ways, the same verdicts as `itk-router validate`, and a SOAP client nobody here wrote.
//
// Fixed fixture timestamps are met with the router's test-only --fake-now option.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <future>
#include <regex>

#include "itk/envelope/builders.h"
#include "itk/envelope/reader.h"
#include "itk/envelope/vocabulary.h"
#include "itk/http/client.h"
#include "itk/uuid.h"
#include "itk/xml/text.h"
#include "support/http_client.h"
#include "support/router_process.h"
#include "support/soap_peer.h"
#include "support/test_pki.h"
#include "unit/envelope/test_messages.h"

namespace itk::test {
namespace {

using namespace std::chrono_literals;
namespace t2 = itk2::testing;

constexpr const char* kFixtureNow = "2026-11-25T10:00:30Z";

#define REQUIRE_FIXTURES()                                                                \
  do {                                                                                    \
    if (!t2::fixturesPresent()) GTEST_SKIP() << "fixtures absent: " << t2::fixturesDir(); \
  } while (0)

std::string routerYaml(const std::string& soap_section) {
  return R"(identity:
  audit_identity: urn:nhs-uk:identity:ods:X09:itkrouter
  sender_address: urn:nhs-uk:addressing:ods:X09:itkrouter
  username: itk-router-test
threads: 2
store:
  backend: sqlite
  path: store.db
routing:
  tables: [routes.yaml]
  watch: false
admin:
  listen: 127.0.0.1:0
delivery:
  poll_interval: 100ms
transports:
  soap:
)" + soap_section;
}

// A listener named itk on 127.0.0.1:0, path /itk, plus `extra` (indented for transports.soap).
std::string plainListener(const std::string& extra = "") {
  return "    listeners:\n      - {name: itk, listen: 127.0.0.1:0, path: /itk}\n" + extra;
}

// Routes everything to `url`, retrying quickly.
std::string routesTo(const std::string& url, const std::string& more_endpoints = "",
                     const std::string& more_routes = "") {
  return "defaults:\n"
         "  retry: {max_attempts: 4, initial_backoff: 200ms, max_backoff: 1s, jitter: 0}\n"
         "endpoints:\n"
         "  peer:\n"
         "    transport: soap\n"
         "    urls: [" +
         url + "]\n" + more_endpoints + "routes:\n" + more_routes +
         "  - name: everything\n"
         "    endpoint: peer\n";
}

// The router process in its own folder.
class Router {
 public:
  Router(const std::string& soap_section, const std::string& routes,
         std::vector<std::string> args = {}) {
    dir_.write("routes.yaml", routes);
    process_ = std::make_unique<RouterProcess>(dir_, routerYaml(soap_section), std::move(args));
  }
  // Waits until ready and finds the listener's port.
  bool start(std::string* why) {
    if (!process_->waitReady(why)) return false;
    port_ = process_->listenerPort("itk");
    if (port_ == 0) *why = "no http.listening line for listener itk:\n" + process_->log();
    return port_ != 0;
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/itk"; }
  std::string log() const { return process_->log(); }
  // Waits for a log line matching `pattern`.
  bool waitForLog(const std::string& pattern, std::chrono::milliseconds timeout = 60s) {
    return process_->process().waitForLog(pattern, timeout).has_value();
  }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::unique_ptr<RouterProcess> process_;
  uint16_t port_ = 0;
};

struct SoapReply {
  int status = 0;
  std::string body;
  std::optional<itk2::ItkDocument> doc;

  std::string faultcode() const {
    if (!doc || !doc->soap.fault || !doc->soap.fault->code) return "";
    return std::string(itk2::faultCodeName(*doc->soap.fault->code));
  }
  std::string errorCode() const {
    if (!doc || !doc->soap.fault || !doc->soap.fault->toolkit_error) return "";
    return doc->soap.fault->toolkit_error->code;
  }
  std::string diagnostic() const {
    if (!doc || !doc->soap.fault || !doc->soap.fault->toolkit_error) return "";
    return doc->soap.fault->toolkit_error->diagnostic;
  }
};

SoapReply postSoap(uint16_t port, const std::string& body, const std::string& soap_action,
                   const std::string& path = "/itk") {
  HttpConnection c(port);
  SoapReply reply;
  auto r = c.request(
      "POST", path, body,
      {{"Content-Type", "text/xml; charset=UTF-8"}, {"SOAPAction", "\"" + soap_action + "\""}});
  if (!r) return reply;
  reply.status = r->status;
  reply.body = r->body;
  auto doc = itk2::readItkDocument(reply.body);
  if (doc.ok()) reply.doc = std::move(*doc);
  return reply;
}

std::string actionOf(const std::string& soap) {
  auto doc = itk2::readItkDocument(soap);
  return doc.ok() && doc->soap.action ? *doc->soap.action : "";
}

// The DE a request carries, standing alone: what the next hop must receive byte for byte.
std::string deOf(const std::string& soap) {
  auto doc = itk2::readItkDocument(soap);
  EXPECT_TRUE(doc.ok() && doc->de) << doc.status().toString();
  return doc.ok() && doc->de ? itk2::forwardableBytes(soap, *doc->de) : "";
}

// The DE element's bytes as they arrived in a request the peer received.
std::string receivedDe(const SoapPeer::Received& r) {
  auto doc = itk2::readItkDocument(r.body);
  return doc.ok() && doc->de ? std::string(doc->de->element.in(r.body)) : "";
}

std::string trackingIdOf(const SoapPeer::Received& r) {
  auto doc = itk2::readItkDocument(r.body);
  return doc.ok() && doc->de ? doc->de->tracking_id : "";
}

// A TKW exchange log (.msg): the request body between the HTTP headers and the marker line.
std::string requestOfExchange(const std::string& log) {
  size_t marker = log.find("END REQUEST");
  if (marker == std::string::npos) marker = log.find("END OF INBOUND MESSAGE");
  size_t marker_line = log.rfind('\n', marker);
  size_t body = log.find("\r\n\r\n") + 4;
  return std::string(xml::trimXmlSpace(log.substr(body, marker_line - body)));
}

// --- every SOAP request fixture: accepted, answered, delivered with the DE unchanged ----------

struct FixtureCase {
  const char* name;
  const char* file;  // under itk2/soap
  bool exchange_log;
  const char* now;  // the clock its MANIFEST row gives
  const char* tracking_id;
};

class SoapFixtureTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(SoapFixtureTest, IsAcceptedAndDeliveredWithTheDeByteIdentical) {
  REQUIRE_FIXTURES();
  const FixtureCase& c = GetParam();
  std::string file = t2::fixture(std::string("soap/") + c.file);
  std::string request = c.exchange_log ? requestOfExchange(file) : file;
  SoapPeer peer;
  ASSERT_TRUE(peer.started()) << peer.error();
  Router router(plainListener(), routesTo(peer.url()), {"--fake-now", c.now});
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;

  SoapReply r = postSoap(router.port(), request, actionOf(request));
  ASSERT_EQ(r.status, 200) << r.body << "\n" << router.log();
  ASSERT_TRUE(r.doc);
  EXPECT_EQ(r.doc->soap.simple_message_response, "OK");
  EXPECT_EQ(r.doc->soap.action, actionOf(request) + "Response");
  auto request_doc = itk2::readItkDocument(request);
  ASSERT_TRUE(request_doc.ok());
  EXPECT_EQ(r.doc->soap.relates_to, request_doc->soap.message_id);

  // The next hop receives the DE exactly as the sender wrote it, once (the multi-address TKW
  // request resolves its three addresses to the one route).
  ASSERT_TRUE(peer.waitFor(1)) << router.log();
  auto received = peer.received();
  size_t copies = 0;
  for (const auto& got : received) {
    if (trackingIdOf(got) != c.tracking_id) continue;
    ++copies;
    EXPECT_TRUE(receivedDe(got) == deOf(request)) << "the DE changed on its way";
    EXPECT_EQ(got.headers.get("SOAPAction"), "\"" + actionOf(request) + "\"");
  }
  EXPECT_EQ(copies, 1u) << router.log();
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SoapFixtureTest,
    ::testing::Values(FixtureCase{"TkwItkSoap", "tkw-ITK_SOAP.xml", false, "2017-09-28T14:16:20Z",
                                  "217D1168-7F0B-4F31-A0A9-5B030E545FAE"},
                      FixtureCase{"TkwSendDistEnvelope", "tkw-sendDistEnvelope-request.xml", false,
                                  kFixtureNow, "FE32DE12-3D67-11E2-B6B1-C58C6188709B"},
                      FixtureCase{"TkwSendBusinessAck", "tkw-SendBusinessAck-async-exchange.msg",
                                  true, "2017-10-05T07:39:00Z",
                                  "821F2F2C-512E-4641-BC04-A0EDA53F65F5"},
                      FixtureCase{"TkwSendCdaDocument", "tkw-SendCDADocument-sync-exchange.msg",
                                  true, "2017-10-05T14:19:30Z",
                                  "7D6F23E0-AE1A-11DB-8707-B18E1E0994EF"}),
    [](const ::testing::TestParamInfo<FixtureCase>& info) { return info.param.name; });

// The MANIFEST: with a real clock the 2017 request is expired.
TEST(SoapFixtureClockTest, TheTkwRequestIsExpiredOnARealClock) {
  REQUIRE_FIXTURES();
  SoapPeer peer;
  Router router(plainListener(), routesTo(peer.url()));
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  std::string request = t2::fixture("soap/tkw-ITK_SOAP.xml");
  SoapReply r = postSoap(router.port(), request, actionOf(request));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.faultcode(), "Client");
  EXPECT_EQ(r.errorCode(), "1000");
  EXPECT_NE(r.diagnostic().find("expired"), std::string::npos) << r.diagnostic();
  EXPECT_EQ(peer.count(), 0u);
}

// --- spec §4.7: the TKW autotest rejections, each with its fault and HTTP 500 -----------------

struct Rejection {
  const char* name;
  std::function<std::string()> request;
  const char* faultcode;
  const char* error_code;
};

std::string withDe(const std::string& de) {
  return t2::soapRequest(de);
}
std::string deReplaced(std::string_view from, std::string_view to) {
  return withDe(t2::replaced(t2::validDe(), from, to));
}
std::string soapReplaced(std::string_view from, std::string_view to) {
  return t2::replaced(t2::soapRequest(), from, to);
}

const char* kPayloadIdAttr = R"(<itk:payload id="uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5">)";

std::vector<Rejection> rejections() {
  return {
      {"ManifestItemIdDiffersFromPayloadId",
       [] {
         return deReplaced(kPayloadIdAttr,
                           R"(<itk:payload id="uuid_00000000-BF35-42DB-BD14-7B2E462D06D5">)");
       },
       "Client", "1000"},
      {"ManifestCountDiffersFromItems",
       [] { return deReplaced(R"(<itk:manifest count="1">)", R"(<itk:manifest count="2">)"); },
       "Client", "1000"},
      {"PayloadsCountDiffersFromPayloads",
       [] { return deReplaced(R"(<itk:payloads count="1">)", R"(<itk:payloads count="2">)"); },
       "Client", "1000"},
      {"ManifestCountDiffersFromPayloadsCount",
       [] {
         // Two manifest items (count 2) for one payload (count 1).
         std::string de = t2::replaced(
             t2::validDe(), R"(<itk:manifest count="1">)",
             R"(<itk:manifest count="2"><itk:manifestitem )"
             R"(id="uuid_11111111-2222-3333-4444-555555555555" mimetype="text/xml"/>)");
         return withDe(de);
       },
       "Client", "1000"},
      {"BadCreatedFormat",
       [] { return soapReplaced("2026-11-25T10:00:00Z", "25/11/2026 10:00:00"); }, "Client",
       "1000"},
      {"BadExpiresFormat", [] { return soapReplaced("2026-11-25T10:10:00Z", "2026-11-25 10:10"); },
       "Client", "1000"},
      {"BlankAttribute", [] { return deReplaced(R"(mimetype="text/xml")", R"(mimetype="")"); },
       "Client", "1000"},
      {"ServiceDiffersFromWsaAction",
       [] {
         return soapReplaced(
             "<wsa:Action>urn:nhs-itk:services:201005:SendCDADocument-v2-0</wsa:Action>",
             "<wsa:Action>urn:nhs-itk:services:201005:sendDistEnvelope</wsa:Action>");
       },
       "Client", "1000"},
      {"MissingPayloadId", [] { return deReplaced(kPayloadIdAttr, "<itk:payload>"); }, "Client",
       "1000"},
      {"EmptyProfileId",
       [] {
         return deReplaced(
             R"(profileid="urn:nhs-en:profile:ambulanceServiceSummaryPatientReport-v1-1")",
             R"(profileid="")");
       },
       "Client", "1000"},
      {"InvalidAuditIdentity",
       [] {
         return deReplaced(R"(<itk:id uri="urn:nhs-uk:identity:ods:XZ901"/>)",
                           R"(<itk:id uri="INVALID"/>)");
       },
       "Client", "1000"},
      {"SchemaInvalidDe",
       [] { return deReplaced("<itk:senderAddress", "<itk:unexpected/><itk:senderAddress"); },
       "Client", "1000"},
      {"MissingWsaTo",
       [] { return soapReplaced("<wsa:To>http://127.0.0.1:4848/syncsoap</wsa:To>", ""); }, "Client",
       "1000"},
      {"InvalidWsaTo",
       [] {
         return soapReplaced("<wsa:To>http://127.0.0.1:4848/syncsoap</wsa:To>",
                             "<wsa:To>not a uri</wsa:To>");
       },
       "Client", "1000"},
      {"MissingTimestamp",
       [] {
         return soapReplaced(
             "<wsu:Timestamp wsu:Id=\"D6CD5232-14CF-11DF-9423-1F9A910D4703\">"
             "<wsu:Created>2026-11-25T10:00:00Z</wsu:Created>"
             "<wsu:Expires>2026-11-25T10:10:00Z</wsu:Expires></wsu:Timestamp>",
             "");
       },
       "Client", "1000"},
      {"NonAnonymousReplyTo",
       [] {
         return soapReplaced("</wsa:From>",
                             "</wsa:From><wsa:ReplyTo><wsa:Address>http://sender.example/async"
                             "</wsa:Address></wsa:ReplyTo>");
       },
       "Client", "1000"},
      {"ExpiredTimestamp",
       [] {
         return t2::replaced(soapReplaced("2026-11-25T10:00:00Z", "2026-11-25T09:00:00Z"),
                             "2026-11-25T10:10:00Z", "2026-11-25T09:10:00Z");
       },
       "Client", "1000"},
      {"MissingUsername",
       [] {
         return soapReplaced(
             "<wsse:UsernameToken><wsse:Username>TKS Server test</wsse:Username>"
             "</wsse:UsernameToken>",
             "");
       },
       "Client", "3000"},
      {"UnknownUsername",
       [] {
         return soapReplaced("<wsse:Username>TKS Server test</wsse:Username>",
                             "<wsse:Username>intruder</wsse:Username>");
       },
       "Client", "3000"},
      {"UnknownMustUnderstandHeader",
       [] {
         return soapReplaced("<soap:Header>",
                             "<soap:Header><x:Routing xmlns:x=\"urn:example:routing\" "
                             "soap:mustUnderstand=\"1\">fast</x:Routing>");
       },
       "MustUnderstand", "1000"},
      {"Soap12Envelope",
       [] {
         return soapReplaced("http://schemas.xmlsoap.org/soap/envelope/",
                             "http://www.w3.org/2003/05/soap-envelope");
       },
       "VersionMismatch", "1000"},
  };
}

// One router for every case: the curator's clock, and an allow-list for the 3000 cases.
class AutotestRejectionTest : public ::testing::TestWithParam<Rejection> {
 protected:
  static void SetUpTestSuite() {
    peer_ = new SoapPeer();
    router_ = new Router(plainListener("    security: {allowed_usernames: [TKS Server test]}\n"),
                         routesTo(peer_->url()), {"--fake-now", kFixtureNow});
    std::string why;
    if (!router_->start(&why)) ADD_FAILURE() << why;
  }
  static void TearDownTestSuite() {
    delete router_;
    delete peer_;
  }
  static SoapPeer* peer_;
  static Router* router_;
};
SoapPeer* AutotestRejectionTest::peer_ = nullptr;
Router* AutotestRejectionTest::router_ = nullptr;

TEST_P(AutotestRejectionTest, IsAFaultWithHttp500) {
  ASSERT_NE(router_->port(), 0);
  const Rejection& c = GetParam();
  std::string request = c.request();
  std::string action = actionOf(request);
  SoapReply r =
      postSoap(router_->port(), request, action.empty() ? std::string(t2::kService) : action);
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(r.faultcode(), c.faultcode) << r.body;
  EXPECT_EQ(r.errorCode(), c.error_code) << r.body;
  ASSERT_TRUE(r.doc);
  // §4.5: MustUnderstand faults carry .../addressing/fault, the others .../soap/fault.
  EXPECT_EQ(r.doc->soap.action,
            std::string(c.faultcode == std::string("MustUnderstand") ? itk2::kWsaFaultAction
                                                                     : itk2::kWsaSoapFaultAction));
  EXPECT_EQ(peer_->count(), 0u) << "a refused message must not be delivered";
}

INSTANTIATE_TEST_SUITE_P(Tkw, AutotestRejectionTest, ::testing::ValuesIn(rejections()),
                         [](const ::testing::TestParamInfo<Rejection>& info) {
                           return info.param.name;
                         });

// The control: the unmodified request passes the same router.
TEST(AutotestControlTest, TheUnmodifiedRequestIsAccepted) {
  SoapPeer peer;
  Router router(plainListener("    security: {allowed_usernames: [TKS Server test]}\n"),
                routesTo(peer.url()), {"--fake-now", kFixtureNow});
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  SoapReply r = postSoap(router.port(), t2::soapRequest(), std::string(t2::kService));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(peer.waitFor(1)) << router.log();
  EXPECT_EQ(receivedDe(peer.received()[0]), t2::validDe());
}

// --- delivery outcomes ---------------------------------------------------------------------------

TEST(SoapDeliveryTest, ABusyPeerGetsTheMessageAfterARetry) {
  SoapPeer peer;
  peer.script({SoapPeer::respond(503), SoapPeer::ok()});
  Router router(plainListener(), routesTo(peer.url()), {"--fake-now", kFixtureNow});
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  SoapReply r = postSoap(router.port(), t2::soapRequest(), std::string(t2::kService));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(peer.waitFor(2)) << router.log();
  auto received = peer.received();
  EXPECT_EQ(receivedDe(received[0]), t2::validDe());
  EXPECT_EQ(receivedDe(received[1]), t2::validDe());
  // Each attempt is a new SOAP request (its own MessageID).
  auto first = itk2::readItkDocument(received[0].body);
  auto second = itk2::readItkDocument(received[1].body);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(first->soap.message_id, second->soap.message_id);
  EXPECT_TRUE(router.waitForLog("delivery\\.attempt .*attempt=1 outcome=retryable"))
      << router.log();
  EXPECT_TRUE(router.waitForLog("delivery\\.attempt .*attempt=2 outcome=delivered"))
      << router.log();
  EXPECT_EQ(peer.count(), 2u);
}

TEST(SoapDeliveryTest, AFault1000DeadLettersAndNacksTheSender) {
  REQUIRE_FIXTURES();
  SoapPeer peer, sender;
  peer.setDefault(SoapPeer::respond(500, t2::fixture("soap/fault-client-1000.xml")));
  // Acknowledgements go back to the original sender's address (DESIGN.md §1): its own endpoint.
  std::string routes =
      routesTo(peer.url(), "  sender:\n    transport: soap\n    urls: [" + sender.url() + "]\n",
               "  - name: acks-to-sender\n"
               "    match: {service: urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0}\n"
               "    endpoint: sender\n");
  Router router(plainListener(), routes, {"--fake-now", kFixtureNow});
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  SoapReply r = postSoap(router.port(), t2::soapRequest(), std::string(t2::kService));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(peer.waitFor(1)) << router.log();
  // Permanent on the first attempt: dead letter, no retry.
  EXPECT_TRUE(
      router.waitForLog("delivery\\.attempt .*endpoint=peer attempt=1 "
                        "outcome=permanent detail=.*1000"))
      << router.log();
  EXPECT_EQ(peer.count(), 1u);

  ASSERT_TRUE(sender.waitFor(1)) << router.log();
  auto nack = itk2::readItkDocument(sender.received()[0].body);
  ASSERT_TRUE(nack.ok() && nack->de) << nack.status().toString();
  EXPECT_EQ(nack->de->service, itk2::kSendInfrastructureAckService);
  ASSERT_EQ(nack->de->addresses.size(), 1u);
  EXPECT_EQ(nack->de->addresses[0].uri, "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987");
  ASSERT_TRUE(nack->de->infrastructure_response);
  EXPECT_FALSE(nack->de->infrastructure_response->positive());
  EXPECT_EQ(nack->de->infrastructure_response->tracking_id_ref, t2::kTrackingId);
}

// --- request/response services: synchronous proxy -----------------------------------------------

std::string verifyRequest() {
  const std::string service = "urn:nhs-itk:services:201005:verifyNHSNumber-v1-0";
  std::string soap = t2::replaced(t2::soapRequest(), t2::kService, service);
  return t2::replaced(soap, t2::kService, service);  // the DE's service too
}

std::string syncRoutes(const std::string& peer_url, const std::string& smsp_url,
                       const std::string& timeout) {
  return routesTo(peer_url, "  smsp:\n    transport: soap\n    urls: [" + smsp_url + "]\n",
                  "  - name: pds-lookups\n"
                  "    match: {service: urn:nhs-itk:services:201005:verifyNHSNumber-v1-0}\n"
                  "    endpoint: smsp\n"
                  "    mode: sync-proxy\n"
                  "    timeout: " +
                      timeout + "\n");
}

TEST(SoapSyncProxyTest, RelaysTheResponseDeInTheSameExchange) {
  REQUIRE_FIXTURES();
  SoapPeer peer, smsp;
  std::string response = t2::fixture("soap/smsp-verifyNHSNumber-sync-response.xml");
  smsp.setDefault(SoapPeer::respond(200, response));
  Router router(plainListener(), syncRoutes(peer.url(), smsp.url(), "10s"),
                {"--fake-now", kFixtureNow});
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  std::string request = verifyRequest();
  SoapReply r = postSoap(router.port(), request, actionOf(request));
  ASSERT_EQ(r.status, 200) << r.body << "\n" << router.log();
  ASSERT_TRUE(r.doc && r.doc->de) << r.body;
  EXPECT_EQ(r.doc->soap.action, actionOf(request) + "Response");
  EXPECT_EQ(r.doc->soap.relates_to, std::string(t2::kMessageId));
  EXPECT_TRUE(itk2::forwardableBytes(r.body, *r.doc->de) == deOf(response));
  EXPECT_EQ(smsp.count(), 1u);
  EXPECT_EQ(receivedDe(smsp.received()[0]), deOf(request));
  EXPECT_EQ(peer.count(), 0u);
}

TEST(SoapSyncProxyTest, APeerThatDoesNotAnswerInTimeIsFault2100) {
  SoapPeer peer, smsp;
  smsp.setDefault(SoapPeer::hold());
  Router router(plainListener(), syncRoutes(peer.url(), smsp.url(), "1s"),
                {"--fake-now", kFixtureNow});
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  std::string request = verifyRequest();
  SoapReply r = postSoap(router.port(), request, actionOf(request));
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(r.faultcode(), "Server");
  EXPECT_EQ(r.errorCode(), "2100");
  EXPECT_EQ(r.doc ? r.doc->soap.relates_to : std::nullopt, std::string(t2::kMessageId));
  smsp.releaseHeld();
}

// --- TLS: a mutual-TLS listener, and an endpoint presenting the router's client certificate ---

class InProcessClient {
 public:
  InProcessClient() : thread_([this] { io_.run(); }) {}
  ~InProcessClient() {
    clients_.clear();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  Result<http::Response> post(std::optional<http::ClientTlsConfig> tls, const std::string& url,
                              const std::string& body, const std::string& action) {
    auto client = http::Client::create(io_, {}, tls);
    if (!client.ok()) return client.status();
    auto promise = std::make_shared<std::promise<Result<http::Response>>>();
    auto future = promise->get_future();
    http::ClientRequest r;
    r.url = url;
    r.body = body;
    r.headers.set("Content-Type", "text/xml; charset=UTF-8");
    r.headers.set("SOAPAction", "\"" + action + "\"");
    (*client)->request(
        r, [promise](Result<http::Response> res) { promise->set_value(std::move(res)); });
    clients_.push_back(std::move(*client));
    if (future.wait_for(60s) != std::future_status::ready)
      return Status::internal("test: no answer");
    return future.get();
  }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::vector<std::unique_ptr<http::Client>> clients_;
  std::thread thread_;
};

TEST(SoapTlsTest, MutualTlsInboundAndAClientCertificateOutbound) {
  TempDir certs;
  std::string error;
  auto pki = TestPki::generate(certs, &error);
  ASSERT_TRUE(pki) << error;
  // The next hop requires a client certificate from our CA.
  SoapPeer peer(http::TlsServerConfig{pki->server_cert, pki->server_key, pki->ca_cert,
                                      http::TlsServerConfig::ClientCert::kRequired});
  ASSERT_TRUE(peer.started()) << peer.error();
  std::string listener =
      "    listeners:\n"
      "      - name: itk\n"
      "        listen: 127.0.0.1:0\n"
      "        path: /itk\n"
      "        tls: {cert: " +
      pki->server_cert + ", key: " + pki->server_key + ", ca: " + pki->ca_cert +
      ", client_cert: required}\n";
  std::string routes =
      "endpoints:\n"
      "  peer:\n"
      "    transport: soap\n"
      "    urls: [" +
      peer.url() +
      "]\n"
      "    tls: {ca: " +
      pki->ca_cert + ", cert: " + pki->client_cert + ", key: " + pki->client_key +
      ", server_name: localhost}\n"
      "routes:\n"
      "  - name: everything\n"
      "    endpoint: peer\n";
  Router router(listener, routes, {"--fake-now", kFixtureNow});
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  std::string url = "https://127.0.0.1:" + std::to_string(router.port()) + "/itk";

  InProcessClient client;
  http::ClientTlsConfig anonymous;
  anonymous.ca_file = pki->ca_cert;
  auto refused = client.post(anonymous, url, t2::soapRequest(), std::string(t2::kService));
  ASSERT_FALSE(refused.ok()) << "a client without a certificate was served";
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);

  http::ClientTlsConfig with_cert = anonymous;
  with_cert.cert_file = pki->client_cert;
  with_cert.key_file = pki->client_key;
  auto accepted = client.post(with_cert, url, t2::soapRequest(), std::string(t2::kService));
  ASSERT_TRUE(accepted.ok()) << accepted.status().toString();
  EXPECT_EQ(accepted->status, 200) << accepted->body;

  ASSERT_TRUE(peer.waitFor(1)) << router.log();
  auto got = peer.received()[0];
  EXPECT_TRUE(got.tls);
  EXPECT_EQ(got.tls_client_subject, pki->client_subject);
  EXPECT_EQ(receivedDe(got), t2::validDe());
}

// --- one implementation: the listener refuses what `itk-router validate` refuses, same code -----

std::string runValidate(const TempDir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{routerBinary(), "validate"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string log = dir / ("validate-" + newUuid() + ".log");
  ChildProcess p(argv, log);
  EXPECT_TRUE(p.wait(60s));
  return readFile(log);
}

// "FILE: REJECT 1000 DE0007 reason" -> "1000".
std::string validateCode(const std::string& output) {
  std::smatch m;
  if (std::regex_search(output, m, std::regex("REJECT (\\d+) "))) return m[1].str();
  return output.find(": OK ") != std::string::npos ? "OK" : "?";
}

// "FILE: REJECT 1000 DE0007 reason" -> "DE0007" ("-" when none).
std::string validateDeCode(const std::string& output) {
  std::smatch m;
  if (std::regex_search(output, m, std::regex("REJECT \\d+ (\\S+) "))) return m[1].str();
  return "?";
}

// A fault's ErrorDiagnosticText starts with the DE code when the DE is at fault.
std::string faultDeCode(const SoapReply& r) {
  std::smatch m;
  std::string diagnostic = r.diagnostic();
  if (std::regex_search(diagnostic, m, std::regex("^(DE\\d{4}) "))) return m[1].str();
  return "-";
}

TEST(SoapValidateTest, TheListenerRefusesWhatValidateRefusesWithTheSameCode) {
  SoapPeer peer;
  Router router(plainListener(), routesTo(peer.url()), {"--fake-now", kFixtureNow});
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  for (const Rejection& c : rejections()) {
    if (std::string(c.name) == "UnknownUsername") continue;  // needs the listener's allow-list
    SCOPED_TRACE(c.name);
    std::string request = c.request();
    std::string file = router.dir().write(std::string(c.name) + ".xml", request);
    std::string verdict = runValidate(router.dir(), {"--now", kFixtureNow, file});
    std::string action = actionOf(request);
    SoapReply r =
        postSoap(router.port(), request, action.empty() ? std::string(t2::kService) : action);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(validateCode(verdict), r.errorCode()) << verdict << r.body;
    EXPECT_EQ(validateDeCode(verdict), faultDeCode(r)) << verdict << r.body;
    // A refusal by the SOAP checks names the fault the sender saw.
    if (verdict.find(" soap:") != std::string::npos) {
      EXPECT_NE(verdict.find("soap:" + r.faultcode() + " "), std::string::npos) << verdict;
    }
  }
  EXPECT_EQ(peer.count(), 0u);
}

TEST(SoapValidateTest, TheExpiredFixtureIsRefusedByBothOnTheRealClock) {
  REQUIRE_FIXTURES();
  SoapPeer peer;
  Router router(plainListener(), routesTo(peer.url()));
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  std::string file = t2::fixturesDir() + "/itk2/soap/tkw-ITK_SOAP.xml";
  std::string verdict = runValidate(router.dir(), {file});
  std::string request = t2::fixture("soap/tkw-ITK_SOAP.xml");
  SoapReply r = postSoap(router.port(), request, actionOf(request));
  EXPECT_EQ(validateCode(verdict), "1000") << verdict;
  EXPECT_EQ(r.errorCode(), "1000") << r.body;
  EXPECT_EQ(r.status, 500);
}

// --- a SOAP client nobody here wrote: python3-zeep, driven by the fixture WSDL -------------------

TEST(SoapZeepTest, ZeepSendsADeBuiltFromTheWsdl) {
  REQUIRE_FIXTURES();
  std::string wsdl = t2::fixturesDir() + "/itk2/schemas/wsdl/NHS111-v3-0.wsdl";
  {
    TempDir probe;
    std::string log = probe / "probe.log";
    ChildProcess check({ITK_PYTHON3, "-c", "import zeep"}, log);
    auto code = check.wait(60s);
    if (!code || *code != 0) GTEST_SKIP() << "python3-zeep is not installed: " << readFile(log);
  }
  SoapPeer peer;
  Router router(plainListener(), routesTo(peer.url()));  // the real clock: zeep stamps now
  std::string why;
  ASSERT_TRUE(router.start(&why)) << why;
  std::string sent = router.dir() / "zeep-sent.xml";
  std::string log = router.dir() / "zeep.log";
  ChildProcess zeep({ITK_PYTHON3, std::string(ITK_SOURCE_DIR) + "/tests/integration/zeep_client.py",
                     wsdl, router.url(), sent},
                    log);
  auto code = zeep.wait(120s);
  ASSERT_TRUE(code) << "zeep did not finish\n" << readFile(log);
  ASSERT_EQ(*code, 0) << readFile(log) << "\n" << router.log();
  EXPECT_NE(readFile(log).find("SimpleMessageResponse: OK"), std::string::npos) << readFile(log);
  ASSERT_TRUE(peer.waitFor(1)) << router.log();
  std::string zeep_request = readFile(sent);
  EXPECT_TRUE(receivedDe(peer.received()[0]) == deOf(zeep_request))
      << "zeep sent:\n"
      << zeep_request << "\npeer got:\n"
      << peer.received()[0].body;
}

}  // namespace
}  // namespace itk::test
