// Everything the builders produce validates against the ITK schemas (xmllint --schema, run from
// the test) and reads back with readItkDocument() to the values given.
#include "itk/envelope/builders.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "itk/envelope/vocabulary.h"
#include "itk/uuid.h"
#include "support/temp_dir.h"
#include "test_messages.h"

namespace itk::itk2 {
namespace {

using testing::fixtureNow;
using testing::readOk;
using testing::replaced;

// Writes `document` to a temporary file and validates it with xmllint against `schema` (a file
// in ../shared/fixtures/itk2/schemas). Returns xmllint's output when it fails, "" when valid.
std::string xmllintErrors(std::string_view document, std::string_view schema) {
  test::TempDir dir;
  std::string file = dir.write("document.xml", std::string(document));
  std::string command = "xmllint --noout --schema '" + testing::fixturesDir() + "/itk2/schemas/" +
                        std::string(schema) + "' '" + file + "' 2>&1";
  std::string output;
  int status = -1;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[512];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    status = pclose(pipe);
  }
  return status == 0 ? "" : (output.empty() ? "xmllint did not run" : output);
}

bool xmllintAvailable() {
  return std::system("xmllint --version >/dev/null 2>&1") == 0;
}

#define ITK_REQUIRE_XMLLINT() \
  ITK_REQUIRE_FIXTURES();     \
  if (!xmllintAvailable()) GTEST_SKIP() << "xmllint is not installed"

constexpr std::string_view kDeSchema = "distributionEnvelope-v2-0.xsd";
constexpr std::string_view kMessageTypesSchema = "ITKMessageTypes-2010-05.xsd";

// The element named `qname` (its first occurrence) sliced from `document`.
std::string element(std::string_view document, std::string_view qname) {
  size_t begin = document.find("<" + std::string(qname));
  std::string close = "</" + std::string(qname) + ">";
  size_t end = document.find(close, begin);
  EXPECT_NE(end, std::string_view::npos) << qname;
  return std::string(document.substr(begin, end + close.size() - begin));
}

RouterIdentity routerIdentity() {
  RouterIdentity id;
  id.audit_identity = "urn:nhs-uk:identity:ods:BBB:X0912:itkrouter";
  id.sender_address = "urn:nhs-uk:addressing:ods:BBB:X0912";
  return id;
}

MessageHeader original() {
  MessageHeader h;
  h.kind = MessageKind::kBusiness;
  h.service = std::string(testing::kService);
  h.tracking_id = std::string(testing::kTrackingId);
  h.sender_address = "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987";
  h.infack_requested = true;
  return h;
}

DistributionEnvelopeSpec sendDocumentSpec() {
  DistributionEnvelopeSpec spec;
  spec.service = "urn:nhs-itk:services:201005:SendDocument-v1-0";
  spec.addresses = {{"urn:nhs-uk:addressing:ods:BBB:X0912", ""},
                    {"X0912OT001", std::string(kDtsAddressType)}};
  spec.audit_identities = {{"urn:nhs-uk:identity:ods:AAA:XZ901", ""}};
  spec.sender_address = Address{"urn:nhs-uk:addressing:ods:AAA:XZ901", ""};
  spec.handling_specs = {{std::string(kInfAckRequestedKey), "true"},
                         {std::string(kAckRequestedKey), "false"}};
  OutboundPayload xml_payload;
  xml_payload.profileid = "urn:nhs-en:profile:eDischargeInpatientDischargeSummary-v2-0";
  xml_payload.content =
      "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>T</title></ClinicalDocument>";
  OutboundPayload pdf;
  pdf.mimetype = "application/pdf";
  pdf.filename = "letter & notes.pdf";
  pdf.encoding = PayloadEncoding::kBase64;
  static constexpr char kPdf[] = "%PDF-1.4\n\x00\x01\xFF binary\n%%EOF\n";
  pdf.content = std::string(kPdf, sizeof kPdf - 1);  // with its NUL byte
  OutboundPayload text;
  text.mimetype = "text/plain";
  text.encoding = PayloadEncoding::kCompressedBase64;
  text.content = std::string(2000, 'z') + " <not markup> & more";
  spec.payloads = {xml_payload, pdf, text};
  return spec;
}

TEST(DistributionEnvelopeBuilderTest, OutputValidatesAgainstTheSchema) {
  ITK_REQUIRE_XMLLINT();
  Result<BuiltEnvelope> built = buildDistributionEnvelope(sendDocumentSpec());
  ASSERT_TRUE(built.ok()) << built.status().toString();
  EXPECT_EQ(xmllintErrors(built->bytes, kDeSchema), "");
}

TEST(DistributionEnvelopeBuilderTest, ReadsBackToTheSameValues) {
  DistributionEnvelopeSpec spec = sendDocumentSpec();
  Result<BuiltEnvelope> built = buildDistributionEnvelope(spec);
  ASSERT_TRUE(built.ok());
  EXPECT_TRUE(isUuid(built->tracking_id, true));
  ItkDocument doc = readOk(built->bytes);
  ASSERT_TRUE(doc.de);
  const DistributionEnvelope& de = *doc.de;
  EXPECT_TRUE(validateDistributionEnvelope(de).ok()) << validateDistributionEnvelope(de).toString();
  EXPECT_EQ(de.service, spec.service);
  EXPECT_EQ(de.tracking_id, built->tracking_id);
  EXPECT_EQ(de.addresses, spec.addresses);
  EXPECT_EQ(de.audit_identities, spec.audit_identities);
  EXPECT_EQ(de.sender_address, spec.sender_address);
  ASSERT_EQ(de.handling_specs.size(), 2u);
  EXPECT_EQ(de.handling_specs[0].key, kInfAckRequestedKey);
  ASSERT_EQ(de.manifest.size(), 3u);
  EXPECT_EQ(de.manifest[0].profileid, spec.payloads[0].profileid);
  EXPECT_TRUE(de.manifest[1].base64);
  EXPECT_FALSE(de.manifest[1].compressed);
  EXPECT_TRUE(de.manifest[2].base64 && de.manifest[2].compressed);
  EXPECT_EQ(de.payloads[1].filename, "letter & notes.pdf");
  for (size_t i = 0; i < spec.payloads.size(); ++i) {
    Result<std::string> content = decodePayload(built->bytes, de, de.payloads[i]);
    ASSERT_TRUE(content.ok()) << content.status().toString();
    EXPECT_EQ(*content, spec.payloads[i].content) << "payload " << i;
  }
}

TEST(DistributionEnvelopeBuilderTest, EscapesValues) {
  DistributionEnvelopeSpec spec = sendDocumentSpec();
  spec.addresses[0].uri = "urn:nhs-uk:addressing:ods:A&B\"<C>";
  spec.handling_specs.push_back({"urn:x", "tab\there\nline"});
  OutboundPayload text;
  text.mimetype = "text/plain";
  text.encoding = PayloadEncoding::kText;
  text.content = "a < b && c ]]> d\r\nMSH|^~\\&|";
  spec.payloads.push_back(text);
  Result<BuiltEnvelope> built = buildDistributionEnvelope(spec);
  ASSERT_TRUE(built.ok());
  ItkDocument doc = readOk(built->bytes);
  EXPECT_EQ(doc.de->addresses[0].uri, spec.addresses[0].uri);
  EXPECT_EQ(doc.de->handling_specs[2].value, "tab\there\nline");
  Result<std::string> content = decodePayload(built->bytes, *doc.de, doc.de->payloads[3]);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, text.content);
}

