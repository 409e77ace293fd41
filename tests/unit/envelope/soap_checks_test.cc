// The ITK Web Services door checks: every TKW autotest case of spec/itk2.md §4.7, §4.2/§4.3's
// header rules and rule 11 of §1.3, each asserting the fault code, toolkit code and DE code.
#include "itk/envelope/soap_checks.h"

#include <gtest/gtest.h>

#include "test_messages.h"

namespace itk::itk2 {
namespace {

using testing::fixtureNow;
using testing::readOk;
using testing::replaced;
using testing::soapRequest;
using testing::validDe;

SoapVerdict check(const std::string& input, const SoapPolicy& policy = {},
                  TimePoint now = fixtureNow()) {
  return checkSoapRequest(readOk(input), policy, now);
}

void expectFault(const SoapVerdict& v, SoapFaultCode fault, ToolkitCode toolkit,
                 std::string_view de_code, std::string_view reason_fragment) {
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.fault, fault) << v.status.toString();
  EXPECT_EQ(v.status.toolkitCode(), toolkit) << v.status.toString();
  EXPECT_EQ(v.status.vocabularyCode(), de_code) << v.status.toString();
  EXPECT_NE(v.status.message().find(reason_fragment), std::string::npos) << v.status.message();
}

void expectClient1000(const SoapVerdict& v, std::string_view de_code, std::string_view fragment) {
  expectFault(v, SoapFaultCode::kClient, ToolkitCode::kInvalidMessage, de_code, fragment);
}

TEST(SoapRequestTest, ValidRequestPasses) {
  SoapVerdict v = check(soapRequest());
  EXPECT_TRUE(v.ok()) << v.status.toString();
}

TEST(SoapRequestTest, Soap12IsAVersionMismatch) {
  std::string input = replaced(soapRequest(), "http://schemas.xmlsoap.org/soap/envelope/",
                               "http://www.w3.org/2003/05/soap-envelope");
  expectFault(check(input), SoapFaultCode::kVersionMismatch, ToolkitCode::kInvalidMessage, "",
              "is not SOAP 1.1");
}

TEST(SoapRequestTest, UnknownMustUnderstandHeaderIsAMustUnderstandFault) {
  // TKW autotest ATM_RejectForeignMustUnderstand.
  std::string input = replaced(soapRequest(), "<soap:Header>",
                               "<soap:Header><local:LocalHeaderElement xmlns:local=\"urn:local\" "
                               "soap:mustUnderstand=\"1\"/>");
  expectFault(check(input), SoapFaultCode::kMustUnderstand, ToolkitCode::kInvalidMessage, "",
              "{urn:local}LocalHeaderElement");
}

TEST(SoapRequestTest, MustUnderstandWsaHeaderIsUnderstood) {
  std::string input =
      replaced(soapRequest(), "<wsa:MessageID>", "<wsa:MessageID soap:mustUnderstand=\"1\">");
  EXPECT_TRUE(check(input).ok());
}

TEST(SoapRequestTest, BodyWithoutDeIsRefused) {
  std::string input = replaced(soapRequest(validDe()), validDe(), "<other/>");
  expectClient1000(check(input), "DE0001", "no itk:DistributionEnvelope");
}

TEST(SoapRequestTest, BodyWithTwoElementsIsRefused) {
  std::string input = replaced(soapRequest(), "</soap:Body>", "<other/></soap:Body>");
  expectClient1000(check(input), "DE0001", "soap:Body holds 2 elements");
}

TEST(SoapRequestTest, MissingTimestampIsRefused) {
  // ATM_NoTimeStamp.
  std::string input = soapRequest();
  size_t b = input.find("<wsu:Timestamp");
  size_t e = input.find("</wsu:Timestamp>") + 16;
  input.erase(b, e - b);
  expectClient1000(check(input), "", "wsu:Timestamp is missing");
}

TEST(SoapRequestTest, BadCreatedFormatIsRefused) {
  // ATM_InvalidCreatedTimeStamp.
  expectClient1000(check(replaced(soapRequest(), "2026-11-25T10:00:00Z", "25/11/2026 10:00")), "",
                   "wsu:Created \"25/11/2026 10:00\" is not an xs:dateTime");
}

TEST(SoapRequestTest, BadExpiresFormatIsRefused) {
  // ATM_InvalidExpiredTimeStamp.
  expectClient1000(check(replaced(soapRequest(), "2026-11-25T10:10:00Z", "2026-11-25 10:10:00")),
                   "", "wsu:Expires");
}

TEST(SoapRequestTest, MissingCreatedIsRefused) {
  expectClient1000(
      check(replaced(soapRequest(), "<wsu:Created>2026-11-25T10:00:00Z</wsu:Created>", "")), "",
      "no wsu:Created");
}

TEST(SoapRequestTest, ExpiredMessageIsRefused) {
  // TKW timestampChecks.xslt: Expires must be after now (here beyond the 300 s skew).
  expectClient1000(check(soapRequest(), {}, testing::at("2026-11-25T10:15:01Z")), "",
                   "expired at 2026-11-25T10:10:00Z");
}

TEST(SoapRequestTest, ClockSkewAbsorbsSmallDifferences) {
  EXPECT_TRUE(check(soapRequest(), {}, testing::at("2026-11-25T10:14:59Z")).ok());
  EXPECT_TRUE(check(soapRequest(), {}, testing::at("2026-11-25T09:55:01Z")).ok());
  SoapPolicy strict;
  strict.clock_skew = std::chrono::seconds(0);
  expectClient1000(check(soapRequest(), strict, testing::at("2026-11-25T10:10:00Z")), "",
                   "expired");
}

TEST(SoapRequestTest, CreatedInTheFutureIsRefused) {
  expectClient1000(check(soapRequest(), {}, testing::at("2026-11-25T09:54:59Z")), "",
                   "is in the future");
}

TEST(SoapRequestTest, CreatedNotBeforeExpiresIsRefused) {
  expectClient1000(check(replaced(soapRequest(), "2026-11-25T10:10:00Z", "2026-11-25T10:00:00Z")),
                   "", "is not before wsu:Expires");
}

TEST(SoapRequestTest, TimestampWithOffsetIsAccepted) {
  std::string input = replaced(soapRequest(), "2026-11-25T10:00:00Z", "2026-11-25T11:00:00+01:00");
  EXPECT_TRUE(check(input).ok());
}

TEST(SoapRequestTest, MissingUsernameIsAccessDenied) {
  // ATM_NoUsernameElement: 3000.
  std::string input = replaced(soapRequest(), "<wsse:Username>TKS Server test</wsse:Username>", "");
  expectFault(check(input), SoapFaultCode::kClient, ToolkitCode::kAccessDenied, "",
              "wsse:Username is missing");
}

TEST(SoapRequestTest, UnknownUserIsAccessDenied) {
  // ATM_InvalidUser: 3000 for a user outside the allow-list.
  SoapPolicy policy;
  policy.allowed_usernames = {"Known"};
  expectFault(check(soapRequest(), policy), SoapFaultCode::kClient, ToolkitCode::kAccessDenied, "",
              "\"TKS Server test\" is not authorised");
  policy.allowed_usernames.push_back("TKS Server test");
  EXPECT_TRUE(check(soapRequest(), policy).ok());
}

TEST(SoapRequestTest, MissingMessageIdIsRefused) {
  expectClient1000(
      check(replaced(soapRequest(),
                     "<wsa:MessageID>6427C7EE-AA64-5712-855F-67F27DCF1D69</wsa:MessageID>", "")),
      "", "wsa:MessageID is missing");
}

TEST(SoapRequestTest, MessageIdMustBeAUuid) {
  expectClient1000(
      check(replaced(soapRequest(), "6427C7EE-AA64-5712-855F-67F27DCF1D69", "message-1")), "",
      "WS-ADR-01");
  // Lower case and a framework prefix are accepted (TKW warns only).
  EXPECT_TRUE(check(replaced(soapRequest(), "6427C7EE-AA64-5712-855F-67F27DCF1D69",
                             "urn:uuid:6427c7ee-aa64-5712-855f-67f27dcf1d69"))
                  .ok());
}

TEST(SoapRequestTest, MissingActionIsRefused) {
  expectClient1000(
      check(replaced(soapRequest(),
                     "<wsa:Action>urn:nhs-itk:services:201005:SendCDADocument-v2-0</wsa:Action>",
                     "")),
      "", "wsa:Action is missing");
}

TEST(SoapRequestTest, ActionDifferentFromServiceIsRule11) {
  // ATM_BadService.
  std::string input =
      replaced(soapRequest(), "<wsa:Action>urn:nhs-itk:services:201005:SendCDADocument-v2-0",
               "<wsa:Action>urn:nhs-itk:services:201005:SendDocument-v1-0");
  expectClient1000(check(input), "DE0002", "does not match the DE service");
}

TEST(SoapRequestTest, MissingToIsRefused) {
  // ATM_NoToElement.
  expectClient1000(
      check(replaced(soapRequest(), "<wsa:To>http://127.0.0.1:4848/syncsoap</wsa:To>", "")), "",
      "wsa:To is missing");
}

TEST(SoapRequestTest, InvalidToIsRefused) {
  // ATM_InvalidTo: http//:this.is.invalid/address.
  expectClient1000(check(replaced(soapRequest(), "http://127.0.0.1:4848/syncsoap",
                                  "http//:this.is.invalid/address")),
                   "", "is not an absolute URI");
}

TEST(SoapRequestTest, NonAnonymousReplyToIsRefusedForSynchronousServices) {
  // ATM_NonAnonymousReplyTo (pattern 2, §4.3).
  std::string input = replaced(
      soapRequest(), "<wsse:Security>",
      "<wsa:ReplyTo><wsa:Address>http://NOTanonymous</wsa:Address></wsa:ReplyTo><wsse:Security>");
  expectClient1000(check(input), "", "is not anonymous");
}

TEST(SoapRequestTest, AnonymousReplyToIsAccepted) {
  std::string input = replaced(soapRequest(), "<wsse:Security>",
                               "<wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/"
                               "anonymous</wsa:Address></wsa:ReplyTo><wsse:Security>");
  EXPECT_TRUE(check(input).ok());
}

TEST(SoapRequestTest, PatternOneServicesMayReplyElsewhere) {
  constexpr std::string_view kQuery = "urn:nhs-itk:services:201005:queryPatientDemographicsPH-v1-0";
  std::string de = replaced(validDe(), testing::kService, kQuery);
  de = replaced(de, "mimetype=\"text/xml\"", "mimetype=\"text/plain\"");
  de = replaced(de,
                "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id "
                "root=\"D4059820-1ACB-400A-B61D-A0A900A3D11F\"/><title>Ambulance &amp; Service "
                "Report</title></ClinicalDocument>",
                "MSH|");
  std::string input = replaced(soapRequest(de), testing::kService, kQuery);
  input = replaced(input, "<wsse:Security>",
                   "<wsa:ReplyTo><wsa:Address>http://sender:4000/async</wsa:Address></"
                   "wsa:ReplyTo><wsse:Security>");
  SoapVerdict v = check(input);
  EXPECT_TRUE(v.ok()) << v.status.toString();
}

TEST(SoapRequestTest, FromWithReferenceParametersIsRefused) {
  std::string input =
      replaced(soapRequest(), "</wsa:From>", "<wsa:ReferenceParameters/></wsa:From>");
  expectClient1000(check(input), "", "WS-ADR-08");
}

TEST(SoapRequestTest, RepeatedAddressingHeaderIsRefused) {
  std::string input = replaced(soapRequest(), "<wsa:To>", "<wsa:To>http://a/</wsa:To><wsa:To>");
  expectClient1000(check(input), "", "wsa:To is repeated");
}

TEST(SoapRequestTest, TimestampIdMustBeAUuid) {
  expectClient1000(check(replaced(soapRequest(), "wsu:Id=\"D6CD5232-14CF-11DF-9423-1F9A910D4703\"",
                                  "wsu:Id=\"ts-1\"")),
                   "", "wsu:Id");
}

TEST(SoapRequestTest, DeRuleFailureIsAClientFaultWithItsDeCode) {
  // ATM_BadManifestNum.
  std::string de = replaced(validDe(), "<itk:manifest count=\"1\">", "<itk:manifest count=\"2\">");
  expectClient1000(check(soapRequest(de)), "DE0006", "itk:manifest/@count (2)");
}

TEST(SoapRequestTest, MessageIdEqualToTrackingIdIsRule11) {
  std::string input =
      replaced(soapRequest(), "6427C7EE-AA64-5712-855F-67F27DCF1D69", testing::kTrackingId);
  expectClient1000(check(input), "DE0005", "wsa:MessageID and trackingid are identical");
}

TEST(SoapRequestTest, TimestampIdEqualToPayloadIdIsRule11) {
  std::string input = replaced(soapRequest(), "wsu:Id=\"D6CD5232-14CF-11DF-9423-1F9A910D4703\"",
                               "wsu:Id=\"uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5\"");
  expectClient1000(check(input), "DE0005", "wsu:Id and manifestitem id are identical");
}

TEST(SoapRequestTest, ABareDeIsNotASoapRequest) {
  expectClient1000(check(validDe()), "DE0001", "not a SOAP envelope");
}

// --- Responses -------------------------------------------------------------------------------

std::string response(std::string_view header, std::string_view body) {
  return std::string(R"(<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" )"
                     R"(xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap:Header>)") +
         std::string(header) + "</soap:Header><soap:Body>" + std::string(body) +
         "</soap:Body></soap:Envelope>";
}

