// The real itk-router process with the loopback transport: messages dropped into its spool are
// delivered; SIGTERM mid-stream stops it cleanly (exit 0) without losing what it acknowledged;
// a broken configuration is reported with file, line and problem (exit 2).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "itk/uuid.h"
#include "support/loopback_spool.h"
#include "support/router_process.h"

namespace itk::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string configYaml(const std::string& store_backend = "sqlite") {
  return R"(identity:
  audit_identity: urn:nhs-uk:identity:ods:X09:itkrouter
  sender_address: urn:nhs-uk:addressing:ods:X09:itkrouter
threads: 2
store:
  backend: )" + store_backend + R"(
  path: store.db
routing:
  tables: [routes.yaml]
  watch_interval: 100ms
admin:
  listen: 127.0.0.1:0
delivery:
  poll_interval: 100ms
transports:
  loopback:
    inbound_dir: in
    poll_interval: 20ms
)";
}

const char* kRoutes = kLoopbackArchiveRoutes;

// A DE from tests/data/loopback-de.xml.in with a fresh tracking id; returns the id.
std::string dropMessage(const TempDir& dir, int seq) {
  std::string id = newUuid();
  dropIntoSpool(dir, std::to_string(100000 + seq) + ".xml", loopbackDe(id, seq));
  return id;
}

// Tracking ids of the messages delivered to out/ (files named TRACKING-DELIVERY.xml).
std::multiset<std::string> delivered(const TempDir& dir) {
  std::multiset<std::string> ids;
  for (const auto& [id, files] : deliveredFiles(dir))
    for (size_t i = 0; i < files.size(); ++i) ids.insert(id);
  return ids;
}

size_t spooled(const TempDir& dir) {
  size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir / "in", ec), end; !ec && it != end; it.increment(ec))
    n += it->path().extension() == ".xml";
  return n;
}

