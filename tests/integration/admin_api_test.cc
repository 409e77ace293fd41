// The operators' admin API on the real router process: bearer tokens and their roles, the dead
// letters listed and replayed over HTTP once the cause is fixed (a routing-table reload, also
// over HTTP), and a message's deliveries and IG audit trail as JSON.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "itk/uuid.h"
#include "support/http_client.h"
#include "support/loopback_spool.h"
#include "support/router_process.h"

namespace itk::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kViewer = "viewer-token-0123456789";
constexpr const char* kOperator = "operator-token-0123456789";
constexpr const char* kAdmin = "admin-token-0123456789";

std::string routerYaml() {
  return std::string(R"(identity:
  audit_identity: urn:nhs-uk:identity:ods:X09:itkrouter
  sender_address: urn:nhs-uk:addressing:ods:X09:itkrouter
threads: 2
store:
  path: store.db
routing:
  tables: [routes.yaml]
  watch: false
admin:
  listen: 127.0.0.1:0
  tokens:
    - {name: dashboards, role: viewer, token: )") +
         kViewer + R"(}
    - {name: ops, role: operator, token: )" +
         kOperator + R"(}
    - {name: release, role: admin, token: )" +
         kAdmin + R"(}
delivery:
  poll_interval: 1h
transports:
  loopback:
    inbound_dir: in
    poll_interval: 20ms
)";
}

// RHM's endpoint refuses everything (a permanent failure: dead letter at the first attempt) until
// the table is fixed; everything else, such as the NACKs to the sender, is archived.
std::string routes(const std::string& rhm_behaviour) {
  return R"(version: "admin-api-test.)" + rhm_behaviour + R"("
endpoints:
  archive:
    transport: loopback
    deliver_dir: out
  rhm:
    transport: loopback
    behaviour: )" +
         rhm_behaviour + R"(
    deliver_dir: out
routes:
  - name: to-rhm
    match: {address: urn:nhs-uk:addressing:ods:RHM}
    endpoint: rhm
  - name: everything-else
    endpoint: archive
)";
}

std::map<std::string, std::string> bearer(const char* token) {
  return {{"Authorization", std::string("Bearer ") + token}, {"Connection", "close"}};
}

json::value jsonOf(const std::optional<HttpReply>& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r ? r->body : "", ec);
  return ec ? json::value() : v;
}

