// The MESH transport against the fake MESH server with a recording InboundSink standing in for the
// router (its "store" de-duplicates on sender and tracking id, like the real one): polling,
// acknowledge-after-commit, the crash window between download and acknowledge, ITK3 responses to
// unreadable input, REPORTs, ITK2 over MESH, the 500 cap, and sending with every outcome.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <regex>
#include <set>

#include "itk/fhir/itk3.h"
#include "itk/fhir/response.h"
#include "itk/mesh/transport.h"
#include "support/fake_mesh.h"

namespace itk::mesh {
namespace {

namespace fs = std::filesystem;
using test::Await;
using test::eventually;

// The router's side of the seam, recorded. Thread-safe.
class RecordingSink final : public InboundSink {
 public:
  enum class Mode { kAccept, kBusy, kHold };

  void accept(Message message, AcceptCallback done) override {
    std::unique_lock lock(mu_);
    ++accept_calls;
    if (mode == Mode::kBusy) return done(AcceptOutcome::busy(Status::unavailable("busy")));
    if (mode == Mode::kHold) {
      // Taken but not answered until release(): how many the transport has in flight at once.
      held.emplace_back(std::move(message), std::move(done));
      most_held = std::max(most_held, held.size());
      return;
    }
    auto key = std::make_pair(message.header.sender_address, message.header.tracking_id);
    auto it = store.find(key);
    if (it != store.end()) {
      ++duplicates;
      return done(AcceptOutcome::duplicate(it->second.id));
    }
    message.id = static_cast<int64_t>(store.size()) + 1;
    store.emplace(key, message);
    accepted.push_back(message);
    done(AcceptOutcome::accepted(message.id));
  }
  void reportUnreadable(const Origin& from, const Status& why) override {
    std::lock_guard lock(mu_);
    unreadable.emplace_back(from, why);
  }
  void reportDeliveryFailure(DeliveryFailureReport report,
                             std::function<void(Status)> done) override {
    std::lock_guard lock(mu_);
    reports.push_back(report);
    done(take_reports ? Status() : Status::unavailable("not now"));
  }

  // Answers every held accept (outside the lock: the transport may take the next at once).
  void release() {
    std::vector<std::pair<Message, AcceptCallback>> taken;
    {
      std::lock_guard lock(mu_);
      taken.swap(held);
    }
    for (auto& [message, done] : taken) {
      std::lock_guard lock(mu_);
      message.id = static_cast<int64_t>(store.size()) + 1;
      store.emplace(std::make_pair(message.header.sender_address, message.header.tracking_id),
                    message);
      accepted.push_back(message);
      done(AcceptOutcome::accepted(message.id));
    }
  }

  template <class F>
  auto with(F f) {
    std::lock_guard lock(mu_);
    return f();
  }

