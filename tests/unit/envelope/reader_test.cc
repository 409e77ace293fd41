#include "itk/envelope/reader.h"

#include <gtest/gtest.h>

#include "test_messages.h"

namespace itk::itk2 {
namespace {

using testing::expectRefused;
using testing::readOk;
using testing::readStatus;
using testing::replaced;
using testing::soapRequest;
using testing::validDe;

constexpr auto k1000 = ToolkitCode::kInvalidMessage;

TEST(ReaderTest, ReadsTheDeHeader) {
  ItkDocument doc = readOk(validDe());
  ASSERT_EQ(doc.root, DocumentRoot::kDistributionEnvelope);
  ASSERT_TRUE(doc.de);
  const DistributionEnvelope& de = *doc.de;
  EXPECT_EQ(de.service, testing::kService);
  EXPECT_EQ(de.tracking_id, testing::kTrackingId);
  ASSERT_EQ(de.addresses.size(), 2u);
  EXPECT_EQ(de.addresses[1], (Address{"urn:nhs-uk:addressing:ods:X0913", ""}));
  ASSERT_EQ(de.audit_identities.size(), 1u);
  EXPECT_EQ(de.audit_identities[0].uri, "urn:nhs-uk:identity:ods:XZ901");
  EXPECT_EQ(de.manifest_count, 1);
  ASSERT_EQ(de.manifest.size(), 1u);
  EXPECT_EQ(de.manifest[0].id, testing::kPayloadId);
  EXPECT_EQ(de.manifest[0].mimetype, "text/xml");
  EXPECT_EQ(de.manifest[0].profileid,
            "urn:nhs-en:profile:ambulanceServiceSummaryPatientReport-v1-1");
  EXPECT_FALSE(de.manifest[0].base64);
  ASSERT_TRUE(de.sender_address);
  EXPECT_EQ(de.sender_address->uri, "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987");
  EXPECT_EQ(de.handling_specs.size(), 3u);
  EXPECT_EQ(de.interaction(),
            "urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0");
  ASSERT_NE(de.handlingSpec("urn:nhs-itk:ns:201005:infackrequested"), nullptr);
  EXPECT_EQ(*de.handlingSpec("urn:nhs-itk:ns:201005:infackrequested"), "true");
  EXPECT_EQ(de.payloads_count, 1);
}

TEST(ReaderTest, RecordsDeAndPayloadByteRanges) {
  std::string input = "<?xml version=\"1.0\"?>\n" + validDe() + "\n";
  ItkDocument doc = readOk(input);
  const DistributionEnvelope& de = *doc.de;
  EXPECT_EQ(de.element.in(input), validDe());
  ASSERT_EQ(de.payloads.size(), 1u);
  const Payload& p = de.payloads[0];
  EXPECT_TRUE(p.element.in(input).starts_with("<itk:payload id="));
  EXPECT_TRUE(p.element.in(input).ends_with("</itk:payload>"));
  EXPECT_TRUE(p.content.in(input).starts_with("<ClinicalDocument xmlns=\"urn:hl7-org:v3\">"));
  EXPECT_TRUE(p.content.in(input).ends_with("</ClinicalDocument>"));
  EXPECT_EQ(p.child.in(input), p.content.in(input));
  EXPECT_EQ(p.child_namespace, "urn:hl7-org:v3");
  EXPECT_EQ(p.child_name, "ClinicalDocument");
}

TEST(ReaderTest, ReadsTheSoapHeader) {
  ItkDocument doc = readOk(soapRequest());
  ASSERT_EQ(doc.root, DocumentRoot::kSoapEnvelope);
  const SoapEnvelope& soap = doc.soap;
  EXPECT_TRUE(soap.soap11());
  EXPECT_EQ(soap.message_id, std::string(testing::kMessageId));
  EXPECT_EQ(soap.action, std::string(testing::kService));
  EXPECT_EQ(soap.to, "http://127.0.0.1:4848/syncsoap");
  EXPECT_EQ(soap.from, "http://localhost:4000");
  EXPECT_FALSE(soap.reply_to);
  ASSERT_TRUE(soap.timestamp);
  EXPECT_EQ(soap.timestamp->id, std::string(testing::kTimestampId));
  EXPECT_EQ(soap.timestamp->created, "2026-11-25T10:00:00Z");
  EXPECT_EQ(soap.timestamp->expires, "2026-11-25T10:10:00Z");
  EXPECT_EQ(soap.username, "TKS Server test");
  EXPECT_TRUE(soap.not_understood.empty());
  EXPECT_EQ(soap.body_kind, SoapBodyKind::kDistributionEnvelope);
  EXPECT_EQ(soap.body_elements, 1u);
  ASSERT_TRUE(doc.de);
  EXPECT_EQ(doc.de->tracking_id, testing::kTrackingId);
}

TEST(ReaderTest, DeInSoapBodyIsSlicedVerbatim) {
  std::string input = soapRequest();
  ItkDocument doc = readOk(input);
  EXPECT_EQ(doc.de->element.in(input), validDe());
}

TEST(ReaderTest, ForwardableBytesAddNamespacesInheritedFromSoap) {
  // The DE relies on xmlns:itk declared on soap:Envelope (as the SMSP response does).
  std::string de = replaced(validDe(), " xmlns:itk=\"urn:nhs-itk:ns:201005\"", "");
  std::string input = replaced(soapRequest(de), "<soap:Envelope ",
                               "<soap:Envelope xmlns:itk=\"urn:nhs-itk:ns:201005\" ");
  ItkDocument doc = readOk(input);
  std::string bytes = forwardableBytes(input, *doc.de);
  std::string_view start_tag = std::string_view(bytes).substr(0, bytes.find('>'));
  EXPECT_NE(start_tag.find(" xmlns:itk=\"urn:nhs-itk:ns:201005\""), std::string_view::npos);
  // Everything after the element name is the original bytes.
  std::string_view original = doc.de->element.in(input);
  constexpr std::string_view kName = "<itk:DistributionEnvelope";
  EXPECT_TRUE(bytes.starts_with(kName));
  EXPECT_TRUE(bytes.ends_with(original.substr(kName.size())));
  // Stands alone: reads as a bare DE with the same header.
  ItkDocument alone = readOk(bytes);
  ASSERT_EQ(alone.root, DocumentRoot::kDistributionEnvelope);
  EXPECT_EQ(alone.de->tracking_id, testing::kTrackingId);
}

TEST(ReaderTest, ForwardableBytesOfASelfContainedDeAreTheOriginal) {
  std::string input = soapRequest();
  ItkDocument doc = readOk(input);
  // The SOAP ancestors declare soap, wsa, wsse, wsu: all inherited (forwardableBytes adds only
  // those the DE may use).
  EXPECT_EQ(doc.de->inherited_namespaces.size(), 4u);
  ItkDocument bare = readOk(validDe());
  EXPECT_TRUE(bare.de->inherited_namespaces.empty());
  EXPECT_EQ(forwardableBytes(validDe(), *bare.de), validDe());
}

TEST(ReaderTest, ForwardableBytesOfADeThatDeclaresWhatItUsesAreByteIdentical) {
  // The SOAP ancestors declare soap, wsa, wsse and wsu, which the DE does not use.
  std::string input = soapRequest();
  ItkDocument doc = readOk(input);
  EXPECT_EQ(forwardableBytes(input, *doc.de), validDe());
}

TEST(ReaderTest, ForwardableBytesKeepAnInheritedPrefixUsedOnlyInAValue) {
  // xsi:type="wsa:..." uses wsa in an attribute value; only xsi and wsa are added.
  std::string de = replaced(validDe(), "<title>", "<title xsi:type=\"wsa:ST\">");
  std::string input = replaced(soapRequest(de), "<soap:Envelope ",
                               "<soap:Envelope xmlns:xsi=\"http://www.w3.org/2001/"
                               "XMLSchema-instance\" ");
  ItkDocument doc = readOk(input);
  std::string bytes = forwardableBytes(input, *doc.de);
  std::string_view start_tag = std::string_view(bytes).substr(0, bytes.find('>'));
  EXPECT_NE(start_tag.find(" xmlns:xsi="), std::string_view::npos) << start_tag;
  EXPECT_NE(start_tag.find(" xmlns:wsa="), std::string_view::npos) << start_tag;
  EXPECT_EQ(start_tag.find(" xmlns:wsse="), std::string_view::npos) << start_tag;
  EXPECT_EQ(start_tag.find(" xmlns:soap="), std::string_view::npos) << start_tag;
  EXPECT_EQ(readOk(bytes).root, DocumentRoot::kDistributionEnvelope);
}

TEST(ReaderTest, ReadsAnInfrastructureAckPayloadInTheSamePass) {
  std::string de = replaced(
      validDe(),
      "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id "
      "root=\"D4059820-1ACB-400A-B61D-A0A900A3D11F\"/><title>Ambulance &amp; Service "
      "Report</title></ClinicalDocument>",
      R"(<itk:InfrastructureResponse timestamp="2026-11-25T10:00:01Z" )"
      R"(serviceRef="urn:s" trackingIdRef="7D6F23E0-AE1A-11DB-8707-B18E1E0994EF" )"
      R"(result="Failure"><itk:reportingIdentity><itk:id uri="urn:r"/>)"
      R"(</itk:reportingIdentity><itk:errors><itk:errorInfo>)"
      R"(<itk:ErrorID>56E99197-2C15-5BA6-9C4C-F8EFCCB1A9DB</itk:ErrorID>)"
      R"(<itk:ErrorCode codeSystem="2.16.840.1.113883.2.1.3.2.4.17.516">DE0006</itk:ErrorCode>)"
      R"(<itk:ErrorText>Distribution Envelope Manifest Processing Error</itk:ErrorText>)"
      R"(<itk:ErrorDiagnosticText>count</itk:ErrorDiagnosticText>)"
      R"(</itk:errorInfo></itk:errors></itk:InfrastructureResponse>)");
  ItkDocument doc = readOk(de);
  ASSERT_TRUE(doc.de->infrastructure_response);
  const InfrastructureResponse& r = *doc.de->infrastructure_response;
  EXPECT_EQ(r.result, "Failure");
  EXPECT_FALSE(r.positive());
  EXPECT_EQ(r.tracking_id_ref, "7D6F23E0-AE1A-11DB-8707-B18E1E0994EF");
  EXPECT_EQ(r.service_ref, "urn:s");
  ASSERT_EQ(r.reporting_identities.size(), 1u);
  EXPECT_EQ(r.reporting_identities[0].uri, "urn:r");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].error_id, "56E99197-2C15-5BA6-9C4C-F8EFCCB1A9DB");
  EXPECT_EQ(r.errors[0].code, "DE0006");
  EXPECT_EQ(r.errors[0].code_system, "2.16.840.1.113883.2.1.3.2.4.17.516");
  EXPECT_EQ(r.errors[0].text, "Distribution Envelope Manifest Processing Error");
  EXPECT_EQ(r.errors[0].diagnostic, "count");
}

