// Issue #5: an administrator edits the routing table under a running router. New messages follow
// the new route at once; messages accepted before the change keep the route they were given.
#include <gtest/gtest.h>

#include <filesystem>

#include "itk/uuid.h"
#include "support/loopback_spool.h"
#include "support/router_process.h"

namespace itk::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* kConfig = R"(identity:
  audit_identity: urn:nhs-uk:identity:ods:X09:itkrouter
  sender_address: urn:nhs-uk:addressing:ods:X09:itkrouter
store: {backend: sqlite, path: store.db}
routing:
  tables: [routes.yaml]
  watch: true
  watch_interval: 50ms
admin: {listen: "127.0.0.1:0"}
delivery: {poll_interval: 50ms}
transports:
  loopback: {inbound_dir: in, poll_interval: 20ms}
)";

// Both endpoints exist in both versions; only the route's endpoint changes. Endpoint `old`
// fails its first two attempts, so the messages sent to it are still queued at the change.
std::string table(const std::string& version, const std::string& endpoint) {
  return "version: " + version + R"(
endpoints:
  old: {transport: loopback, deliver_dir: out-old, fail_first: 2}
  new: {transport: loopback, deliver_dir: out-new}
routes:
  - name: everything
    endpoint: )" + endpoint + R"(
    retry: {initial_backoff: 300ms, max_backoff: 300ms, jitter: 0}
)";
}

std::set<std::string> idsIn(const TempDir& dir, const std::string& folder) {
  std::set<std::string> ids;
  for (const auto& [id, files] : deliveredFiles(dir, folder)) ids.insert(id);
  return ids;
}

TEST(RoutingReloadTest, NewMessagesFollowTheEditedTableAndQueuedOnesKeepTheirRoute) {
  TempDir dir;
  dir.write("routes.yaml", table("v1", "old"));
  fs::create_directories(dir.path() / "in");
  RouterProcess router(dir, kConfig);
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;

  std::set<std::string> before, after;
  for (int i = 0; i < 5; ++i) {
    std::string id = newUuid();
    dropIntoSpool(dir, "a" + std::to_string(i) + ".xml", loopbackDe(id, i));
    before.insert(id);
  }
  // Accepted and failing at `old`: queued for retry when the table changes.
  ASSERT_TRUE(router.process().waitForLog(
      "(delivery\\.attempt .*endpoint=old attempt=1 outcome=retryable[^\\n]*\\n[^$]*){5}", 60s))
      << router.log();

  // The administrator's edit: written aside and renamed into place, as editors and deploy tools do.
  dir.write("routes.yaml.tmp", table("v2", "new"));
  fs::rename(dir / "routes.yaml.tmp", dir / "routes.yaml");
  ASSERT_TRUE(router.process().waitForLog("routing\\.reloaded version=v2", 60s)) << router.log();

  for (int i = 0; i < 5; ++i) {
    std::string id = newUuid();
    dropIntoSpool(dir, "b" + std::to_string(i) + ".xml", loopbackDe(id, 100 + i));
    after.insert(id);
  }
  ASSERT_TRUE(eventually([&] {
    return idsIn(dir, "out-old").size() == before.size() &&
           idsIn(dir, "out-new").size() == after.size();
  }, 60s)) << router.log();
  EXPECT_EQ(idsIn(dir, "out-old"), before);  // in flight at the change: the route they were given
  EXPECT_EQ(idsIn(dir, "out-new"), after);   // accepted after it: the new route
}

TEST(RoutingReloadTest, ABrokenEditIsRefusedAndTheRunningTableStays) {
  TempDir dir;
  dir.write("routes.yaml", table("v1", "new"));
  fs::create_directories(dir.path() / "in");
  RouterProcess router(dir, kConfig);
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;

  dir.write("routes.yaml.tmp", table("v2", "nowhere"));  // an unknown endpoint
  fs::rename(dir / "routes.yaml.tmp", dir / "routes.yaml");
  ASSERT_TRUE(router.process().waitForLog(
      "routes\\.yaml:\\d+: error: [^\\n]*nowhere[^\\n]*", 60s))
      << router.log();
  ASSERT_TRUE(router.process().waitForLog("routing\\.reload_failed", 60s)) << router.log();

  std::string id = newUuid();
  dropIntoSpool(dir, "m.xml", loopbackDe(id, 1));
  ASSERT_TRUE(eventually([&] { return idsIn(dir, "out-new").count(id) == 1; }, 60s))
      << router.log();

  auto routing = httpGet(router.adminPort(), "/readyz");
  ASSERT_TRUE(routing);
  EXPECT_EQ(routing->status, 200);
}

}  // namespace
}  // namespace itk::test