  std::mutex mu_;
  Mode mode = Mode::kAccept;
  bool take_reports = true;
  int accept_calls = 0;
  int duplicates = 0;
  std::map<std::pair<std::string, std::string>, Message> store;
  std::vector<Message> accepted;
  std::vector<std::pair<Origin, Status>> unreadable;
  std::vector<DeliveryFailureReport> reports;
  std::vector<std::pair<Message, AcceptCallback>> held;
  size_t most_held = 0;
};

// A minimal ITK2 reader standing in for the app's decoder (issue-3 owns the real one).
Result<Message> decodeDe(std::shared_ptr<const std::string> bytes) {
  std::smatch m;
  std::regex tracking("trackingid=\"([^\"]+)\"");
  std::regex address("<itk:address uri=\"([^\"]+)\"");
  std::regex sender("<itk:senderAddress uri=\"([^\"]+)\"");
  std::regex service("service=\"([^\"]+)\"");
  if (!std::regex_search(*bytes, m, tracking)) {
    return Status::invalid("not a DE").withToolkit(ToolkitCode::kInvalidMessage, "DE0001");
  }
  Message msg;
  msg.header.format = MessageFormat::kItk2;
  msg.header.tracking_id = m[1];
  if (std::regex_search(*bytes, m, address)) msg.header.addresses = {m[1]};
  if (std::regex_search(*bytes, m, sender)) msg.header.sender_address = m[1];
  if (std::regex_search(*bytes, m, service)) msg.header.service = m[1];
  msg.body = bytes;
  return msg;
}

const char* kDe =
    "<itk:DistributionEnvelope xmlns:itk=\"urn:nhs-itk:ns:201005\"><itk:header "
    "service=\"urn:nhs-itk:services:201005:SendCDADocument-v2-0\" "
    "trackingid=\"7D6F23E0-AE1A-11DB-8707-B18E1E0994EF\"><itk:addresslist><itk:address "
    "uri=\"urn:nhs-uk:addressing:ods:RHM\"/></itk:addresslist><itk:senderAddress "
    "uri=\"urn:nhs-uk:addressing:ods:X26\"/></itk:header><itk:payloads count=\"1\"/>"
    "</itk:DistributionEnvelope>";

std::string fixture(const std::string& name) {
  return test::readFile(std::string(ITK_FIXTURES_DIR) + "/itk3/messages/" + name);
}

class MeshTransportTest : public ::testing::Test {
 protected:
  MeshTransportTest()
      : ctx_{io_, SystemClock::instance(), identity(), registry_, dir_.path().string(), decodeDe} {}

  static RouterIdentity identity() {
    RouterIdentity id;
    id.audit_identity = "urn:nhs-uk:identity:ods:X26";
    return id;
  }

