// The real itk-router with its MESH transport against the fake MESH server (tests/fakes/
// mesh_server.py, a child process on 127.0.0.1:0) and SOAP test peers (tests/support/soap_peer.h):
//  - SOAP -> router -> MESH: an ITK2 DE arrives in the recipient's mailbox as the data file, byte
//    for byte, with local id = tracking id and the route's workflow; chunked + gzip and not.
//  - MESH -> router -> SOAP: an ITK2 DE in the router's inbox reaches the SOAP peer; MESH is asked
//    to forget it only once the router has it in its store.
//  - MESH -> router -> MESH (ITK3): a Bundle goes from one mailbox to another through the router,
//    and the recipient's ITK3 response goes back to the sender by correlation.
//  - REPORTs: the original sender gets an ITK2 NACK (SOAP) or an ITK3 20002 response (MESH, on
//    the _ACK workflow), also when the REPORT comes before the router recorded the send.
//  - What the router detects: unreadable input 10009 (or 20006 for an unusable header), an
//    unknown recipient organisation 20002, a message too large 20015, a sender's duplicate
//    20007; a response is never answered.
//  - The mailbox: a handshake on start and each interval; an authentication failure alerted
//    once, not retried into a storm; mutual TLS with the mailbox's client certificate.
//  - The crash test: SIGKILL between the router's commit and MESH's acknowledge; after a restart
//    nothing is lost, nothing is delivered twice, and MESH's redelivery is not answered 20007.
//
// Every wait is for an effect (a message at the fake, a line in the router's log); poll
// intervals are short so that the suite stays fast under ASan on two cores.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "itk/envelope/builders.h"
#include "itk/envelope/reader.h"
#include "itk/envelope/vocabulary.h"
#include "itk/fhir/itk3.h"
#include "itk/fhir/response.h"
#include "support/fake_mesh.h"
#include "support/router_process.h"
#include "support/soap_peer.h"
#include "support/test_pki.h"
#include "unit/envelope/test_messages.h"