TEST(ReaderTest, InfrastructureResultIsReadCaseInsensitively) {
  for (auto [result, positive] :
       {std::pair{"OK", true}, std::pair{"ok", true}, std::pair{"Failure", false},
        std::pair{"Warning", false}, std::pair{"ERROR", false}}) {
    std::string doc =
        std::string(R"(<itk:InfrastructureResponse xmlns:itk="urn:nhs-itk:ns:201005" )") +
        "trackingIdRef=\"X\" serviceRef=\"s\" result=\"" + result + "\"/>";
    ItkDocument read = readOk(doc);
    ASSERT_TRUE(read.infrastructure_response);
    EXPECT_EQ(read.infrastructure_response->positive(), positive) << result;
  }
}

TEST(ReaderTest, ReadsABareBusinessResponse) {
  ItkDocument doc = readOk(
      R"(<hl7:BusinessResponseMessage xmlns:hl7="urn:hl7-org:v3"><hl7:id root="I"/>)"
      R"(<hl7:creationTime value="20261125101500"/><hl7:interactionId extension="urn:x"/>)"
      R"(<hl7:acknowledgedBy3 typeCode="CE"><hl7:conveyingTransmission><hl7:id root="T"/>)"
      R"(</hl7:conveyingTransmission><hl7:acknowledgementDetail typeCode="ER"><hl7:code )"
      R"(code="1000" codeSystem="2.16.840.1.113883.2.1.3.2.4.17.433" displayName="d"/>)"
      R"(</hl7:acknowledgementDetail></hl7:acknowledgedBy3><hl7:acknowledgedBy2 typeCode="AE">)"
      R"(<hl7:conveyingTransmission><hl7:id root="uuid_P"/><hl7:controlActEvent><hl7:reason>)"
      R"(<hl7:detectedIssueEvent><hl7:text> not filed </hl7:text></hl7:detectedIssueEvent>)"
      R"(</hl7:reason></hl7:controlActEvent></hl7:conveyingTransmission></hl7:acknowledgedBy2>)"
      R"(</hl7:BusinessResponseMessage>)");
  ASSERT_EQ(doc.root, DocumentRoot::kBusinessResponse);
  const BusinessResponse& r = *doc.business_response;
  EXPECT_EQ(r.id, "I");
  EXPECT_EQ(r.creation_time, "20261125101500");
  EXPECT_EQ(r.interaction, "urn:x");
  EXPECT_EQ(r.type_code, "CE");
  EXPECT_FALSE(r.positive());
  EXPECT_EQ(r.acknowledged_tracking_id, "T");
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0].code, "1000");
  ASSERT_EQ(r.item_acks.size(), 1u);
  EXPECT_EQ(r.item_acks[0].type_code, "AE");
  EXPECT_EQ(r.item_acks[0].payload_id, "uuid_P");
  EXPECT_EQ(r.item_acks[0].text, "not filed");
}

