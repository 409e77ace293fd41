// One test per rule of spec/itk2.md §1.3 (TKW GEN_validate_DistributionEnvelope), each asserting
// the toolkit code and the DE code the rule reports:
//   rule 1 trackingid upper-case UUID ............................ 1000 DE0005
//   rule 2 manifest/@count = items ............................... 1000 DE0006
//   rule 3 payloads/@count = payloads ............................ 1000 DE0011
//   rule 4 payloads/@count = manifest/@count ..................... 1000 DE0011
//   rule 5 manifest item ids: form, match a payload, unique ...... 1000 DE0007
//          payload ids: form, NCName, unique ..................... 1000 DE0012
//   rule 6 mimetype text/xml (text/plain for PH services) ........ 1000 DE0007
//   rule 7 senderAddress urn:nhs-uk:addressing:... ............... 1000 DE0008
//   rule 8 auditIdentity (COR-DEH-03/04) ......................... 1000 DE0004
//   rule 9 handling specifications ............................... 1000 DE0009 / DE0010
//   §1.5   address type OIDs ..................................... 1000 DE0003 / DE0008
//   §1.4   encrypted payload is xenc:EncryptedData ............... 1000 DE0012
// (Rule 10, the schema, is in reader_test.cc; rule 11, the SOAP cross-checks, in
// soap_checks_test.cc.)
#include <gtest/gtest.h>

#include "itk/envelope/distribution_envelope.h"
#include "itk/envelope/reader.h"
#include "test_messages.h"

