// The operator commands against a SQLite store that a "router" (a router-mode store in this
// process) keeps open, as in production.
#include "store/commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "store/sqlite_store.h"
#include "support/manual_clock.h"
#include "support/store_builders.h"
#include "support/temp_dir.h"

namespace itk {
namespace {

using namespace std::chrono_literals;
using test::makeDelivery;
using test::makeMessage;
using test::makeRequest;
using ::testing::HasSubstr;
using ::testing::Not;

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.path = dir_ / "router.db";
    config_.group_commit_max_wait = 0us;
    auto s = SqliteStore::open(config_);
    ASSERT_TRUE(s.ok()) << s.status().toString();
    router_ = std::move(*s);

    Message m = makeMessage("6F3E2A10-0000-4000-8000-000000000001", clock_.now());
    m.header.infack_requested = true;
    m.origin.authenticated_as = "CN=gp.example.nhs.uk";
    NewDelivery to_b = makeDelivery(clock_.now(), "ep-b", "route-b");
    to_b.address = "urn:nhs-uk:addressing:ods:B";
    auto r = test::acceptNow(*router_, makeRequest(m, {makeDelivery(clock_.now()), to_b}));
    ASSERT_TRUE(r.ok());
    message_id_ = r->message_id;
    auto c = test::claimNow(*router_, clock_.now());
    ASSERT_EQ(c->tasks.size(), 2u);
    for (const DeliveryTask& t : c->tasks) {
      if (t.endpoint == "ep") {
        AttemptRecord ok =
            test::outcome(t.delivery_id, AttemptRecord::Next::kDelivered, clock_.now());
        ok.remote_id = "REMOTE-77";
        ok.expect_acks = {{AckKind::kInfrastructure, clock_.now() + 1h}};
        ASSERT_TRUE(test::recordNow(*router_, ok).ok());
      } else {
        dead_id_ = t.delivery_id;
        AttemptRecord dead = test::outcome(t.delivery_id, AttemptRecord::Next::kDeadLetter,
                                           clock_.now(), "SOAP fault 2200 from B");
        ASSERT_TRUE(test::recordNow(*router_, dead).ok());
      }
    }
  }

  int messages(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return runMessagesCommand(args, out_, err_);
  }
  int audit(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return runAuditCommand(args, out_, err_);
  }
  int deadLetters(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return runDeadLettersCommand(args, out_, err_, clock_);
  }

  test::TempDir dir_;
  test::ManualClock clock_;
  StoreConfig config_;
  std::unique_ptr<SqliteStore> router_;
  int64_t message_id_ = 0;
  int64_t dead_id_ = 0;
  std::ostringstream out_, err_;
};

TEST_F(CommandsTest, MessagesShowPrintsHeaderDeliveriesAcksAndAudit) {
  ASSERT_EQ(messages({"show", "6F3E2A10-0000-4000-8000-000000000001", "--store", config_.path}), 0)
      << err_.str();
  std::string o = out_.str();
  EXPECT_THAT(o, HasSubstr("message " + std::to_string(message_id_)));
  EXPECT_THAT(o, HasSubstr("service:         urn:nhs-itk:services:201005:SendDocument-v1-0"));
  EXPECT_THAT(o, HasSubstr("sender:          urn:nhs-uk:addressing:ods:SENDER"));
  EXPECT_THAT(o, HasSubstr("acks requested:  infrastructure"));
  EXPECT_THAT(o, HasSubstr("as CN=gp.example.nhs.uk"));
  EXPECT_THAT(o, HasSubstr("body:            27 bytes"));
  EXPECT_THAT(o, HasSubstr("endpoint ep: delivered, 1 attempt(s)"));
  EXPECT_THAT(o, HasSubstr("remote id:     REMOTE-77"));
  EXPECT_THAT(o, HasSubstr("endpoint ep-b: dead-letter, 1 attempt(s), permanent-failure, "
                           "sender not told yet"));
  EXPECT_THAT(o, HasSubstr("last error:    SOAP fault 2200 from B"));
  EXPECT_THAT(o, HasSubstr("infrastructure from urn:nhs-uk:addressing:ods:RECIPIENT: expected by"));
  EXPECT_THAT(o, HasSubstr("accepted  [router]"));
  EXPECT_THAT(o, HasSubstr("dead-lettered #" + std::to_string(dead_id_)));
  EXPECT_THAT(o, Not(HasSubstr("DistributionEnvelope")));  // never the payload
}