  void SetUp() override {
    if (!server_.running())
      GTEST_FAIL() << "the fake MESH server did not start:\n" << server_.log();
    work_.emplace(io_.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    transport_.reset();
    exchange_.join();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    exchange_.join();
  }

  std::string config(const std::string& poll = "100ms", const std::string& password = "password",
                     const std::string& extra = "") {
    return "url: " + server_.baseUrl() +
           "\nshared_key: TestKey\nauth_backoff: 1h\nmailboxes:\n"
           "  - {id: X26ABC1, password: " +
           password + ", poll_interval: " + poll + ", chunk_size: 700" + extra + "}\n";
  }

  ExchangeFactory exchanges() {
    return [this](const TransportConfig&, const MailboxConfig&,
                  boost::asio::io_context&) -> Result<HttpExchange> {
      return HttpExchange([this](http::ClientRequest r, http::ResponseCallback d) {
        exchange_(std::move(r), std::move(d));
      });
    };
  }

  void startTransport(const std::string& yaml) {
    auto t = makeMeshTransportFactory(exchanges())->create(YAML::Load(yaml), ctx_);
    ASSERT_TRUE(t.ok()) << t.status().toString();
    transport_ = std::move(*t);
    ASSERT_TRUE(transport_->start(sink_).ok());
  }

  std::string status(const std::string& id) {
    auto m = server_.message(id);
    return m.contains("status") ? std::string(m.at("status").as_string()) : "";
  }

  EndpointSpec endpoint(const std::string& yaml) {
    auto parsed = parseEndpoint(YAML::Load(yaml));
    EXPECT_TRUE(parsed.ok()) << parsed.status().toString();
    EndpointSpec spec;
    spec.name = "ep";
    spec.transport = "mesh";
    if (parsed.ok()) spec.config = *parsed;
    return spec;
  }

  SendResult send(const Message& m, const EndpointSpec& ep, const std::string& address = "") {
    OutboundMessage out;
    out.message = std::make_shared<const Message>(m);
    out.address = address;
    Await<SendResult> a;
    transport_->send(std::move(out), ep, a.callback());
    return a.get();
  }

  test::FakeMeshServer server_;
  test::TempDir dir_;
  test::ThreadExchange exchange_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  prometheus::Registry registry_;
  TransportContext ctx_;
  RecordingSink sink_;
  std::unique_ptr<Transport> transport_;
};

TEST(MeshConfig, TransportAndEndpointOptions) {
  test::TempDir dir;
  std::string key = dir.write("key", "SecretKey\n");
  std::string pw = dir.write("pw", "mailbox-password\n");
  auto c = parseTransportConfig(
      YAML::Load("url: https://mesh.example/\nshared_key_file: " + key +
                 "\nods_code: X26\nmailboxes:\n  - id: X26HUB01\n    password_file: " + pw +
                 "\n    tls: {cert: c.pem, key: k.pem, ca: ca.pem}\n    workflows: [A, B]\n"
                 "  - {id: X26HUB02, password: p, poll_interval: 0s}\n"));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->url, "https://mesh.example");
  EXPECT_EQ(c->shared_key, "SecretKey");
  ASSERT_EQ(c->mailboxes.size(), 2u);
  EXPECT_EQ(c->mailboxes[0].password, "mailbox-password");
  EXPECT_EQ(c->mailboxes[0].tls->ca_file, "ca.pem");
  EXPECT_EQ(c->mailboxes[0].poll_interval, std::chrono::minutes(5));  // the default
  EXPECT_EQ(c->mailboxes[0].workflows, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(c->mailboxes[1].poll_interval.count(), 0);
  EXPECT_EQ(c->handshake_interval, std::chrono::hours(24));

  for (const char* bad :
       {"shared_key: k\nmailboxes: [{id: A, password: p}]",                        // no url
        "url: https://m\nmailboxes: [{id: A, password: p}]",                       // no key
        "url: https://m\nshared_key: k\nmailboxes: [{id: A}]",                     // no password
        "url: https://m\nshared_key: k\nmailboxes: []",                            // no mailbox
        "url: https://m\nshared_key: k\nmailboxes: [{id: A, password: p, x: 1}]",  // unknown
        "url: https://m\nshared_key: k\nmailboxes: [{id: A, password: p}, {id: A, password: q}]",
        "url: https://m\nshared_key: k\nmailboxes: [{id: A, password: p, chunk_size: 0}]",
        "url: https://m\nshared_key_file: /nonexistent\nmailboxes: [{id: A, password: p}]"}) {
    EXPECT_FALSE(parseTransportConfig(YAML::Load(bad)).ok()) << bad;
  }

  auto ep = parseEndpoint(YAML::Load(
      "{transport: mesh, mailbox: X26HUB01, to: MESHGP0001, workflow: GPFED_CONSULT_REPORT, "
      "subject: s, compress: false, chunk_size: 1000}"));
  ASSERT_TRUE(ep.ok()) << ep.status().toString();
  EXPECT_TRUE(parseEndpoint(YAML::Load("{mailbox: X26HUB01}")).ok());  // to/workflow by message
  EXPECT_FALSE(parseEndpoint(YAML::Load("{to: X}")).ok());             // no mailbox
  EXPECT_FALSE(parseEndpoint(YAML::Load("{mailbox: A, to: 'https://x'}")).ok());
  EXPECT_FALSE(parseEndpoint(YAML::Load("{mailbox: A, workflow: 'https://x'}")).ok());
  EXPECT_FALSE(parseEndpoint(YAML::Load("{mailbox: A, colour: red}")).ok());
}

// routing-rules/examples/itk3-mesh.yaml (whose table the routing tests load with stand-in
// transports): its mesh endpoints are what this transport accepts.
TEST(MeshConfig, TheItk3ExampleTablesEndpointsParse) {
  YAML::Node table =
      YAML::LoadFile(std::string(ITK_SOURCE_DIR) + "/routing-rules/examples/itk3-mesh.yaml");
  int mesh = 0;
  for (const auto& kv : table["endpoints"]) {
    if (kv.second["transport"].as<std::string>() != "mesh") continue;
    ++mesh;
    auto ep = parseEndpoint(kv.second);
    EXPECT_TRUE(ep.ok()) << kv.first.as<std::string>() << ": " << ep.status().toString();
  }
  EXPECT_EQ(mesh, 3);
}

TEST_F(MeshTransportTest, Itk3InboundIsAcceptedThenAcknowledged) {
  std::string bundle = fixture("gpconnect-consultation_report.xml");
  if (bundle.empty()) GTEST_SKIP() << "no fixtures";
  std::string id =
      server_.inject("MESHGP0001", "X26ABC1", "GPFED_CONSULT_REPORT", bundle, 20000, true);
  startTransport(config());
  EXPECT_TRUE(transport_->ready());
  ASSERT_TRUE(eventually([&] { return status(id) == "acknowledged"; })) << server_.log();
  auto accepted = sink_.with([&] { return sink_.accepted; });
  ASSERT_EQ(accepted.size(), 1u);
  const Message& m = accepted[0];
  EXPECT_EQ(*m.body, bundle);  // forwarded byte for byte
  EXPECT_EQ(m.header.format, MessageFormat::kItk3);
  EXPECT_EQ(m.header.tracking_id, "ea7221b8-3cc0-4b11-bc95-585b056b5428");
  // No receiver (GPPROVIDER routing): addressed to the mailbox it came to.
  EXPECT_EQ(m.header.addresses, std::vector<std::string>{"X26ABC1"});
  EXPECT_EQ(m.origin.transport, "mesh");
  EXPECT_EQ(m.origin.transport_message_id, id);
  EXPECT_EQ(*m.origin.attribute("mesh.from"), "MESHGP0001");
  EXPECT_EQ(*m.origin.attribute("mesh.workflow"), "GPFED_CONSULT_REPORT");
  EXPECT_EQ(server_.message(id).at("total_chunks").as_int64(), 4);
}

TEST_F(MeshTransportTest, Itk2OverMeshIsRoutedByItsEnvelope) {
  std::string id = server_.inject("X26ABC2", "X26ABC1", "TOC_DISCH_DMS", kDe);
  startTransport(config());
  ASSERT_TRUE(eventually([&] { return status(id) == "acknowledged"; }));
  auto accepted = sink_.with([&] { return sink_.accepted; });
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].header.format, MessageFormat::kItk2);
  EXPECT_EQ(accepted[0].header.addresses,
            std::vector<std::string>{"urn:nhs-uk:addressing:ods:RHM"});
  EXPECT_EQ(*accepted[0].body, kDe);
}

TEST_F(MeshTransportTest, NothingIsAcknowledgedWhileTheRouterIsBusy) {
  sink_.mode = RecordingSink::Mode::kBusy;
  std::string id = server_.inject("X26ABC2", "X26ABC1", "TOC_DISCH_DMS", kDe);
  startTransport(config());
  ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.accept_calls >= 2; }); }));
  EXPECT_EQ(status(id), "accepted");  // still in the inbox, offered again at each poll
  sink_.with([&] { return sink_.mode = RecordingSink::Mode::kAccept; });
  ASSERT_TRUE(eventually([&] { return status(id) == "acknowledged"; }));
  EXPECT_EQ(sink_.with([&] { return sink_.store.size(); }), 1u);
}

