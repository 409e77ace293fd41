// ITK3 responses: the code table against the published CodeSystem and the §2.2 mapping, built
// responses read back by our own reader, the policy of §2.4, and responses about accepted and
// unreadable messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "itk/fhir/response.h"
#include "itk/xml/sax.h"
#include "itk/xml/text.h"
#include "support/temp_dir.h"

namespace itk::itk3 {
namespace {

namespace fs = std::filesystem;

// Reads code -> display from a FHIR CodeSystem (concept/code, concept/display).
class CodeSystemReader final : public xml::Handler {
 public:
  std::map<std::string, std::string> concepts;
  Status startElement(const xml::StartTag& tag) override {
    std::u16string_view v;
    bool has = tag.attributes.find(u"", u"value", &v);
    if (xml::equalsAscii(tag.local_name, "concept")) in_concept_ = true;
    if (in_concept_ && has && xml::equalsAscii(tag.local_name, "code")) code_ = xml::toUtf8(v);
    if (in_concept_ && has && xml::equalsAscii(tag.local_name, "display")) {
      concepts[code_] = xml::toUtf8(v);
    }
    return {};
  }
  Status endElement(const xml::EndTag& tag) override {
    if (xml::equalsAscii(tag.local_name, "concept")) in_concept_ = false;
    return {};
  }

