// The DTS transport against real folders in a temp dir, with a recording InboundSink standing in
// for the router: the pair written into OUT, the IN poller (hand-over, move only after
// acceptance, foreign pairs left alone, bad input kept in rejected/), and the SENT poller's
// status records becoming delivery failure reports.
#include "itk/dts/transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "itk/dts/control_file.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace itk::dts {
namespace {

namespace fs = std::filesystem;
using test::eventually;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The router's side of the seam, recorded. Thread-safe. In kHold mode accept() keeps the
// callback so a test can answer later.
class RecordingSink final : public InboundSink {
 public:
  enum class Mode { kAccept, kBusy, kReject, kHold };

  void accept(Message message, AcceptCallback done) override {
    std::unique_lock lock(mu);
    accepted.push_back(message);
    switch (mode) {
      case Mode::kAccept:
        lock.unlock();
        return done(AcceptOutcome::accepted(static_cast<int64_t>(accepted.size())));
      case Mode::kBusy:
        lock.unlock();
        return done(AcceptOutcome::busy(Status::unavailable("busy")));
      case Mode::kReject:
        lock.unlock();
        return done(AcceptOutcome::rejected(Status::invalid("refused by the router")));
      case Mode::kHold:
        held.push_back(std::move(done));
        return;
    }
  }
  void reportUnreadable(const Origin& from, const Status& why) override {
    std::lock_guard lock(mu);
    unreadable.emplace_back(from, why);
  }
  void reportDeliveryFailure(DeliveryFailureReport report,
                             std::function<void(Status)> done) override {
    std::unique_lock lock(mu);
    reports.push_back(report);
    bool take = take_reports;
    lock.unlock();
    done(take ? Status() : Status::unavailable("not now"));
  }

  template <class F>
  auto with(F f) {
    std::lock_guard lock(mu);
    return f();
  }

  std::mutex mu;
  Mode mode = Mode::kAccept;
  bool take_reports = true;
  std::vector<Message> accepted;
  std::vector<AcceptCallback> held;
  std::vector<std::pair<Origin, Status>> unreadable;
  std::vector<DeliveryFailureReport> reports;
};

// A minimal ITK2 reader standing in for the app's decoder.
Result<Message> decodeDe(std::shared_ptr<const std::string> bytes) {
  std::smatch m;
  std::regex tracking("trackingid=\"([^\"]+)\"");
  if (!std::regex_search(*bytes, m, tracking))
    return Status::invalid("not a DE").withToolkit(ToolkitCode::kInvalidMessage, "DE0001");
  Message msg;
  msg.header.tracking_id = m[1];
  msg.header.service = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";
  msg.body = bytes;
  return msg;
}

std::string de(const std::string& tracking) {
  return "<itk:DistributionEnvelope xmlns:itk=\"urn:nhs-itk:ns:201005\"><itk:header "
         "service=\"urn:nhs-itk:services:201005:SendCDADocument-v2-0\" trackingid=\"" +
         tracking + "\"/><itk:payloads count=\"0\"/></itk:DistributionEnvelope>";
}

std::string controlFor(const std::string& to, const std::string& local_id,
                       const std::string& workflow = "TOC_DISCH_DMS") {
  ControlFile c;
  c.from_dts = "RW1DTS001";
  c.to_dts = to;
  c.local_id = local_id;
  c.workflow_id = workflow;
  c.status_records.push_back(
      {"20261125093002", "TRANSFER", "SUCCESS", "00", "Transferred to recipient mailbox"});
  return buildControlFile(c);
}

class DtsTransportTest : public ::testing::Test {
 protected:
  DtsTransportTest()
      : ctx_{io_, SystemClock::instance(), {}, registry_, dir_.path().string(), decodeDe} {}