TEST(ReaderTest, BusinessAckCodes) {
  for (auto [code, positive] :
       {std::pair{"AA", true}, std::pair{"CA", true}, std::pair{"AE", false},
        std::pair{"AR", false}, std::pair{"CE", false}, std::pair{"CR", false}}) {
    BusinessResponse r;
    r.type_code = code;
    EXPECT_TRUE(r.typeCodeKnown());
    EXPECT_EQ(r.positive(), positive) << code;
  }
  BusinessResponse unknown;
  unknown.type_code = "ZZ";
  EXPECT_FALSE(unknown.typeCodeKnown());
}

TEST(ReaderTest, ReadsAFaultWithToolkitErrorInfo) {
  ItkDocument doc = readOk(
      R"(<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" )"
      R"(xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap:Header>)"
      R"(<wsa:MessageID>M</wsa:MessageID><wsa:RelatesTo>R</wsa:RelatesTo></soap:Header>)"
      R"(<soap:Body><soap:Fault><faultcode>soap:Server.Busy</faultcode>)"
      R"(<faultstring>s</faultstring><faultactor>http://a/</faultactor><detail>)"
      R"(<t:ToolkitErrorInfo xmlns:t="urn:nhs-itk:ns:201005"><t:ErrorID>E</t:ErrorID>)"
      R"(<t:ErrorCode codeSystem="2.16.840.1.113883.2.1.3.2.4.17.268">2100</t:ErrorCode>)"
      R"(<t:ErrorText>x</t:ErrorText></t:ToolkitErrorInfo></detail></soap:Fault></soap:Body>)"
      R"(</soap:Envelope>)");
  EXPECT_EQ(doc.soap.body_kind, SoapBodyKind::kFault);
  EXPECT_EQ(doc.soap.relates_to, "R");
  ASSERT_TRUE(doc.soap.fault);
  const SoapFault& f = *doc.soap.fault;
  EXPECT_EQ(f.faultcode, "soap:Server.Busy");
  EXPECT_EQ(f.code, SoapFaultCode::kServer);
  EXPECT_EQ(f.faultstring, "s");
  EXPECT_EQ(f.faultactor, "http://a/");
  ASSERT_TRUE(f.toolkit_error);
  EXPECT_EQ(f.toolkit_error->code, "2100");
  EXPECT_EQ(f.toolkit_error->error_id, "E");
}

