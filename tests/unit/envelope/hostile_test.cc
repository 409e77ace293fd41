// Hostile XML at the ITK door: each is refused by readItkDocument() with toolkit code 1000 and
// DE0001 before any of it is interpreted, and without expanding anything.
#include <gtest/gtest.h>

#include "itk/envelope/reader.h"
#include "test_messages.h"

namespace itk::itk2 {
namespace {

using testing::expectRefused;
using testing::readStatus;
using testing::replaced;
using testing::soapRequest;
using testing::validDe;

constexpr auto k1000 = ToolkitCode::kInvalidMessage;

void expectHostileRefused(const Status& s, std::string_view fragment) {
  expectRefused(s, k1000, "DE0001");
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(HostileXmlTest, ExternalEntityInASoapRequestIsRefused) {
  std::string input = replaced(soapRequest(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                               "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!DOCTYPE soap:Envelope "
                               "[<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>");
  input = replaced(input, "TKS Server test", "&xxe;");
  expectHostileRefused(readStatus(input), "DOCTYPE");
}

TEST(HostileXmlTest, BillionLaughsInADeIsRefused) {
  // lol9 would expand to 10^9 "lol"s.
  std::string doctype = "<!DOCTYPE itk:DistributionEnvelope [<!ENTITY lol0 \"lol\">";
  for (int i = 1; i <= 9; ++i) {
    doctype += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) doctype += "&lol" + std::to_string(i - 1) + ";";
    doctype += "\">";
  }
  doctype += "]>";
  std::string input = doctype + replaced(validDe(), "Ambulance &amp; Service Report", "&lol9;");
  expectHostileRefused(readStatus(input), "DOCTYPE");
}

TEST(HostileXmlTest, ExternalDtdIsRefused) {
  expectHostileRefused(readStatus("<!DOCTYPE itk:DistributionEnvelope SYSTEM "
                                  "\"http://127.0.0.1:9/evil.dtd\">" +
                                  validDe()),
                       "DOCTYPE");
}

TEST(HostileXmlTest, DeepNestingInAPayloadStopsAtTheDepthLimit) {
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += "<x>";
  std::string input = replaced(validDe(), "<title>", deep + "<title>");
  expectHostileRefused(readStatus(input), "nesting deeper than the limit of 256");
}

TEST(HostileXmlTest, OversizeMessageIsRefusedBeforeParsing) {
  ReadOptions options;
  options.xml.max_bytes = 1024;
  std::string input = replaced(validDe(), "Ambulance", std::string(2000, 'A'));
  expectHostileRefused(readItkDocument(input, options).status(), "exceeds the limit of 1024");
}

TEST(HostileXmlTest, ElementFloodStopsAtTheElementLimit) {
  ReadOptions options;
  options.xml.max_elements = 100;
  std::string flood;
  for (int i = 0; i < 10000; ++i) flood += "<e/>";
  std::string input = replaced(validDe(), "<title>", flood + "<title>");
  expectHostileRefused(readItkDocument(input, options).status(), "more elements than the limit");
}

TEST(HostileXmlTest, AttributeFloodIsRefused) {
  std::string attributes;
  for (int i = 0; i < 300; ++i) attributes += " a" + std::to_string(i) + "=\"x\"";
  std::string input = replaced(validDe(), "<title>", "<title" + attributes + ">");
  expectHostileRefused(readStatus(input), "more attributes than the limit");
}

TEST(HostileXmlTest, Utf16DocumentIsRefused) {
  std::string utf8 = validDe();
  std::string utf16 = "\xFF\xFE";
  for (char c : utf8) {
    utf16 += c;
    utf16 += '\0';
  }
  expectHostileRefused(readStatus(utf16), "ITK requires UTF-8");
}

TEST(HostileXmlTest, Latin1DeclarationIsRefused) {
  expectHostileRefused(readStatus("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + validDe()),
                       "ITK requires UTF-8");
}

TEST(HostileXmlTest, InvalidUtf8BytesAreRefused) {
  expectHostileRefused(readStatus(replaced(validDe(), "Ambulance", "Ambul\xE9nce")),
                       "not well-formed");
}

TEST(HostileXmlTest, UndeclaredEntityIsRefused) {
  expectHostileRefused(readStatus(replaced(validDe(), "&amp;", "&xxe;")), "not well-formed");
}

TEST(HostileXmlTest, TruncatedMessageIsRefused) {
  std::string input = soapRequest();
  input.resize(input.size() / 2);
  expectHostileRefused(readStatus(input), "not well-formed");
}

}  // namespace
}  // namespace itk::itk2