TEST(AdminApiTest, DeadLettersAreListedAndReplayedByRoleAndTheHistoryShowsIt) {
  TempDir dir;
  dir.write("routes.yaml", routes("permanent"));
  std::filesystem::create_directories(dir.path() / "in");
  RouterProcess router(dir, routerYaml());
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;
  const uint16_t port = router.adminPort();

  const std::string tracking = newUuid();
  dropIntoSpool(dir, tracking + ".xml", loopbackDe(tracking, 1));

  // The dead letter, as a viewer sees it.
  json::value listed;
  ASSERT_TRUE(eventually(
      [&] {
        listed = jsonOf(httpGet(port, "/admin/dead-letters", bearer(kViewer)));
        return listed.is_object() && !listed.at("dead_letters").as_array().empty();
      },
      30s))
      << router.log();
  const json::array& dead = listed.at("dead_letters").as_array();
  ASSERT_EQ(dead.size(), 1u) << json::serialize(listed);
  const json::object& letter = dead[0].as_object();
  EXPECT_EQ(letter.at("tracking_id").as_string(), tracking);
  EXPECT_EQ(letter.at("route").as_string(), "to-rhm");
  EXPECT_EQ(letter.at("cause").as_string(), "permanent-failure");
  EXPECT_EQ(letter.at("sender").as_string(), "urn:nhs-uk:addressing:ods:XZ901");
  const int64_t delivery = letter.at("delivery_id").as_int64();
  const std::string replay = "/admin/dead-letters/replay/" + std::to_string(delivery);

  // Roles: no token, a viewer replaying, an operator reloading the routing table.
  auto anonymous = httpGet(port, "/admin/dead-letters", {{"Connection", "close"}});
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto wrong = httpGet(port, "/admin/dead-letters", bearer("not-a-token-at-all-0000"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto viewer_replay = httpPost(port, replay, "", bearer(kViewer));
  ASSERT_TRUE(viewer_replay);
  EXPECT_EQ(viewer_replay->status, 403);
  auto operator_reload = httpPost(port, "/admin/routing/reload", "", bearer(kOperator));
  ASSERT_TRUE(operator_reload);
  EXPECT_EQ(operator_reload->status, 403);

  // Bad requests are answered, not guessed at.
  auto bad_limit = httpGet(port, "/admin/dead-letters?limit=lots", bearer(kViewer));
  ASSERT_TRUE(bad_limit);
  EXPECT_EQ(bad_limit->status, 400) << bad_limit->body;
  auto unknown = httpPost(port, "/admin/dead-letters/replay/999999", "", bearer(kOperator));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  auto nobody = httpGet(port, "/admin/messages/" + newUuid(), bearer(kViewer));
  ASSERT_TRUE(nobody);
  EXPECT_EQ(nobody->status, 404) << nobody->body;

  // The administrator fixes the endpoint; the operator replays; the message is delivered.
  dir.write("routes.yaml", routes("deliver"));
  auto reload = httpPost(port, "/admin/routing/reload", "", bearer(kAdmin));
  ASSERT_TRUE(reload);
  ASSERT_EQ(reload->status, 200) << reload->body;
  auto replayed = httpPost(port, replay, "", bearer(kOperator));
  ASSERT_TRUE(replayed);
  ASSERT_EQ(replayed->status, 200) << replayed->body;
  EXPECT_EQ(jsonOf(replayed).at("replayed").as_int64(), 1);
  // poll_interval is 1h: only the replay's wake-up can have delivered it this soon.
  ASSERT_TRUE(eventually([&] { return deliveredFiles(dir).count(tracking) > 0; }, 30s))
      << router.log();
  auto after = jsonOf(httpGet(port, "/admin/dead-letters", bearer(kViewer)));
  ASSERT_TRUE(after.is_object());
  EXPECT_TRUE(after.at("dead_letters").as_array().empty()) << json::serialize(after);

  // Its history: the delivery's state and the audit trail, the replay named after its token.
  json::value history;
  ASSERT_TRUE(eventually(
      [&] {
        history = jsonOf(httpGet(port, "/admin/messages/" + tracking, bearer(kViewer)));
        return history.is_object() && history.at("messages").as_array().size() == 1 &&
               history.at("messages").as_array()[0].at("deliveries").as_array()[0].at("state") ==
                   "delivered";
      },
      30s))
      << json::serialize(history);
  const json::object& message = history.at("messages").as_array()[0].as_object();
  EXPECT_EQ(message.at("transport").as_string(), "loopback");
  EXPECT_EQ(message.at("deliveries").as_array()[0].at("endpoint").as_string(), "rhm");
  std::vector<std::string> events;
  bool replay_by_ops = false;
  for (const auto& e : history.at("audit").as_array()) {
    events.emplace_back(e.at("event").as_string());
    if (e.at("event") == "replayed") replay_by_ops = e.at("actor") == "admin:ops";
  }
  EXPECT_TRUE(replay_by_ops) << json::serialize(history);
  EXPECT_EQ(events.front(), "accepted") << json::serialize(history);
  EXPECT_EQ(events.back(), "delivered") << json::serialize(history);
  // No payload content in what the API shows.
  EXPECT_EQ(json::serialize(history).find("urn:example:test"), std::string::npos);
}

// What routing tables ran when: the start-up table, a reload, and a refused reload with its
// reason, newest first; the refused one leaves the running table in place.
TEST(AdminApiTest, TheRoutingHistoryShowsLoadsAndRefusedReloads) {
  TempDir dir;
  dir.write("routes.yaml", routes("permanent"));
  std::filesystem::create_directories(dir.path() / "in");
  RouterProcess router(dir, routerYaml());
  std::string why;
  ASSERT_TRUE(router.waitReady(&why)) << why;
  const uint16_t port = router.adminPort();

  dir.write("routes.yaml", routes("deliver"));
  auto loaded = httpPost(port, "/admin/routing/reload", "", bearer(kAdmin));
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->status, 200) << loaded->body;
  dir.write("routes.yaml", routes("deliver") + "  - name: broken\n    endpoint: nowhere\n");
  auto refused = httpPost(port, "/admin/routing/reload", "", bearer(kAdmin));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 422) << refused->body;

  json::value h = jsonOf(httpGet(port, "/admin/routing/history", bearer(kViewer)));
  ASSERT_TRUE(h.is_object()) << router.log();
  const json::array& entries = h.at("history").as_array();
  ASSERT_EQ(entries.size(), 3u) << json::serialize(h);
  EXPECT_EQ(entries[0].at("outcome"), "failed");
  EXPECT_EQ(entries[0].at("version"), "admin-api-test.deliver");  // still running
  ASSERT_FALSE(entries[0].at("errors").as_array().empty());
  EXPECT_NE(std::string(entries[0].at("errors").as_array()[0].as_string()).find("nowhere"),
            std::string::npos)
      << json::serialize(h);
  EXPECT_EQ(entries[1].at("outcome"), "loaded");
  EXPECT_EQ(entries[1].at("version"), "admin-api-test.deliver");
  EXPECT_EQ(entries[1].at("routes").as_int64(), 2);
  EXPECT_EQ(entries[2].at("outcome"), "loaded");
  EXPECT_EQ(entries[2].at("version"), "admin-api-test.permanent");
  EXPECT_NE(entries[1].at("checksum"), entries[2].at("checksum"));
  auto anonymous = httpGet(port, "/admin/routing/history", {{"Connection", "close"}});
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
}

}  // namespace
}  // namespace itk::test
