// Every file under ../shared/fixtures/itk2 is classified as ../shared/fixtures/MANIFEST.md says,
// by the same door checks `itk-router validate` applies. A file the table below does not cover
// fails the test, so a new fixture cannot go unclassified.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "itk/envelope/payload_codec.h"
#include "itk/envelope/validate_command.h"
#include "itk/xml/text.h"
#include "test_messages.h"

namespace itk::itk2 {
namespace {

namespace fs = std::filesystem;
using testing::readOk;

// What the router makes of one fixture (or one part of a TKW exchange log).
struct Row {
  std::string_view file;     // under itk2/; "#request" / "#response" name a part of a .msg log
  std::string_view now;      // the clock for WS-Security checks; "" = the curator's clock
  std::string_view verdict;  // the expected formatVerdict() line (a REJECT is matched as a prefix)
  std::string_view why;      // the MANIFEST's word for it
};

constexpr std::string_view kNotADe = "REJECT 1000 DE0001 ";
constexpr std::string_view kEbxml =
    "REJECT 1000 - soap:MustUnderstand header "
    "{http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd}MessageHeader";

constexpr Row kRows[] = {
    {"acks/ciao-test-infack.xml", "",
     "OK infrastructure-response/infack 7D6F23E0-AE1A-11DB-8707-B18E1E0994EF",
     "InfAck payload: positive"},
    {"acks/ciao-test-infnack.xml", "",
     "OK infrastructure-response/infnack 7D6F23E0-AE1A-11DB-8707-B18E1E0994EF",
     "non-standard ERROR: a tolerant reader says negative"},
    {"acks/ciao-test-wrapped-busack.xml", "", "OK de/busack BAFCEFBB-D189-4238-92C4-C2E3116A4EF3",
     "VALID BusAck DE (AA)"},
    {"acks/ciao-test-wrapped-busnack.xml", "", "OK de/busnack BAFCEFBB-D189-4238-92C4-C2E3116A4EF3",
     "VALID BusNack DE (AR)"},
    {"acks/det-infnack-de-1000.xml", "", "OK de/infnack B69A42FD-36A2-57A7-B9BC-BB89AB632EE3",
     "VALID older DET InfNack: classified by service"},
    {"acks/tkw-DE_error_reference.xml", "", kNotADe, "vocabulary data, not a DE"},
    {"acks/tkw-busnack-AE-payload.xml", "",
     "OK business-response/busnack 217D1168-7F0B-4F31-A0A9-5B030E545FAE", "BusNack payload (AE)"},
    {"acks/tkw-infack-de.xml", "", "OK de/infack 0CDD2EE9-9F2B-5E72-A6C4-F68053B6DED4",
     "VALID InfAck DE"},
    {"acks/tkw-infnack-de-DE0006.xml", "", "OK de/infnack C8049890-39CA-5CFC-BDD7-7150C115899B",
     "VALID InfNack DE (DE0006)"},
    {"dts/ITKROUTER_FE32DE12-3D67-11E2-B6B1-C58C6188709B.ctl", "", kNotADe, "DTS control file"},
    {"dts/ITKROUTER_FE32DE12-3D67-11E2-B6B1-C58C6188709B.dat", "",
     "OK de/business FE32DE12-3D67-11E2-B6B1-C58C6188709B",
     "the sendDistEnvelope DE as a DTS .dat"},
    {"dts/ciao-example-control-file-post.xml", "", kNotADe, "DTS control file"},
    {"dts/ciao-example-control-file-pre.xml", "", kNotADe, "DTS control file"},
    {"dts/ciao-test-endpoint-addresses.json", "", kNotADe, "JSON routing data"},
    {"dts/sent/ITKROUTER_FE32DE12-3D67-11E2-B6B1-C58C6188709B.ctl", "", kNotADe,
     "DTS control file"},
    {"envelopes/derived/derived-base64-pdf-SendDocument-de.xml", "",
     "OK de/business D1B14FAB-CF45-5013-9DDB-EE6424480EAF", "VALID base64 PDF, no interaction"},
    {"envelopes/derived/derived-compressed-base64-cda-de.xml", "",
     "OK de/business 00E8D176-43F5-5077-9448-64AB0D380D6B", "VALID gzip+base64 CDA"},
    {"envelopes/tkw-ITK_DE.xml", "", "OK de/business 217D1168-7F0B-4F31-A0A9-5B030E545FAE",
     "VALID 3-address DE"},
    {"envelopes/tkw-sendDistEnvelope-de.xml", "",
     "OK de/business FE32DE12-3D67-11E2-B6B1-C58C6188709B", "VALID sendDistEnvelope DE"},
    {"schemas/ITKDatatypes-2010-05.xsd", "", kNotADe, "XSD"},
    {"schemas/ITKMessageTypes-2010-05.xsd", "", kNotADe, "XSD"},
    {"schemas/distributionEnvelope-v2-0.xsd", "", kNotADe, "XSD"},
    {"schemas/wsdl/NHS111-v3-0.wsdl", "", kNotADe, "WSDL"},
    {"schemas/wsdl/PDSMiniServices-v1-0.wsdl", "", kNotADe, "WSDL"},
    {"soap/fault-client-1000.xml", "", "OK soap-response/fault -", "Client/1000 fault"},
    {"soap/fault-client-2200.xml", "", "OK soap-response/fault -", "Client/2200 fault"},
    {"soap/fault-client-3000.xml", "", "OK soap-response/fault -", "Client/3000 fault"},
    {"soap/fault-mustunderstand.xml", "", "OK soap-response/fault -", "MustUnderstand fault"},
    {"soap/fault-server-2100.xml", "", "OK soap-response/fault -", "Server/2100 fault"},
    {"soap/fault-server-2200.xml", "", "OK soap-response/fault -", "Server/2200 fault"},
    {"soap/fault-versionmismatch.xml", "", "OK soap-response/fault -", "VersionMismatch fault"},
    {"soap/smsp-verifyNHSNumber-sync-response.xml", "",
     "OK soap-response/business 0F8228B0-E251-40E2-82B5-88DF393FB0C5",
     "sync response relayed despite the senderAddress typo"},
    {"soap/tkw-ITK_SOAP.xml", "2017-09-28T14:16:20Z",
     "OK soap-request/business 217D1168-7F0B-4F31-A0A9-5B030E545FAE", "VALID request (2017 clock)"},
    {"soap/tkw-SendBusinessAck-async-exchange.msg#request", "2017-10-05T07:39:00Z",
     "OK soap-request/busack 821F2F2C-512E-4641-BC04-A0EDA53F65F5", "async BusAck request"},
    {"soap/tkw-SendBusinessAck-async-exchange.msg#response", "",
     "OK soap-response/simple-message-response -", "SimpleMessageResponse with a TKW id: accepted"},
    {"soap/tkw-SendCDADocument-sync-exchange.msg#request", "2017-10-05T14:19:30Z",
     "OK soap-request/business 7D6F23E0-AE1A-11DB-8707-B18E1E0994EF",
     "sync SendCDADocument request"},
    {"soap/tkw-SendCDADocument-sync-exchange.msg#response", "",
     "OK soap-response/simple-message-response -", "the sync OK response"},
    {"soap/tkw-sendDistEnvelope-request.xml", "",
     "OK soap-request/business FE32DE12-3D67-11E2-B6B1-C58C6188709B",
     "VALID request (curator clock)"},
    {"spine/ciao-test-ack.xml", "", kEbxml,
     "ebXML ack: the Spine transport's, not an ITK WS request"},
    {"spine/ciao-test-delivery-failure.xml", "", kEbxml, "ebXML delivery failure"},
    {"spine/ciao-test-error.xml", "", kEbxml, "ebXML MessageError"},
    {"spine/ciao-test-hl7.xml", "", kNotADe, "HL7 COPC wrapper"},
    {"spine/ciao-test-manifest.xml", "", kEbxml, "ebXML manifest"},
    {"spine/ciao-test-trunk.multipart", "", kNotADe, "Spine multipart"},
    {"spine/tkw-ITK_Trunk-exchange.message", "", kNotADe, "SpineTools log"},
    {"spine/trc-persistDurations.txt", "", kNotADe, "tab-separated data"},
    {"spine/trc-sds-cache-COPC_IN000001GB01-BBB-654321.json", "", kNotADe, "JSON SDS cache"},
};

// A TKW exchange log: HTTP request headers, the request body, a marker line, then the response
// (headers and body, or just the body).
struct Exchange {
  std::string request;
  std::string response;
};

Exchange splitExchange(const std::string& log) {
  size_t marker = log.find("END REQUEST");
  if (marker == std::string::npos) marker = log.find("END OF INBOUND MESSAGE");
  EXPECT_NE(marker, std::string::npos);
  size_t marker_line = log.rfind('\n', marker);
  size_t headers_end = log.find("\r\n\r\n");
  size_t body = headers_end == std::string::npos ? log.find("\n\n") + 2 : headers_end + 4;
  Exchange e;
  e.request = std::string(xml::trimXmlSpace(log.substr(body, marker_line - body)));
  size_t response = log.find("<?xml", marker);
  e.response = std::string(xml::trimXmlSpace(log.substr(response)));
  return e;
}

std::string bytesOf(std::string_view file) {
  size_t hash = file.find('#');
  if (hash == std::string_view::npos) return testing::fixture(file);
  Exchange e = splitExchange(testing::fixture(file.substr(0, hash)));
  return file.substr(hash + 1) == "request" ? e.request : e.response;
}

TEST(FixturesTest, EveryItk2FixtureIsClassifiedAsTheManifestSays) {
  ITK_REQUIRE_FIXTURES();
  std::map<std::string, std::vector<const Row*>> rows;
  for (const Row& row : kRows) {
    std::string_view file = row.file.substr(0, row.file.find('#'));
    rows[std::string(file)].push_back(&row);
  }
  fs::path root = testing::fixturesDir() + "/itk2";
  std::set<std::string> seen;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::string relative = fs::relative(entry.path(), root).generic_string();
    seen.insert(relative);
    auto it = rows.find(relative);
    if (it == rows.end()) {
      ADD_FAILURE() << "fixture itk2/" << relative
                    << " is not in the table: add its MANIFEST outcome to kRows";
      continue;
    }
    for (const Row* row : it->second) {
      TimePoint now = row->now.empty() ? testing::fixtureNow() : testing::at(row->now);
      std::string line = formatVerdict(checkAtTheDoor(bytesOf(row->file), SoapPolicy{}, now));
      if (row->verdict.starts_with("REJECT")) {
        EXPECT_TRUE(line.starts_with(row->verdict))
            << row->file << " (" << row->why << ")\n  got: " << line;
      } else {
        EXPECT_EQ(line, row->verdict) << row->file << " (" << row->why << ")";
      }
    }
  }
  for (const auto& [file, unused] : rows) {
    EXPECT_TRUE(seen.count(file)) << "table row for a missing fixture itk2/" << file;
  }
}

TEST(FixturesTest, TkwRequestIsExpiredOnARealClock) {
  ITK_REQUIRE_FIXTURES();
  // MANIFEST: with a real clock the 2017 request is expired -> fault 1000.
  DoorVerdict v = checkAtTheDoor(testing::fixture("soap/tkw-ITK_SOAP.xml"), SoapPolicy{},
                                 testing::at("2026-11-25T10:00:30Z"));
  EXPECT_EQ(formatVerdict(v),
            "REJECT 1000 - soap:Client the message expired at 2017-09-28T14:16:28Z (now "
            "2026-11-25T10:00:30Z)");
}

TEST(FixturesTest, SmspResponseWouldFailAsARequestOnItsSenderAddress) {
  ITK_REQUIRE_FIXTURES();
  ItkDocument doc = readOk(testing::fixture("soap/smsp-verifyNHSNumber-sync-response.xml"));
  Status s = validateDistributionEnvelope(*doc.de, DeRules::kRequest);
  testing::expectRefused(s, ToolkitCode::kInvalidMessage, "DE0008");
  EXPECT_TRUE(validateDistributionEnvelope(*doc.de, DeRules::kResponse).ok());
}

TEST(FixturesTest, MultiAddressDeFansOutToThreeAddresses) {
  ITK_REQUIRE_FIXTURES();
  ItkDocument doc = readOk(testing::fixture("envelopes/tkw-ITK_DE.xml"));
  Result<MessageHeader> h = messageHeaderOf(*doc.de);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->addresses, (std::vector<std::string>{"urn:nhs-uk:addressing:ods:BBB:X0912",
                                                    "urn:nhs-uk:addressing:ods:X0913",
                                                    "urn:nhs-uk:addressing:ods:X0914"}));
  EXPECT_EQ(h->sender_address, "urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987");
  EXPECT_TRUE(h->infack_requested);
  EXPECT_FALSE(h->busack_requested);
  EXPECT_TRUE(infrastructureAckWanted(*h));
}