TEST_F(CommandsTest, MessagesShowFindsATransportIdToo) {
  ASSERT_EQ(messages({"show", "REMOTE-77", "--store=" + config_.path}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("6F3E2A10-0000-4000-8000-000000000001"));
  EXPECT_EQ(messages({"show", "NO-SUCH-ID", "--store", config_.path}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no message"));
}

TEST_F(CommandsTest, AuditPrintsEveryStateChangeWithWhoWhatWhenAndWhere) {
  const std::string tracking = "6F3E2A10-0000-4000-8000-000000000001";
  ASSERT_EQ(audit({tracking, "--store", config_.path}), 0) << err_.str();
  std::vector<std::string> lines;
  std::istringstream in(out_.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u) << out_.str();
  EXPECT_EQ(lines[0], "TIME\tEVENT\tTRACKING ID\tMESSAGE\tDELIVERY\tACTOR\tDETAIL");
  const std::string at = "2026-01-01T00:00:00.000Z\t";
  const std::string message = std::to_string(message_id_);
  // Who sent it: sender address, audit identity, transport, peer, TLS identity, transport id;
  // and where each delivery goes.
  EXPECT_EQ(lines[1], at + "accepted\t" + tracking + "\t" + message + "\t-\trouter\t" +
                          "business urn:nhs-itk:services:201005:SendDocument-v1-0 from "
                          "urn:nhs-uk:addressing:ods:SENDER, audit identity "
                          "urn:nhs-uk:identity:ods:SENDER, via soap, peer 127.0.0.1:40000, "
                          "authenticated as CN=gp.example.nhs.uk, transport id uuid:" +
                          tracking +
                          "; urn:nhs-uk:addressing:ods:RECIPIENT -> route route endpoint ep"
                          "; urn:nhs-uk:addressing:ods:B -> route route-b endpoint ep-b");
  EXPECT_THAT(lines[2], HasSubstr("\tdelivered\t"));
  EXPECT_THAT(lines[2], HasSubstr("attempt 1 to ep for urn:nhs-uk:addressing:ods:RECIPIENT "
                                  "delivered (remote id REMOTE-77); infrastructure ack expected"));
  EXPECT_THAT(lines[3], HasSubstr("\tdead-lettered\t" + tracking + "\t" + message + "\t" +
                                  std::to_string(dead_id_) + "\trouter\t"));
  EXPECT_THAT(lines[3], HasSubstr("attempt 1 to ep-b for urn:nhs-uk:addressing:ods:B "
                                  "permanent-failure: SOAP fault 2200 from B"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("DistributionEnvelope")));  // never the payload
}

TEST_F(CommandsTest, AuditFindsATransportIdAndSaysWhenThereIsNothing) {
  ASSERT_EQ(audit({"REMOTE-77", "--store", config_.path}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("\taccepted\t6F3E2A10-0000-4000-8000-000000000001\t"));
  EXPECT_EQ(audit({"NO-SUCH-ID", "--store", config_.path}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no audit events for tracking id or transport id NO-SUCH-ID"));
  EXPECT_EQ(audit({"--store", config_.path}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("usage: itk-router audit ID"));
}

TEST_F(CommandsTest, DeadLettersListShowsWhyAndWhere) {
  ASSERT_EQ(deadLetters({"list", "--store", config_.path}), 0) << err_.str();
  std::string o = out_.str();
  EXPECT_THAT(o, HasSubstr(std::to_string(dead_id_) + "\t"));
  EXPECT_THAT(o, HasSubstr("\troute-b\tep-b\tpermanent-failure\t1\tno\t"
                           "6F3E2A10-0000-4000-8000-000000000001\t"));
  EXPECT_THAT(o, HasSubstr("SOAP fault 2200 from B"));
  ASSERT_EQ(deadLetters({"list", "--route", "route", "--store", config_.path}), 0);
  EXPECT_THAT(out_.str(), Not(HasSubstr("route-b")));
}

TEST_F(CommandsTest, ReplayPutsADeadLetterBackForTheRunningRouter) {
  clock_.advance(1h);
  ASSERT_EQ(deadLetters({"replay", std::to_string(dead_id_), "--store", config_.path}), 0)
      << err_.str();
  EXPECT_EQ(out_.str(), "replayed delivery " + std::to_string(dead_id_) + "\n");
  // The router, which had the store open all along, claims it.
  auto c = test::claimNow(*router_, clock_.now());
  ASSERT_EQ(c->tasks.size(), 1u);
  EXPECT_EQ(c->tasks[0].delivery_id, dead_id_);
  EXPECT_EQ(c->tasks[0].attempts, 0);
  auto trail = router_->auditTrail("6F3E2A10-0000-4000-8000-000000000001");
  EXPECT_EQ(trail->back().event, "replayed");
  EXPECT_THAT(trail->back().actor, HasSubstr("cli:"));
  // Not a dead letter any more.
  EXPECT_EQ(deadLetters({"replay", std::to_string(dead_id_), "--store", config_.path}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("not a dead letter"));
}

TEST_F(CommandsTest, ReplayAllReplaysEveryDeadLetter) {
  ASSERT_EQ(deadLetters({"replay", "--all", "--store", config_.path}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "replayed 1 dead letter(s)\n");
  ASSERT_EQ(deadLetters({"list", "--store", config_.path}), 0);
  EXPECT_THAT(out_.str(), Not(HasSubstr("route-b")));
}

TEST_F(CommandsTest, UsageErrorsAreExplained) {
  EXPECT_EQ(messages({"show"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("usage: itk-router messages show"));
  EXPECT_EQ(messages({"show", "X"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--store PATH is required"));
  EXPECT_EQ(deadLetters({"replay", "abc", "--store", config_.path}), 2);
  EXPECT_EQ(deadLetters({"frobnicate", "--store", config_.path}), 2);
  EXPECT_EQ(deadLetters({"list", "--store"}), 2);
  EXPECT_EQ(deadLetters({"list", "--store", dir_ / "missing.db"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("cannot open"));
}

}  // namespace
}  // namespace itk
