// itk-router check-routes and explain.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "itk/routing/commands.h"
#include "routing_test_support.h"

namespace itk {
namespace {

using test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTable = R"(version: "7"
endpoints:
  rhm-soap: {transport: soap, urls: ["https://rhm.example/itk"]}
  gp-mesh: {transport: mesh, mailbox: X26HUB01, to: X26GP001, workflow: W}
routes:
  - name: rhm
    match: {address: {prefix: "urn:nhs-uk:addressing:ods:RHM"}}
    endpoint: rhm-soap
  - name: rhm-cda
    match:
      address: {prefix: "urn:nhs-uk:addressing:ods:RHM"}
      service: urn:nhs-itk:services:201005:SendCDADocument-v2-0
    endpoint: gp-mesh
  - name: gp
    match: {address: "urn:nhs-uk:addressing:ods:A8*", sender: "urn:nhs-uk:addressing:ods:RHM"}
    endpoint: gp-mesh
    ordering: fifo
  - name: closed
    match: {address: urn:nhs-uk:addressing:ods:RBAD}
    reject: RBAD has closed
)";

class CommandsTest : public ::testing::Test {
 protected:
  CommandsTest() {
    test::registerFakeTransports(transports_);
    file_ = dir_.write("hub.yaml", kTable);
  }

  int checkRoutes(std::vector<std::string> args) {
    return runCheckRoutesCommand(args, transports_, out_, err_);
  }
  int explain(std::vector<std::string> args) {
    return runExplainCommand(args, transports_, out_, err_);
  }

  TempDir dir_;
  TransportRegistry transports_;
  std::string file_;
  std::ostringstream out_, err_;
};

TEST_F(CommandsTest, check_routes_accepts_a_valid_table) {
  EXPECT_EQ(checkRoutes({file_}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("routing table: 4 routes, 2 endpoints, version 7, checksum "));
  EXPECT_THAT(out_.str(), HasSubstr("0 warning(s)"));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, check_routes_prints_errors_and_fails) {
  std::string bad = dir_.write("bad.yaml", "routes:\n  - name: x\n    endpoint: nowhere\n");
  EXPECT_EQ(checkRoutes({bad}), 1);
  EXPECT_EQ(err_.str(), bad + ":3: error: route 'x': unknown endpoint 'nowhere'\n");
  EXPECT_THAT(out_.str(), HasSubstr("routing table refused: 1 error(s)"));
}

TEST_F(CommandsTest, check_routes_warnings_pass_unless_strict) {
  std::string spare = dir_.write("spare.yaml", "endpoints:\n  spare: {transport: loopback}\n");
  EXPECT_EQ(checkRoutes({file_, spare}), 0);
  EXPECT_THAT(err_.str(), HasSubstr(spare + ":2: warning: endpoint 'spare' is not used"));
  EXPECT_EQ(checkRoutes({"--strict", file_, spare}), 1);
}

TEST_F(CommandsTest, check_routes_usage) {
  EXPECT_EQ(checkRoutes({}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("usage: itk-router check-routes"));
  EXPECT_EQ(checkRoutes({"--frobnicate", file_}), 2);
}

TEST_F(CommandsTest, explain_shows_candidates_in_order_and_why_the_winner_wins) {
  EXPECT_EQ(
      explain({"--routes", file_, "--service", "urn:nhs-itk:services:201005:SendCDADocument-v2-0",
               "--address", "urn:nhs-uk:addressing:ods:RHM:team1"}),
      0);
  std::string out = out_.str();
  EXPECT_THAT(out, HasSubstr("* 1. rhm-cda (" + file_ + ":9) -> endpoint gp-mesh (mesh)"));
  EXPECT_THAT(out, HasSubstr("2. rhm (" + file_ + ":6) -> endpoint rhm-soap (soap)"));
  EXPECT_THAT(out, HasSubstr("loses to rhm-cda: service exact "
                             "\"urn:nhs-itk:services:201005:SendCDADocument-v2-0\" is more "
                             "specific than any"));
  EXPECT_THAT(out, HasSubstr("decision: route rhm-cda -> endpoint gp-mesh (mesh); "
                             "store-and-forward, retry 10 attempts"));
  EXPECT_THAT(out, HasSubstr("fan-out: 1 delivery(ies), 0 refused address(es)"));
  EXPECT_LT(out.find("1. rhm-cda"), out.find("2. rhm "));
}

TEST_F(CommandsTest, explain_no_route_says_2200_and_shows_near_misses) {
  EXPECT_EQ(
      explain({"--routes", file_, "--service", "svc", "--address",
               "urn:nhs-uk:addressing:ods:A81001", "--sender", "urn:nhs-uk:addressing:ods:RXX"}),
      0);
  std::string out = out_.str();
  EXPECT_THAT(out, HasSubstr("no route matches"));
  EXPECT_THAT(out, HasSubstr("toolkit code 2200"));
  EXPECT_THAT(out, HasSubstr("gp (" + file_ +
                             ":14): sender exact "
                             "\"urn:nhs-uk:addressing:ods:RHM\" does not match "
                             "\"urn:nhs-uk:addressing:ods:RXX\""));
  EXPECT_THAT(out,
              HasSubstr("refuse urn:nhs-uk:addressing:ods:A81001: NACK 2200 \"route not found"));
}

TEST_F(CommandsTest, explain_fans_out_over_several_addresses) {
  EXPECT_EQ(
      explain({"--routes", file_, "--service", "svc", "--sender", "urn:nhs-uk:addressing:ods:RHM",
               "--address", "urn:nhs-uk:addressing:ods:A81001", "--address",
               "urn:nhs-uk:addressing:ods:A81002", "--address", "urn:nhs-uk:addressing:ods:RBAD"}),
      0);
  std::string out = out_.str();
  EXPECT_THAT(out, HasSubstr("fan-out: 1 delivery(ies), 1 refused address(es)"));
  EXPECT_THAT(out, HasSubstr("deliver via route gp to endpoint gp-mesh (mesh) for "
                             "urn:nhs-uk:addressing:ods:A81001 urn:nhs-uk:addressing:ods:A81002; "
                             "FIFO key gp|urn:nhs-uk:addressing:ods:RHM"));
  EXPECT_THAT(out,
              HasSubstr("refuse urn:nhs-uk:addressing:ods:RBAD: NACK 2200 \"RBAD has closed\""));
  EXPECT_THAT(out, HasSubstr("decision: rejected by route closed"));
}

TEST_F(CommandsTest, explain_usage_and_bad_tables) {
  EXPECT_EQ(explain({"--service", "s", "--address", "a"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--routes FILE... is required"));
  EXPECT_EQ(explain({"--routes", file_, "--address", "a"}), 2);
  EXPECT_EQ(explain({"--routes", file_, "--service", "s"}), 2);
  EXPECT_EQ(explain({"--routes", file_, "--service"}), 2);
  std::string bad = dir_.write("bad.yaml", "routes: 3\n");
  err_.str("");
  EXPECT_EQ(explain({"--routes", bad, "--service", "s", "--address", "a"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr(bad + ":1: error: routes must be a list"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("candidates")));
}

}  // namespace
}  // namespace itk