constexpr std::string_view kResponseHeader =
    "<wsa:MessageID>3285347C-A9D8-11E7-AC8A-A9AA8186D285</wsa:MessageID>"
    "<wsa:Action>urn:nhs-itk:services:201005:SendCDADocument-v2-0Response</wsa:Action>";
constexpr std::string_view kSimpleOk =
    "<itk:SimpleMessageResponse xmlns:itk=\"urn:nhs-itk:ns:201005\">OK</itk:SimpleMessageResponse>";

std::string fault(std::string_view code, std::string_view error_code,
                  std::string_view code_system = "2.16.840.1.113883.2.1.3.2.4.17.268") {
  return response(
      "<wsa:MessageID>2E51D82C-5679-5B83-9F0A-0787C5EB7EC1</wsa:MessageID>"
      "<wsa:Action>http://www.w3.org/2005/08/addressing/soap/fault</wsa:Action>",
      "<soap:Fault><faultcode>soap:" + std::string(code) +
          "</faultcode><faultstring>f</faultstring><detail><itk:ToolkitErrorInfo "
          "xmlns:itk=\"urn:nhs-itk:ns:201005\"><itk:ErrorID>E</itk:ErrorID>"
          "<itk:ErrorCode codeSystem=\"" +
          std::string(code_system) + "\">" + std::string(error_code) +
          "</itk:ErrorCode><itk:ErrorText>t</itk:ErrorText></itk:ToolkitErrorInfo>"
          "</detail></soap:Fault>");
}