TEST(DistributionEnvelopeBuilderTest, RefusesAnEnvelopeWithoutPayloads) {
  DistributionEnvelopeSpec spec = sendDocumentSpec();
  spec.payloads.clear();
  EXPECT_EQ(buildDistributionEnvelope(spec).status().code(), Code::kInvalid);
}

// --- Infrastructure acknowledgements (§3.1) --------------------------------------------------

TEST(InfrastructureAckBuilderTest, AckValidatesAgainstTheDeSchema) {
  ITK_REQUIRE_XMLLINT();
  Result<BuiltEnvelope> ack =
      buildInfrastructureAck(original(), routerIdentity(), {}, fixtureNow());
  ASSERT_TRUE(ack.ok()) << ack.status().toString();
  EXPECT_EQ(xmllintErrors(ack->bytes, kDeSchema), "");
}

TEST(InfrastructureAckBuilderTest, AckReadsBackAsAPositiveInfack) {
  Result<BuiltEnvelope> ack =
      buildInfrastructureAck(original(), routerIdentity(), {}, fixtureNow());
  ASSERT_TRUE(ack.ok());
  ItkDocument doc = readOk(ack->bytes);
  const DistributionEnvelope& de = *doc.de;
  EXPECT_TRUE(validateDistributionEnvelope(de).ok()) << validateDistributionEnvelope(de).toString();
  EXPECT_EQ(de.service, kSendInfrastructureAckService);
  EXPECT_EQ(de.interaction(), kInfrastructureAckInteraction);
  EXPECT_EQ(de.tracking_id, ack->tracking_id);
  ASSERT_EQ(de.addresses.size(), 1u);
  EXPECT_EQ(de.addresses[0].uri, original().sender_address);
  EXPECT_EQ(de.audit_identities[0].uri, routerIdentity().audit_identity);
  EXPECT_EQ(de.sender_address->uri, routerIdentity().sender_address);
  EXPECT_EQ(de.handlingSpec(kInfAckRequestedKey), nullptr);  // never ask for an infack of an infack
  ASSERT_TRUE(de.infrastructure_response);
  const InfrastructureResponse& r = *de.infrastructure_response;
  EXPECT_EQ(r.result, "OK");
  EXPECT_EQ(r.timestamp, "2026-11-25T10:00:30Z");
  EXPECT_EQ(r.tracking_id_ref, testing::kTrackingId);
  EXPECT_EQ(r.service_ref, testing::kService);
  ASSERT_EQ(r.reporting_identities.size(), 1u);
  EXPECT_EQ(r.reporting_identities[0].uri, routerIdentity().audit_identity);
  EXPECT_TRUE(r.errors.empty());
  Result<MessageHeader> h = messageHeaderOf(de);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->kind, MessageKind::kInfrastructureAck);
  EXPECT_EQ(h->acknowledged_tracking_id, testing::kTrackingId);
  EXPECT_TRUE(h->ack_positive);
  EXPECT_FALSE(isAckable(*h));
}

