// Observability of the real router process (issue #7):
//  - a real Prometheus (the Debian package) scrapes the router while messages go through it, and
//    its query API shows the counters, the queue-depth gauge and an alert from
//    deploy/prometheus/alerts.yml with the values the traffic implies;
//  - `promtool check metrics` accepts the router's exposition, and every metric the deploy files
//    (alert rules, Grafana dashboard) use is one the router exposes;
//  - one message that fails once, is retried and delivered has that history in its IG audit
//    trail (`itk-router audit`): who sent it, what happened, when and where, no payload.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "itk/envelope/builders.h"
#include "itk/uuid.h"
#include "support/loopback_spool.h"
#include "support/router_process.h"

namespace itk::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kCda = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";

std::string routerYaml() {
  return loopbackRouterYaml();
}

// A DE for `ods` with a fresh tracking id (optionally asking for an infrastructure ack), dropped
// into the spool; returns the tracking id.
std::string send(const TempDir& dir, const std::string& ods, bool infack = false) {
  std::string id = newUuid();
  std::string de = loopbackDe(id, 1);
  auto replace = [&de](const std::string& from, const std::string& to) {
    size_t at = de.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    de.replace(at, from.size(), to);
  };
  replace("urn:nhs-uk:addressing:ods:RHM", "urn:nhs-uk:addressing:ods:" + ods);
  if (infack) {
    replace("<itk:handlingSpecification>",
            "<itk:handlingSpecification><itk:spec key=\"urn:nhs-itk:ns:201005:infackrequested\" "
            "value=\"true\"/>");
  }
  dropIntoSpool(dir, id + ".xml", de);
  return id;
}

// RHM's infrastructure ack of the message `tracking_id` (sent by XZ901), into the spool.
void sendInfack(const TempDir& dir, const std::string& tracking_id) {
  MessageHeader original;
  original.service = kCda;
  original.tracking_id = tracking_id;
  original.addresses = {"urn:nhs-uk:addressing:ods:RHM"};
  original.sender_address = "urn:nhs-uk:addressing:ods:XZ901";
  original.audit_identity = "urn:nhs-uk:identity:ods:XZ901";
  original.infack_requested = true;
  RouterIdentity rhm;
  rhm.audit_identity = "urn:nhs-uk:identity:ods:RHM";
  rhm.sender_address = "urn:nhs-uk:addressing:ods:RHM";
  auto ack = itk2::buildInfrastructureAck(original, rhm, Status(), SystemClock::instance().now());
  ASSERT_TRUE(ack.ok()) << ack.status().toString();
  dropIntoSpool(dir, "ack-" + tracking_id + ".xml", ack->bytes);
}

size_t deliveredCount(const TempDir& dir) {
  size_t n = 0;
  for (const auto& [id, files] : deliveredFiles(dir)) n += files.size();
  return n;
}

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string urlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The body of an HTTP/1.1 reply that may use chunked transfer coding (Go's server does).
std::string bodyOf(const HttpReply& reply) {
  auto te = reply.headers.find("transfer-encoding");
  if (te == reply.headers.end() || te->second.find("chunked") == std::string::npos)
    return reply.body;
  std::string out;
  size_t pos = 0;
  while (pos < reply.body.size()) {
    size_t eol = reply.body.find("\r\n", pos);
    if (eol == std::string::npos) break;
    size_t n = std::stoul(reply.body.substr(pos, eol - pos), nullptr, 16);
    if (n == 0) break;
    out += reply.body.substr(eol + 2, n);
    pos = eol + 2 + n + 2;
  }
  return out;
}

// A Prometheus server of its own: a generated configuration scraping the router's admin
// listener every second and loading the project's alert rules, its data in a temp folder.
class PrometheusProcess {
 public:
  PrometheusProcess(const TempDir& dir, uint16_t router_admin_port) : port_(freePort()) {
    dir.write("prometheus/prometheus.yml",
              "global:\n"
              "  scrape_interval: 1s\n"
              "  evaluation_interval: 1s\n"
              "rule_files:\n"
              "  - " +
                  std::string(ITK_SOURCE_DIR) +
                  "/deploy/prometheus/alerts.yml\n"
                  "scrape_configs:\n"
                  "  - job_name: itk-router\n"
                  "    scrape_timeout: 1s\n"
                  "    static_configs:\n"
                  "      - targets: ['127.0.0.1:" +
                  std::to_string(router_admin_port) + "']\n");
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            ITK_PROMETHEUS, "--config.file=" + dir / "prometheus/prometheus.yml",
            "--storage.tsdb.path=" + dir / "prometheus/data",
            "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
        dir / "prometheus.log");
  }

  bool waitReady(std::string* why) {
    bool ready = eventually(
        [&] {
          if (!process_->running()) return false;
          auto r = httpGet(port_, "/-/ready", {{"Connection", "close"}});
          return r && r->status == 200;
        },
        60s);
    if (!ready) *why = "prometheus did not become ready; log:\n" + process_->log();
    return ready;
  }

  // The value of an instant query that yields one sample (nullopt when it yields none).
  std::optional<double> query(const std::string& promql) {
    auto r = httpGet(port_, "/api/v1/query?query=" + urlEncode(promql), {{"Connection", "close"}});
    if (!r || r->status != 200) return std::nullopt;
    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(bodyOf(*r), ec);
    if (ec) return std::nullopt;
    const auto& result = doc.at("data").at("result").as_array();
    if (result.size() != 1) return std::nullopt;
    return std::stod(std::string(result[0].at("value").as_array()[1].as_string()));
  }

  std::string log() const { return process_->log(); }

 private:
  uint16_t port_;
  std::unique_ptr<ChildProcess> process_;
};