TEST(SoapResponseTest, SimpleMessageResponseIsAResponse) {
  ItkDocument doc = readOk(response(kResponseHeader, kSimpleOk));
  EXPECT_TRUE(isSoapResponse(doc));
  EXPECT_TRUE(checkSoapResponse(doc).ok());
  EXPECT_FALSE(isSoapResponse(readOk(soapRequest())));
}

TEST(SoapResponseTest, MessageIdIsRequired) {
  SoapVerdict v = checkSoapResponse(readOk(
      response("<wsa:Action>urn:nhs-itk:services:201005:SendCDADocument-v2-0Response</wsa:Action>",
               kSimpleOk)));
  expectClient1000(v, "", "wsa:MessageID is missing");
}

TEST(SoapResponseTest, RelatesToMustBeAnUpperCaseUuid) {
  std::string header = std::string(kResponseHeader) +
                       "<wsa:RelatesTo>6427c7ee-aa64-5712-855f-67f27dcf1d69</wsa:RelatesTo>";
  expectClient1000(checkSoapResponse(readOk(response(header, kSimpleOk))), "", "wsa:RelatesTo");
}

TEST(SoapResponseTest, FaultNeedsAKnownToolkitCode) {
  EXPECT_TRUE(checkSoapResponse(readOk(fault("Client", "1000"))).ok());
  expectClient1000(checkSoapResponse(readOk(fault("Client", "098765"))), "",
                   "is not 1000, 2100, 2200 or 3000");
  expectClient1000(
      checkSoapResponse(readOk(fault("Server", "2100", "2.16.840.1.113883.2.1.3.2.4.17.516"))), "",
      "codeSystem");
}