TEST(InfrastructureAckBuilderTest, NackCarriesTheDeErrorVocabulary) {
  Status why = deError(DeError::kManifest, "itk:manifest/@count (2) does not equal 1");
  Result<BuiltEnvelope> nack =
      buildInfrastructureAck(original(), routerIdentity(), why, fixtureNow());
  ASSERT_TRUE(nack.ok());
  ItkDocument doc = readOk(nack->bytes);
  const InfrastructureResponse& r = *doc.de->infrastructure_response;
  EXPECT_EQ(r.result, "Failure");
  EXPECT_FALSE(r.positive());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(isUuid(r.errors[0].error_id, true));
  EXPECT_EQ(r.errors[0].code, "DE0006");
  EXPECT_EQ(r.errors[0].code_system, "2.16.840.1.113883.2.1.3.2.4.17.516");
  EXPECT_EQ(r.errors[0].text, "Distribution Envelope Manifest Processing Error");
  EXPECT_EQ(r.errors[0].diagnostic, "itk:manifest/@count (2) does not equal 1");
  Result<MessageHeader> h = messageHeaderOf(*doc.de);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->ack_positive);
}

TEST(InfrastructureAckBuilderTest, NackValidatesAgainstTheDeSchema) {
  ITK_REQUIRE_XMLLINT();
  Result<BuiltEnvelope> nack =
      buildInfrastructureAck(original(), routerIdentity(),
                             Status::unknownAddress("no route for <ods:X0913> & co"), fixtureNow());
  ASSERT_TRUE(nack.ok());
  EXPECT_EQ(xmllintErrors(nack->bytes, kDeSchema), "");
  // No route for an address is an address list error.
  EXPECT_EQ(readOk(nack->bytes).de->infrastructure_response->errors[0].code, "DE0003");
}

TEST(InfrastructureAckBuilderTest, ErrorsWithoutADeCodeAreDe0001) {
  Result<BuiltEnvelope> nack = buildInfrastructureAck(
      original(), routerIdentity(), Status::storeError("disk full"), fixtureNow());
  ASSERT_TRUE(nack.ok());
  EXPECT_EQ(readOk(nack->bytes).de->infrastructure_response->errors[0].code, "DE0001");
}

TEST(InfrastructureAckBuilderTest, NeverInfacksAnInfack) {
  MessageHeader infack = original();
  infack.kind = MessageKind::kInfrastructureAck;
  EXPECT_EQ(buildInfrastructureAck(infack, routerIdentity(), {}, fixtureNow()).status().code(),
            Code::kRejected);
}