TEST_F(MeshTransportTest, CrashBetweenDownloadAndAcknowledgeLosesNothingAndDeliversOnce) {
  std::string bundle = fixture("dm-engage_jack_dawkins_imms.xml");
  if (bundle.empty()) GTEST_SKIP() << "no fixtures";
  std::string id = server_.inject("NOROT003", "X26ABC1", "DIGMED_FLU_VAC", bundle, 5000, true);
  // The acknowledge is lost: as if the router died after its commit and before telling MESH.
  server_.admin("POST", "fault", boost::json::object{{"op", "acknowledge"}, {"drop", true}});
  startTransport(config("1h"));
  ASSERT_TRUE(eventually([&] {
    return server_.admin("GET", "stats").at("requests").as_object().contains("acknowledge");
  }));
  transport_.reset();  // the "crash": this instance is gone
  EXPECT_EQ(status(id), "accepted");
  EXPECT_EQ(sink_.with([&] { return sink_.store.size(); }), 1u);

  // Restart: MESH offers the message again; the store's de-duplication absorbs it.
  startTransport(config("1h"));
  ASSERT_TRUE(eventually([&] { return status(id) == "acknowledged"; }));
  EXPECT_EQ(sink_.with([&] { return sink_.store.size(); }), 1u);  // no loss, no second copy
  EXPECT_EQ(sink_.with([&] { return sink_.duplicates; }), 1);
  EXPECT_EQ(server_.message(id).at("downloads").as_int64(), 2);
}

