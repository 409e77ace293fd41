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