TEST(ReaderTest, ReadsASimpleMessageResponse) {
  ItkDocument doc = readOk(
      R"(<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>)"
      R"(<itk:SimpleMessageResponse xmlns:itk="urn:nhs-itk:ns:201005"> OK </itk:SimpleMessageResponse>)"
      R"(</soap:Body></soap:Envelope>)");
  EXPECT_EQ(doc.soap.body_kind, SoapBodyKind::kSimpleMessageResponse);
  EXPECT_EQ(doc.soap.simple_message_response, "OK");
}

TEST(ReaderTest, RecordsUnderstoodAndNotUnderstoodMustUnderstandHeaders) {
  std::string input = replaced(
      soapRequest(), "<soap:Header>",
      R"(<soap:Header><l:Local xmlns:l="urn:local" soap:mustUnderstand="1"/>)"
      R"(<l:Other xmlns:l="urn:local" soap:mustUnderstand="0"/>)"
      R"(<l:ForSomeoneElse xmlns:l="urn:local" soap:mustUnderstand="1" soap:actor="urn:them"/>)"
      R"(<wsa:ReplyTo soap:mustUnderstand="1"><wsa:Address>http://x/</wsa:Address></wsa:ReplyTo>)");
  ItkDocument doc = readOk(input);
  EXPECT_EQ(doc.soap.not_understood, std::vector<std::string>{"{urn:local}Local"});
  EXPECT_EQ(doc.soap.reply_to, "http://x/");
}