namespace itk::test {
namespace {

using namespace std::chrono_literals;
namespace t2 = itk2::testing;

// The mailboxes at the fake MESH. The fixtures name NOROT003 (Digital Medicines) and MESHGP0001
// (GP Connect) as their senders' mailboxes (MessageHeader.source.endpoint).
constexpr const char* kHub = "X26HUB01";  // the router's
constexpr const char* kHubPassword = "hub-password";
constexpr const char* kGp = "MESHGP0001";
constexpr const char* kPharmacy = "NOROT003";
constexpr const char* kRecipient = "RECIP01";
constexpr const char* kItk2Sender = "X26ABC2";

// MessageHeader.id of the fixtures used here (fixtures MANIFEST).
constexpr const char* kGpReportId = "ea7221b8-3cc0-4b11-bc95-585b056b5428";
constexpr const char* kDawkinsId = "ede9f97e-2d81-11eb-adc1-0242ac120002";
constexpr const char* kHettieId = "cd836dc4-2e34-11eb-adc1-0242ac120002";
constexpr const char* kMalformedId = "a4409d7c-b613-477c-b623-87e60406c2f0";

std::string itk3Fixture(const std::string& path) {
  return readFile(std::string(ITK_FIXTURES_DIR) + "/itk3/" + path);
}

#define REQUIRE_FIXTURES()                                                                \
  do {                                                                                    \
    if (!t2::fixturesPresent()) GTEST_SKIP() << "fixtures absent: " << t2::fixturesDir(); \
  } while (0)

// An ITK WS request carrying `de`, timestamped now (the router runs on the real clock, as MESH's
// authentication tokens must).
std::string freshSoapRequest(const std::string& de = t2::validDe()) {
  auto now = std::chrono::system_clock::now();
  std::string soap =
      t2::replaced(t2::soapRequest(de), "2026-11-25T10:00:00Z", formatIsoSeconds(now - 5s));
  return t2::replaced(soap, "2026-11-25T10:10:00Z", formatIsoSeconds(now + 10min));
}

int postSoap(uint16_t port, const std::string& body) {
  auto r = httpPost(port, "/itk", body,
                    {{"Content-Type", "text/xml; charset=UTF-8"},
                     {"SOAPAction", "\"" + std::string(t2::kService) + "\""}});
  return r ? r->status : 0;
}

std::string receivedDe(const SoapPeer::Received& r) {
  auto doc = itk2::readItkDocument(r.body);
  return doc.ok() && doc->de ? std::string(doc->de->element.in(r.body)) : "";
}

std::string str(const boost::json::object& o, const char* key) {
  return o.contains(key) && o.at(key).is_string() ? std::string(o.at(key).as_string()) : "";
}
int64_t num(const boost::json::object& o, const char* key) {
  return o.contains(key) && o.at(key).is_int64() ? o.at(key).as_int64() : -1;
}

size_t countOf(const std::string& text, const std::string& pattern) {
  std::regex re(pattern);
  return static_cast<size_t>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

// The fake MESH server with the mailboxes above (their passwords "password", the hub's its own).
std::unique_ptr<FakeMeshServer> startMesh(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--mailbox", std::string(kHub) + ":" + kHubPassword};
  for (const char* m : {kGp, kPharmacy, kRecipient, kItk2Sender}) {
    args.push_back("--mailbox");
    args.push_back(std::string(m) + ":password");
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<FakeMeshServer>(args);
}

struct RouterOptions {
  std::string password = kHubPassword;
  std::string chunk_size = "4096";
  std::string mailbox_extra;  // more options of the hub mailbox, e.g. ", tls: {...}"
  std::string mesh_extra;     // more lines of transports.mesh, each indented by four spaces
};

// router.yaml: a SOAP listener, the hub mailbox polled every 50 ms, an SQLite store.
std::string routerYaml(const FakeMeshServer& mesh, const RouterOptions& o) {
  return R"(identity:
  audit_identity: urn:nhs-uk:identity:ods:X26:itkrouter
  sender_address: urn:nhs-uk:addressing:ods:X26:itkrouter
  ods_code: X26
  mesh_mailbox: X26HUB01
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
    listeners:
      - {name: itk, listen: 127.0.0.1:0, path: /itk}
  mesh:
    url: )" +
         mesh.baseUrl() +
         R"(
    shared_key: TestKey
    request_timeout: 10s
    auth_backoff: 1h
)" + o.mesh_extra +
         R"(    mailboxes:
      - {id: X26HUB01, password: )" +
         o.password + ", poll_interval: 50ms, chunk_size: " + o.chunk_size + o.mailbox_extra +
         "}\n";
}

// Quick retries; `endpoints` and `routes` are indented for their sections.
std::string routesYaml(const std::string& endpoints, const std::string& routes) {
  return "defaults:\n"
         "  retry: {max_attempts: 4, initial_backoff: 200ms, max_backoff: 1s, jitter: 0}\n"
         "endpoints:\n" +
         endpoints + "routes:\n" + routes;
}

// The ITK3 responses the router sends or relays go back over MESH from the hub mailbox, to the
// mailbox in their address on their reply workflow.
const char* kRepliesEndpoint = "  replies: {transport: mesh, mailbox: X26HUB01}\n";
const char* kRepliesRoute =
    "  - name: itk3-responses\n"
    "    match: {interaction: ITK008M}\n"
    "    endpoint: replies\n";

// The router process in its own folder.
class Router {
 public:
  Router(const FakeMeshServer& mesh, const std::string& routes, RouterOptions options = {}) {
    dir_.write("routes.yaml", routes);
    config_ = routerYaml(mesh, options);
    start();
  }

  // (Re)starts the process on the same folder and store; an earlier run's log is set aside.
  void start() {
    if (process_) {
      earlier_logs_ += process_->log();
      process_.reset();
      std::filesystem::rename(dir_ / "router.log",
                              dir_ / ("router-" + std::to_string(++runs_) + ".log"));
    }
    process_ = std::make_unique<RouterProcess>(dir_, config_);
  }
  bool waitReady(std::string* why) {
    if (!process_->waitReady(why)) return false;
    port_ = process_->listenerPort("itk");
    return port_ != 0;
  }
  void kill() {
    process_->process().kill(SIGKILL);
    process_->process().wait(30s);
  }
  uint16_t port() const { return port_; }
  std::string log() const { return process_->log(); }
  // The logs of every run, the current one last.
  std::string allLogs() const { return earlier_logs_ + process_->log(); }
  bool waitForLog(const std::string& pattern, std::chrono::milliseconds timeout = 30s) {
    return process_->process().waitForLog(pattern, timeout).has_value();
  }
  const TempDir& dir() const { return dir_; }

  // `itk-router messages show ID --config router.yaml`: the store's view, beside the router.
  std::pair<int, std::string> show(const std::string& id) {
    std::string out = dir_ / ("show-" + std::to_string(++shows_) + ".log");
    ChildProcess p({routerBinary(), "messages", "show", id, "--config", dir_ / "router.yaml"}, out,
                   dir_.path().string());
    auto code = p.wait(60s);
    return {code.value_or(-1), readFile(out)};
  }