TEST_F(MeshTransportTest, UnreadableItk3IsAnswered10009OnTheAckWorkflow) {
  std::string bad = fixture("dm-engage_william_smith_meds-MALFORMED.xml");
  if (bad.empty()) GTEST_SKIP() << "no fixtures";
  std::string id = server_.inject("NOROT003", "X26ABC1", "DIGMED_EMG_MED", bad);
  startTransport(config());
  ASSERT_TRUE(eventually([&] { return status(id) == "acknowledged"; }));
  auto accepted = sink_.with([&] { return sink_.accepted; });
  ASSERT_EQ(accepted.size(), 1u);  // the response, never the unreadable message
  const Message& r = accepted[0];
  EXPECT_EQ(r.header.kind, MessageKind::kItk3Response);
  EXPECT_EQ(r.header.addresses, std::vector<std::string>{"NOROT003"});
  EXPECT_EQ(*r.origin.attribute(itk3::kAttrMeshReplyWorkflow), "DIGMED_EMG_MED_ACK");
  // The header was whole before the broken payload: the response names its id.
  EXPECT_EQ(r.header.acknowledged_tracking_id, "a4409d7c-b613-477c-b623-87e60406c2f0");
  auto back = itk3::readMessageBundle(*r.body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->responseCodes(), std::vector<std::string>{"10009"});
  EXPECT_EQ(back->header.source_endpoint, "X26ABC1");
  EXPECT_EQ(back->senderOds(), "X26");
  EXPECT_EQ(sink_.with([&] { return sink_.unreadable.size(); }), 1u);
  EXPECT_TRUE(fs::exists(dir_.path() / "mesh/rejected" / ("X26ABC1-" + id + ".dat")));
}

TEST_F(MeshTransportTest, GarbageGets10009WithTheUnreadableIdAndAcksAreNeverAnswered) {
  std::string garbage =
      server_.inject("SENDER01", "X26ABC1", "TOC_FHIR_IP_DISCH", "\x01\x02 not xml");
  std::string on_ack = server_.inject("SENDER01", "X26ABC1", "TOC_FHIR_IP_DISCH_ACK", "<Bundle");
  startTransport(config());
  ASSERT_TRUE(eventually(
      [&] { return status(garbage) == "acknowledged" && status(on_ack) == "acknowledged"; }));
  auto accepted = sink_.with([&] { return sink_.accepted; });
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].header.acknowledged_tracking_id, itk3::kUnreadableId);
  EXPECT_EQ(accepted[0].header.addresses, std::vector<std::string>{"SENDER01"});
  EXPECT_EQ(sink_.with([&] { return sink_.unreadable.size(); }), 2u);
}