  void SetUp() override {
    work_.emplace(io_.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    transport_.reset();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  void start(const std::string& extra = "") {
    auto t = makeDtsTransportFactory()->create(
        YAML::Load("root: " + root() +
                   "\nmailboxes: [X26HUB01DTS]\nprefix: X26HUBITK\n"
                   "poll_interval: 20ms\n" +
                   extra),
        ctx_);
    ASSERT_TRUE(t.ok()) << t.status().toString();
    transport_ = std::move(*t);
    Status s = transport_->start(sink_);
    ASSERT_TRUE(s.ok()) << s.toString();
    ASSERT_TRUE(eventually([&] { return transport_->ready(); }, 5s));
  }

  std::string root() const { return dir_ / "dts"; }
  fs::path folder(const std::string& name) const { return fs::path(root()) / name; }
  bool has(const std::string& f, const std::string& name) const {
    return fs::exists(folder(f) / name);
  }

  // Writes dts/<f>/<name> whole (temp name, then rename), as the DTS client does.
  void place(const std::string& f, const std::string& name, const std::string& content) {
    dir_.write("dts/" + f + "/" + name + ".part", content);
    fs::rename(folder(f) / (name + ".part"), folder(f) / name);
  }

  // Drops a pair into IN the way the DTS client does: .dat, then .ctl.
  void dropIn(const std::string& base, const std::string& dat, const std::string& ctl) {
    place("IN", base + ".dat", dat);
    place("IN", base + ".ctl", ctl);
  }

  EndpointSpec endpoint(const std::string& yaml) {
    auto parsed = parseEndpoint(YAML::Load(yaml));
    EXPECT_TRUE(parsed.ok()) << parsed.status().toString();
    EndpointSpec spec;
    spec.name = "rw1-dts";
    spec.transport = "dts";
    if (parsed.ok()) spec.config = *parsed;
    return spec;
  }

  SendResult send(const std::string& tracking, const EndpointSpec& ep, int64_t delivery = 7) {
    auto m = std::make_shared<Message>();
    m->header.tracking_id = tracking;
    m->header.service = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";
    m->body = std::make_shared<const std::string>(de(tracking));
    OutboundMessage out;
    out.message = m;
    out.delivery_id = delivery;
    auto p = std::make_shared<std::promise<SendResult>>();
    auto f = p->get_future();
    transport_->send(std::move(out), ep, [p](SendResult r) { p->set_value(std::move(r)); });
    return f.get();
  }

  const char* kEndpoint =
      "{transport: dts, mailbox: X26HUB01DTS, to: RW1DTS001, workflow: TOC_DISCH_DMS}";

  test::TempDir dir_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  prometheus::Registry registry_;
  TransportContext ctx_;
  RecordingSink sink_;
  std::unique_ptr<Transport> transport_;
};

TEST(DtsConfig, EndpointOptionsAreRequiredAndChecked) {
  auto ok = parseEndpoint(
      YAML::Load("{transport: dts, mailbox: X26HUB01DTS, to: RW1DTS001, workflow: TOC_DISCH_DMS, "
                 "subject: Discharge}"));
  ASSERT_TRUE(ok.ok()) << ok.status().toString();
  const auto* ep = dynamic_cast<const Endpoint*>(ok->get());
  ASSERT_NE(ep, nullptr);
  EXPECT_EQ(ep->mailbox, "X26HUB01DTS");
  EXPECT_EQ(ep->to, "RW1DTS001");
  EXPECT_EQ(ep->workflow, "TOC_DISCH_DMS");
  EXPECT_EQ(ep->subject, "Discharge");

  struct Case {
    const char* yaml;
    const char* says;
  } cases[] = {
      {"{to: RW1DTS001, workflow: W}", "needs `mailbox`"},
      {"{mailbox: X26A, workflow: W}", "needs `to`"},
      {"{mailbox: X26A, to: RW1DTS001}", "needs `workflow`"},
      {"{mailbox: ../../etc, to: RW1DTS001, workflow: W}", "'mailbox'"},
      {"{mailbox: X26A, to: RW1_DTS, workflow: W}", "'to'"},
      {"{mailbox: X26A, to: RW1DTS001, workflow: a/b}", "'workflow'"},
      {"{mailbox: X26A, to: RW1DTS001, workflow: W, colour: red}", "unknown dts endpoint option"},
  };
  for (const auto& c : cases) {
    auto r = parseEndpoint(YAML::Load(c.yaml));
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_THAT(r.status().message(), HasSubstr(c.says)) << c.yaml;
  }
}

TEST(DtsConfig, TransportOptions) {
  auto c = parseTransportConfig(
      YAML::Load("root: /srv/dts\nmailboxes: [X26HUB01DTS, X26HUB02DTS]\nprefix: X26HUBITK\n"
                 "workflows: [TOC_DISCH_DMS]\npoll_interval: 2s\nmax_message_bytes: 1000\n"));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->root, "/srv/dts");
  EXPECT_TRUE(c->ownsMailbox("X26HUB02DTS"));
  EXPECT_FALSE(c->ownsMailbox("RW1DTS001"));
  EXPECT_EQ(c->poll_interval, 2s);
  EXPECT_EQ(c->max_message_bytes, 1000u);
  EXPECT_FALSE(parseTransportConfig(YAML::Load("root: x\n")).ok());  // no mailbox
  EXPECT_FALSE(parseTransportConfig(YAML::Load("mailboxes: [X1]\nprefix: a/b\n")).ok());
  EXPECT_FALSE(parseTransportConfig(YAML::Load("mailboxes: [X1]\npoll_interval: 0s\n")).ok());
  EXPECT_FALSE(parseTransportConfig(YAML::Load("mailboxes: [X1]\nroots: x\n")).ok());
}

TEST_F(DtsTransportTest, SendWritesThePairIntoOutWithTheControlFields) {
  start();
  const std::string tracking = "5D3C0B8E-7A51-4E2B-9A57-1F0C2B6E9D10";
  SendResult r = send(tracking, endpoint(kEndpoint));
  ASSERT_EQ(r.outcome, SendResult::Outcome::kDelivered) << r.detail;
  const std::string base = "X26HUBITK" + tracking;
  EXPECT_EQ(r.remote_id, base);
  ASSERT_TRUE(has("OUT", base + ".dat"));
  ASSERT_TRUE(has("OUT", base + ".ctl"));
  EXPECT_TRUE(fs::is_empty(folder("TEMP")));                                 // moved, not copied
  EXPECT_EQ(test::readFile(folder("OUT") / (base + ".dat")), de(tracking));  // the DE verbatim
  auto c = parseControlFile(test::readFile(folder("OUT") / (base + ".ctl")));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->version, "1.0");
  EXPECT_EQ(c->address_type, "DTS");
  EXPECT_EQ(c->message_type, "Data");
  EXPECT_EQ(c->from_dts, "X26HUB01DTS");
  EXPECT_EQ(c->to_dts, "RW1DTS001");
  EXPECT_EQ(c->local_id, tracking);
  EXPECT_EQ(c->workflow_id, "TOC_DISCH_DMS");
  EXPECT_EQ(c->subject, "urn:nhs-itk:services:201005:SendCDADocument-v2-0");
  EXPECT_FALSE(c->compress);
  EXPECT_FALSE(c->encrypted);
  EXPECT_FALSE(c->is_compressed);