 private:
  TempDir dir_;
  std::string config_;
  std::unique_ptr<RouterProcess> process_;
  std::string earlier_logs_;
  uint16_t port_ = 0;
  int runs_ = 0;
  int shows_ = 0;
};

// An ITK3 response read back, with the codes it carries.
struct Response {
  itk3::MessageBundle bundle;
  std::vector<std::string> codes;
};
std::optional<Response> readResponse(const std::string& data) {
  auto b = itk3::readMessageBundle(data);
  if (!b.ok() || !b->isResponse()) return std::nullopt;
  Response r{*b, b->responseCodes()};
  return r;
}

class MeshRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mesh_ = startMesh();
    ASSERT_TRUE(mesh_->running()) << mesh_->log();
  }

  void startRouter(const std::string& routes, RouterOptions options = {}) {
    router_ = std::make_unique<Router>(*mesh_, routes, std::move(options));
    std::string why;
    ASSERT_TRUE(router_->waitReady(&why)) << why;
  }

  // Waits until `mailbox` has received `n` complete messages; returns them (oldest first).
  std::vector<boost::json::object> awaitMessages(const std::string& mailbox, size_t n) {
    std::vector<boost::json::object> got;
    bool ok = eventually([&] {
      got.clear();
      for (auto& m : mesh_->messages(mailbox))
        if (str(m, "status") != "uploading") got.push_back(std::move(m));
      return got.size() >= n;
    });
    EXPECT_TRUE(ok) << mailbox << " has " << got.size() << " of " << n << " messages\n"
                    << router_->log();
    return got;
  }

  std::string dataOf(const boost::json::object& meta) {
    return FakeMeshServer::unbase64(
        mesh_->message(str(meta, "message_id")).at("data_b64").as_string());
  }

  // The n-th message `mailbox` received (waited for): an ITK3 response from the hub on
  // `workflow`, with the response's id as local id. nullopt, with the failure recorded, if not.
  std::optional<Response> awaitResponse(const std::string& mailbox, size_t n,
                                        const std::string& workflow) {
    auto got = awaitMessages(mailbox, n);
    EXPECT_EQ(got.size(), n) << "more messages to " << mailbox << " than expected";
    if (got.size() < n) return std::nullopt;
    const auto& m = got[n - 1];
    EXPECT_EQ(str(m, "sender"), kHub);
    EXPECT_EQ(str(m, "workflow_id"), workflow);
    std::string data = dataOf(m);
    auto r = readResponse(data);
    EXPECT_TRUE(r) << "not an ITK3 response:\n" << data;
    if (r) {
      EXPECT_EQ(str(m, "local_id"), r->bundle.header.id);
    }
    return r;
  }

  bool awaitStatus(const std::string& id, const std::string& status) {
    bool ok = eventually([&] { return mesh_->status(id) == status; });
    EXPECT_TRUE(ok) << "message " << id << " is " << mesh_->status(id) << ", not " << status << "\n"
                    << router_->log();
    return ok;
  }

  std::unique_ptr<FakeMeshServer> mesh_;
  std::unique_ptr<Router> router_;
};

// --- SOAP -> router -> MESH ----------------------------------------------------------------------

class SoapToMeshTest : public MeshRouterTest, public ::testing::WithParamInterface<bool> {};

TEST_P(SoapToMeshTest, TheDeArrivesAsTheDataFileWithTheTrackingIdAsLocalId) {
  const bool chunked = GetParam();
  startRouter(
      routesYaml("  recipient:\n"
                 "    transport: mesh\n"
                 "    mailbox: X26HUB01\n"
                 "    to: RECIP01\n"
                 "    workflow: TOC_DISCH_DMS\n" +
                     std::string(chunked ? "    chunk_size: 400\n" : "    compress: false\n"),
                 "  - name: to-recipient\n"
                 "    endpoint: recipient\n"));
  ASSERT_EQ(postSoap(router_->port(), freshSoapRequest()), 200) << router_->log();

  auto got = awaitMessages(kRecipient, 1);
  ASSERT_EQ(got.size(), 1u);
  const auto& m = got[0];
  EXPECT_EQ(str(m, "sender"), kHub);
  EXPECT_EQ(str(m, "workflow_id"), "TOC_DISCH_DMS");
  EXPECT_EQ(str(m, "local_id"), t2::kTrackingId);
  EXPECT_EQ(str(m, "content_type"), "application/xml");
  const std::string de = t2::validDe();
  EXPECT_TRUE(dataOf(m) == de) << "the data file is not the DE the sender wrote:\n" << dataOf(m);
  if (chunked) {
    EXPECT_EQ(num(m, "total_chunks"), static_cast<int64_t>((de.size() + 399) / 400));
    EXPECT_EQ(str(m, "content_encoding"), "gzip");
  } else {
    EXPECT_EQ(num(m, "total_chunks"), 1);
    EXPECT_EQ(str(m, "content_encoding"), "");
  }
  // §3.6: the mailbox shook hands when the router started.
  EXPECT_GE(mesh_->stat("requests", "handshake"), 1);
}