// Routes: RHM delivered to out/; HELD to an endpoint that is always unavailable, retried an hour
// later (so its messages stay queued); NOPE refused by a reject route; XZ901 (the sender, where
// NACKs and acks go) delivered to out/.
const char* kRoutes = R"(version: "observability-test.1"
endpoints:
  archive:
    transport: loopback
    deliver_dir: out
  down:
    transport: loopback
    behaviour: retryable
routes:
  - name: archive
    match: {service: urn:nhs-itk:services:201005:SendCDADocument-v2-0,
            address: urn:nhs-uk:addressing:ods:RHM}
    endpoint: archive
  - name: held
    match: {address: urn:nhs-uk:addressing:ods:HELD}
    endpoint: down
    retry: {max_attempts: 50, initial_backoff: 1h, max_backoff: 2h}
  - name: refused
    match: {address: urn:nhs-uk:addressing:ods:NOPE}
    reject: "no such practice"
  - name: to-sender
    match: {address: urn:nhs-uk:addressing:ods:XZ901}
    endpoint: archive
)";

TEST(ObservabilityTest, PrometheusScrapesCountersAndQueueDepthFromTheRouter) {
  if (std::string(ITK_PROMETHEUS).empty()) GTEST_SKIP() << "prometheus is not installed";
  TempDir dir;
  dir.write("routes.yaml", kRoutes);
  fs::create_directories(dir.path() / "in");
  RouterProcess router(dir, routerYaml());
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;
  PrometheusProcess prometheus(dir, router.adminPort());
  ASSERT_TRUE(prometheus.waitReady(&why)) << why;

  // 5 delivered (one asking for an infack, which RHM then sends), 3 held, 2 refused (each
  // refusal NACKs the sender, delivered on route to-sender).
  std::string acked = send(dir, "RHM", /*infack=*/true);
  for (int i = 0; i < 4; ++i) send(dir, "RHM");
  for (int i = 0; i < 3; ++i) send(dir, "HELD");
  for (int i = 0; i < 2; ++i) send(dir, "NOPE");
  ASSERT_TRUE(eventually([&] { return deliveredCount(dir) == 5 + 2; }, 60s)) << router.log();
  sendInfack(dir, acked);
  ASSERT_TRUE(eventually([&] { return deliveredCount(dir) == 5 + 2 + 1; }, 60s)) << router.log();

  // What Prometheus must end up showing (sums, so that each query yields one sample).
  const std::string job = "job=\"itk-router\"";
  const std::vector<std::pair<std::string, double>> expected = {
      {"sum(itk_messages_received_total{" + job + ",transport=\"loopback\",service=\"" + kCda +
           "\",outcome=\"accepted\"})",
       10},
      {"sum(itk_messages_received_total{" + job + ",transport=\"loopback\"})", 11},
      {"sum(itk_deliveries_total{" + job + ",route=\"archive\",outcome=\"delivered\"})", 5},
      {"sum(itk_deliveries_total{" + job + ",route=\"held\",outcome=\"retry\"})", 3},
      {"sum(itk_deliveries_total{" + job + ",route=\"refused\",outcome=\"rejected\"})", 2},
      {"sum(itk_deliveries_total{" + job + ",route=\"to-sender\",outcome=\"delivered\"})", 3},
      {"sum(itk_queue_depth{" + job + ",route=\"held\"})", 3},
      {"sum(itk_queue_depth{" + job + ",route=\"archive\"})", 0},
      {"sum(itk_dead_letters{" + job + ",route=\"refused\"})", 2},
      {"sum(itk_dead_letters_total{" + job + ",route=\"refused\",cause=\"rejected-by-route\"})", 2},
      {"sum(itk_acks_expected_total{" + job + ",kind=\"infrastructure\"})", 1},
      {"sum(itk_acks_received_total{" + job + ",kind=\"infrastructure\",result=\"positive\"})", 1},
      {"sum(itk_ack_latency_seconds_count{" + job + ",kind=\"infrastructure\"})", 1},
      {"sum(itk_acks_open{" + job + "})", 0},
      {"sum(itk_end_to_end_latency_seconds_count{" + job + ",route=\"archive\"})", 5},
      {"sum(itk_transport_up{" + job + ",transport=\"loopback\"})", 1},
      {"sum(itk_routing_table_version{" + job + ",version=\"observability-test.1\"})", 1},
      {"sum(itk_store_healthy{" + job + "})", 1},
      {"sum(itk_store_commit_failures_total{" + job + "})", 0},
      // The dead-letter alert of deploy/prometheus/alerts.yml fires for the refused route.
      {"sum(ALERTS{alertname=\"ItkDeadLettersGrowing\",alertstate=\"firing\",route=\"refused\"})",
       1},
  };
  std::string mismatches;
  bool all = eventually(
      [&] {
        mismatches.clear();
        for (const auto& [q, want] : expected) {
          auto got = prometheus.query(q);
          if (!got || *got != want)
            mismatches += q + " = " + (got ? std::to_string(*got) : "(no sample)") + ", expected " +
                          std::to_string(want) + "\n";
        }
        return mismatches.empty();
      },
      60s);
  EXPECT_TRUE(all) << mismatches << "router log:\n" << router.log();
  // Group commits happened and were observed.
  auto commits = prometheus.query("sum(itk_store_commit_group_size_count{" + job + "})");
  ASSERT_TRUE(commits);
  EXPECT_GT(*commits, 0);
}