TEST(SoapResponseTest, ClientFaultNeedsToolkitErrorInfo) {
  std::string f = response(
      kResponseHeader,
      "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>f</faultstring></soap:Fault>");
  expectClient1000(checkSoapResponse(readOk(f)), "", "no detail/itk:ToolkitErrorInfo");
}

TEST(SoapResponseTest, ResponseDeIsReadWithResponseRules) {
  // The SMSP quirk: a senderAddress typo does not stop a relayed response.
  std::string de = replaced(validDe(), "urn:nhs-itk:services:201005:SendCDADocument-v2-0",
                            "urn:nhs-itk:services:201005:verifyNHSNumber-v1-0Response");
  de = replaced(de, "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987",
                "urn:nhs-uk:addrssing:ods:INHC:SMSP");
  std::string r = response(
      "<wsa:MessageID>4BEEA412-5FFA-48CC-A658-1236E0BC61C9</wsa:MessageID>"
      "<wsa:Action>urn:nhs-itk:services:201005:verifyNHSNumber-v1-0Response</wsa:Action><wsa:To/>",
      de);
  ItkDocument doc = readOk(r);
  EXPECT_TRUE(isSoapResponse(doc));
  SoapVerdict v = checkSoapResponse(doc);
  EXPECT_TRUE(v.ok()) << v.status.toString();
}

