// Answers: the ITK3 response the router sends about a dead letter carries the code the failure
// calls for, whatever address the delivery had.
#include "server/answers.h"

#include <gtest/gtest.h>

#include "itk/fhir/itk3.h"
#include "itk/fhir/response.h"
#include "store/memory_store.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace itk {
namespace {

class NullSink final : public InboundSink {
 public:
  void accept(Message, AcceptCallback done) override {
    done(AcceptOutcome::busy(Status::unavailable("test")));
  }
  void reportUnreadable(const Origin&, const Status&) override {}
};

class AnswersTest : public ::testing::Test {
 protected:
  AnswersTest() : answers_(sink_, store_, routing_, clock_, identity()) {}

  static RouterIdentity identity() {
    RouterIdentity id;
    id.ods_code = "X26";
    id.mesh_mailbox = "X26HUB01";
    return id;
  }

  // An ITK3 fixture as the MESH transport hands it over (InfAckRequested=true).
  std::optional<Message> pharmacyMessage() {
    std::string bundle = test::readFile(std::string(ITK_FIXTURES_DIR) +
                                        "/itk3/messages/dm-engage_jack_dawkins_imms.xml");
    if (bundle.empty()) return std::nullopt;
    auto m = itk3::decodeMessage(std::make_shared<const std::string>(bundle));
    EXPECT_TRUE(m.ok()) << m.status().toString();
    if (!m.ok()) return std::nullopt;
    m->origin.transport = "mesh";
    m->origin.attributes = {
        {"mesh.from", "NOROT003"}, {"mesh.to", "X26HUB01"}, {"mesh.workflow", "DIGMED_FLU_VAC"}};
    return std::move(*m);
  }

  // The ITK response codes of the answer to `original`'s dead letter.
  std::vector<std::string> codesOf(const Message& original, DeadLetterCause cause,
                                   const std::string& error, const std::string& address) {
    auto answer = answers_.negativeAnswer(original, cause, error, address);
    EXPECT_TRUE(answer.ok()) << answer.status().toString();
    if (!answer.ok() || !*answer) return {};
    const Message& r = **answer;
    EXPECT_EQ(r.header.addresses, std::vector<std::string>{"NOROT003"});
    EXPECT_EQ(*r.origin.attribute(itk3::kAttrMeshReplyWorkflow), "DIGMED_FLU_VAC_ACK");
    auto back = itk3::readMessageBundle(*r.body);
    EXPECT_TRUE(back.ok());
    if (back.ok() && !error.empty()) {
      EXPECT_FALSE(back->issues.empty());
      if (!back->issues.empty()) {
        EXPECT_NE(back->issues[0].diagnostics.find(error), std::string::npos);
      }
    }
    return back.ok() ? back->responseCodes() : std::vector<std::string>{};
  }

  NullSink sink_;
  MemoryStore store_;
  RoutingTableHolder routing_;
  test::ManualClock clock_;
  Answers answers_;
};

TEST_F(AnswersTest, AReportedFailureIsAnsweredByThePeersCodeNotByTheAddressBeforeIt) {
  auto original = pharmacyMessage();
  if (!original) GTEST_SKIP() << "fixtures absent";
  const std::string address = "urn:nhs-uk:addressing:ods:A83627";
  // MESH's GP look-up could not match the patient: Unrecognised Recipient Person.
  EXPECT_EQ(codesOf(*original, DeadLetterCause::kReportedFailure, "EPL-153: NHS number not found",
                    address),
            std::vector<std::string>{"20001"});
  // Error 14 (not collected) and the rest: Unrecognised Recipient Organisation.
  EXPECT_EQ(
      codesOf(*original, DeadLetterCause::kReportedFailure, "14: Message not collected", address),
      std::vector<std::string>{"20002"});
  EXPECT_EQ(codesOf(*original, DeadLetterCause::kUnroutable, "route not found", address),
            std::vector<std::string>{"20002"});
}

TEST_F(AnswersTest, AResponseIsNeverAnswered) {
  auto original = pharmacyMessage();
  if (!original) GTEST_SKIP() << "fixtures absent";
  original->header.kind = MessageKind::kItk3Response;
  auto answer = answers_.negativeAnswer(*original, DeadLetterCause::kUnroutable, "no route");
  ASSERT_TRUE(answer.ok());
  EXPECT_FALSE(answer->has_value());
}

}  // namespace
}  // namespace itk