  // The same message again (a second endpoint, or a resend) never overwrites the first pair.
  SendResult again = send(tracking, endpoint(kEndpoint), 8);
  ASSERT_EQ(again.outcome, SendResult::Outcome::kDelivered) << again.detail;
  EXPECT_TRUE(has("OUT", base + "_8_1.ctl"));
  EXPECT_EQ(test::readFile(folder("OUT") / (base + ".dat")), de(tracking));
}

TEST_F(DtsTransportTest, AnUnsafeTrackingIdNeverNamesAFile) {
  start();
  SendResult r = send("../../etc/passwd", endpoint(kEndpoint), 42);
  ASSERT_EQ(r.outcome, SendResult::Outcome::kDelivered) << r.detail;
  EXPECT_THAT(r.remote_id, ::testing::StartsWith("X26HUBITKD42-"));
  EXPECT_TRUE(has("OUT", r.remote_id + ".ctl"));
  auto c = parseControlFile(test::readFile(folder("OUT") / (r.remote_id + ".ctl")));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ("X26HUBITK" + c->local_id, r.remote_id);
  EXPECT_FALSE(fs::exists(dir_.path() / "etc"));
}

TEST_F(DtsTransportTest, SendFromAMailboxNotConfiguredIsPermanent) {
  start();
  SendResult r = send("T1", endpoint("{mailbox: X99OTHER, to: RW1DTS001, workflow: W}"));
  EXPECT_EQ(r.outcome, SendResult::Outcome::kPermanent);
  EXPECT_THAT(r.detail, HasSubstr("X99OTHER"));
}

TEST_F(DtsTransportTest, AWriteFailureIsRetryableWithAClearDetail) {
  start();
  // TEMP replaced by a file: writing there fails (tests run as root, so permissions would not).
  fs::remove_all(folder("TEMP"));
  dir_.write("dts/TEMP", "not a folder");
  SendResult r = send("T2", endpoint(kEndpoint));
  EXPECT_EQ(r.outcome, SendResult::Outcome::kRetryable);
  EXPECT_THAT(r.detail, HasSubstr("cannot create"));
  EXPECT_THAT(r.detail, HasSubstr("TEMP"));
  EXPECT_FALSE(has("OUT", "X26HUBITKT2.dat"));
  EXPECT_TRUE(eventually([&] { return !transport_->ready(); }, 5s));  // /readyz says so too
}

TEST_F(DtsTransportTest, ADataPairGoesToTheRouterAndLeavesInOnlyOnceAccepted) {
  sink_.mode = RecordingSink::Mode::kHold;
  start();
  dropIn("RW1_0001", de("TRACK-1"), controlFor("X26HUB01DTS", "RW1-0001"));
  ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.held.size(); }) == 1; }, 10s));
  auto m = sink_.with([&] { return sink_.accepted[0]; });
  EXPECT_EQ(m.header.tracking_id, "TRACK-1");
  EXPECT_EQ(*m.body, de("TRACK-1"));
  EXPECT_EQ(m.origin.transport, "dts");
  EXPECT_EQ(m.origin.peer, "RW1DTS001");
  ASSERT_NE(m.origin.attribute("dts.workflow"), nullptr);
  EXPECT_EQ(*m.origin.attribute("dts.workflow"), "TOC_DISCH_DMS");
  EXPECT_EQ(*m.origin.attribute("dts.local_id"), "RW1-0001");

  // Not answered yet: still in IN, and not offered twice while later polls (the ones that
  // find the next pair) go by.
  dropIn("RW1_0002", de("TRACK-1B"), controlFor("X26HUB01DTS", "RW1-0002"));
  ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.held.size(); }) == 2; }, 10s));
  EXPECT_TRUE(has("IN", "RW1_0001.ctl"));
  EXPECT_TRUE(has("IN", "RW1_0001.dat"));
  EXPECT_EQ(sink_.with([&] { return sink_.accepted.size(); }), 2u);

  AcceptCallback done = sink_.with([&] { return sink_.held[0]; });
  done(AcceptOutcome::accepted(1));
  ASSERT_TRUE(eventually([&] { return has("ITK/processed", "RW1_0001.ctl"); }, 10s));
  EXPECT_TRUE(has("ITK/processed", "RW1_0001.dat"));
  EXPECT_FALSE(has("IN", "RW1_0001.ctl"));
  EXPECT_FALSE(has("IN", "RW1_0001.dat"));
}