TEST_F(MeshTransportTest, TooLargeIsAnswered20015WithTheIdOnlyWhenAnInfAckWasRequested) {
  std::string asks = fixture("gpconnect-consultation_report.xml");  // 60932 bytes, InfAck wanted
  if (asks.empty()) GTEST_SKIP() << "no fixtures";
  std::string quiet = asks;  // the same without InfAckRequested
  size_t flag = quiet.find("value=\"true\"", quiet.find("InfAckRequested"));
  ASSERT_NE(flag, std::string::npos);
  quiet.replace(flag, 12, "value=\"false\"");
  std::string a = server_.inject("MESHGP0001", "X26ABC1", "GPFED_CONSULT_REPORT", asks);
  std::string q = server_.inject("X26ABC2", "X26ABC1", "GPFED_CONSULT_REPORT", quiet);
  // Over the limit, yet downloaded (up to twice the limit) so that it can be answered.
  startTransport(config() + "max_message_bytes: 40000\n");
  ASSERT_TRUE(
      eventually([&] { return status(a) == "acknowledged" && status(q) == "acknowledged"; }));
  auto accepted = sink_.with([&] { return sink_.accepted; });
  ASSERT_EQ(accepted.size(), 1u);  // one answer; neither message was taken
  const Message& r = accepted[0];
  // The Bundle read whole: the response names it (not UNREADABLE-IN-ORIGINAL-MESSAGE).
  EXPECT_EQ(r.header.acknowledged_tracking_id, "ea7221b8-3cc0-4b11-bc95-585b056b5428");
  EXPECT_EQ(r.header.addresses, std::vector<std::string>{"MESHGP0001"});
  auto back = itk3::readMessageBundle(*r.body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->responseCodes(), std::vector<std::string>{"20015"});
  EXPECT_EQ(back->header.handling.sender_reference, "846ebe66-5ff8-4499-bc57-a112d3d0daa3");
  EXPECT_EQ(sink_.with([&] { return sink_.unreadable.size(); }), 2u);
}

TEST_F(MeshTransportTest, ReportsBecomeDeliveryFailuresAndWaitForTheRouter) {
  sink_.take_reports = false;
  boost::json::object report{{"mailbox_id", "X26ABC1"},        {"code", "14"},
                             {"description", "not collected"}, {"workflow_id", "W"},
                             {"linked_message_id", "SENT-1"},  {"local_id", "TRACK-1"}};
  std::string id(server_.admin("POST", "report", report).at("message_id").as_string());
  startTransport(config());
  ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.reports.size() >= 2; }); }));
  EXPECT_EQ(status(id), "accepted");  // the router could not take it: kept in the inbox
  sink_.with([&] { return sink_.take_reports = true; });
  ASSERT_TRUE(eventually([&] { return status(id) == "acknowledged"; }));
  auto r = sink_.with([&] { return sink_.reports.back(); });
  EXPECT_EQ(r.transport, "mesh");
  EXPECT_EQ(r.remote_id, "SENT-1");
  EXPECT_EQ(r.tracking_id, "TRACK-1");
  EXPECT_EQ(r.code, "14");
  EXPECT_EQ(r.description, "not collected");
  EXPECT_EQ(r.report_id, id);
}

// kDe with the tracking id T<100000 + n>-AE1A-...
std::string numberedDe(int n) {
  // Appended, not "T" + string: GCC 12 -O3 misreports that as an overlapping copy.
  std::string id = std::to_string(100000 + n);
  id.insert(0, 1, 'T');
  return std::regex_replace(std::string(kDe), std::regex("7D6F23E0"), id);
}

TEST_F(MeshTransportTest, AFullPageOf500IsFollowedAtOnce) {
  for (int i = 0; i < 502; ++i)
    server_.inject("X26ABC2", "X26ABC1", "TOC_DISCH_DMS", numberedDe(i));
  startTransport(config("1h"));  // no second timed poll within the test
  ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.store.size(); }) == 502u; },
                         std::chrono::seconds(120)));
}

// Several inbox messages are downloaded and accepted at once (so the router's store commits them
// together), never more than download_concurrency, and each is acknowledged once accepted.
TEST_F(MeshTransportTest, DownloadsUpToTheConcurrencyAtOnce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i)
    ids.push_back(server_.inject("X26ABC2", "X26ABC1", "TOC_DISCH_DMS", numberedDe(i)));
  sink_.mode = RecordingSink::Mode::kHold;
  startTransport(config("1h", "password", ", download_concurrency: 3"));
  for (size_t remaining = ids.size(); remaining > 0;) {
    const size_t expect = std::min<size_t>(3, remaining);
    ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.held.size(); }) == expect; }))
        << remaining << " left";
    sink_.release();
    remaining -= expect;
  }
  for (const auto& id : ids) EXPECT_TRUE(eventually([&] { return status(id) == "acknowledged"; }));
  EXPECT_EQ(sink_.with([&] { return sink_.most_held; }), 3u);
  EXPECT_EQ(sink_.with([&] { return sink_.store.size(); }), ids.size());
}