namespace itk::itk2 {
namespace {

using testing::expectRefused;
using testing::readOk;
using testing::replaced;
using testing::validDe;

constexpr auto k1000 = ToolkitCode::kInvalidMessage;

Status rules(const std::string& de, DeRules which = DeRules::kRequest) {
  ItkDocument doc = readOk(de);
  return doc.de ? validateDistributionEnvelope(*doc.de, which) : Status::internal("no DE");
}

std::string withPayloadId(std::string de, std::string_view id) {
  std::string old(testing::kPayloadId);
  de = replaced(de, "id=\"" + old + "\" mimetype", "id=\"" + std::string(id) + "\" mimetype");
  return replaced(de, "<itk:payload id=\"" + old + "\"",
                  "<itk:payload id=\"" + std::string(id) + "\"");
}

TEST(DeRulesTest, ValidEnvelopePasses) {
  EXPECT_TRUE(rules(validDe()).ok());
}

TEST(DeRulesTest, Rule1LowerCaseTrackingIdIsDe0005) {
  expectRefused(
      rules(replaced(validDe(), testing::kTrackingId, "217d1168-7f0b-4f31-a0a9-5b030e545fae")),
      k1000, "DE0005");
}

TEST(DeRulesTest, Rule1TrackingIdNotAUuidIsDe0005) {
  expectRefused(
      rules(replaced(validDe(), testing::kTrackingId, "uuid_217D1168-7F0B-4F31-A0A9-5B030E545FAE")),
      k1000, "DE0005");
}

TEST(DeRulesTest, Rule2ManifestCountMismatchIsDe0006) {
  Status s = rules(replaced(validDe(), "<itk:manifest count=\"1\">", "<itk:manifest count=\"2\">"));
  expectRefused(s, k1000, "DE0006");
  EXPECT_EQ(s.message(),
            "itk:manifest/@count (2) does not equal the number of itk:manifestitem elements (1)");
}

TEST(DeRulesTest, Rule3PayloadsCountMismatchIsDe0011) {
  std::string de = replaced(validDe(), "<itk:payloads count=\"1\">", "<itk:payloads count=\"2\">");
  expectRefused(rules(de), k1000, "DE0011");
}

TEST(DeRulesTest, Rule4PayloadsCountDiffersFromManifestCountIsDe0011) {
  // Two manifest items and one payload: manifest and payloads each match their own count.
  std::string de =
      replaced(validDe(), "<itk:manifest count=\"1\">",
               "<itk:manifest count=\"2\"><itk:manifestitem "
               "id=\"uuid_A1B2C3D4-0000-1111-2222-333344445555\" mimetype=\"text/xml\"/>");
  Status s = rules(de);
  expectRefused(s, k1000, "DE0011");
  EXPECT_EQ(s.message(), "itk:payloads/@count (1) does not equal itk:manifest/@count (2)");
}

TEST(DeRulesTest, Rule5ManifestIdMatchingNoPayloadIsDe0007) {
  // OITK BadProfileDE.xml: manifest uuid_808A967-... against payload uuid_0808A967-...
  std::string de = replaced(validDe(), "id=\"uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5\" mimetype",
                            "id=\"uuid_57B3E02C-BF35-42DB-BD14-7B2E462D06D5\" mimetype");
  Status s = rules(de);
  expectRefused(s, k1000, "DE0007");
  EXPECT_NE(s.message().find("matches no payload id"), std::string::npos);
}

TEST(DeRulesTest, Rule5ManifestIdNotPrefixedUuidIsDe0007) {
  std::string de = replaced(validDe(), "id=\"uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5\" mimetype",
                            "id=\"uuid_808A967-BF35-42DB-BD14-7B2E462D06D5\" mimetype");
  expectRefused(rules(de), k1000, "DE0007");
}

TEST(DeRulesTest, Rule5PayloadIdNotPrefixedUuidIsDe0012) {
  expectRefused(rules(withPayloadId(validDe(), "payload-one")), k1000, "DE0012");
}

TEST(DeRulesTest, Rule5PayloadIdWithLowerCaseUuidIsDe0012) {
  expectRefused(rules(withPayloadId(validDe(), "uuid_57b3e02b-bf35-42db-bd14-7b2e462d06d5")), k1000,
                "DE0012");
}

TEST(DeRulesTest, Rule10PayloadIdStartingWithADigitIsNotAnNcName) {
  // Matches TKW's id pattern (empty prefix) but xs:ID needs an NCName (spec §1.3).
  expectRefused(rules(withPayloadId(validDe(), "57B3E02B-BF35-42DB-BD14-7B2E462D06D5")), k1000,
                "DE0012");
}

TEST(DeRulesTest, PayloadIdStartingWithALetterNeedsNoPrefix) {
  EXPECT_TRUE(rules(withPayloadId(validDe(), "D4059820-1ACB-400A-B61D-A0A900A3D11F")).ok());
}

TEST(DeRulesTest, Rule6MimetypeMustBeTextXmlIsDe0007) {
  expectRefused(rules(replaced(validDe(), "mimetype=\"text/xml\"", "mimetype=\"application/pdf\"")),
                k1000, "DE0007");
}

TEST(DeRulesTest, Rule6MimetypeIsCaseInsensitive) {
  EXPECT_TRUE(rules(replaced(validDe(), "mimetype=\"text/xml\"", "mimetype=\"TEXT/XML\"")).ok());
}

TEST(DeRulesTest, Rule6PipeAndHatServiceNeedsTextPlain) {
  std::string de = replaced(validDe(), "urn:nhs-itk:services:201005:SendCDADocument-v2-0",
                            "urn:nhs-itk:services:201005:transferPatientUpdateMasterPH-v1-0");
  expectRefused(rules(de), k1000, "DE0007");
  std::string plain = replaced(de, "mimetype=\"text/xml\"", "mimetype=\"text/plain\"");
  plain = replaced(plain,
                   "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id "
                   "root=\"D4059820-1ACB-400A-B61D-A0A900A3D11F\"/><title>Ambulance &amp; Service "
                   "Report</title></ClinicalDocument>",
                   "MSH|^~\\&amp;|");
  EXPECT_TRUE(rules(plain).ok());
}

TEST(DeRulesTest, Rule6IsNotAppliedToSendDocument) {
  std::string de = replaced(validDe(), "urn:nhs-itk:services:201005:SendCDADocument-v2-0",
                            "urn:nhs-itk:services:201005:SendDocument-v1-0");
  EXPECT_TRUE(rules(replaced(de, "mimetype=\"text/xml\"", "mimetype=\"application/pdf\"")).ok());
}

TEST(DeRulesTest, Rule7SenderAddressFormIsDe0008) {
  // The SMSP fixture's typo.
  std::string de = replaced(validDe(), "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987",
                            "urn:nhs-uk:addrssing:ods:INHC:SMSP");
  Status s = rules(de);
  expectRefused(s, k1000, "DE0008");
  EXPECT_NE(s.message().find("urn:nhs-uk:addrssing:ods:INHC:SMSP"), std::string::npos);
}

TEST(DeRulesTest, Rule7IsNotAppliedToARelayedResponse) {
  std::string de = replaced(validDe(), "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987",
                            "urn:nhs-uk:addrssing:ods:INHC:SMSP");
  EXPECT_TRUE(rules(de, DeRules::kResponse).ok());
}

TEST(DeRulesTest, Rule8MissingAuditIdentityIsDe0004) {
  expectRefused(
      rules(replaced(
          validDe(),
          "<itk:auditIdentity><itk:id uri=\"urn:nhs-uk:identity:ods:XZ901\"/></itk:auditIdentity>",
          "")),
      k1000, "DE0004");
}

TEST(DeRulesTest, Rule8UntypedNonToolkitIdentityIsDe0004) {
  // TKW autotest ATM_Authorisation: auditIdentity uri "INVALID".
  expectRefused(rules(replaced(validDe(), "urn:nhs-uk:identity:ods:XZ901", "INVALID")), k1000,
                "DE0004");
}

TEST(DeRulesTest, Rule8ToolkitIdentityNeedsTwoTokens) {
  expectRefused(
      rules(replaced(validDe(), "urn:nhs-uk:identity:ods:XZ901", "urn:nhs-uk:identity:ods")), k1000,
      "DE0004");
  expectRefused(
      rules(replaced(validDe(), "urn:nhs-uk:identity:ods:XZ901", "urn:nhs-uk:identity:ods::X")),
      k1000, "DE0004");
}

TEST(DeRulesTest, Rule8ToolkitIdentityTypeMustBeTheDefault) {
  std::string id = "<itk:id uri=\"urn:nhs-uk:identity:ods:XZ901\"/>";
  expectRefused(
      rules(replaced(
          validDe(), id,
          "<itk:id type=\"1.2.826.0.1285.0.2.0.65\" uri=\"urn:nhs-uk:identity:ods:XZ901\"/>")),
      k1000, "DE0004");
  EXPECT_TRUE(rules(replaced(validDe(), id,
                             "<itk:id type=\"2.16.840.1.113883.2.1.3.2.4.18.27\" "
                             "uri=\"urn:nhs-uk:identity:ods:XZ901\"/>"))
                  .ok());
}

TEST(DeRulesTest, Rule8NonToolkitIdentityNeedsANonDefaultOid) {
  std::string id = "<itk:id uri=\"urn:nhs-uk:identity:ods:XZ901\"/>";
  EXPECT_TRUE(rules(replaced(validDe(), id,
                             "<itk:id type=\"1.2.826.0.1285.0.2.0.65\" uri=\"687134534015\"/>"))
                  .ok());
  expectRefused(
      rules(replaced(validDe(), id,
                     "<itk:id type=\"2.16.840.1.113883.2.1.3.2.4.18.27\" uri=\"687134534015\"/>")),
      k1000, "DE0004");
  expectRefused(rules(replaced(validDe(), id, "<itk:id type=\"spine-uid\" uri=\"687134534015\"/>")),
                k1000, "DE0004");
}

TEST(DeRulesTest, Rule9InteractionMustBeAUriIsDe0010) {
  expectRefused(
      rules(replaced(validDe(),
                     "urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0",
                     "primary recipient")),
      k1000, "DE0010");
}

TEST(DeRulesTest, Rule9RepeatedKeyIsDe0009) {
  std::string de = replaced(validDe(), "<itk:handlingSpecification>",
                            "<itk:handlingSpecification><itk:spec "
                            "key=\"urn:nhs-itk:ns:201005:ackrequested\" value=\"true\"/>");
  expectRefused(rules(de), k1000, "DE0009");
}

TEST(DeRulesTest, Rule9MissingInteractionIsAllowed) {
  // TKW checks the interaction only when present (subGeneric.conf); the SendDocument fixture
  // has none.
  std::string de = replaced(
      validDe(),
      "<itk:spec key=\"urn:nhs-itk:ns:201005:interaction\" "
      "value=\"urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0\"/>",
      "");
  EXPECT_TRUE(rules(de).ok());
}

TEST(DeRulesTest, UnknownAddressTypeIsDe0003) {
  expectRefused(
      rules(replaced(validDe(), "<itk:address uri=\"urn:nhs-uk:addressing:ods:X0913\"/>",
                     "<itk:address type=\"9.9.9\" uri=\"urn:nhs-uk:addressing:ods:X0913\"/>")),
      k1000, "DE0003");
}

TEST(DeRulesTest, DtsAndAsidAddressTypesAreKnown) {
  for (std::string_view type : {"2.16.840.1.113883.2.1.3.2.4.21.1", "1.2.826.0.1285.0.2.0.107"}) {
    EXPECT_TRUE(
        rules(replaced(validDe(), "<itk:address uri=\"urn:nhs-uk:addressing:ods:X0913\"/>",
                       "<itk:address type=\"" + std::string(type) + "\" uri=\"X09OT001\"/>"))
            .ok());
  }
}

TEST(DeRulesTest, EncryptedPayloadWithoutEncryptedDataIsDe0012) {
  expectRefused(rules(replaced(validDe(), "mimetype=\"text/xml\"",
                               "mimetype=\"text/xml\" encrypted=\"true\"")),
                k1000, "DE0012");
}

TEST(DeRulesTest, EncryptedPayloadIsRecognised) {
  std::string de =
      replaced(validDe(), "mimetype=\"text/xml\"", "mimetype=\"text/xml\" encrypted=\"true\"");
  de = replaced(
      de,
      "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id "
      "root=\"D4059820-1ACB-400A-B61D-A0A900A3D11F\"/><title>Ambulance &amp; Service "
      "Report</title></ClinicalDocument>",
      "<xenc:EncryptedData "
      "xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"><xenc:CipherData><xenc:CipherValue>AAAA</"
      "xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>");
  EXPECT_TRUE(rules(de).ok());
}

// --- Classification and the routing header --------------------------------------------------

DistributionEnvelope envelope(std::string_view service, std::string_view interaction) {
  DistributionEnvelope de;
  de.service = service;
  if (!interaction.empty())
    de.handling_specs.push_back({"urn:nhs-itk:ns:201005:interaction", std::string(interaction)});
  return de;
}

TEST(ClassifyTest, ByInteractionFirstThenService) {
  constexpr std::string_view kInfAck =
      "urn:nhs-itk:interaction:ITKInfrastructureAcknowledgement-v1-0";
  constexpr std::string_view kBusAck = "urn:nhs-itk:interaction:ITKBusinessAcknowledgement-v1-0";
  // TKW sends acks with service sendDistEnvelope, told apart by interaction only (§7.3).
  EXPECT_EQ(classify(envelope("urn:nhs-itk:services:201005:sendDistEnvelope", kInfAck)),
            MessageKind::kInfrastructureAck);
  EXPECT_EQ(classify(envelope("urn:nhs-itk:services:201005:sendDistEnvelope", kBusAck)),
            MessageKind::kBusinessAck);
  // The older DET infnack has no interaction: the service decides.
  EXPECT_EQ(classify(envelope("urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0", "")),
            MessageKind::kInfrastructureAck);
  EXPECT_EQ(classify(envelope("urn:nhs-itk:services:201005:SendBusinessAck-v1-0", "")),
            MessageKind::kBusinessAck);
  EXPECT_EQ(classify(envelope(testing::kService, "urn:nhs-itk:interaction:x")),
            MessageKind::kBusiness);
}

TEST(MessageHeaderTest, CarriesWhatRoutingNeeds) {
  ItkDocument doc = readOk(validDe());
  Result<MessageHeader> h = messageHeaderOf(*doc.de);
  ASSERT_TRUE(h.ok()) << h.status().toString();
  EXPECT_EQ(h->format, MessageFormat::kItk2);
  EXPECT_EQ(h->kind, MessageKind::kBusiness);
  EXPECT_EQ(h->service, testing::kService);
  EXPECT_EQ(h->interaction,
            "urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0");
  EXPECT_EQ(h->tracking_id, testing::kTrackingId);
  EXPECT_EQ(h->addresses, (std::vector<std::string>{"urn:nhs-uk:addressing:ods:BBB:X0912",
                                                    "urn:nhs-uk:addressing:ods:X0913"}));
  EXPECT_EQ(h->sender_address, "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987");
  EXPECT_EQ(h->audit_identity, "urn:nhs-uk:identity:ods:XZ901");
  EXPECT_TRUE(h->infack_requested);
  EXPECT_FALSE(h->busack_requested);
}

TEST(MessageHeaderTest, HandlingSpecBooleansAreParsedLikeParseBoolean) {
  std::string de = replaced(validDe(), "value=\"true\"", "value=\" TRUE \"");
  de = replaced(de, "key=\"urn:nhs-itk:ns:201005:ackrequested\" value=\"false\"",
                "key=\"urn:nhs-itk:ns:201005:ackrequested\" value=\"yes\"");
  Result<MessageHeader> h = messageHeaderOf(*readOk(de).de);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->infack_requested);
  EXPECT_FALSE(h->busack_requested);  // only "true" is true
}

TEST(MessageHeaderTest, MissingHandlingSpecsMeanNoAcks) {
  std::string de = validDe();
  size_t b = de.find("<itk:handlingSpecification>");
  size_t e = de.find("</itk:handlingSpecification>") + 28;
  de.erase(b, e - b);
  Result<MessageHeader> h = messageHeaderOf(*readOk(de).de);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->infack_requested);
  EXPECT_FALSE(h->busack_requested);
  EXPECT_EQ(h->interaction, "");
}