INSTANTIATE_TEST_SUITE_P(Mesh, SoapToMeshTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "ChunkedGzip" : "OneChunk";
                         });

// --- MESH -> router -> SOAP ----------------------------------------------------------------------

class MeshToSoapTest : public MeshRouterTest, public ::testing::WithParamInterface<bool> {};

TEST_P(MeshToSoapTest, AnItk2DataFileReachesThePeerAndIsAcknowledgedOnlyOnceStored) {
  const bool chunked = GetParam();
  SoapPeer peer;
  ASSERT_TRUE(peer.started()) << peer.error();
  const std::string de = t2::validDe();
  std::string id =
      mesh_->inject(kItk2Sender, kHub, "TOC_DISCH_DMS", de, chunked ? 300 : 0, chunked);
  // The acknowledge is held at MESH: what the router has done by then, it did before asking.
  mesh_->hold("acknowledge");
  startRouter(routesYaml("  peer: {transport: soap, urls: [" + peer.url() + "]}\n",
                         "  - name: everything\n"
                         "    endpoint: peer\n"));
  ASSERT_TRUE(eventually([&] { return mesh_->stat("held", "acknowledge") == 1; }))
      << router_->log();
  EXPECT_EQ(mesh_->status(id), "accepted");
  // The message is in the router's store, with its delivery, while MESH still holds it.
  auto [code, shown] = router_->show(id);
  EXPECT_EQ(code, 0) << shown;
  EXPECT_NE(shown.find(std::string(t2::kTrackingId)), std::string::npos) << shown;
  ASSERT_TRUE(peer.waitFor(1, 30s)) << router_->log();
  EXPECT_TRUE(receivedDe(peer.received()[0]) == de) << peer.received()[0].body;

  mesh_->release("proceed");
  awaitStatus(id, "acknowledged");
  EXPECT_EQ(num(mesh_->message(id), "downloads"), 1);
  if (chunked) {
    EXPECT_GT(num(mesh_->message(id), "total_chunks"), 1);
  }
  EXPECT_EQ(peer.count(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Mesh, MeshToSoapTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "ChunkedGzip" : "OneChunk";
                         });

// --- MESH -> router -> MESH (ITK3) ---------------------------------------------------------------

class MeshToMeshTest : public MeshRouterTest, public ::testing::WithParamInterface<bool> {};

TEST_P(MeshToMeshTest, ABundleIsRelayedAndTheRecipientsResponseGoesBackToTheSender) {
  REQUIRE_FIXTURES();
  const bool chunked = GetParam();
  const std::string bundle = itk3Fixture("messages/gpconnect-consultation_report.xml");
  // GP Connect names no receiver: the Bundle is for the mailbox it was sent to, ours.
  startRouter(routesYaml(
      std::string("  recipient:\n"
                  "    transport: mesh\n"
                  "    mailbox: X26HUB01\n"
                  "    to: RECIP01\n"
                  "    workflow: GPFED_CONSULT_REPORT\n") +
          (chunked ? "    chunk_size: 16384\n" : "    chunk_size: 1048576\n    compress: false\n") +
          kRepliesEndpoint,
      std::string(kRepliesRoute) + "  - name: gp-documents\n"
                                   "    match: {address: X26HUB01}\n"
                                   "    endpoint: recipient\n"));
  std::string id =
      mesh_->inject(kGp, kHub, "GPFED_CONSULT_REPORT", bundle, chunked ? 20000 : 0, chunked);

  auto got = awaitMessages(kRecipient, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(str(got[0], "sender"), kHub);
  EXPECT_EQ(str(got[0], "workflow_id"), "GPFED_CONSULT_REPORT");
  EXPECT_EQ(str(got[0], "local_id"), kGpReportId);
  EXPECT_EQ(str(got[0], "content_type"), "application/fhir+xml");
  EXPECT_TRUE(dataOf(got[0]) == bundle) << "the Bundle changed on its way";
  if (chunked) {
    EXPECT_EQ(num(mesh_->message(id), "total_chunks"), 4);
    EXPECT_EQ(num(got[0], "total_chunks"), static_cast<int64_t>((bundle.size() + 16383) / 16384));
    EXPECT_EQ(str(got[0], "content_encoding"), "gzip");
  } else {
    EXPECT_EQ(num(got[0], "total_chunks"), 1);
  }
  awaitStatus(id, "acknowledged");

  // The recipient's InfAck (20013, naming no receiver) goes back to the GP's mailbox on the ack
  // workflow, unchanged, and is answered by nobody.
  const std::string infack = itk3Fixture("responses/tkw-template-ITK008M-20013-success.xml");
  std::string ack_id =
      mesh_->inject(kRecipient, kHub, "GPFED_CONSULT_REPORT_ACK", infack, chunked ? 1000 : 0);
  auto back = awaitMessages(kGp, 1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(str(back[0], "sender"), kHub);
  EXPECT_EQ(str(back[0], "workflow_id"), "GPFED_CONSULT_REPORT_ACK");
  EXPECT_TRUE(dataOf(back[0]) == infack);
  awaitStatus(ack_id, "acknowledged");
  EXPECT_TRUE(router_->waitForLog(
      "message\\.correlated .*acknowledges=" + std::string(kGpReportId) + ".* address=MESHGP0001"))
      << router_->log();
  EXPECT_EQ(mesh_->messages(kRecipient).size(), 1u) << "a response was answered";
  EXPECT_EQ(countOf(router_->log(), "answer\\.sent"), 0u) << router_->log();
}

INSTANTIATE_TEST_SUITE_P(Mesh, MeshToMeshTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "ChunkedGzip" : "OneChunk";
                         });

// --- REPORTs: the original sender is told --------------------------------------------------------

boost::json::object reportAbout(const boost::json::object& sent, const std::string& code,
                                const std::string& description) {
  return {{"mailbox_id", kHub},
          {"code", code},
          {"description", description},
          {"workflow_id", str(sent, "workflow_id")},
          {"linked_message_id", str(sent, "message_id")},
          {"local_id", str(sent, "local_id")}};
}

TEST_F(MeshRouterTest, AReportAboutAnItk2MessageNacksItsSoapSender) {
  SoapPeer sender;
  ASSERT_TRUE(sender.started()) << sender.error();
  startRouter(
      routesYaml("  sender: {transport: soap, urls: [" + sender.url() +
                     "]}\n"
                     "  recipient: {transport: mesh, mailbox: X26HUB01, to: RECIP01, workflow: "
                     "TOC_DISCH_DMS}\n",
                 "  - name: acks-to-sender\n"
                 "    match: {service: urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0}\n"
                 "    endpoint: sender\n"
                 "  - name: to-recipient\n"
                 "    endpoint: recipient\n"));
  ASSERT_EQ(postSoap(router_->port(), freshSoapRequest()), 200) << router_->log();
  auto sent = awaitMessages(kRecipient, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sender.count(), 0u);

  // MESH gives up on it (error 14: not collected in 5 days).
  auto r = mesh_->admin("POST", "report", reportAbout(sent[0], "14", "Message not collected"));
  std::string report_id(r.at("message_id").as_string());
  ASSERT_TRUE(sender.waitFor(1, 30s)) << router_->log();
  auto nack = itk2::readItkDocument(sender.received()[0].body);
  ASSERT_TRUE(nack.ok() && nack->de) << nack.status().toString();
  EXPECT_EQ(nack->de->service, itk2::kSendInfrastructureAckService);
  ASSERT_EQ(nack->de->addresses.size(), 1u);
  EXPECT_EQ(nack->de->addresses[0].uri, "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987");
  ASSERT_TRUE(nack->de->infrastructure_response);
  EXPECT_FALSE(nack->de->infrastructure_response->positive());
  EXPECT_EQ(nack->de->infrastructure_response->tracking_id_ref, t2::kTrackingId);
  awaitStatus(report_id, "acknowledged");
  EXPECT_TRUE(router_->waitForLog("delivery\\.reported_failed .*code=14")) << router_->log();
}

// A Digital Medicines message (receiver ODS A83627) relayed from the pharmacy to RECIP01 (in
// chunks of the mailbox's 4096 bytes unless `recipient_extra` says otherwise).
std::string pharmacyRoutes(const std::string& recipient_extra = "") {
  return routesYaml(
      "  recipient: {transport: mesh, mailbox: X26HUB01, to: RECIP01, "
      "workflow: DIGMED_FLU_VAC" +
          recipient_extra + "}\n" + kRepliesEndpoint,
      std::string(kRepliesRoute) +
          "  - name: gp-a83627\n"
          "    match: {address: 'urn:nhs-uk:addressing:ods:A83627'}\n"
          "    endpoint: recipient\n");
}

TEST_F(MeshRouterTest, AReportAboutAnItk3MessageIsAnswered20002OnTheAckWorkflow) {
  REQUIRE_FIXTURES();
  // MESH takes the onward send (one chunk) at once but its answer, the message id, is held: the
  // REPORT arrives before the router has recorded the delivery it is about.
  mesh_->hold("send", 1, /*after=*/true);
  startRouter(pharmacyRoutes(", chunk_size: 1048576"));
  const std::string bundle = itk3Fixture("messages/dm-engage_jack_dawkins_imms.xml");
  mesh_->inject(kPharmacy, kHub, "DIGMED_FLU_VAC", bundle);
  auto sent = awaitMessages(kRecipient, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(str(sent[0], "local_id"), kDawkinsId);
  std::string report_id(
      mesh_->admin("POST", "report", reportAbout(sent[0], "14", "Message not collected"))
          .at("message_id")
          .as_string());
  // Not dropped as unmatched: left in the inbox until the delivery is recorded.
  ASSERT_TRUE(
      router_->waitForLog("delivery\\.report_deferred .*tracking_id=" + std::string(kDawkinsId)))
      << router_->log();
  EXPECT_EQ(mesh_->status(report_id), "accepted");
  EXPECT_TRUE(mesh_->messages(kPharmacy).empty());  // no router infack on this route
  mesh_->release("proceed");

  auto response = awaitResponse(kPharmacy, 1, "DIGMED_FLU_VAC_ACK");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->codes, std::vector<std::string>{"20002"});
  EXPECT_EQ(response->bundle.header.response->identifier, kDawkinsId);
  EXPECT_EQ(response->bundle.header.response->code, "fatal-error");
  EXPECT_EQ(response->bundle.header.source_endpoint, kHub);
  awaitStatus(report_id, "acknowledged");
}

// --- what the router detects itself --------------------------------------------------------------

TEST_F(MeshRouterTest, UnreadableInputIsAnswered10009Or20006ToTheMailboxItCameFrom) {
  REQUIRE_FIXTURES();
  startRouter(pharmacyRoutes());
  std::string malformed =
      mesh_->inject(kPharmacy, kHub, "DIGMED_EMG_MED",
                    itk3Fixture("messages/dm-engage_william_smith_meds-MALFORMED.xml"));
  auto response = awaitResponse(kPharmacy, 1, "DIGMED_EMG_MED_ACK");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->codes, std::vector<std::string>{"10009"});
  // The header was whole before the broken tag: the response names the message.
  EXPECT_EQ(response->bundle.header.response->identifier, kMalformedId);
  awaitStatus(malformed, "acknowledged");

  // A file whose header cannot be read at all: UNREADABLE-IN-ORIGINAL-MESSAGE.
  std::string garbage = mesh_->inject(kPharmacy, kHub, "DIGMED_EMG_MED", "<Bundle xmlns=\"http");
  response = awaitResponse(kPharmacy, 2, "DIGMED_EMG_MED_ACK");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->codes, std::vector<std::string>{"10009"});
  EXPECT_EQ(response->bundle.header.response->identifier, itk3::kUnreadableId);
  awaitStatus(garbage, "acknowledged");

  // Well-formed, but not a message Bundle: the header cannot be used, 20006.
  std::string hettie = itk3Fixture("messages/dm-engage_hettie_winters_imms.xml");
  size_t type = hettie.find("<type value=\"message\"/>");
  ASSERT_NE(type, std::string::npos);
  hettie.replace(type, 22, "<type value=\"document\"/>");
  std::string document = mesh_->inject(kPharmacy, kHub, "DIGMED_FLU_VAC", hettie);
  response = awaitResponse(kPharmacy, 3, "DIGMED_FLU_VAC_ACK");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->codes, std::vector<std::string>{"20006"});
  awaitStatus(document, "acknowledged");
  EXPECT_TRUE(mesh_->messages(kRecipient).empty()) << "unreadable input was forwarded";
}

