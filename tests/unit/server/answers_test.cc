// The router's own answers: NACKs and ITK3 responses for dead letters, router-sent infacks,
// ITK3 duplicate answers; never an answer to an answer.
#include "server/answers.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "itk/fhir/itk3.h"
#include "itk/fhir/response.h"
#include "itk/envelope/reader.h"
#include "itk/uuid.h"
#include "loopback_transport.h"
#include "store/memory_store.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace itk {
namespace {

// Records what the Answers accept and answers each with a chosen outcome.
class RecordingSink final : public InboundSink {
 public:
  void accept(Message message, AcceptCallback done) override {
    AcceptOutcome o;
    {
      std::lock_guard lock(mu_);
      accepted_.push_back(std::move(message));
      o = outcome_;
    }
    done(o);
  }
  void reportUnreadable(const Origin&, const Status&) override {}
  void setOutcome(AcceptOutcome o) {
    std::lock_guard lock(mu_);
    outcome_ = std::move(o);
  }
  std::vector<Message> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }

 private:
  std::mutex mu_;
  std::vector<Message> accepted_;
  AcceptOutcome outcome_ = AcceptOutcome::accepted(99);
};

// A DE of our own (tests/data) from ods:XZ901 to ods:RHM.
Message itk2Original() {
  std::string de = test::readFile(std::string(ITK_TEST_DATA_DIR) + "/loopback-de.xml.in");
  auto put = [&de](const std::string& key, const std::string& value) {
    for (size_t p; (p = de.find(key)) != std::string::npos;) de.replace(p, key.size(), value);
  };
  put("@TRACKING_ID@", "11111111-2222-4333-8444-555555555555");
  put("@PAYLOAD_ID@", "AAAAAAAA-2222-4333-8444-555555555555");
  put("@ODS@", "RHM");
  put("@SEQ@", "1");
  auto bytes = std::make_shared<const std::string>(de);
  auto header = itk2::readDistributionEnvelope(*bytes);
  EXPECT_TRUE(header.ok()) << header.status().toString();
  Message m;
  m.header = *header;
  m.body = bytes;
  m.id = 7;
  return m;
}

std::optional<Message> itk3Original() {
  std::string path = std::string(ITK_FIXTURES_DIR) + "/itk3/messages/gpconnect-consultation_report.xml";
  std::string doc = test::readFile(path);
  if (doc.empty()) return std::nullopt;
  auto m = itk3::decodeMessage(std::make_shared<const std::string>(doc));
  EXPECT_TRUE(m.ok()) << m.status().toString();
  if (!m.ok()) return std::nullopt;
  m->origin.attributes = {{std::string(itk3::kAttrMeshFrom), "MESHGP0001"},
                          {std::string(itk3::kAttrMeshTo), "X09HUB01"},
                          {std::string(itk3::kAttrMeshWorkflow), "GPFED_CONSULT_REPORT"}};
  m->id = 8;
  return std::move(*m);
}

RouterIdentity hubIdentity() {
  RouterIdentity id;
  id.audit_identity = "urn:nhs-uk:identity:ods:X09:itkrouter";
  id.sender_address = "urn:nhs-uk:addressing:ods:X09:itkrouter";
  id.ods_code = "X09";
  return id;
}

class AnswersTest : public ::testing::Test {
 protected:
  AnswersTest() {
    (void)registry_.add(makeLoopbackTransportFactory());
    useTable("infrastructure_ack: endpoint");
  }
  void useTable(const std::string& ack_setting) {
    std::string yaml = "endpoints:\n  rhm: {transport: loopback, behaviour: deliver}\n"
                       "routes:\n  - name: everything\n    endpoint: rhm\n    " +
                       ack_setting + "\n";
    auto loaded = loadRoutingSources({{"routes.yaml", yaml}}, registry_);
    ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front().toString();
    routing_.publish(loaded.table);
  }

  TransportRegistry registry_;
  RoutingTableHolder routing_;
  MemoryStore store_;
  test::ManualClock clock_;
  RouterIdentity identity_ = hubIdentity();
  RecordingSink sink_;
  Answers answers_{sink_, store_, routing_, clock_, identity_};
};

TEST_F(AnswersTest, AnUnroutableItk2AddressIsNackedToTheSenderWithDE0003) {
  Message original = itk2Original();
  auto answer = answers_.negativeAnswer(original, DeadLetterCause::kUnroutable,
                                        "route not found for address urn:x");
  ASSERT_TRUE(answer.ok()) << answer.status().toString();
  ASSERT_TRUE(answer->has_value());
  const Message& nack = **answer;
  EXPECT_EQ(nack.header.kind, MessageKind::kInfrastructureAck);
  EXPECT_EQ(nack.header.addresses, std::vector<std::string>{original.header.sender_address});
  EXPECT_EQ(nack.header.acknowledged_tracking_id, original.header.tracking_id);
  EXPECT_FALSE(nack.header.ack_positive);
  EXPECT_EQ(nack.header.sender_address, identity_.sender_address);
  EXPECT_NE(nack.body->find("DE0003"), std::string::npos);
  EXPECT_NE(nack.body->find("route not found for address urn:x"), std::string::npos);
  EXPECT_EQ(nack.origin.transport, "router");
}