TEST(FixturesTest, SoapBodyDeIsTheStandaloneDe) {
  ITK_REQUIRE_FIXTURES();
  // tkw-sendDistEnvelope-de.xml is the DE element of the request's Body, bytes unchanged.
  std::string request = testing::fixture("soap/tkw-sendDistEnvelope-request.xml");
  ItkDocument doc = readOk(request);
  std::string standalone = testing::fixture("envelopes/tkw-sendDistEnvelope-de.xml");
  EXPECT_EQ(doc.de->element.in(request), xml::trimXmlSpace(standalone));
  Result<MessageHeader> h = messageHeaderOf(*doc.de);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->infack_requested);
  EXPECT_TRUE(h->busack_requested);
}

struct AckRow {
  std::string_view file;
  MessageKind kind;
  bool positive;
  std::string_view acknowledged;
};

TEST(FixturesTest, AcknowledgementsCorrelateToTheOriginalTrackingId) {
  ITK_REQUIRE_FIXTURES();
  constexpr AckRow kAcks[] = {
      {"acks/ciao-test-wrapped-busack.xml", MessageKind::kBusinessAck, true,
       "7D6F23E0-AE1A-11DB-8707-B18E1E0994EF"},
      {"acks/ciao-test-wrapped-busnack.xml", MessageKind::kBusinessAck, false,
       "7D6F23E0-AE1A-11DB-8707-B18E1E0994EF"},
      {"acks/det-infnack-de-1000.xml", MessageKind::kInfrastructureAck, false,
       "217D1168-7F0B-4F31-A0A9-5B030E545FAE"},
      {"acks/tkw-infack-de.xml", MessageKind::kInfrastructureAck, true,
       "217D1168-7F0B-4F31-A0A9-5B030E545FAE"},
      {"acks/tkw-infnack-de-DE0006.xml", MessageKind::kInfrastructureAck, false,
       "217D1168-7F0B-4F31-A0A9-5B030E545FAE"},
  };
  for (const AckRow& row : kAcks) {
    ItkDocument doc = readOk(testing::fixture(row.file));
    Result<MessageHeader> h = messageHeaderOf(*doc.de);
    ASSERT_TRUE(h.ok()) << row.file << ": " << h.status().toString();
    EXPECT_EQ(h->kind, row.kind) << row.file;
    EXPECT_EQ(h->ack_positive, row.positive) << row.file;
    EXPECT_EQ(h->acknowledged_tracking_id, row.acknowledged) << row.file;
    // Loop prevention: an infack is never infacked.
    EXPECT_EQ(isAckable(*h), row.kind != MessageKind::kInfrastructureAck) << row.file;
  }
}