TEST_F(MeshRouterTest, AnItk3MessageForAnUnknownOrganisationIsAnswered20002) {
  REQUIRE_FIXTURES();
  startRouter(pharmacyRoutes());  // routes only the DM receiver A83627
  // GP Connect names no receiver: addressed to our mailbox, for which there is no route.
  std::string id = mesh_->inject(kGp, kHub, "GPFED_CONSULT_REPORT",
                                 itk3Fixture("messages/gpconnect-consultation_report.xml"));
  auto response = awaitResponse(kGp, 1, "GPFED_CONSULT_REPORT_ACK");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->codes, std::vector<std::string>{"20002"});
  EXPECT_EQ(response->bundle.header.response->identifier, kGpReportId);
  awaitStatus(id, "acknowledged");  // taken: a dead letter, its sender answered
  EXPECT_TRUE(mesh_->messages(kRecipient).empty());
}

TEST_F(MeshRouterTest, ASendersDuplicateIsAnswered20007AndNotForwarded) {
  REQUIRE_FIXTURES();
  startRouter(pharmacyRoutes());
  const std::string bundle = itk3Fixture("messages/dm-engage_hettie_winters_imms.xml");
  std::string first = mesh_->inject(kPharmacy, kHub, "DIGMED_FLU_VAC", bundle);
  awaitStatus(first, "acknowledged");
  std::string again = mesh_->inject(kPharmacy, kHub, "DIGMED_FLU_VAC", bundle);
  auto response = awaitResponse(kPharmacy, 1, "DIGMED_FLU_VAC_ACK");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->codes, std::vector<std::string>{"20007"});
  EXPECT_EQ(response->bundle.header.response->identifier, kHettieId);
  awaitStatus(again, "acknowledged");
  EXPECT_EQ(mesh_->messages(kRecipient).size(), 1u);
}