TEST(ReaderTest, RecordsARepeatedAddressingHeader) {
  std::string input = replaced(soapRequest(), "<wsa:To>", "<wsa:To>http://first/</wsa:To><wsa:To>");
  ItkDocument doc = readOk(input);
  EXPECT_EQ(doc.soap.repeated_header, "wsa:To");
  EXPECT_EQ(doc.soap.to, "http://first/");
}

TEST(ReaderTest, Soap12EnvelopeIsReadAsAnotherVersion) {
  ItkDocument doc =
      readOk(R"(<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>)" +
             validDe() + "</env:Body></env:Envelope>");
  EXPECT_EQ(doc.root, DocumentRoot::kSoapEnvelope);
  EXPECT_FALSE(doc.soap.soap11());
  EXPECT_EQ(doc.soap.envelope_namespace, "http://www.w3.org/2003/05/soap-envelope");
  EXPECT_FALSE(doc.de);
}

TEST(ReaderTest, UnknownRootIsNotAnItkDocument) {
  expectRefused(readStatus("<DTSControl><Version>1.0</Version></DTSControl>"), k1000, "DE0001");
}

// --- Rule 10: the DE's schema, enforced while reading, with the DE code of the part ----------

TEST(DeSchemaTest, MissingTrackingIdIsDe0005) {
  expectRefused(
      readStatus(replaced(validDe(), "trackingid=\"217D1168-7F0B-4F31-A0A9-5B030E545FAE\"", "")),
      k1000, "DE0005");
}