TEST(MessageHeaderTest, InfrastructureAckWithoutResponsePayloadIsDe0012) {
  std::string de = replaced(
      validDe(), "urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0",
      "urn:nhs-itk:interaction:ITKInfrastructureAcknowledgement-v1-0");
  expectRefused(messageHeaderOf(*readOk(de).de).status(), k1000, "DE0012");
}

TEST(MessageHeaderTest, BusinessAckIsCorrelatedThroughConveyingTransmission) {
  std::string de = replaced(
      validDe(), "urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0",
      "urn:nhs-itk:interaction:ITKBusinessAcknowledgement-v1-0");
  de = replaced(de,
                "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id "
                "root=\"D4059820-1ACB-400A-B61D-A0A900A3D11F\"/><title>Ambulance &amp; Service "
                "Report</title></ClinicalDocument>",
                "<hl7:BusinessResponseMessage xmlns:hl7=\"urn:hl7-org:v3\"><hl7:acknowledgedBy3 "
                "typeCode=\"AR\"><hl7:conveyingTransmission><hl7:id "
                "root=\"7D6F23E0-AE1A-11DB-8707-B18E1E0994EF\"/></hl7:conveyingTransmission></"
                "hl7:acknowledgedBy3></hl7:BusinessResponseMessage>");
  Result<MessageHeader> h = messageHeaderOf(*readOk(de).de);
  ASSERT_TRUE(h.ok()) << h.status().toString();
  EXPECT_EQ(h->kind, MessageKind::kBusinessAck);
  EXPECT_EQ(h->acknowledged_tracking_id, "7D6F23E0-AE1A-11DB-8707-B18E1E0994EF");
  EXPECT_FALSE(h->ack_positive);
  expectRefused(
      messageHeaderOf(*readOk(replaced(de, "typeCode=\"AR\"", "typeCode=\"XX\"")).de).status(),
      k1000, "DE0012");
}