// The metric names an exposition declares ("# TYPE name type").
std::set<std::string> exposedNames(const std::string& exposition) {
  std::set<std::string> names;
  std::regex type_line("^# TYPE (\\S+) ");
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, type_line)) names.insert(m[1].str());
  }
  return names;
}

// The itk_ metric names a deploy file uses (histograms appear as NAME_bucket, _sum, _count).
std::set<std::string> namesUsedIn(const std::string& path) {
  std::set<std::string> names;
  std::string text = readFile(path);
  std::regex metric("itk_[a-z0-9_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
       it != std::sregex_iterator(); ++it)
    names.insert(it->str());
  return names;
}

bool exposes(const std::set<std::string>& exposed, const std::string& name) {
  if (exposed.count(name)) return true;
  for (std::string suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        exposed.count(name.substr(0, name.size() - suffix.size())))
      return true;
  }
  return false;
}

TEST(ObservabilityTest, TheExpositionPassesPromtoolAndHasEveryMetricTheDeployFilesUse) {
  if (std::string(ITK_PROMTOOL).empty()) GTEST_SKIP() << "promtool is not installed";
  TempDir dir;
  dir.write("routes.yaml", kRoutes);
  fs::create_directories(dir.path() / "in");
  // A SOAP listener too, so its families (faults, TLS handshake failures) are there.
  RouterProcess router(dir, routerYaml() + R"(  soap:
    listeners:
      - name: itk
        listen: 127.0.0.1:0
)");
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;
  std::string acked = send(dir, "RHM", /*infack=*/true);
  send(dir, "HELD");
  send(dir, "NOPE");
  ASSERT_TRUE(eventually([&] { return deliveredCount(dir) == 2; }, 60s)) << router.log();
  sendInfack(dir, acked);
  ASSERT_TRUE(eventually([&] { return deliveredCount(dir) == 3; }, 60s)) << router.log();
  // A request that is not SOAP: the router answers with a fault (counted).
  uint16_t soap_port = router.listenerPort("itk");
  ASSERT_NE(soap_port, 0) << router.log();
  auto fault = httpPost(soap_port, "/", "not xml", {{"Content-Type", "text/xml"}});
  ASSERT_TRUE(fault);
  EXPECT_EQ(fault->status, 500);

  // The infack is delivered before the ack tracker has matched it (the match follows its own
  // store commit): scrape until the match is counted, so every family has a sample.
  std::optional<HttpReply> metrics;
  auto scraped = [&] {
    metrics = httpGet(router.adminPort(), "/metrics");
    return metrics && metrics->status == 200 &&
           metrics->body.find("itk_acks_received_total{") != std::string::npos;
  };
  ASSERT_TRUE(eventually(scraped, 30s)) << (metrics ? metrics->body : router.log());
  dir.write("metrics.txt", metrics->body);
  ChildProcess check({"/bin/sh", "-c",
                      std::string(ITK_PROMTOOL) + " check metrics < '" + dir / "metrics.txt" + "'"},
                     dir / "promtool.log");
  auto code = check.wait(60s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << check.log();
  EXPECT_EQ(check.log(), "") << "promtool lint findings:\n" << check.log();

  std::set<std::string> exposed = exposedNames(metrics->body);
  EXPECT_TRUE(exposed.count("itk_soap_faults_total")) << metrics->body;
  EXPECT_TRUE(std::regex_search(
      metrics->body,
      std::regex(
          "itk_soap_faults_total\\{code=\"[0-9a-z]+\",direction=\"sent\",fault=\"Client\"\\} 1")))
      << metrics->body;
  for (const char* file :
       {"/deploy/prometheus/alerts.yml", "/deploy/grafana/itk-router-dashboard.json"}) {
    for (const std::string& name : namesUsedIn(std::string(ITK_SOURCE_DIR) + file)) {
      // Needs a MESH server to say yes or no (tests/unit/mesh covers it).
      if (name == "itk_mesh_mailbox_authenticated") continue;
      EXPECT_TRUE(exposes(exposed, name))
          << file << " uses " << name << ", which the router does not expose";
    }
  }
}

// One message through accept, a failed attempt, a retry and delivery: its audit trail says who
// sent it, what happened, when and where it went, in order, and holds no payload.
TEST(ObservabilityTest, TheAuditTrailFollowsAMessageThroughAFailedAttemptAndItsRetry) {
  TempDir dir;
  dir.write("routes.yaml", R"(endpoints:
  flaky:
    transport: loopback
    deliver_dir: out
    fail_first: 1
routes:
  - name: rhm
    match: {address: urn:nhs-uk:addressing:ods:RHM}
    endpoint: flaky
    retry: {initial_backoff: 200ms, max_backoff: 200ms, jitter: 0}
)");
  fs::create_directories(dir.path() / "in");
  RouterProcess router(dir, routerYaml());
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;
  std::string id = send(dir, "RHM");
  ASSERT_TRUE(eventually([&] { return deliveredCount(dir) == 1; }, 60s)) << router.log();

  // The operator's command, beside the running router (it opens the store read-mostly).
  ChildProcess audit({routerBinary(), "audit", id, "--config", dir / "router.yaml"},
                     dir / "audit.log", dir.path().string());
  auto code = audit.wait(60s);
  ASSERT_TRUE(code);
  ASSERT_EQ(*code, 0) << audit.log();
  std::vector<std::vector<std::string>> rows;  // TIME EVENT TRACKING MESSAGE DELIVERY ACTOR DETAIL
  std::istringstream in(audit.log());
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cols;
    std::istringstream fields(line);
    for (std::string f; std::getline(fields, f, '\t');) cols.push_back(f);
    rows.push_back(cols);
  }
  ASSERT_EQ(rows.size(), 4u) << audit.log();
  for (const auto& r : rows) ASSERT_EQ(r.size(), 7u) << audit.log();
  EXPECT_EQ(rows[0][1], "EVENT");
  EXPECT_EQ(rows[1][1], "accepted");
  EXPECT_EQ(rows[2][1], "attempt-failed");
  EXPECT_EQ(rows[3][1], "delivered");
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][2], id);
    EXPECT_EQ(rows[i][5], "router");
  }
  // When: in order (ISO 8601 UTC sorts as text).
  EXPECT_LE(rows[1][0], rows[2][0]);
  EXPECT_LE(rows[2][0], rows[3][0]);
  // Who sent it and where it goes.
  EXPECT_EQ(rows[1][6], std::string("business ") + kCda +
                            " from urn:nhs-uk:addressing:ods:XZ901, audit identity "
                            "urn:nhs-uk:identity:ods:XZ901, via loopback, peer " +
                            id +
                            ".xml; "
                            "urn:nhs-uk:addressing:ods:RHM -> route rhm endpoint flaky")
      << audit.log();
  EXPECT_EQ(rows[1][4], "-");  // about the message ...
  EXPECT_NE(rows[2][4], "-");  // ... then about its delivery
  EXPECT_EQ(rows[2][4], rows[3][4]);
  // What happened to the delivery, and where it went.
  EXPECT_EQ(rows[2][6].rfind("attempt 1 to flaky for urn:nhs-uk:addressing:ods:RHM failed: "
                             "loopback endpoint flaky is unavailable (attempt 1); next attempt at ",
                             0),
            0u)
      << rows[2][6];
  EXPECT_EQ(rows[3][6], "attempt 2 to flaky for urn:nhs-uk:addressing:ods:RHM delivered");
  // Never payload content.
  for (const char* payload : {"urn:example:test", "<note", "DistributionEnvelope"})
    EXPECT_EQ(audit.log().find(payload), std::string::npos) << payload;
}

}  // namespace
}  // namespace itk::test
