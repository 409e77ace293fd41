// Known-good ITK2 messages for unit tests, built from the spec's facts, and helpers to break them
// one rule at a time.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "itk/clock.h"
#include "itk/envelope/reader.h"
#include "itk/status.h"
#include "support/temp_dir.h"

namespace itk::itk2::testing {

inline constexpr std::string_view kTrackingId = "217D1168-7F0B-4F31-A0A9-5B030E545FAE";
inline constexpr std::string_view kPayloadId = "uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5";
inline constexpr std::string_view kMessageId = "6427C7EE-AA64-5712-855F-67F27DCF1D69";
inline constexpr std::string_view kTimestampId = "D6CD5232-14CF-11DF-9423-1F9A910D4703";
inline constexpr std::string_view kService = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";

// A valid SendCDADocument DE: two addresses, audit identity, one CDA payload, sender address,
// infack requested, busack not, an interaction.
inline std::string validDe() {
  return R"(<itk:DistributionEnvelope xmlns:itk="urn:nhs-itk:ns:201005">)"
         R"(<itk:header service="urn:nhs-itk:services:201005:SendCDADocument-v2-0" )"
         R"(trackingid="217D1168-7F0B-4F31-A0A9-5B030E545FAE">)"
         R"(<itk:addresslist><itk:address uri="urn:nhs-uk:addressing:ods:BBB:X0912"/>)"
         R"(<itk:address uri="urn:nhs-uk:addressing:ods:X0913"/></itk:addresslist>)"
         R"(<itk:auditIdentity><itk:id uri="urn:nhs-uk:identity:ods:XZ901"/></itk:auditIdentity>)"
         R"(<itk:manifest count="1"><itk:manifestitem )"
         R"(id="uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5" mimetype="text/xml" )"
         R"(profileid="urn:nhs-en:profile:ambulanceServiceSummaryPatientReport-v1-1"/>)"
         R"(</itk:manifest>)"
         R"(<itk:senderAddress uri="urn:nhs-uk:addressing:ods:AAA:XZ901:XY7650987"/>)"
         R"(<itk:handlingSpecification>)"
         R"(<itk:spec key="urn:nhs-itk:ns:201005:infackrequested" value="true"/>)"
         R"(<itk:spec key="urn:nhs-itk:ns:201005:ackrequested" value="false"/>)"
         R"(<itk:spec key="urn:nhs-itk:ns:201005:interaction" )"
         R"(value="urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0"/>)"
         R"(</itk:handlingSpecification></itk:header>)"
         R"(<itk:payloads count="1"><itk:payload id="uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5">)"
         R"(<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="D4059820-1ACB-400A-B61D-A0A900A3D11F"/>)"
         R"(<title>Ambulance &amp; Service Report</title></ClinicalDocument>)"
         R"(</itk:payload></itk:payloads></itk:DistributionEnvelope>)";
}

// A valid ITK WS request (§4.2) carrying `de`, timestamped 2026-11-25T10:00:00Z-10:10:00Z.
inline std::string soapRequest(const std::string& de = validDe()) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>)"
         R"(<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" )"
         R"(xmlns:wsa="http://www.w3.org/2005/08/addressing" )"
         R"(xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" )"
         R"(xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">)"
         R"(<soap:Header>)"
         R"(<wsa:MessageID>6427C7EE-AA64-5712-855F-67F27DCF1D69</wsa:MessageID>)"
         R"(<wsa:Action>urn:nhs-itk:services:201005:SendCDADocument-v2-0</wsa:Action>)"
         R"(<wsa:To>http://127.0.0.1:4848/syncsoap</wsa:To>)"
         R"(<wsa:From><wsa:Address>http://localhost:4000</wsa:Address></wsa:From>)"
         R"(<wsse:Security><wsu:Timestamp wsu:Id="D6CD5232-14CF-11DF-9423-1F9A910D4703">)"
         R"(<wsu:Created>2026-11-25T10:00:00Z</wsu:Created>)"
         R"(<wsu:Expires>2026-11-25T10:10:00Z</wsu:Expires></wsu:Timestamp>)"
         R"(<wsse:UsernameToken><wsse:Username>TKS Server test</wsse:Username>)"
         R"(</wsse:UsernameToken></wsse:Security>)"
         R"(</soap:Header><soap:Body>)" +
         de + R"(</soap:Body></soap:Envelope>)";
}

// The clock the curated fixtures and soapRequest() are meant to be read at.
inline TimePoint fixtureNow() {
  TimePoint t;
  EXPECT_TRUE(parseIsoDateTime("2026-11-25T10:00:30Z", &t));
  return t;
}

inline TimePoint at(std::string_view iso) {
  TimePoint t;
  EXPECT_TRUE(parseIsoDateTime(iso, &t)) << iso;
  return t;
}

// `text` with the one occurrence of `from` replaced by `to` (fails the test if absent).
inline std::string replaced(std::string text, std::string_view from, std::string_view to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not found: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

inline ItkDocument readOk(std::string_view bytes) {
  Result<ItkDocument> doc = readItkDocument(bytes);
  EXPECT_TRUE(doc.ok()) << doc.status().toString();
  return doc.ok() ? std::move(doc).value() : ItkDocument{};
}

inline Status readStatus(std::string_view bytes) {
  return readItkDocument(bytes).status();
}

// Asserts a refusal with the wire vocabulary: toolkit code and DE code ("" = none).
inline void expectRefused(const Status& s, ToolkitCode toolkit, std::string_view de_code) {
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.toolkitCode(), toolkit) << s.toString();
  EXPECT_EQ(s.vocabularyCode(), de_code) << s.toString();
}

inline std::string fixturesDir() {
  return ITK_FIXTURES_DIR;
}

inline bool fixturesPresent() {
  return std::filesystem::is_directory(fixturesDir() + "/itk2");
}

// The fixture `relative` under ../shared/fixtures/itk2.
inline std::string fixture(std::string_view relative) {
  return test::readFile(fixturesDir() + "/itk2/" + std::string(relative));
}

#define ITK_REQUIRE_FIXTURES()                                                        \
  if (!::itk::itk2::testing::fixturesPresent())                                       \
  GTEST_SKIP() << "ITK fixtures not found at " << ::itk::itk2::testing::fixturesDir() \
               << " (ITK_FIXTURES_DIR)"

}  // namespace itk::itk2::testing