TEST_F(DtsTransportTest, ABusyRouterLeavesThePairInInForTheNextPoll) {
  sink_.mode = RecordingSink::Mode::kBusy;
  start();
  dropIn("P1", de("TRACK-2"), controlFor("X26HUB01DTS", "L2"));
  ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.accepted.size(); }) >= 2; }));
  EXPECT_TRUE(has("IN", "P1.ctl"));
  sink_.with([&] { sink_.mode = RecordingSink::Mode::kAccept; });
  ASSERT_TRUE(eventually([&] { return has("ITK/processed", "P1.ctl"); }, 10s));
}

TEST_F(DtsTransportTest, PairsForAnotherMailboxOrWorkflowAreLeftAlone) {
  start("workflows: [TOC_DISCH_DMS]\n");
  dropIn("FOREIGN", de("TRACK-3"), controlFor("X26OTHERAPP", "L3"));
  dropIn("OTHERWF", de("TRACK-4"), controlFor("X26HUB01DTS", "L4", "OTHER_WORKFLOW"));
  place("IN", "ONLYCTL.ctl", controlFor("X26HUB01DTS", "L5"));  // its .dat is not there (yet)
  dropIn("MINE", de("TRACK-6"), controlFor("X26HUB01DTS", "L6"));
  ASSERT_TRUE(eventually([&] { return has("ITK/processed", "MINE.ctl"); }, 10s));
  // One more pair taken: at least one whole poll has gone by since.
  dropIn("MINE2", de("TRACK-7"), controlFor("X26HUB01DTS", "L7"));
  ASSERT_TRUE(eventually([&] { return has("ITK/processed", "MINE2.ctl"); }, 10s));
  for (const char* base : {"FOREIGN", "OTHERWF"}) {
    EXPECT_TRUE(has("IN", std::string(base) + ".ctl")) << base;
    EXPECT_TRUE(has("IN", std::string(base) + ".dat")) << base;
  }
  EXPECT_TRUE(has("IN", "ONLYCTL.ctl"));
  EXPECT_EQ(sink_.with([&] { return sink_.accepted.size(); }), 2u);
  EXPECT_TRUE(sink_.with([&] { return sink_.unreadable.empty(); }));

  // The .dat arrives: the pair is complete now and is taken.
  place("IN", "ONLYCTL.dat", de("TRACK-5"));
  ASSERT_TRUE(eventually([&] { return has("ITK/processed", "ONLYCTL.ctl"); }, 10s));
}

