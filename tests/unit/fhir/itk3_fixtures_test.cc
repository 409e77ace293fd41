// Every file under fixtures/itk3 is read as fixtures/MANIFEST.md says. The expectations are
// written out from the MANIFEST rows (and, for receivers and senders, from the files as read by an
// independent parser, python's ElementTree); a file that appears without a row fails the test.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "itk/fhir/itk3.h"
#include "support/temp_dir.h"

namespace itk::itk3 {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOfficialMh = "03788f28-d6c9-4893-8f8a-68f8f0ad1f06";
constexpr const char* kGpcMh27 = "ea7221b8-3cc0-4b11-bc95-585b056b5427";
constexpr const char* kEfaf = "efaf5984-3473-48a7-ae41-bbbb7314fbde";
constexpr const char* kCf5e = "cf5e5969-2a93-400f-bf6f-709f101bcf87";
constexpr const char* kShared = "a4409d7c-b613-477c-b623-87e60406c2f0";  // reused by ~20 examples
constexpr const char* kImmunization =
    "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-DM-Immunization-MessageDefinition-1";
constexpr const char* kResponseInstance =
    "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-Response-MessageDefinition-Instance-1";
constexpr const char* kResponseDef =
    "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-Response-MessageDefinition-1";

struct Expect {
  // Lenient (default) reading: "" accepts, else the ITK3 response code it is refused with.
  std::string error;
  // Strict reading: "" accepts, else the code.
  std::string strict_error;
  MessageKind kind = MessageKind::kBusiness;
  std::string tracking_id;
  std::string event;
  std::string service;
  std::string source_endpoint;
  std::string address;  // the routing address from the receiver; "" when none
  bool infack = false;
  bool busack = false;
  std::string sender_reference;  // "" when absent
  std::string acknowledged;      // responses
  bool positive = true;          // responses
  std::vector<std::string> misplaced;
  bool priority = false;
};

Expect message(std::string id, std::string event, std::string service, std::string source,
               std::string address, bool inf, bool bus, std::string sender_ref) {
  Expect e;
  e.tracking_id = std::move(id);
  e.event = std::move(event);
  e.service = std::move(service);
  e.source_endpoint = std::move(source);
  e.address = std::move(address);
  e.infack = inf;
  e.busack = bus;
  e.sender_reference = std::move(sender_ref);
  return e;
}

Expect response(std::string acked, bool positive, std::string service = kResponseInstance,
                std::string sender_ref = "None") {
  Expect e;
  e.kind = MessageKind::kItk3Response;
  e.event = "ITK008M";
  e.service = std::move(service);
  e.source_endpoint = "NOROT003";
  e.acknowledged = std::move(acked);
  e.positive = positive;
  e.sender_reference = std::move(sender_ref);
  return e;
}

Expect refused(std::string code) {
  Expect e;
  e.error = code;
  e.strict_error = code;
  return e;
}

std::string ods(const char* code) {
  return std::string(kOdsAddressPrefix) + code;
}

std::map<std::string, Expect> expectations() {
  std::map<std::string, Expect> t;
  // Conformance resources, not messages: their root is not a Bundle, so nothing ITK3 can be read.
  for (const char* f :
       {"gpconnect-ITK-GPConnectSendDocument-MessageDefinition-1.xml",
        "stu3-CodeSystem-ITK-MessageEvent-2.xml", "stu3-CodeSystem-ITK-RecipientType-1.xml",
        "stu3-CodeSystem-ITK-ResponseCodes-1.xml", "stu3-Extension-ITK-MessageHandling-2.xml",
        "stu3-ITK-DM-EmergencySupply-MessageDefinition-1.xml",
        "stu3-ITK-DM-Immunization-MessageDefinition-1.xml", "stu3-ITK-Message-Bundle-1.xml",
        "stu3-ITK-MessageHeader-2.xml", "stu3-ITK-Response-MessageDefinition-1.xml",
        "stu3-ITK-Response-OperationOutcome-1.xml", "stu3-ValueSet-ITK-MessageEvent-2.xml",
        "stu3-ValueSet-ITK-RecipientType-1.xml", "stu3-ValueSet-ITK-ResponseCodes-1.xml"}) {
    t["definitions/" + std::string(f)] = refused("10009");
  }

  // VALID Digital Medicines messages: all six keys, both acks requested.
  t["messages/dm-engage_hettie_winters_imms.xml"] =
      message("cd836dc4-2e34-11eb-adc1-0242ac120002", "ITK009D", kImmunization, "NOROT003",
              ods("A83627"), true, true, "None");
  t["messages/dm-engage_jack_dawkins_imms.xml"] =
      message("ede9f97e-2d81-11eb-adc1-0242ac120002", "ITK009D", kImmunization, "NOROT003",
              ods("A83627"), true, true, "None");
  // Its receiver reference names no entry of the Bundle: no address from the message.
  t["messages/dm-engage_jack_smith_mirc.xml"] =
      message("c8ecc1ed-ed39-457e-9571-cd9911d26f84", "ITK013D",
              "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-DM-MIRC-MessageDefinition-1",
              "NOROT003", "", true, true, "None");
  t["messages/dm-engage_julie_jones_imms.xml"] =
      message(kShared, "ITK009D", kImmunization, "NOROT003", ods("RY6"), true, true, "None");
  // MALFORMED (<p> closed by </td>): 10009; checked further in MalformedKeepsTheHeader.
  t["messages/dm-engage_william_smith_meds-MALFORMED.xml"] = refused("10009");
  // GP Connect Send Document: no receiver (MESH GPPROVIDER routing).
  t["messages/gpconnect-consultation_report.xml"] = message(
      "ea7221b8-3cc0-4b11-bc95-585b056b5428", "ITK007C",
      "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-GPConnectSendDocument-MessageDefinition-1",
      "MESHGP0001", "", true, true, "846ebe66-5ff8-4499-bc57-a112d3d0daa3");
  // Pathology: MessageDefinition absent, SenderReference/LocalExtension misplaced as siblings.
  // Lenient accepts by reading the siblings; strict answers 10001.
  for (auto [f, receiver] :
       {std::pair{"pathology-ITK-Pathology-FBC-Bundle-Example-1.xml", "D82010"},
        std::pair{"pathology-ITK-Pathology-FBC-Urine-Example-1.xml", "D82010"},
        std::pair{"pathology-NP-Single-Test-Bundle-Example-1.xml", "D82015"}}) {
    Expect e = message(kShared, "ITK012M", "", "NOROT003", ods(receiver), true, true, "None");
    e.strict_error = "10001";
    e.misplaced = {"SenderReference", "LocalExtension"};
    t["messages/" + std::string(f)] = e;
  }
  // EMS: sender is a directory URL, source.endpoint not a mailbox id, no acks: accepted.
  t["messages/stu3-ITK-EMS-PDSBirthNotification-MessageBundle-Example-1.xml"] =
      message("24771db3-9999-4f4d-83ac-1b60ad6f4a15", "ITK011M",
              "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-EMS-MessageDefinition-1",
              "urn:nhs:addressing:477121000324", "", false, false, "traceID");
  // Payload removed (empty focus Bundle): a header-only router accepts and forwards.
  t["messages/stu3-ITK-SendPayload-Payload-Removed-Example-1.xml"] = message(
      kShared, "ITK003D", "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-EDIS-MessageDefinition-1",
      "NOROT003", ods("RY6"), true, true, "None");
  // TKW .dat: withdrawn Priority (tolerated), LocalExtension as valueReference, no focus
  // (tolerated when lenient; strict refuses it as a header fault).
  {
    Expect e = message("ca5b12de-3d58-478f-90af-91d5834e1f44", "ITK009D", kImmunization,
                       "1.2.826.0.1285.0.2.0.107", ods("G1234"), true, true,
                       "urn:uuid:8b62d280-ec6e-4e5d-8c83-2a7f1a3d1706");
    e.priority = true;
    e.strict_error = "20006";
    t["messages/tkw-DigitalMedicinesTest.dat"] = e;
  }

  // Official responses: classified by the ITK code (20014/20015 say "ok" but are negative).
  const std::vector<std::tuple<const char*, const char*, bool>> official = {
      {"10001", kOfficialMh, false}, {"10002", kOfficialMh, false},
      {"10003", kGpcMh27, false},    {"10004", kGpcMh27, false},
      {"10005", kGpcMh27, false},    {"10007", kGpcMh27, false},
      {"10008", kGpcMh27, false},    {"10009", "UNREADABLE-IN-ORIGINAL-MESSAGE", false},
      {"10010", kOfficialMh, false}, {"20001", kOfficialMh, false},
      {"20002", kOfficialMh, false}, {"20003", kOfficialMh, false},
      {"20004", kOfficialMh, false}, {"20005", kOfficialMh, false},
      {"20006", kEfaf, false},       {"20007", kOfficialMh, false},
      {"20008", kOfficialMh, false}, {"20009", kEfaf, false},
      {"20010", kEfaf, false},       {"20011", kEfaf, false},
      {"20012", kOfficialMh, false}, {"20013", kCf5e, true},
      {"20014", kCf5e, false},       {"20015", "e0f43cb6-933e-423d-a200-a68e94bc7d1f", false},
      {"30001", kCf5e, true},        {"30002", kGpcMh27, false},
      {"30003", kGpcMh27, false},    {"30004", "8ab41a86-9ef8-401f-9f4f-de038de09f6b", true}};
  for (const auto& [code, acked, positive] : official) {
    Expect e =
        response(acked, positive, std::string(code) == "30004" ? kResponseDef : kResponseInstance);
    // Business responses request an infrastructure response back (Full Acknowledgement).
    e.infack = code[0] == '3';
    t["responses/official/ITK-Response-" + std::string(code) + "-Example-1.xml"] = e;
  }
  // No handling extension at all: tolerant readers classify it, strict ones refuse it.
  {
    Expect e = response(kEfaf, false, "", "");
    e.strict_error = "10001";
    t["responses/official/ITK-Response-20009-Example-2.xml"] = e;
  }
  {
    Expect e = response("ede9f97e-2d81-11eb-adc1-0242ac120002", false, kResponseDef);
    e.source_endpoint = "urn:nhs-uk:addressing:ods:ITKTestHarness";
    t["responses/tkw-template-ITK008M-20009-fatal.xml"] = e;
  }
  {
    Expect e = response("ea7221b8-3cc0-4b11-bc95-585b056b5428", true, kResponseDef,
                        "846ebe66-5ff8-4499-bc57-a112d3d0daa3");
    e.source_endpoint = "urn:nhs-uk:addressing:ods:ITKTestHarness";
    t["responses/tkw-template-ITK008M-20013-success.xml"] = e;
  }
  return t;
}

fs::path fixturesDir() {
  return fs::path(ITK_FIXTURES_DIR) / "itk3";
}

void checkAccepted(const std::string& name, const Expect& e, const MessageBundle& b) {
  SCOPED_TRACE(name);
  MessageHeader h = toMessageHeader(b);
  EXPECT_EQ(h.format, MessageFormat::kItk3);
  EXPECT_EQ(h.kind, e.kind);
  EXPECT_EQ(h.interaction, e.event);
  EXPECT_EQ(h.service, e.service);
  EXPECT_EQ(h.sender_address, e.source_endpoint);
  EXPECT_EQ(b.header.handling.sender_reference.value_or(""), e.sender_reference);
  if (e.kind == MessageKind::kItk3Response) {
    EXPECT_EQ(h.acknowledged_tracking_id, e.acknowledged);
    EXPECT_EQ(h.ack_positive, e.positive);
    EXPECT_EQ(h.infack_requested, e.infack);
    EXPECT_FALSE(h.busack_requested);
    EXPECT_TRUE(h.addresses.empty());
    ASSERT_FALSE(b.responseCodes().empty());
  } else {
    EXPECT_EQ(h.tracking_id, e.tracking_id);
    EXPECT_EQ(h.infack_requested, e.infack);
    EXPECT_EQ(h.busack_requested, e.busack);
    if (e.address.empty()) {
      EXPECT_TRUE(h.addresses.empty());
    } else {
      EXPECT_EQ(h.addresses, std::vector<std::string>{e.address});
    }
    EXPECT_EQ(b.header.handling.misplaced, e.misplaced);
    EXPECT_EQ(b.header.handling.priority.has_value(), e.priority);
    EXPECT_TRUE(b.header.handling.present);
  }
}

TEST(Itk3Fixtures, EveryFileReadsAsTheManifestSays) {
  if (!fs::exists(fixturesDir())) GTEST_SKIP() << "no fixtures at " << fixturesDir();
  auto table = expectations();
  std::set<std::string> seen;
  for (const auto& entry : fs::recursive_directory_iterator(fixturesDir())) {
    if (!entry.is_regular_file()) continue;
    std::string name = fs::relative(entry.path(), fixturesDir()).generic_string();
    auto it = table.find(name);
    ASSERT_NE(it, table.end()) << "fixture itk3/" << name
                               << " has no expectation: add its MANIFEST row to this table";
    seen.insert(name);
    const Expect& e = it->second;
    std::string bytes = test::readFile(entry.path().string());
    for (bool strict : {false, true}) {
      SCOPED_TRACE(name + (strict ? " (strict)" : " (lenient)"));
      ReadOptions options;
      options.strict = strict;
      auto read = readMessageBundle(bytes, options);
      const std::string& want = strict ? e.strict_error : e.error;
      if (want.empty()) {
        ASSERT_TRUE(read.ok()) << read.status().toString();
        checkAccepted(name, e, *read);
      } else {
        ASSERT_FALSE(read.ok());
        EXPECT_EQ(read.status().code(), Code::kInvalid);
        EXPECT_EQ(read.status().vocabularyCode(), want) << read.status().toString();
        EXPECT_EQ(read.status().toolkitCode(), ToolkitCode::kInvalidMessage);
      }
    }
  }
  for (const auto& [name, e] : table) {
    EXPECT_TRUE(seen.count(name)) << "expected fixture itk3/" << name << " is missing";
  }
}

TEST(Itk3Fixtures, MalformedKeepsTheHeaderForThe10009Response) {
  fs::path file = fixturesDir() / "messages/dm-engage_william_smith_meds-MALFORMED.xml";
  if (!fs::exists(file)) GTEST_SKIP() << "no fixture " << file;
  std::string bytes = test::readFile(file.string());
  ReadFailure failure;
  auto read = readMessageBundle(bytes, {}, &failure);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(failure.status.vocabularyCode(), "10009");
  // The MessageHeader precedes the broken payload, so its id is known and a 10009 response
  // can be correlated; both acks were requested.
  EXPECT_TRUE(failure.header_complete);
  EXPECT_EQ(failure.acknowledgedId(), kShared);
  EXPECT_EQ(failure.source_endpoint, "NOROT003");
  EXPECT_EQ(failure.inf_ack_requested, std::optional<bool>(true));
  EXPECT_EQ(failure.sender_reference, std::optional<std::string>("None"));
  EXPECT_FALSE(failure.is_response);
}

TEST(Itk3Fixtures, GpConnectHeaderEntriesResolve) {
  fs::path file = fixturesDir() / "messages/gpconnect-consultation_report.xml";
  if (!fs::exists(file)) GTEST_SKIP() << "no fixture " << file;
  std::string bytes = test::readFile(file.string());
  auto read = readMessageBundle(bytes);
  ASSERT_TRUE(read.ok()) << read.status().toString();
  EXPECT_EQ(read->id, "d12dc439-ca5c-4177-bb70-4fece88edab0");
  EXPECT_EQ(read->type, "message");
  EXPECT_EQ(read->senderOds(), "GP0001");
  EXPECT_EQ(read->receiverOds(), "");
  EXPECT_EQ(toMessageHeader(*read).audit_identity, "urn:nhs-uk:identity:ods:GP0001");
  EXPECT_EQ(read->header.focus_reference, "urn:uuid:70c35c4a-65f4-4a03-bcf7-d1041ab999fd");
  ASSERT_TRUE(read->header.handling.recipient_type);
  EXPECT_EQ(read->header.handling.recipient_type->code, "FA");
  EXPECT_EQ(read->header.handling.local_extension,
            std::optional<std::string>("SendDocument-ConsultationSummary"));
  // The nested document Bundle's entries are payload: only the three top-level entries count.
  EXPECT_EQ(read->entries.size(), 3u);
  EXPECT_TRUE(read->tolerated.empty());
}

TEST(Itk3Fixtures, EmsDirectorySenderAndTkwLocalExtensionReference) {
  fs::path ems =
      fixturesDir() / "messages/stu3-ITK-EMS-PDSBirthNotification-MessageBundle-Example-1.xml";
  fs::path tkw = fixturesDir() / "messages/tkw-DigitalMedicinesTest.dat";
  if (!fs::exists(ems) || !fs::exists(tkw)) GTEST_SKIP() << "fixtures absent";
  std::string ems_bytes = test::readFile(ems.string());
  auto e = readMessageBundle(ems_bytes);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->senderOds(), "X26");
  // The nested EMS Bundle has its own MessageHeader: only the outer one is the ITK3 header.
  EXPECT_EQ(e->header.id, "24771db3-9999-4f4d-83ac-1b60ad6f4a15");
  std::string tkw_bytes = test::readFile(tkw.string());
  auto t = readMessageBundle(tkw_bytes);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->header.handling.local_extension,
            std::optional<std::string>("urn:uuid:f9a9b89d-6090-4551-afa7-388c856e4935"));
  ASSERT_TRUE(t->header.handling.priority);
  EXPECT_EQ(t->header.handling.priority->code, "routine");
  EXPECT_FALSE(t->tolerated.empty());
}

}  // namespace
}  // namespace itk::itk3
