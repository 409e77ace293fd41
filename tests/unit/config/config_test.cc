#include "config/config.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace itk {
namespace {

using test::TempDir;

const char* kMinimal = R"(identity:
  audit_identity: urn:nhs-uk:identity:ods:X09:itkrouter
  sender_address: urn:nhs-uk:addressing:ods:X09:itkrouter
routing:
  tables: [routes.yaml]
)";

ConfigLoad load(const TempDir& dir, const std::string& yaml) {
  return loadConfig(dir.write("router.yaml", yaml));
}

std::string errorsOf(const ConfigLoad& c) {
  std::string out;
  for (const auto& e : c.errors) out += e.toString() + "\n";
  return out;
}

TEST(ConfigTest, AMinimalConfigurationTakesTheDefaults) {
  TempDir dir;
  ConfigLoad c = load(dir, kMinimal);
  ASSERT_TRUE(c.config) << errorsOf(c);
  EXPECT_EQ(c.config->store.backend, "sqlite");
  EXPECT_EQ(c.config->store.durability, "fsync");
  EXPECT_EQ(c.config->admin.port, 9180);
  EXPECT_EQ(c.config->log_format, log::Format::kText);
  EXPECT_EQ(c.config->routing.tables, std::vector<std::string>{"routes.yaml"});
  EXPECT_TRUE(c.config->transports.empty());
}

TEST(ConfigTest, ReadsEverySection) {
  TempDir dir;
  std::string token_file = dir.write("ops.token", "0123456789abcdef0123\n");
  ConfigLoad c = load(dir, std::string(kMinimal) + R"(threads: 4
log: {format: json, level: debug}
store:
  backend: sqlite
  path: /var/lib/itk/router.db
  durability: os
  group_commit: {max_batch: 64, max_wait: 5ms}
  dedup_window: 2d
  retention: {bodies: 7d, audit: 400d}
delivery: {max_in_flight: 32, poll_interval: 250ms, infrastructure_ack_timeout: 2h,
           business_ack_timeout: 3d, shutdown_grace: 3s}
admin:
  listen: 0.0.0.0:9443
  tokens:
    - {name: ops, role: operator, token_file: )" + token_file + R"(}
transports:
  loopback: {inbound_dir: spool}
)");
  ASSERT_TRUE(c.config) << errorsOf(c);
  const RouterConfig& r = *c.config;
  EXPECT_EQ(r.threads, 4);
  EXPECT_EQ(r.log_format, log::Format::kJson);
  EXPECT_EQ(r.log_level, log::Level::kDebug);
  EXPECT_EQ(r.store.durability, "os");
  EXPECT_EQ(r.store.group_commit_max_batch, 64u);
  EXPECT_EQ(r.store.group_commit_max_wait, std::chrono::milliseconds(5));
  EXPECT_EQ(r.store.retain_audit, std::chrono::hours(24 * 400));
  EXPECT_EQ(r.delivery.shutdown_grace, std::chrono::seconds(3));
  EXPECT_EQ(r.delivery.infrastructure_ack_timeout, std::chrono::hours(2));
  EXPECT_EQ(r.delivery.business_ack_timeout, std::chrono::hours(72));
  EXPECT_EQ(r.admin.address, "0.0.0.0");
  EXPECT_EQ(r.admin.port, 9443);
  ASSERT_EQ(r.admin.tokens.size(), 1u);
  EXPECT_EQ(r.admin.tokens[0].role, "operator");
  EXPECT_EQ(r.admin.tokens[0].token, "0123456789abcdef0123");
  ASSERT_EQ(r.transports.size(), 1u);
  EXPECT_EQ(r.transports[0].first, "loopback");
}

TEST(ConfigTest, ReportsEveryProblemWithItsLine) {
  TempDir dir;
  ConfigLoad c = load(dir, std::string(kMinimal) + R"(store:
  durability: sometimes
  retension: {bodies: 7d}
delivery:
  poll_interval: soon
admin:
  listen: nowhere
)");
  ASSERT_FALSE(c.config);
  std::string all = errorsOf(c);
  std::string file = dir / "router.yaml";
  EXPECT_NE(all.find(file + ":7: store.durability must be one of: fsync, os"), std::string::npos)
      << all;
  EXPECT_NE(all.find(file + ":8: unknown option store.retension"), std::string::npos) << all;
  EXPECT_NE(all.find(file + ":10: delivery.poll_interval must be a duration"), std::string::npos)
      << all;
  EXPECT_NE(all.find(file + ":12: admin.listen must be host:port"), std::string::npos) << all;
  EXPECT_EQ(c.errors.size(), 4u) << all;
}

TEST(ConfigTest, RefusesAnIdentityThatIsNotAnItkUri) {
  TempDir dir;
  ConfigLoad c = load(dir, R"(identity:
  audit_identity: itk-router
routing: {tables: [r.yaml]}
)");
  ASSERT_FALSE(c.config);
  EXPECT_NE(errorsOf(c).find(":2: identity.audit_identity must be a urn:nhs-uk:identity: URI"),
            std::string::npos)
      << errorsOf(c);
}

TEST(ConfigTest, TheAuditTrailMustOutliveTheBodies) {
  TempDir dir;
  ConfigLoad c = load(dir, std::string(kMinimal) + R"(store:
  retention:
    bodies: 30d
    audit: 7d
)");
  EXPECT_FALSE(c.config);
  EXPECT_NE(errorsOf(c).find("router.yaml:9: store.retention.audit must be at least "
                             "store.retention.bodies"),
            std::string::npos)
      << errorsOf(c);
  EXPECT_TRUE(
      load(dir, std::string(kMinimal) + "store: {retention: {bodies: 30d, audit: 30d}}\n").config);
}

TEST(ConfigTest, RequiresRoutingTables) {
  TempDir dir;
  ConfigLoad c = load(dir, "identity: {}\n");
  ASSERT_FALSE(c.config);
  EXPECT_NE(errorsOf(c).find("routing.tables must name at least one routing table file"),
            std::string::npos);
}

TEST(ConfigTest, ReportsSyntaxErrorsAndMissingFiles) {
  TempDir dir;
  ConfigLoad bad = load(dir, "identity: [unclosed\n");
  ASSERT_FALSE(bad.config);
  EXPECT_NE(errorsOf(bad).find("YAML syntax error"), std::string::npos);
  ConfigLoad missing = loadConfig(dir / "absent.yaml");
  ASSERT_FALSE(missing.config);
  EXPECT_NE(errorsOf(missing).find("absent.yaml:0: cannot read the configuration file"),
            std::string::npos);
}

TEST(ConfigTest, AdminTokensMustBeLongEnough) {
  TempDir dir;
  ConfigLoad c = load(dir, std::string(kMinimal) + R"(admin:
  tokens:
    - {name: weak, role: admin, token: short}
)");
  ASSERT_FALSE(c.config);
  EXPECT_NE(errorsOf(c).find("16 characters at least"), std::string::npos);
}

}  // namespace
}  // namespace itk