TEST_F(DtsTransportTest, CorruptInputIsKeptInRejectedWithoutACrash) {
  start("max_message_bytes: 2000\n");
  dropIn("BADCTL", de("TRACK-7"), "<DTSControl><To_DTS>X26HUB01DTS</To_DTS>");
  dropIn("BADDAT", "this is not a distribution envelope", controlFor("X26HUB01DTS", "L8"));
  dropIn("HUGE", std::string(5000, 'x'), controlFor("X26HUB01DTS", "L9"));
  dropIn("DOCTYPE", de("TRACK-10"),
         "<!DOCTYPE x [<!ENTITY a \"X26HUB01DTS\">]><DTSControl><To_DTS>&a;</To_DTS>"
         "</DTSControl>");
  for (const char* base : {"BADCTL", "BADDAT", "HUGE", "DOCTYPE"}) {
    ASSERT_TRUE(eventually([&] { return has("ITK/rejected", std::string(base) + ".ctl"); }, 10s))
        << base;
    EXPECT_TRUE(has("ITK/rejected", std::string(base) + ".dat")) << base;  // nothing lost
    EXPECT_TRUE(has("ITK/rejected", std::string(base) + ".reason")) << base;
    EXPECT_FALSE(has("IN", std::string(base) + ".ctl")) << base;
  }
  EXPECT_THAT(test::readFile(folder("ITK/rejected") / "BADDAT.reason"), HasSubstr("DE0001"));
  EXPECT_THAT(test::readFile(folder("ITK/rejected") / "HUGE.reason"), HasSubstr("limit"));
  EXPECT_EQ(sink_.with([&] { return sink_.accepted.size(); }), 0u);
  EXPECT_EQ(sink_.with([&] { return sink_.unreadable.size(); }), 4u);
  EXPECT_TRUE(transport_->ready());

  // The same name again later does not overwrite what was kept.
  dropIn("BADCTL", de("TRACK-11"), "garbage");
  ASSERT_TRUE(eventually([&] { return !has("IN", "BADCTL.ctl"); }, 10s));
  size_t kept = 0;
  for (const auto& e : fs::directory_iterator(folder("ITK/rejected")))
    kept += e.path().filename().string().starts_with("BADCTL") && e.path().extension() == ".ctl";
  EXPECT_EQ(kept, 2u);
}