TEST(ReadDistributionEnvelopeTest, ReadsChecksAndReturnsTheHeader) {
  Result<MessageHeader> h = readDistributionEnvelope(validDe());
  ASSERT_TRUE(h.ok()) << h.status().toString();
  EXPECT_EQ(h->tracking_id, testing::kTrackingId);
  EXPECT_EQ(h->kind, MessageKind::kBusiness);
}

TEST(ReadDistributionEnvelopeTest, RefusesWhatIsNotABareDe) {
  expectRefused(readDistributionEnvelope(testing::soapRequest()).status(), k1000, "DE0001");
}

TEST(ReadDistributionEnvelopeTest, RefusesABrokenRule) {
  expectRefused(readDistributionEnvelope(
                    replaced(validDe(), "<itk:manifest count=\"1\">", "<itk:manifest count=\"3\">"))
                    .status(),
                k1000, "DE0006");
}

TEST(ReadDistributionEnvelopeTest, AResponseServiceGetsTheResponseRules) {
  std::string de = replaced(validDe(), "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987",
                            "urn:nhs-uk:addrssing:ods:INHC:SMSP");
  expectRefused(readDistributionEnvelope(de).status(), k1000, "DE0008");
  de = replaced(de, "urn:nhs-itk:services:201005:SendCDADocument-v2-0",
                "urn:nhs-itk:services:201005:verifyNHSNumber-v1-0Response");
  EXPECT_TRUE(readDistributionEnvelope(de).ok());
}