TEST_F(MeshRouterTest, AResponseAboutNothingWeSentIsNeverAnswered) {
  REQUIRE_FIXTURES();
  startRouter(pharmacyRoutes());
  // A negative response (20002) about a message this router never handled.
  const std::string stray = itk3Fixture("responses/official/ITK-Response-20002-Example-1.xml");
  std::string id = mesh_->inject(kRecipient, kHub, "DIGMED_FLU_VAC_ACK", stray);
  auto parsed = itk3::readMessageBundle(stray);
  ASSERT_TRUE(parsed.ok());
  // Kept as a dead letter; the decision not to answer it is logged.
  EXPECT_TRUE(router_->waitForLog("answer\\.none_due tracking_id=" + parsed->header.id))
      << router_->log();
  awaitStatus(id, "acknowledged");
  EXPECT_TRUE(mesh_->messages(kRecipient).empty() && mesh_->messages(kPharmacy).empty())
      << "a response was answered or forwarded";
  EXPECT_EQ(countOf(router_->log(), "answer\\.sent"), 0u);
}

TEST_F(MeshRouterTest, AMessageTooLargeIsAnswered20015AndNotForwarded) {
  REQUIRE_FIXTURES();
  RouterOptions small;
  small.mesh_extra = "    max_message_bytes: 50000\n";
  startRouter(pharmacyRoutes(), small);
  // 60932 bytes; GP Connect asks for an InfAck.
  std::string id = mesh_->inject(kGp, kHub, "GPFED_CONSULT_REPORT",
                                 itk3Fixture("messages/gpconnect-consultation_report.xml"));
  auto response = awaitResponse(kGp, 1, "GPFED_CONSULT_REPORT_ACK");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->codes, std::vector<std::string>{"20015"});
  // Too large, not unreadable: the response names the message and echoes its SenderReference.
  EXPECT_EQ(response->bundle.header.response->identifier, kGpReportId);
  EXPECT_EQ(response->bundle.header.handling.sender_reference,
            "846ebe66-5ff8-4499-bc57-a112d3d0daa3");
  awaitStatus(id, "acknowledged");
  EXPECT_TRUE(mesh_->messages(kRecipient).empty());
}