TEST(DeSchemaTest, MissingServiceIsDe0002) {
  expectRefused(readStatus(replaced(
                    validDe(), "service=\"urn:nhs-itk:services:201005:SendCDADocument-v2-0\"", "")),
                k1000, "DE0002");
}

TEST(DeSchemaTest, UnknownHeaderElementIsDe0002) {
  // TKW autotest ATM_SCHEMA: itk:breakSchema in the header.
  expectRefused(
      readStatus(replaced(validDe(), "<itk:manifest ", "<itk:breakSchema/><itk:manifest ")), k1000,
      "DE0002");
}

TEST(DeSchemaTest, HeaderPartsOutOfOrderAreDe0002) {
  std::string de = replaced(
      validDe(),
      "<itk:auditIdentity><itk:id uri=\"urn:nhs-uk:identity:ods:XZ901\"/></itk:auditIdentity>", "");
  de = replaced(de, "</itk:handlingSpecification>",
                "</itk:handlingSpecification><itk:auditIdentity><itk:id "
                "uri=\"urn:nhs-uk:identity:ods:XZ901\"/></itk:auditIdentity>");
  expectRefused(readStatus(de), k1000, "DE0002");
}

TEST(DeSchemaTest, MissingManifestIsDe0006) {
  std::string de = validDe();
  size_t b = de.find("<itk:manifest ");
  size_t e = de.find("</itk:manifest>") + 15;
  de.erase(b, e - b);
  expectRefused(readStatus(de), k1000, "DE0006");
}

TEST(DeSchemaTest, ManifestCountNotAnIntegerIsDe0006) {
  expectRefused(
      readStatus(replaced(validDe(), "<itk:manifest count=\"1\">", "<itk:manifest count=\"one\">")),
      k1000, "DE0006");
}

TEST(DeSchemaTest, EmptyAddressListIsDe0003) {
  std::string de =
      replaced(validDe(), "<itk:address uri=\"urn:nhs-uk:addressing:ods:BBB:X0912\"/>", "");
  de = replaced(de, "<itk:address uri=\"urn:nhs-uk:addressing:ods:X0913\"/>", "");
  expectRefused(readStatus(de), k1000, "DE0003");
}

TEST(DeSchemaTest, AddressWithoutUriIsDe0003) {
  expectRefused(
      readStatus(replaced(validDe(), "<itk:address uri=\"urn:nhs-uk:addressing:ods:X0913\"/>",
                          "<itk:address type=\"2.16.840.1.113883.2.1.3.2.4.18.22\"/>")),
      k1000, "DE0003");
}

TEST(DeSchemaTest, MoreThanFourAuditIdentitiesIsDe0004) {
  std::string ids;
  for (int i = 0; i < 5; ++i)
    ids += "<itk:id uri=\"urn:nhs-uk:identity:ods:X" + std::to_string(i) + "\"/>";
  expectRefused(
      readStatus(replaced(validDe(), "<itk:id uri=\"urn:nhs-uk:identity:ods:XZ901\"/>", ids)),
      k1000, "DE0004");
}

TEST(DeSchemaTest, ManifestItemWithoutMimetypeIsDe0007) {
  expectRefused(readStatus(replaced(validDe(), " mimetype=\"text/xml\"", "")), k1000, "DE0007");
}

TEST(DeSchemaTest, ManifestItemFlagNotABooleanIsDe0007) {
  expectRefused(readStatus(replaced(validDe(), " mimetype=\"text/xml\"",
                                    " mimetype=\"text/xml\" base64=\"yes\"")),
                k1000, "DE0007");
}

TEST(DeSchemaTest, UndeclaredAttributeIsRefused) {
  expectRefused(readStatus(replaced(validDe(), "<itk:manifest count=\"1\">",
                                    "<itk:manifest count=\"1\" size=\"9\">")),
                k1000, "DE0006");
}