TEST(FixturesTest, NackErrorCodesAreReadInBothCodeSystems) {
  ITK_REQUIRE_FIXTURES();
  ItkDocument de_codes = readOk(testing::fixture("acks/tkw-infnack-de-DE0006.xml"));
  const InfrastructureResponse& de0006 = *de_codes.de->infrastructure_response;
  ASSERT_EQ(de0006.errors.size(), 1u);
  EXPECT_EQ(de0006.errors[0].code, "DE0006");
  EXPECT_EQ(de0006.errors[0].code_system, "2.16.840.1.113883.2.1.3.2.4.17.516");
  ItkDocument toolkit_codes = readOk(testing::fixture("acks/det-infnack-de-1000.xml"));
  const InfrastructureResponse& toolkit = *toolkit_codes.de->infrastructure_response;
  ASSERT_EQ(toolkit.errors.size(), 1u);
  EXPECT_EQ(toolkit.errors[0].code, "1000");
  EXPECT_EQ(toolkit.errors[0].code_system, "2.16.840.1.113883.2.1.3.2.4.17.268");
}

TEST(FixturesTest, FaultFixturesClassifyAsTheirCodes) {
  ITK_REQUIRE_FIXTURES();
  struct FaultRow {
    std::string_view file;
    SoapFaultCode fault;
    ToolkitCode toolkit;
    bool retryable;
  };
  constexpr FaultRow kFaults[] = {
      {"soap/fault-client-1000.xml", SoapFaultCode::kClient, ToolkitCode::kInvalidMessage, false},
      {"soap/fault-client-2200.xml", SoapFaultCode::kClient, ToolkitCode::kNotRetryable, false},
      {"soap/fault-client-3000.xml", SoapFaultCode::kClient, ToolkitCode::kAccessDenied, false},
      {"soap/fault-mustunderstand.xml", SoapFaultCode::kMustUnderstand,
       ToolkitCode::kInvalidMessage, false},
      {"soap/fault-server-2100.xml", SoapFaultCode::kServer, ToolkitCode::kRetryable, true},
      {"soap/fault-server-2200.xml", SoapFaultCode::kServer, ToolkitCode::kNotRetryable, false},
      {"soap/fault-versionmismatch.xml", SoapFaultCode::kVersionMismatch,
       ToolkitCode::kInvalidMessage, false},
  };
  for (const FaultRow& row : kFaults) {
    PeerResponse r = classifyPeerResponse(readOk(testing::fixture(row.file)));
    EXPECT_EQ(r.kind, PeerResponse::Kind::kFault) << row.file;
    EXPECT_EQ(r.fault, row.fault) << row.file;
    EXPECT_EQ(r.toolkit, row.toolkit) << row.file;
    EXPECT_EQ(r.retryable, row.retryable) << row.file;
  }
}

}  // namespace
}  // namespace itk::itk2