 private:
  bool in_concept_ = false;
  std::string code_;
};

TEST(ResponseCodes, MatchThePublishedCodeSystem) {
  fs::path file =
      fs::path(ITK_FIXTURES_DIR) / "itk3/definitions/stu3-CodeSystem-ITK-ResponseCodes-1.xml";
  if (!fs::exists(file)) GTEST_SKIP() << "no fixture " << file;
  std::string bytes = test::readFile(file.string());
  CodeSystemReader reader;
  ASSERT_TRUE(xml::parse(bytes, reader).ok());
  std::set<std::string> table;
  for (const ResponseCodeInfo& row : responseCodes()) {
    if (row.withdrawn) {
      EXPECT_EQ(reader.concepts.count(std::string(row.code)), 0u) << row.code;
      continue;
    }
    table.insert(std::string(row.code));
    auto it = reader.concepts.find(std::string(row.code));
    ASSERT_NE(it, reader.concepts.end()) << row.code << " is not in the CodeSystem";
    EXPECT_EQ(row.display, it->second) << row.code;
  }
  EXPECT_EQ(table.size(), reader.concepts.size());
}

TEST(ResponseCodes, MappingFollowsSection2_2) {
  auto row = [](const char* code) {
    const ResponseCodeInfo* r = findResponseCode(code);
    EXPECT_NE(r, nullptr) << code;
    return r ? std::string(r->response_code) + "/" + std::string(r->severity) + "/" +
                   std::string(r->issue_code)
             : std::string();
  };
  for (int c = 10001; c <= 10010; ++c) {
    EXPECT_EQ(row(std::to_string(c).c_str()), "fatal-error/fatal/processing") << c;
  }
  for (const char* c : {"20001", "20002", "20003", "20010", "20011"}) {
    EXPECT_EQ(row(c), "fatal-error/fatal/not-found") << c;
  }
  for (const char* c : {"20004", "20005", "20012"}) EXPECT_EQ(row(c), "fatal-error/fatal/security");
  EXPECT_EQ(row("20006"), "fatal-error/fatal/invalid");
  EXPECT_EQ(row("20007"), "fatal-error/fatal/duplicate");
  EXPECT_EQ(row("20008"), "fatal-error/fatal/duplicate");
  EXPECT_EQ(row("20009"), "fatal-error/fatal/invalid");
  EXPECT_EQ(row("20013"), "ok/information/informational");
  EXPECT_EQ(row("20014"), "fatal-error/fatal/processing");
  EXPECT_EQ(row("20015"), "fatal-error/fatal/processing");
  for (const char* c : {"30001", "30004", "30005", "30006", "30008", "30009", "30010", "30011",
                        "30013", "30016", "30019"}) {
    EXPECT_EQ(row(c), "ok/information/informational") << c;
  }
  EXPECT_EQ(row("30002"), "fatal-error/fatal/not-found");
  EXPECT_EQ(row("30003"), "fatal-error/fatal/business-rule");
  for (const char* c :
       {"30007", "30012", "30017", "30018", "30020", "30021", "30022", "30023", "30024", "30025"}) {
    EXPECT_EQ(row(c), "fatal-error/warning/informational") << c;
  }
  EXPECT_EQ(row("30014"), "fatal-error/information/informational");
  EXPECT_EQ(row("30015"), "fatal-error/information/duplicate");
  // Positive exactly when response.code is ok; the level follows the first digit.
  for (const ResponseCodeInfo& r : responseCodes()) {
    EXPECT_EQ(r.positive, r.response_code == "ok") << r.code;
    EXPECT_EQ(r.level == ResponseLevel::kBusiness, r.code[0] == '3') << r.code;
  }
  EXPECT_EQ(findResponseCode("200001"), nullptr);  // the spec table's typo is not a code
  EXPECT_TRUE(findResponseCode("10006")->withdrawn);
}

Responder router() {
  return Responder{"ROUTER01", "X99", "Regional ITK Router"};
}

TimePoint at(const char* iso) {
  TimePoint t;
  EXPECT_TRUE(parseIsoDateTime(iso, &t));
  return t;
}

TEST(ResponseBuilder, EveryCodeBuildsAndReadsBackStrictly) {
  for (const ResponseCodeInfo& row : responseCodes()) {
    SCOPED_TRACE(std::string(row.code));
    ResponseSpec spec;
    spec.code = std::string(row.code);
    spec.acknowledged_id = "ea7221b8-3cc0-4b11-bc95-585b056b5428";
    spec.sender_reference = "846ebe66-5ff8-4499-bc57-a112d3d0daa3";
    spec.diagnostics = "a & b < c";
    spec.timestamp = at("2026-11-25T10:05:00Z");
    spec.ids = {"b1", "bi1", "h1", "o1", "oo1"};
    auto xml = buildResponse(spec, router());
    if (row.withdrawn) {
      EXPECT_FALSE(xml.ok());
      continue;
    }
    ASSERT_TRUE(xml.ok()) << xml.status().toString();
    ReadOptions strict;
    strict.strict = true;
    auto back = readMessageBundle(*xml, strict);
    ASSERT_TRUE(back.ok()) << back.status().toString() << "\n" << *xml;
    MessageHeader h = toMessageHeader(*back);
    EXPECT_EQ(h.kind, MessageKind::kItk3Response);
    EXPECT_EQ(h.interaction, "ITK008M");
    EXPECT_EQ(h.service, kResponseMessageDefinition);
    EXPECT_EQ(h.tracking_id, "h1");
    EXPECT_EQ(h.acknowledged_tracking_id, spec.acknowledged_id);
    EXPECT_EQ(h.ack_positive, row.positive);
    EXPECT_EQ(h.sender_address, "ROUTER01");
    EXPECT_EQ(h.audit_identity, "urn:nhs-uk:identity:ods:X99");
    EXPECT_FALSE(h.infack_requested);
    EXPECT_FALSE(h.busack_requested);
    const MessageBundle& b = *back;
    EXPECT_EQ(b.id, "b1");
    EXPECT_EQ(b.identifier.value, "bi1");
    EXPECT_EQ(b.header.timestamp, "2026-11-25T10:05:00Z");
    EXPECT_EQ(b.header.response->code, row.response_code);
    EXPECT_EQ(b.header.response->details_reference, "urn:uuid:oo1");
    EXPECT_EQ(b.header.focus_reference, "urn:uuid:oo1");
    EXPECT_EQ(b.header.handling.sender_reference, spec.sender_reference);
    EXPECT_EQ(b.header.handling.local_extension, std::optional<std::string>("None"));
    ASSERT_EQ(b.issues.size(), 1u);
    EXPECT_EQ(b.issues[0].severity, row.severity);
    EXPECT_EQ(b.issues[0].code, row.issue_code);
    EXPECT_EQ(b.issues[0].diagnostics, "a & b < c");
    ASSERT_EQ(b.issues[0].details.size(), 1u);
    EXPECT_EQ(b.issues[0].details[0].system, kResponseCodesSystem);
    EXPECT_EQ(b.issues[0].details[0].code, row.code);
    EXPECT_EQ(b.issues[0].details[0].display, row.display);
    ASSERT_EQ(b.entries.size(), 3u);
    EXPECT_EQ(b.entries[1].resource_type, "Organization");
    EXPECT_EQ(b.entries[1].profiles,
              std::vector<std::string>{std::string(kHeaderOrganizationProfile)});
    EXPECT_EQ(b.entries[1].name, "Regional ITK Router");
    EXPECT_EQ(b.entries[2].profiles,
              std::vector<std::string>{std::string(kResponseOperationOutcomeProfile)});
  }
}

TEST(ResponseBuilder, RefusesWhatCannotBeSent) {
  ResponseSpec spec;
  spec.code = "12345";
  EXPECT_FALSE(buildResponse(spec, router()).ok());
  spec.code = "20007";
  spec.acknowledged_id = "";
  EXPECT_FALSE(buildResponse(spec, router()).ok());
  spec.acknowledged_id = "x";
  EXPECT_FALSE(buildResponse(spec, Responder{}).ok());
  spec.sender_reference = std::string(256, 'r');
  EXPECT_FALSE(buildResponse(spec, router()).ok());
  spec.sender_reference = "None";
  auto fresh = buildResponse(spec, router());
  ASSERT_TRUE(fresh.ok());
  // Generated ids are fresh UUIDs: two builds differ.
  EXPECT_NE(*fresh, *buildResponse(spec, router()));
}

TEST(ResponseBuilder, MatchesTheTkwTemplateFixtureFieldByField) {
  fs::path file =
      fs::path(ITK_FIXTURES_DIR) / "itk3/responses/tkw-template-ITK008M-20013-success.xml";
  if (!fs::exists(file)) GTEST_SKIP() << "no fixture " << file;
  std::string bytes = test::readFile(file.string());
  auto golden = readMessageBundle(bytes);
  ASSERT_TRUE(golden.ok());
  ResponseSpec spec;
  spec.code = "20013";
  spec.acknowledged_id = golden->header.response->identifier;
  spec.sender_reference = *golden->header.handling.sender_reference;
  spec.timestamp = at("2026-11-25T10:05:00Z");
  auto ours = readMessageBundle(*buildResponse(spec, router()));
  ASSERT_TRUE(ours.ok());
  const auto& g = golden->header;
  const auto& o = ours->header;
  EXPECT_EQ(o.event.code, g.event.code);
  EXPECT_EQ(o.event.system, g.event.system);
  EXPECT_EQ(o.response->identifier, g.response->identifier);
  EXPECT_EQ(o.response->code, g.response->code);
  EXPECT_EQ(o.handling.bus_ack_requested, g.handling.bus_ack_requested);
  EXPECT_EQ(o.handling.inf_ack_requested, g.handling.inf_ack_requested);
  EXPECT_EQ(o.handling.message_definition, g.handling.message_definition);
  EXPECT_EQ(o.handling.sender_reference, g.handling.sender_reference);
  EXPECT_EQ(ours->issues[0].severity, golden->issues[0].severity);
  EXPECT_EQ(ours->issues[0].code, golden->issues[0].code);
  EXPECT_EQ(ours->responseCodes(), golden->responseCodes());
  EXPECT_EQ(ours->entries[2].profiles, golden->entries[2].profiles);
}

TEST(ResponsePolicy, Section2_4) {
  ResponseContext both;
  both.inf_ack_requested = true;
  both.bus_ack_requested = true;
  EXPECT_EQ(decideResponse(both, "20007"), ResponseDecision::kSend);
  EXPECT_EQ(decideResponse(both, "30001"), ResponseDecision::kSend);

  ResponseContext inf_only = both;
  inf_only.bus_ack_requested = false;
  EXPECT_EQ(decideResponse(inf_only, "20002"), ResponseDecision::kSend);
  EXPECT_EQ(decideResponse(inf_only, "30002"), ResponseDecision::kNotRequested);

  ResponseContext fire_and_forget;
  fire_and_forget.inf_ack_requested = false;
  fire_and_forget.bus_ack_requested = false;
  EXPECT_EQ(decideResponse(fire_and_forget, "20002"), ResponseDecision::kNotRequested);

  // Flags unknown (unreadable): respond once, by default.
  ResponseContext unknown;
  EXPECT_EQ(decideResponse(unknown, "10009"), ResponseDecision::kSend);
  unknown.responses_sent = 1;
  EXPECT_EQ(decideResponse(unknown, "10009"), ResponseDecision::kLimitReached);

  ResponseContext answered = both;
  answered.responses_sent = 1;
  EXPECT_EQ(decideResponse(answered, "30001"), ResponseDecision::kSend);
  answered.responses_sent = 2;
  EXPECT_EQ(decideResponse(answered, "30001"), ResponseDecision::kLimitReached);
  answered.responses_sent = 1;
  answered.negative_sent = true;
  EXPECT_EQ(decideResponse(answered, "30001"), ResponseDecision::kAfterNegative);

  ResponseContext a_response = both;
  a_response.is_response = true;
  EXPECT_EQ(decideResponse(a_response, "10009"), ResponseDecision::kNeverAnswerAResponse);
  EXPECT_EQ(decideResponse(both, "10006"), ResponseDecision::kUnknownCode);
  EXPECT_EQ(decideResponse(both, "ok"), ResponseDecision::kUnknownCode);
  EXPECT_EQ(decisionName(ResponseDecision::kAfterNegative), "after_negative");
}

TEST(ResponseRouting, AckWorkflows) {
  EXPECT_EQ(ackWorkflow("GPFED_CONSULT_REPORT"), "GPFED_CONSULT_REPORT_ACK");
  EXPECT_EQ(ackWorkflow("DIGMED_FLU_VAC_ACK"), "DIGMED_FLU_VAC_ACK");
  EXPECT_TRUE(isAckWorkflow("TOC_FHIR_IP_DISCH_ACK"));
  EXPECT_FALSE(isAckWorkflow("TOC_FHIR_IP_DISCH"));
  EXPECT_EQ(deliveryFailureCode("EPL-153"), "20001");
  EXPECT_EQ(deliveryFailureCode("12"), "20002");
  EXPECT_EQ(deliveryFailureCode(), "20002");
}

TEST(ResponseRouting, RespondToAnAcceptedMessageEchoesAndGoesBack) {
  fs::path file = fs::path(ITK_FIXTURES_DIR) / "itk3/messages/gpconnect-consultation_report.xml";
  if (!fs::exists(file)) GTEST_SKIP() << "no fixture " << file;
  auto original = decodeMessage(std::make_shared<const std::string>(test::readFile(file.string())));
  ASSERT_TRUE(original.ok());
  original->origin.attributes = {{"mesh.from", "MESHGP0001"},
                                 {"mesh.workflow", "GPFED_CONSULT_REPORT"}};
  auto r = respondTo(*original, "20007", router(), at("2026-11-25T10:00:30Z"), "duplicate");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->header.kind, MessageKind::kItk3Response);
  EXPECT_EQ(r->header.acknowledged_tracking_id, "ea7221b8-3cc0-4b11-bc95-585b056b5428");
  EXPECT_FALSE(r->header.ack_positive);
  EXPECT_EQ(r->header.addresses, std::vector<std::string>{"MESHGP0001"});
  ASSERT_NE(r->origin.attribute(kAttrMeshReplyWorkflow), nullptr);
  EXPECT_EQ(*r->origin.attribute(kAttrMeshReplyWorkflow), "GPFED_CONSULT_REPORT_ACK");
  auto back = readMessageBundle(*r->body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->header.handling.sender_reference,
            std::optional<std::string>("846ebe66-5ff8-4499-bc57-a112d3d0daa3"));
  EXPECT_EQ(back->responseCodes(), std::vector<std::string>{"20007"});