// download_concurrency 1: one at a time, in the order MESH lists them.
TEST_F(MeshTransportTest, ConcurrencyOneAcceptsInInboxOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 6; ++i) {
    std::string de = numberedDe(i);
    server_.inject("X26ABC2", "X26ABC1", "TOC_DISCH_DMS", de);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(de, m, std::regex("trackingid=\"([^\"]+)\"")));
    expected.push_back(m[1]);
  }
  startTransport(config("1h", "password", ", download_concurrency: 1"));
  ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.accepted.size(); }) == 6u; }));
  std::vector<std::string> order;
  for (const auto& m : sink_.with([&] { return sink_.accepted; }))
    order.push_back(m.header.tracking_id);
  EXPECT_EQ(order, expected);
}

TEST_F(MeshTransportTest, SendChunkedWithLocalIdAndEveryOutcome) {
  startTransport(config("0s"));
  std::string bundle = fixture("dm-engage_hettie_winters_imms.xml");
  if (bundle.empty()) GTEST_SKIP() << "no fixtures";
  auto m = itk3::decodeMessage(std::make_shared<const std::string>(bundle));
  ASSERT_TRUE(m.ok());
  SendResult ok = send(*m, endpoint("{mailbox: X26ABC1, to: X26ABC2, workflow: DIGMED_FLU_VAC}"));
  ASSERT_EQ(ok.outcome, SendResult::Outcome::kDelivered) << ok.detail;
  auto meta = server_.message(ok.remote_id);
  EXPECT_EQ(meta.at("local_id").as_string(), "cd836dc4-2e34-11eb-adc1-0242ac120002");
  EXPECT_EQ(meta.at("recipient").as_string(), "X26ABC2");
  EXPECT_EQ(meta.at("workflow_id").as_string(), "DIGMED_FLU_VAC");
  EXPECT_EQ(meta.at("content_encoding").as_string(), "gzip");
  EXPECT_EQ(meta.at("total_chunks").as_int64(), static_cast<int64_t>((bundle.size() + 699) / 700));
  EXPECT_EQ(test::FakeMeshServer::unbase64(meta.at("data_b64").as_string()), bundle);

  // The recipient from the delivery address when the endpoint names none.
  SendResult by_address = send(*m, endpoint("{mailbox: X26ABC1, workflow: W}"), "X26ABC3");
  ASSERT_EQ(by_address.outcome, SendResult::Outcome::kDelivered) << by_address.detail;
  EXPECT_EQ(server_.message(by_address.remote_id).at("recipient").as_string(), "X26ABC3");

  EXPECT_EQ(send(*m, endpoint("{mailbox: X26ABC1, to: NOBODY, workflow: W}")).outcome,
            SendResult::Outcome::kPermanent);  // 417 / 12
  EXPECT_EQ(send(*m, endpoint("{mailbox: X26ABC1, workflow: W}"), "urn:nhs-uk:addressing:ods:RY6")
                .outcome,
            SendResult::Outcome::kPermanent);  // not a mailbox id
  EXPECT_EQ(send(*m, endpoint("{mailbox: X26ABC1, to: X26ABC2}")).outcome,
            SendResult::Outcome::kPermanent);  // no workflow
  EXPECT_EQ(send(*m, endpoint("{mailbox: OTHER, to: X26ABC2, workflow: W}")).outcome,
            SendResult::Outcome::kPermanent);  // not our mailbox
  server_.admin("POST", "fault", boost::json::object{{"op", "send"}, {"status", 503}});
  EXPECT_EQ(send(*m, endpoint("{mailbox: X26ABC1, to: X26ABC2, workflow: W}")).outcome,
            SendResult::Outcome::kRetryable);
}