// --- handshakes, authentication failures ---------------------------------------------------------

// §3.6: a handshake on start and then once per handshake_interval (a day in production).
TEST_F(MeshRouterTest, TheMailboxShakesHandsOnStartAndAgainEachInterval) {
  RouterOptions often;
  often.mesh_extra = "    handshake_interval: 200ms\n";
  startRouter(pharmacyRoutes(), often);
  EXPECT_TRUE(eventually([&] { return mesh_->stat("requests", "handshake") >= 3; }))
      << mesh_->stat("requests", "handshake") << " handshakes\n"
      << router_->log();
  EXPECT_EQ(mesh_->statTotal("auth_failures"), 0);
}

TEST_F(MeshRouterTest, AnAuthenticationFailureIsAlertedOnceAndNotRetriedIntoAStorm) {
  SoapPeer sender;
  ASSERT_TRUE(sender.started()) << sender.error();
  RouterOptions wrong;
  wrong.password = "not-the-password";
  startRouter(
      routesYaml("  sender: {transport: soap, urls: [" + sender.url() +
                     "]}\n"
                     "  recipient: {transport: mesh, mailbox: X26HUB01, to: RECIP01, "
                     "workflow: TOC_DISCH_DMS}\n",
                 "  - name: acks-to-sender\n"
                 "    match: {service: urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0}\n"
                 "    endpoint: sender\n"
                 "  - name: to-recipient\n"
                 "    endpoint: recipient\n"),
      wrong);
  // The start-up handshake is refused: the mailbox closes (auth_backoff 1h), loudly.
  ASSERT_TRUE(router_->waitForLog("mesh\\.auth_failure .*mailbox=X26HUB01")) << router_->log();
  ASSERT_EQ(postSoap(router_->port(), freshSoapRequest()), 200) << router_->log();
  // Four attempts fail fast at the closed mailbox (about 1.4 s of backoff, in which a 50 ms
  // poller would have asked MESH some thirty times), then the sender is NACKed.
  ASSERT_TRUE(sender.waitFor(1, 30s)) << router_->log();
  EXPECT_TRUE(router_->waitForLog("delivery\\.attempt .*attempt=4 .*authentication failure"))
      << router_->log();
  // The start-up handshake and at most one poll that was already under way reached MESH.
  EXPECT_EQ(mesh_->stat("requests", "handshake"), 1);
  EXPECT_LE(mesh_->stat("requests", "inbox"), 1);
  EXPECT_EQ(mesh_->stat("requests", "send_message"), 0);
  EXPECT_LE(mesh_->statTotal("auth_failures"), 2);
  EXPECT_EQ(countOf(router_->log(), "mesh\\.auth_failure"), 1u) << router_->log();
  EXPECT_TRUE(mesh_->messages(kRecipient).empty());
}