TEST_F(AnswersTest, AFailedItk2DeliveryIsNackedWithDE0001) {
  auto answer = answers_.negativeAnswer(itk2Original(), DeadLetterCause::kAttemptsExhausted,
                                        "gave up after 10 attempts: 503");
  ASSERT_TRUE(answer.ok());
  ASSERT_TRUE(answer->has_value());
  EXPECT_NE((*answer)->body->find("DE0001"), std::string::npos);
  EXPECT_NE((*answer)->body->find("could not be delivered: gave up after 10 attempts"),
            std::string::npos);
}

TEST_F(AnswersTest, NeverNacksAnAckNorAMessageWithoutSenderAddress) {
  auto nack = answers_.negativeAnswer(itk2Original(), DeadLetterCause::kUnroutable, "x");
  ASSERT_TRUE(nack.ok() && nack->has_value());
  auto of_ack = answers_.negativeAnswer(**nack, DeadLetterCause::kUnroutable, "x");
  ASSERT_TRUE(of_ack.ok());
  EXPECT_FALSE(of_ack->has_value());  // ITK2 §3.1: never NACK an ack

  Message anonymous = itk2Original();
  anonymous.header.sender_address.clear();
  auto none = answers_.negativeAnswer(anonymous, DeadLetterCause::kUnroutable, "x");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(AnswersTest, ADeadLetterIsMarkedNotifiedOnlyOnceItsNackIsAccepted) {
  DeadLetterNotice notice;
  notice.task.delivery_id = 3;
  notice.task.address = "urn:nhs-uk:addressing:ods:RHM";
  notice.task.cause = DeadLetterCause::kPermanentFailure;
  notice.task.last_error = "fault 1000";
  notice.message = std::make_shared<Message>(itk2Original());

  sink_.setOutcome(AcceptOutcome::busy(Status::unavailable("store down")));
  bool notified = false;
  answers_.onDeadLetter(notice, [&] { notified = true; });
  EXPECT_FALSE(notified);  // offered again when the engine restarts
  ASSERT_EQ(sink_.accepted().size(), 1u);

  sink_.setOutcome(AcceptOutcome::accepted(100));
  answers_.onDeadLetter(notice, [&] { notified = true; });
  EXPECT_TRUE(notified);
  auto sent = sink_.accepted();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[1].body->find("address urn:nhs-uk:addressing:ods:RHM: fault 1000"),
            std::string::npos);
}

TEST_F(AnswersTest, ADeadLetterThatIsItselfAnAckIsMarkedNotifiedWithoutAnswer) {
  auto nack = answers_.negativeAnswer(itk2Original(), DeadLetterCause::kUnroutable, "x");
  ASSERT_TRUE(nack.ok() && nack->has_value());
  DeadLetterNotice notice;
  notice.task.cause = DeadLetterCause::kUnroutable;
  notice.message = std::make_shared<Message>(**nack);
  bool notified = false;
  answers_.onDeadLetter(notice, [&] { notified = true; });
  EXPECT_TRUE(notified);
  EXPECT_TRUE(sink_.accepted().empty());
}

TEST_F(AnswersTest, TheRouterSendsTheInfackOnlyOnRoutesThatSaySo) {
  Message original = itk2Original();
  original.header.infack_requested = true;
  auto message = std::make_shared<Message>(original);
  answers_.onAccepted(message, AcceptOutcome::Kind::kAccepted);
  EXPECT_TRUE(sink_.accepted().empty());  // infrastructure_ack: endpoint

  useTable("infrastructure_ack: router");
  answers_.onAccepted(message, AcceptOutcome::Kind::kAccepted);
  answers_.onAccepted(message, AcceptOutcome::Kind::kDuplicate);  // re-acked, as CIAO does
  auto sent = sink_.accepted();
  ASSERT_EQ(sent.size(), 2u);
  for (const Message& ack : sent) {
    EXPECT_EQ(ack.header.kind, MessageKind::kInfrastructureAck);
    EXPECT_TRUE(ack.header.ack_positive);
    EXPECT_EQ(ack.header.acknowledged_tracking_id, original.header.tracking_id);
  }
}

TEST_F(AnswersTest, NoInfackWhenTheSenderDidNotAskForOne) {
  useTable("infrastructure_ack: router");
  answers_.onAccepted(std::make_shared<Message>(itk2Original()), AcceptOutcome::Kind::kAccepted);
  EXPECT_TRUE(sink_.accepted().empty());
}