// --- Loop prevention (§2) --------------------------------------------------------------------

MessageHeader header(MessageKind kind, std::string service) {
  MessageHeader h;
  h.kind = kind;
  h.service = std::move(service);
  h.infack_requested = true;
  h.sender_address = "urn:nhs-uk:addressing:ods:AAA";
  return h;
}

TEST(LoopPreventionTest, NeverInfackAnInfack) {
  EXPECT_FALSE(isAckable(
      header(MessageKind::kInfrastructureAck, "urn:nhs-itk:services:201005:sendDistEnvelope")));
  EXPECT_FALSE(isAckable(
      header(MessageKind::kBusiness, "urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0")));
  EXPECT_FALSE(infrastructureAckWanted(header(MessageKind::kInfrastructureAck, "x")));
}

TEST(LoopPreventionTest, NeverInfackABroadcastService) {
  EXPECT_FALSE(isAckable(
      header(MessageKind::kBusiness, "urn:nhs-itk:services:201005:BroadcastDocument-v1-0")));
}

TEST(LoopPreventionTest, BusinessMessagesAndBusAcksMayBeInfacked) {
  EXPECT_TRUE(
      infrastructureAckWanted(header(MessageKind::kBusiness, std::string(testing::kService))));
  // TKW sets infackrequested on the BusAcks it sends (§2).
  EXPECT_TRUE(infrastructureAckWanted(
      header(MessageKind::kBusinessAck, "urn:nhs-itk:services:201005:SendBusinessAck-v1-0")));
}

TEST(LoopPreventionTest, NoInfackWithoutRequestOrSenderAddress) {
  MessageHeader h = header(MessageKind::kBusiness, "s");
  h.infack_requested = false;
  EXPECT_FALSE(infrastructureAckWanted(h));
  h.infack_requested = true;
  h.sender_address.clear();
  EXPECT_FALSE(infrastructureAckWanted(h));
}

}  // namespace
}  // namespace itk::itk2