TEST(PeerResponseTest, ClassifiesSimpleMessageResponse) {
  PeerResponse r = classifyPeerResponse(readOk(response(kResponseHeader, kSimpleOk)));
  EXPECT_EQ(r.kind, PeerResponse::Kind::kSimpleMessageResponse);
  EXPECT_EQ(r.detail, "OK");
}

TEST(PeerResponseTest, ClassifiesFaultsByRetryability) {
  struct Case {
    std::string_view code, error;
    ToolkitCode toolkit;
    bool retryable;
  };
  for (const Case& c : {Case{"Client", "1000", ToolkitCode::kInvalidMessage, false},
                        Case{"Server", "2100", ToolkitCode::kRetryable, true},
                        Case{"Server", "2200", ToolkitCode::kNotRetryable, false},
                        Case{"Client", "3000", ToolkitCode::kAccessDenied, false}}) {
    PeerResponse r = classifyPeerResponse(readOk(fault(c.code, c.error)));
    EXPECT_EQ(r.kind, PeerResponse::Kind::kFault);
    EXPECT_EQ(r.toolkit, c.toolkit) << c.error;
    EXPECT_EQ(r.retryable, c.retryable) << c.error;
  }
}

TEST(PeerResponseTest, ClassifiesAResponseDe) {
  std::string r = response(kResponseHeader, validDe());
  EXPECT_EQ(classifyPeerResponse(readOk(r)).kind, PeerResponse::Kind::kDistributionEnvelope);
  EXPECT_EQ(classifyPeerResponse(readOk(validDe())).kind, PeerResponse::Kind::kUnrecognised);
}

}  // namespace
}  // namespace itk::itk2