TEST_F(AnswersTest, AnUnroutableItk3MessageGets20002OnTheAckWorkflow) {
  auto original = itk3Original();
  if (!original) GTEST_SKIP() << "the fixtures folder " << ITK_FIXTURES_DIR << " is absent";
  auto answer = answers_.negativeAnswer(*original, DeadLetterCause::kUnroutable, "no route");
  ASSERT_TRUE(answer.ok()) << answer.status().toString();
  ASSERT_TRUE(answer->has_value());
  const Message& r = **answer;
  EXPECT_EQ(r.header.kind, MessageKind::kItk3Response);
  EXPECT_EQ(r.header.acknowledged_tracking_id, original->header.tracking_id);
  EXPECT_FALSE(r.header.ack_positive);
  EXPECT_EQ(r.header.addresses, std::vector<std::string>{"MESHGP0001"});
  EXPECT_NE(r.body->find("\"20002\""), std::string::npos);
  const std::string* workflow = r.origin.attribute(itk3::kAttrMeshReplyWorkflow);
  ASSERT_NE(workflow, nullptr);
  EXPECT_EQ(*workflow, "GPFED_CONSULT_REPORT_ACK");
  // Sent from the mailbox the message came to.
  EXPECT_NE(r.body->find("X09HUB01"), std::string::npos);
}

TEST_F(AnswersTest, NoItk3AnswerWhenNoInfrastructureResponseWasRequested) {
  auto original = itk3Original();
  if (!original) GTEST_SKIP() << "the fixtures folder " << ITK_FIXTURES_DIR << " is absent";
  original->header.infack_requested = false;
  auto answer = answers_.negativeAnswer(*original, DeadLetterCause::kUnroutable, "no route");
  ASSERT_TRUE(answer.ok());
  EXPECT_FALSE(answer->has_value());
}

TEST_F(AnswersTest, AnItk3DuplicateIs20007ButATransportRedeliveryIsNot) {
  auto original = itk3Original();
  if (!original) GTEST_SKIP() << "the fixtures folder " << ITK_FIXTURES_DIR << " is absent";
  original->origin.transport_message_id = "MESH-1";
  AcceptRequest request;
  request.message = *original;
  std::promise<Result<AcceptResult>> stored;
  store_.accept(request, [&](Result<AcceptResult> r) { stored.set_value(std::move(r)); });
  auto result = stored.get_future().get();
  ASSERT_TRUE(result.ok());

  auto redelivered = std::make_shared<Message>(*original);
  redelivered->id = result->message_id;
  answers_.onAccepted(redelivered, AcceptOutcome::Kind::kDuplicate);
  EXPECT_TRUE(sink_.accepted().empty());

  auto resent = std::make_shared<Message>(*original);
  resent->id = result->message_id;
  resent->origin.transport_message_id = "MESH-2";
  answers_.onAccepted(resent, AcceptOutcome::Kind::kDuplicate);
  auto sent = sink_.accepted();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0].body->find("\"20007\""), std::string::npos);
}

// A reported failure's error starts with the peer's code ("EPL-153: ..."), which chooses the
// ITK3 code; the delivery's address, put before it in the diagnostics, must not hide it.
TEST_F(AnswersTest, AReportedFailureIsAnsweredWithThePeersCode) {
  auto original = itk3Original();
  if (!original) GTEST_SKIP() << "the fixtures folder " << ITK_FIXTURES_DIR << " is absent";
  auto codesFor = [&](const std::string& last_error) {
    DeadLetterNotice notice;
    notice.task.delivery_id = 5;
    notice.task.address = "X09HUB01";
    notice.task.cause = DeadLetterCause::kReportedFailure;
    notice.task.last_error = last_error;
    notice.message = std::make_shared<Message>(*original);
    bool notified = false;
    answers_.onDeadLetter(notice, [&] { notified = true; });
    EXPECT_TRUE(notified);
    auto sent = sink_.accepted();
    if (sent.empty()) return std::vector<std::string>{};
    EXPECT_NE(sent.back().body->find("address X09HUB01: " + last_error), std::string::npos);
    auto back = itk3::readMessageBundle(*sent.back().body);
    EXPECT_TRUE(back.ok()) << back.status().toString();
    return back.ok() ? back->responseCodes() : std::vector<std::string>{};
  };
  // MESH's GP look-up could not match the patient: Unrecognised Recipient Person.
  EXPECT_EQ(codesFor("EPL-153: NHS number not found"), std::vector<std::string>{"20001"});
  // Not collected (14), and the rest: Unrecognised Recipient Organisation.
  EXPECT_EQ(codesFor("14: Message not collected"), std::vector<std::string>{"20002"});
}

TEST_F(AnswersTest, AnItk3ResponseIsNeverAnswered) {
  auto original = itk3Original();
  if (!original) GTEST_SKIP() << "the fixtures folder " << ITK_FIXTURES_DIR << " is absent";
  auto response = answers_.negativeAnswer(*original, DeadLetterCause::kUnroutable, "no route");
  ASSERT_TRUE(response.ok() && response->has_value());
  auto of_response =
      answers_.negativeAnswer(**response, DeadLetterCause::kUnroutable, "no route");
  ASSERT_TRUE(of_response.ok());
  EXPECT_FALSE(of_response->has_value());  // ITK3 §2.4: never answer a response
}

}  // namespace
}  // namespace itk