TEST(InfrastructureAckBuilderTest, NeedsASenderAddress) {
  MessageHeader anonymous = original();
  anonymous.sender_address.clear();
  EXPECT_EQ(buildInfrastructureAck(anonymous, routerIdentity(), {}, fixtureNow()).status().code(),
            Code::kRejected);
}

// --- SOAP (§4.2, §4.4, §4.5) -----------------------------------------------------------------

SoapRequestHeader requestHeader() {
  SoapRequestHeader h;
  h.action = std::string(testing::kService);
  h.to = "https://receiver.example.nhs.uk/itk";
  h.username = "itk-router";
  h.created = fixtureNow();
  h.time_to_live = std::chrono::seconds(600);
  return h;
}

TEST(SoapRequestBuilderTest, WrapsTheDeBytesUnchangedAndPassesTheDoorChecks) {
  std::string de = testing::validDe();
  std::string request = buildSoapRequest(requestHeader(), "<?xml version=\"1.0\"?>\n" + de + "\n");
  ItkDocument doc = readOk(request);
  EXPECT_EQ(doc.de->element.in(request), de);
  const SoapEnvelope& soap = doc.soap;
  EXPECT_TRUE(isUuid(*soap.message_id, true));
  EXPECT_EQ(soap.action, std::string(testing::kService));
  EXPECT_EQ(soap.to, "https://receiver.example.nhs.uk/itk");
  EXPECT_EQ(soap.username, "itk-router");
  EXPECT_EQ(soap.timestamp->created, "2026-11-25T10:00:30Z");
  EXPECT_EQ(soap.timestamp->expires, "2026-11-25T10:10:30Z");
  SoapVerdict v = checkSoapRequest(doc, {}, fixtureNow() + std::chrono::seconds(1));
  EXPECT_TRUE(v.ok()) << v.status.toString();
}

TEST(SoapRequestBuilderTest, UsesTheGivenIds) {
  SoapRequestHeader h = requestHeader();
  h.message_id = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE";
  h.timestamp_id = "uuid_11111111-2222-3333-4444-555555555555";
  ItkDocument doc = readOk(buildSoapRequest(h, testing::validDe()));
  EXPECT_EQ(doc.soap.message_id, h.message_id);
  EXPECT_EQ(doc.soap.timestamp->id, h.timestamp_id);
}

TEST(SimpleMessageResponseBuilderTest, ReadsBackAndValidates) {
  std::string response = buildSimpleMessageResponse(testing::kService, testing::kMessageId);
  ItkDocument doc = readOk(response);
  EXPECT_TRUE(isSoapResponse(doc));
  SoapVerdict v = checkSoapResponse(doc);
  EXPECT_TRUE(v.ok()) << v.status.toString();
  EXPECT_EQ(doc.soap.action, std::string(testing::kService) + "Response");
  EXPECT_EQ(doc.soap.relates_to, std::string(testing::kMessageId));
  EXPECT_EQ(doc.soap.simple_message_response, "OK");
  EXPECT_EQ(classifyPeerResponse(doc).kind, PeerResponse::Kind::kSimpleMessageResponse);
}

TEST(SoapResponseBuilderTest, CarriesTheResponseDeUnchanged) {
  const std::string response_service = std::string(testing::kService) + "Response";
  std::string de = testing::replaced(testing::validDe(), testing::kService, response_service);
  std::string response = buildSoapResponse(response_service, testing::kMessageId,
                                           "<?xml version=\"1.0\"?>\n" + de + "\n");
  ItkDocument doc = readOk(response);
  EXPECT_TRUE(isSoapResponse(doc));
  SoapVerdict v = checkSoapResponse(doc);
  EXPECT_TRUE(v.ok()) << v.status.toString();
  EXPECT_EQ(doc.soap.action, response_service);
  EXPECT_EQ(doc.soap.relates_to, std::string(testing::kMessageId));
  ASSERT_TRUE(doc.de);
  EXPECT_EQ(doc.de->element.in(response), de);
  EXPECT_EQ(classifyPeerResponse(doc).kind, PeerResponse::Kind::kDistributionEnvelope);
}

TEST(SimpleMessageResponseBuilderTest, ElementValidatesAgainstItkMessageTypes) {
  ITK_REQUIRE_XMLLINT();
  std::string response =
      buildSimpleMessageResponse(testing::kService, testing::kMessageId, "OK & done");
  EXPECT_EQ(xmllintErrors(element(response, "itk:SimpleMessageResponse"), kMessageTypesSchema), "");
}