TEST(DeSchemaTest, ItkNamespacedAttributeIsAllowedOnManifestItem) {
  // manifestItemType has anyAttribute namespace="##targetNamespace".
  EXPECT_TRUE(readStatus(replaced(validDe(), " mimetype=\"text/xml\"",
                                  " mimetype=\"text/xml\" itk:extra=\"1\""))
                  .ok());
}

TEST(DeSchemaTest, BlankAttributeIsRefused) {
  // TKW autotest XSLT_BLANK.
  expectRefused(
      readStatus(replaced(
          validDe(), "profileid=\"urn:nhs-en:profile:ambulanceServiceSummaryPatientReport-v1-1\"",
          "profileid=\"\"")),
      k1000, "DE0007");
}

TEST(DeSchemaTest, SenderAddressWithChildIsDe0008) {
  expectRefused(
      readStatus(replaced(
          validDe(), "<itk:senderAddress uri=\"urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987\"/>",
          "<itk:senderAddress uri=\"urn:nhs-uk:addressing:ods:A\"><itk:address "
          "uri=\"u\"/></itk:senderAddress>")),
      k1000, "DE0008");
}

TEST(DeSchemaTest, EmptyHandlingSpecificationIsDe0009) {
  std::string de = validDe();
  size_t b = de.find("<itk:handlingSpecification>") + 27;
  size_t e = de.find("</itk:handlingSpecification>");
  de.erase(b, e - b);
  expectRefused(readStatus(de), k1000, "DE0009");
}

TEST(DeSchemaTest, SpecWithoutValueIsDe0010) {
  expectRefused(
      readStatus(replaced(validDe(), "key=\"urn:nhs-itk:ns:201005:ackrequested\" value=\"false\"",
                          "key=\"urn:nhs-itk:ns:201005:ackrequested\"")),
      k1000, "DE0010");
}

TEST(DeSchemaTest, MissingPayloadsIsDe0011) {
  std::string de = validDe();
  size_t b = de.find("<itk:payloads ");
  size_t e = de.find("</itk:payloads>") + 15;
  de.erase(b, e - b);
  expectRefused(readStatus(de), k1000, "DE0011");
}

TEST(DeSchemaTest, PayloadWithoutIdIsDe0012) {
  // TKW autotest ATM_NoPayloadID.
  expectRefused(readStatus(replaced(
                    validDe(), "<itk:payload id=\"uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5\">",
                    "<itk:payload>")),
                k1000, "DE0012");
}

TEST(DeSchemaTest, PayloadWithTwoElementsIsDe0012) {
  expectRefused(
      readStatus(replaced(validDe(), "</ClinicalDocument>", "</ClinicalDocument><second/>")), k1000,
      "DE0012");
}

TEST(DeSchemaTest, TextInTheHeaderIsRefused) {
  expectRefused(readStatus(replaced(validDe(), "<itk:manifest count=\"1\">",
                                    "<itk:manifest count=\"1\">stray")),
                k1000, "DE0006");
}

TEST(DeSchemaTest, UnqualifiedDeElementIsRefused) {
  expectRefused(readStatus(replaced(validDe(), "<itk:addresslist>", "<addresslist xmlns=\"\">")),
                k1000, "DE0002");
}

TEST(DeSchemaTest, ListLongerThanTheLimitIsRefused) {
  std::string addresses;
  for (int i = 0; i < 5; ++i)
    addresses += "<itk:address uri=\"urn:nhs-uk:addressing:ods:A" + std::to_string(i) + "\"/>";
  ReadOptions options;
  options.max_list_entries = 4;
  Result<ItkDocument> doc = readItkDocument(
      replaced(validDe(), "<itk:address uri=\"urn:nhs-uk:addressing:ods:X0913\"/>", addresses),
      options);
  expectRefused(doc.status(), k1000, "DE0003");
}

}  // namespace
}  // namespace itk::itk2