TEST_F(DtsTransportTest, ARefusedMessageIsKeptInRejected) {
  sink_.mode = RecordingSink::Mode::kReject;
  start();
  dropIn("REFUSED", de("TRACK-12"), controlFor("X26HUB01DTS", "L12"));
  ASSERT_TRUE(eventually([&] { return has("ITK/rejected", "REFUSED.ctl"); }, 10s));
  EXPECT_TRUE(has("ITK/rejected", "REFUSED.dat"));
  EXPECT_THAT(test::readFile(folder("ITK/rejected") / "REFUSED.reason"),
              HasSubstr("refused by the router"));
}

TEST_F(DtsTransportTest, ASentStatusRecordErrorReportsADeliveryFailure) {
  sink_.take_reports = false;
  start();
  const std::string tracking = "5D3C0B8E-7A51-4E2B-9A57-1F0C2B6E9D10";
  ASSERT_EQ(send(tracking, endpoint(kEndpoint)).outcome, SendResult::Outcome::kDelivered);
  // The DTS client transfers it and moves the pair to SENT with a failed status record.
  const std::string base = "X26HUBITK" + tracking;
  fs::rename(folder("OUT") / (base + ".dat"), folder("SENT") / (base + ".dat"));
  place("SENT", base + ".ctl",
        test::readFile(std::string(ITK_TEST_DATA_DIR) + "/dts/sent-transfer-error.ctl"));
  fs::remove(folder("OUT") / (base + ".ctl"));

  // The router cannot take it yet: it stays in SENT and is offered again.
  ASSERT_TRUE(eventually([&] { return sink_.with([&] { return sink_.reports.size(); }) >= 2; }));
  EXPECT_TRUE(has("SENT", base + ".ctl"));
  sink_.with([&] { sink_.take_reports = true; });
  ASSERT_TRUE(eventually([&] { return has("ITK/error", base + ".ctl"); }, 10s));
  EXPECT_TRUE(has("ITK/error", base + ".dat"));
  auto r = sink_.with([&] { return sink_.reports.back(); });
  EXPECT_EQ(r.transport, "dts");
  EXPECT_EQ(r.remote_id, base);
  EXPECT_EQ(r.tracking_id, tracking);
  EXPECT_EQ(r.code, "05");
  EXPECT_EQ(r.description, "Transfer error - retry");
  EXPECT_EQ(r.report_id, "X26HUB01DTS_20261125101530_000042");
}