TEST(SoapFaultBuilderTest, EveryFaultCodeReadsBackAndPassesTheFaultValidator) {
  for (SoapFaultCode code : {SoapFaultCode::kClient, SoapFaultCode::kServer,
                             SoapFaultCode::kMustUnderstand, SoapFaultCode::kVersionMismatch}) {
    SoapFaultSpec spec;
    spec.code = code;
    spec.toolkit =
        code == SoapFaultCode::kServer ? ToolkitCode::kRetryable : ToolkitCode::kInvalidMessage;
    spec.diagnostic = "why <exactly> & how";
    spec.relates_to = std::string(testing::kMessageId);
    spec.faultactor = "http://itk.router/";
    std::string fault = buildSoapFault(spec);
    ItkDocument doc = readOk(fault);
    SoapVerdict v = checkSoapResponse(doc);
    EXPECT_TRUE(v.ok()) << faultCodeName(code) << ": " << v.status.toString();
    ASSERT_TRUE(doc.soap.fault);
    EXPECT_EQ(doc.soap.fault->code, code);
    EXPECT_EQ(doc.soap.fault->faultactor, "http://itk.router/");
    ASSERT_TRUE(doc.soap.fault->toolkit_error);
    const ErrorInfo& e = *doc.soap.fault->toolkit_error;
    EXPECT_EQ(e.code, std::to_string(static_cast<int>(spec.toolkit)));
    EXPECT_EQ(e.code_system, kToolkitCodeSystem);
    EXPECT_EQ(e.text, toolkitErrorText(spec.toolkit));
    EXPECT_EQ(e.diagnostic, spec.diagnostic);
    EXPECT_TRUE(isUuid(e.error_id, true));
    EXPECT_EQ(doc.soap.relates_to, spec.relates_to);
    EXPECT_EQ(doc.soap.action, code == SoapFaultCode::kMustUnderstand
                                   ? "http://www.w3.org/2005/08/addressing/fault"
                                   : "http://www.w3.org/2005/08/addressing/soap/fault");
  }
}

TEST(SoapFaultBuilderTest, ToolkitErrorInfoValidatesAgainstItkMessageTypes) {
  ITK_REQUIRE_XMLLINT();
  SoapFaultSpec spec;
  spec.toolkit = ToolkitCode::kAccessDenied;
  spec.diagnostic = "wsse:Username \"x\" is not authorised";
  std::string fault = buildSoapFault(spec);
  EXPECT_EQ(xmllintErrors(element(fault, "itk:ToolkitErrorInfo"), kMessageTypesSchema), "");
}

TEST(SoapFaultBuilderTest, AnswersAFailedCheck) {
  std::string request =
      replaced(testing::soapRequest(), "<wsa:To>http://127.0.0.1:4848/syncsoap</wsa:To>", "");
  ItkDocument in = readOk(request);
  SoapVerdict v = checkSoapRequest(in, {}, fixtureNow());
  ASSERT_FALSE(v.ok());
  ItkDocument out = readOk(buildSoapFault(v, *in.soap.message_id));
  PeerResponse peer = classifyPeerResponse(out);
  EXPECT_EQ(peer.kind, PeerResponse::Kind::kFault);
  EXPECT_EQ(peer.fault, SoapFaultCode::kClient);
  EXPECT_EQ(peer.toolkit, ToolkitCode::kInvalidMessage);
  EXPECT_FALSE(peer.retryable);
  EXPECT_EQ(out.soap.fault->toolkit_error->diagnostic, v.status.message());
}

TEST(SoapFaultBuilderTest, DiagnosticStartsWithTheDeCode) {
  std::string de =
      replaced(testing::validDe(), "<itk:manifest count=\"1\">", "<itk:manifest count=\"2\">");
  SoapVerdict v = checkSoapRequest(readOk(testing::soapRequest(de)), {}, fixtureNow());
  ASSERT_FALSE(v.ok());
  ItkDocument out = readOk(buildSoapFault(v, testing::kMessageId));
  EXPECT_TRUE(out.soap.fault->toolkit_error->diagnostic.starts_with("DE0006 itk:manifest/@count"));
}

}  // namespace
}  // namespace itk::itk2