  // Without transport attributes: back to source.endpoint, no workflow to reply on.
  original->origin.attributes.clear();
  auto plain = respondTo(*original, "20002", router(), at("2026-11-25T10:00:30Z"));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->header.addresses, std::vector<std::string>{"MESHGP0001"});
  EXPECT_EQ(plain->origin.attribute(kAttrMeshReplyWorkflow), nullptr);
}

TEST(ResponseRouting, RespondToUnreadable) {
  ReadFailure failure;
  std::string garbage = "<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"message\">";
  ASSERT_FALSE(readMessageBundle(garbage, {}, &failure).ok());
  Origin from;
  from.transport = "mesh";
  from.attributes = {{"mesh.from", "SENDER01"}, {"mesh.workflow", "TOC_FHIR_IP_DISCH"}};
  auto r = respondToUnreadable(failure, from, router(), at("2026-11-25T10:00:30Z"));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->header.acknowledged_tracking_id, kUnreadableId);
  EXPECT_EQ(r->header.addresses, std::vector<std::string>{"SENDER01"});
  EXPECT_EQ(*r->origin.attribute(kAttrMeshReplyWorkflow), "TOC_FHIR_IP_DISCH_ACK");
  auto back = readMessageBundle(*r->body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->responseCodes(), std::vector<std::string>{"10009"});
  EXPECT_EQ(back->header.handling.sender_reference, std::optional<std::string>("None"));

  // A header fault answers with its own code.
  ReadFailure header_fault;
  std::string no_source =
      "<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"message\"/><entry><resource>"
      "<MessageHeader><id value=\"m-1\"/><event><code value=\"ITK007C\"/></event>"
      "</MessageHeader></resource></entry></Bundle>";
  ASSERT_FALSE(readMessageBundle(no_source, {}, &header_fault).ok());
  auto h = respondToUnreadable(header_fault, from, router(), at("2026-11-25T10:00:30Z"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->header.acknowledged_tracking_id, "m-1");
  EXPECT_EQ(readMessageBundle(*h->body)->responseCodes(), std::vector<std::string>{"20006"});
}

}  // namespace
}  // namespace itk::itk3