// --- mutual TLS ----------------------------------------------------------------------------------

TEST(MeshTlsTest, TheMailboxPresentsItsClientCertificate) {
  REQUIRE_FIXTURES();
  TempDir certs;
  std::string error;
  auto pki = TestPki::generate(certs, &error);
  ASSERT_TRUE(pki) << error;
  // The fake requires a client certificate from the test CA on every mailbox request.
  auto mesh =
      startMesh({"--cert", pki->server_cert, "--key", pki->server_key, "--ca", pki->ca_cert});
  ASSERT_TRUE(mesh->running()) << mesh->log();
  RouterOptions tls;
  tls.mailbox_extra = ", tls: {cert: " + pki->client_cert + ", key: " + pki->client_key +
                      ", ca: " + pki->ca_cert + ", server_name: localhost}";
  Router router(*mesh, pharmacyRoutes(), tls);
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;
  std::string id =
      mesh->inject(kPharmacy, kHub, "DIGMED_FLU_VAC",
                   itk3Fixture("messages/dm-engage_jack_dawkins_imms.xml"), 5000, true);
  // Handshake, list, chunked download, acknowledge and send, all over mutual TLS.
  ASSERT_TRUE(eventually([&] { return mesh->messages(kRecipient).size() == 1; })) << router.log();
  ASSERT_TRUE(eventually([&] { return mesh->status(id) == "acknowledged"; })) << router.log();
  EXPECT_EQ(mesh->stat("requests", "handshake"), 1);
  EXPECT_EQ(mesh->statTotal("auth_failures"), 0);
}

// --- the crash test: SIGKILL between the commit and MESH's acknowledge ---------------------------

class MeshCrashTest : public MeshRouterTest {};

TEST_F(MeshCrashTest, KilledBetweenCommitAndAcknowledgeLosesNothingAndDeliversOnce) {
  REQUIRE_FIXTURES();
  const std::string bundle = itk3Fixture("messages/dm-engage_jack_dawkins_imms.xml");
  std::string id = mesh_->inject(kPharmacy, kHub, "DIGMED_FLU_VAC", bundle, 5000, true);
  // The window made deterministic: MESH holds the acknowledge, and the onward send too, so that
  // when the router dies the message exists only in its store.
  mesh_->hold("acknowledge");
  mesh_->hold("send");
  startRouter(pharmacyRoutes());
  ASSERT_TRUE(eventually([&] {
    return mesh_->stat("held", "acknowledge") == 1 && mesh_->stat("held", "send") == 1;
  })) << router_->log();
  router_->kill();
  mesh_->release("drop");  // neither reached MESH: the connections died with the router
  EXPECT_EQ(mesh_->status(id), "accepted");
  EXPECT_TRUE(mesh_->messages(kRecipient).empty());

  // Restart: the delivery is recovered and sent; MESH offers the message again and the store's
  // de-duplication absorbs it (the same MESH id: our own redelivery, not the sender's duplicate).
  router_->start();
  std::string why;
  ASSERT_TRUE(router_->waitReady(&why)) << why;
  awaitStatus(id, "acknowledged");
  EXPECT_EQ(num(mesh_->message(id), "downloads"), 2);
  auto got = awaitMessages(kRecipient, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(str(got[0], "local_id"), kDawkinsId);
  EXPECT_TRUE(dataOf(got[0]) == bundle);
  EXPECT_TRUE(router_->waitForLog("message\\.duplicate tracking_id=" + std::string(kDawkinsId)))
      << router_->log();

  // The sender's own duplicate (a new MESH id) is answered 20007; by the time that answer is
  // out, an answer to our redelivery would have been sent before it. There is none.
  mesh_->inject(kPharmacy, kHub, "DIGMED_FLU_VAC", bundle);
  auto response = awaitResponse(kPharmacy, 1, "DIGMED_FLU_VAC_ACK");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->codes, std::vector<std::string>{"20007"});
  EXPECT_EQ(countOf(router_->allLogs(), "answer\\.sent"), 1u) << router_->allLogs();
  EXPECT_EQ(mesh_->messages(kRecipient).size(), 1u) << "delivered twice";
}

}  // namespace
}  // namespace itk::test