// One message to two DTS endpoints (two deliveries): two pairs, each with its own remote id, so
// a failure reported for the second is not taken for the first.
TEST_F(DtsTransportTest, TwoDeliveriesOfOneMessageHaveTheirOwnPairsAndRemoteIds) {
  sink_.take_reports = true;
  start();
  const std::string tracking = "9B1E6F0A-3C5D-4E7F-8A9B-0C1D2E3F4A5B";
  SendResult first = send(tracking, endpoint(kEndpoint), /*delivery=*/11);
  SendResult second = send(tracking, endpoint(kEndpoint), /*delivery=*/12);
  ASSERT_EQ(first.outcome, SendResult::Outcome::kDelivered) << first.detail;
  ASSERT_EQ(second.outcome, SendResult::Outcome::kDelivered) << second.detail;
  EXPECT_NE(first.remote_id, second.remote_id);
  ASSERT_TRUE(has("OUT", first.remote_id + ".ctl"));
  ASSERT_TRUE(has("OUT", second.remote_id + ".ctl"));
  // Both carry the tracking id as LocalId (§6.3).
  for (const auto& id : {first.remote_id, second.remote_id}) {
    auto c = parseControlFile(test::readFile(folder("OUT") / (id + ".ctl")));
    ASSERT_TRUE(c.ok()) << c.status().toString();
    EXPECT_EQ(c->local_id, tracking);
  }
  // The DTS client fails the second one.
  auto c = parseControlFile(test::readFile(folder("OUT") / (second.remote_id + ".ctl")));
  ASSERT_TRUE(c.ok());
  c->status_records.push_back({"20261125101530", "TRANSFER", "ERROR", "05", "Transfer error"});
  fs::rename(folder("OUT") / (second.remote_id + ".dat"),
             folder("SENT") / (second.remote_id + ".dat"));
  place("SENT", second.remote_id + ".ctl", buildControlFile(*c));
  fs::remove(folder("OUT") / (second.remote_id + ".ctl"));
  ASSERT_TRUE(eventually([&] { return has("ITK/error", second.remote_id + ".ctl"); }, 10s));
  auto reports = sink_.with([&] { return sink_.reports; });
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].remote_id, second.remote_id);
}

TEST_F(DtsTransportTest, ASentStatusRecordSuccessIsArchivedWithoutAReport) {
  start();
  ControlFile c;
  c.from_dts = "X26HUB01DTS";
  c.to_dts = "RW1DTS001";
  c.local_id = "OK1";
  c.status_records.push_back({"20261125101530", "TRANSFER", "SUCCESS", "00", ""});
  place("SENT", "X26HUBITKOK1.dat", de("OK1"));
  place("SENT", "X26HUBITKOK1.ctl", buildControlFile(c));
  // Other applications' pairs in SENT stay: another prefix, or ours as the start of theirs.
  place("SENT", "OTHERAPP1.ctl", buildControlFile(c));
  place("SENT", "X26HUBITKXOK2.ctl", buildControlFile(c));
  ASSERT_TRUE(eventually([&] { return has("ITK/done", "X26HUBITKOK1.ctl"); }, 10s));
  EXPECT_TRUE(has("ITK/done", "X26HUBITKOK1.dat"));
  EXPECT_TRUE(has("SENT", "OTHERAPP1.ctl"));
  EXPECT_TRUE(has("SENT", "X26HUBITKXOK2.ctl"));
  EXPECT_TRUE(sink_.with([&] { return sink_.reports.empty(); }));
}

TEST_F(DtsTransportTest, AReportInInAboutOurPairIsADeliveryFailure) {
  start();
  ASSERT_EQ(send("REP-1", endpoint(kEndpoint)).outcome, SendResult::Outcome::kDelivered);
  ControlFile c;
  c.message_type = "Report";
  c.from_dts = "X26HUB01DTS";
  c.to_dts = "RW1DTS001";
  c.local_id = "REP-1";
  c.status_records.push_back({"20261125101530", "SEND", "ERROR", "12", "unknown recipient"});
  dropIn("RPT1", "", buildControlFile(c));
  c.local_id = "SOMEONE-ELSES";
  dropIn("RPT2", "", buildControlFile(c));
  ASSERT_TRUE(eventually([&] { return has("ITK/error", "RPT1.ctl"); }, 10s));
  auto reports = sink_.with([&] { return sink_.reports; });
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].remote_id, "X26HUBITKREP-1");
  EXPECT_EQ(reports[0].code, "12");
  EXPECT_TRUE(has("IN", "RPT2.ctl"));  // not ours: left alone
}

}  // namespace
}  // namespace itk::dts