TEST(RouterProcessTest, DeliversMessagesDroppedIntoTheLoopbackSpool) {
  TempDir dir;
  dir.write("routes.yaml", kRoutes);
  fs::create_directories(dir.path() / "in");
  RouterProcess router(dir, configYaml());
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;

  auto health = httpGet(router.adminPort(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = httpGet(router.adminPort(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;

  std::set<std::string> sent;
  for (int i = 0; i < 50; ++i) sent.insert(dropMessage(dir, i));
  ASSERT_TRUE(eventually([&] { return delivered(dir).size() >= sent.size(); }, 60s))
      << "delivered " << delivered(dir).size() << " of " << sent.size() << "\n" << router.log();
  auto got = delivered(dir);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), sent);
  EXPECT_EQ(spooled(dir), 0u);  // every file was acknowledged by removal

  router.process().kill(SIGTERM);
  auto code = router.process().wait(30s);
  ASSERT_TRUE(code) << "the router did not stop after SIGTERM\n" << router.log();
  EXPECT_EQ(*code, 0) << router.log();
}

TEST(RouterProcessTest, SigtermMidStreamExitsCleanlyAndLosesNothingAcknowledged) {
  TempDir dir;
  dir.write("routes.yaml", kRoutes);
  fs::create_directories(dir.path() / "in");
  std::set<std::string> sent;
  {
    RouterProcess router(dir, configYaml());
    std::string why;
    ASSERT_TRUE(router.waitReady(&why)) << why;
    for (int i = 0; i < 200; ++i) sent.insert(dropMessage(dir, i));
    // Stop while messages are still being picked up and delivered.
    ASSERT_TRUE(eventually([&] { return spooled(dir) < sent.size(); }, 60s));
    router.process().kill(SIGTERM);
    auto code = router.process().wait(30s);
    ASSERT_TRUE(code) << router.log();
    EXPECT_EQ(*code, 0) << router.log();
    EXPECT_NE(router.log().find("router.stopped"), std::string::npos);
  }
  // Files still in the spool were never acknowledged; the rest are durable. A restart delivers
  // everything: nothing the router acknowledged is lost.
  RouterProcess again(dir, configYaml());
  std::string why;
  ASSERT_TRUE(again.waitReady(&why)) << why;
  ASSERT_TRUE(eventually([&] {
    auto got = delivered(dir);
    return std::set<std::string>(got.begin(), got.end()).size() == sent.size();
  }, 90s)) << "delivered " << delivered(dir).size() << " of " << sent.size() << "\n"
           << again.log();
}

TEST(RouterProcessTest, CheckConfigReportsFileLineAndProblemWithExitCode2) {
  TempDir dir;
  dir.write("routes.yaml", kRoutes);
  std::string config = configYaml();
  config.replace(config.find("poll_interval: 100ms"), 20, "poll_interval: soon");
  dir.write("router.yaml", config);
  ChildProcess check({routerBinary(), "--check-config", "--config", dir / "router.yaml"},
                     dir / "check.log", dir.path().string());
  auto code = check.wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  std::string out = check.log();
  EXPECT_NE(out.find(dir / "router.yaml" + ":14: delivery.poll_interval must be a duration"),
            std::string::npos)
      << out;
}

TEST(RouterProcessTest, CheckConfigReportsABrokenRoutingTable) {
  TempDir dir;
  dir.write("routes.yaml", "endpoints:\n  archive:\n    transport: carrier-pigeon\nroutes: []\n");
  dir.write("router.yaml", configYaml());
  ChildProcess check({routerBinary(), "--check-config", "--config", dir / "router.yaml"},
                     dir / "check.log", dir.path().string());
  auto code = check.wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  EXPECT_NE(check.log().find("routes.yaml:3:"), std::string::npos) << check.log();
}

TEST(RouterProcessTest, CheckConfigAcceptsAGoodConfiguration) {
  TempDir dir;
  dir.write("routes.yaml", kRoutes);
  dir.write("router.yaml", configYaml());
  ChildProcess check({routerBinary(), "--check-config", "--config", dir / "router.yaml"},
                     dir / "check.log", dir.path().string());
  auto code = check.wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << check.log();
  EXPECT_NE(check.log().find("configuration OK"), std::string::npos);
}

TEST(RouterProcessTest, AStartupErrorIsOneClearLineAndANonZeroExit) {
  TempDir dir;
  dir.write("routes.yaml", kRoutes);
  ChildProcess run({routerBinary(), "--config", dir / "missing.yaml"}, dir / "run.log",
                   dir.path().string());
  auto code = run.wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  std::string out = run.log();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("missing.yaml"), std::string::npos);
}

// The README's quick start, as a newcomer runs it: the example configuration (ports moved to 0
// and the working folder to a temp dir) and deploy/examples/send.sh with curl.
TEST(RouterProcessTest, TheQuickStartConfigurationAndSendScriptWork) {
  const std::string source = ITK_SOURCE_DIR;
  std::string config = readFile(source + "/deploy/config/router.yaml");
  ASSERT_FALSE(config.empty());
  auto replace = [&config](const std::string& from, const std::string& to) {
    size_t at = config.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    config.replace(at, from.size(), to);
  };
  replace("127.0.0.1:9180", "127.0.0.1:0");
  replace("127.0.0.1:8080", "127.0.0.1:0");
  replace("routing-rules/examples/quickstart.yaml", source + "/routing-rules/examples/quickstart.yaml");
  TempDir dir;
  RouterProcess router(dir, config);
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;
  uint16_t port = router.listenerPort("itk");
  ASSERT_NE(port, 0) << router.log();

  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/itk";
  ChildProcess send({"/bin/bash", source + "/deploy/examples/send.sh", url}, dir / "send.log");
  auto code = send.wait(60s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << send.log();
  std::string out = send.log();
  EXPECT_NE(out.find("HTTP 200"), std::string::npos) << out;
  EXPECT_NE(out.find("<itk:SimpleMessageResponse xmlns:itk=\"urn:nhs-itk:ns:201005\">OK<"),
            std::string::npos)
      << out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("tracking id ([0-9A-F-]{36})"))) << out;
  std::string tracking_id = m[1].str();

  // The message and the router's infrastructure ack for it (infrastructure_ack: router) are
  // both delivered to var/delivered/.
  auto files = [&] {
    std::vector<std::string> contents;
    std::error_code ec;
    for (fs::directory_iterator it(dir / "var/delivered", ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->path().extension() == ".xml") contents.push_back(readFile(it->path().string()));
    }
    return contents;
  };
  ASSERT_TRUE(eventually([&] { return files().size() >= 2; }, 60s)) << router.log();
  int messages = 0, acks = 0;
  for (const std::string& f : files()) {
    if (f.find("trackingid=\"" + tracking_id + "\"") != std::string::npos) ++messages;
    if (f.find("trackingIdRef=\"" + tracking_id + "\"") != std::string::npos &&
        f.find("result=\"OK\"") != std::string::npos)
      ++acks;
  }
  EXPECT_EQ(messages, 1);
  EXPECT_EQ(acks, 1);
}

TEST(RouterProcessTest, TheExampleConfigurationPassesCheckConfig) {
  TempDir dir;
  ChildProcess check({routerBinary(), "--check-config", "--config", "deploy/config/router.yaml"},
                     dir / "check.log", ITK_SOURCE_DIR);
  auto code = check.wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << check.log();
}

}  // namespace
}  // namespace itk::test