TEST_F(MeshTransportTest, ResponsesGoBackOnTheAckWorkflow) {
  startTransport(config("0s"));
  std::string bundle = fixture("gpconnect-consultation_report.xml");
  if (bundle.empty()) GTEST_SKIP() << "no fixtures";
  auto original = itk3::decodeMessage(std::make_shared<const std::string>(bundle));
  ASSERT_TRUE(original.ok());
  original->origin.attributes = {{"mesh.from", "X26ABC2"},
                                 {"mesh.workflow", "GPFED_CONSULT_REPORT"}};
  auto response =
      itk3::respondTo(*original, "20002", {"X26ABC1", "X26", ""}, std::chrono::system_clock::now());
  ASSERT_TRUE(response.ok());
  SendResult r = send(*response, endpoint("{mailbox: X26ABC1}"), response->header.addresses[0]);
  ASSERT_EQ(r.outcome, SendResult::Outcome::kDelivered) << r.detail;
  auto meta = server_.message(r.remote_id);
  EXPECT_EQ(meta.at("recipient").as_string(), "X26ABC2");
  EXPECT_EQ(meta.at("workflow_id").as_string(), "GPFED_CONSULT_REPORT_ACK");
}

TEST_F(MeshTransportTest, AuthFailureClosesTheMailboxInsteadOfStorming) {
  startTransport(config("0s", "wrong-password"));
  // The start-up handshake is refused and closes the mailbox (auth_backoff 1h).
  ASSERT_TRUE(eventually([&] {
    auto s = server_.admin("GET", "stats");
    return s.at("auth_failures").as_object().contains("hmac");
  }));
  auto m = itk3::decodeMessage(
      std::make_shared<const std::string>(fixture("gpconnect-consultation_report.xml")));
  if (!m.ok()) GTEST_SKIP() << "no fixtures";
  EndpointSpec ep = endpoint("{mailbox: X26ABC1, to: X26ABC2, workflow: W}");
  for (int i = 0; i < 5; ++i) {
    SendResult r = send(*m, ep);
    EXPECT_EQ(r.outcome, SendResult::Outcome::kRetryable);
    EXPECT_NE(r.detail.find("authentication failure"), std::string::npos) << r.detail;
  }
  auto stats = server_.admin("GET", "stats");
  EXPECT_FALSE(stats.at("requests").as_object().contains("send_message"));  // none reached MESH
  EXPECT_EQ(stats.at("auth_failures").at("hmac").as_int64(), 1);
}

}  // namespace
}  // namespace itk::mesh

namespace itk::mesh {
namespace {

// itk_mesh_mailbox_authenticated{mailbox} in `registry`; nullopt while it has no value.
std::optional<double> mailboxAuthenticated(const prometheus::Registry& registry,
                                           const std::string& mailbox) {
  for (const auto& f : registry.Collect()) {
    if (f.name != "itk_mesh_mailbox_authenticated") continue;
    for (const auto& m : f.metric)
      if (m.label.size() == 1 && m.label[0].value == mailbox) return m.gauge.value;
  }
  return std::nullopt;
}

TEST_F(MeshTransportTest, RefusedCredentialsShowInTheMailboxAuthenticationMetric) {
  startTransport(config("0s", "wrong-password"));
  EXPECT_TRUE(eventually([&] { return mailboxAuthenticated(registry_, "X26ABC1") == 0.0; }));
}

TEST_F(MeshTransportTest, AcceptedCredentialsShowInTheMailboxAuthenticationMetric) {
  startTransport(config("0s"));
  EXPECT_TRUE(eventually([&] { return mailboxAuthenticated(registry_, "X26ABC1") == 1.0; }));
}

}  // namespace
}  // namespace itk::mesh
