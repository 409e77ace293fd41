#include "itk/envelope/payload_codec.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "test_messages.h"

namespace itk::itk2 {
namespace {

using testing::expectRefused;
using testing::readOk;
using testing::replaced;
using testing::validDe;

constexpr auto k1000 = ToolkitCode::kInvalidMessage;

std::string sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 0xF];
  }
  return hex;
}

TEST(Base64Test, RoundTripsEveryPaddingLength) {
  for (std::string_view text : {std::string_view(""), std::string_view("a"), std::string_view("ab"),
                                std::string_view("abc"), std::string_view("abcd"),
                                std::string_view("\x00\xFF\x10 binary", 10)}) {
    std::string encoded = base64Encode(text);
    Result<std::string> decoded = base64Decode(encoded, 1024);
    ASSERT_TRUE(decoded.ok()) << decoded.status().toString();
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_EQ(base64Encode("Man"), "TWFu");
  EXPECT_EQ(base64Encode("Ma"), "TWE=");
}

TEST(Base64Test, WrapsLinesAndDecodingIgnoresXmlWhitespace) {
  std::string encoded = base64Encode(std::string(100, 'x'), 76);
  EXPECT_EQ(encoded.find('\n'), 76u);
  Result<std::string> decoded = base64Decode("\n\t " + encoded + "\r\n", 1024);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, std::string(100, 'x'));
}

TEST(Base64Test, RefusesBadInputWithDe0012) {
  expectRefused(base64Decode("TWF*", 100).status(), k1000, "DE0012");
  expectRefused(base64Decode("TWE", 100).status(), k1000, "DE0012");
  expectRefused(base64Decode("TW=u", 100).status(), k1000, "DE0012");
}

TEST(Base64Test, RefusesOutputOverTheLimit) {
  expectRefused(base64Decode(base64Encode(std::string(100, 'x')), 99).status(), k1000, "DE0012");
}

TEST(GzipTest, RoundTrips) {
  std::string text(10000, 'z');
  Result<std::string> gz = gzipCompress(text);
  ASSERT_TRUE(gz.ok());
  EXPECT_EQ(static_cast<unsigned char>((*gz)[0]), 0x1F);  // RFC 1952 magic
  EXPECT_EQ(static_cast<unsigned char>((*gz)[1]), 0x8B);
  Result<std::string> back = gzipDecompress(*gz, text.size());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
}

TEST(GzipTest, ABombStopsAtTheLimit) {
  Result<std::string> gz = gzipCompress(std::string(size_t{8} << 20, '\0'));  // ~8 KB compressed
  ASSERT_TRUE(gz.ok());
  Status s = gzipDecompress(*gz, 1 << 20).status();
  expectRefused(s, k1000, "DE0012");
  EXPECT_NE(s.message().find("more than 1048576 bytes"), std::string::npos);
}

TEST(GzipTest, CorruptOrTruncatedDataIsRefused) {
  Result<std::string> gz = gzipCompress("some text that compresses");
  ASSERT_TRUE(gz.ok());
  expectRefused(gzipDecompress(gz->substr(0, gz->size() / 2), 1024).status(), k1000, "DE0012");
  expectRefused(gzipDecompress("not gzip at all", 1024).status(), k1000, "DE0012");
}

TEST(PayloadEncodingTest, FollowsTheManifestFlags) {
  ManifestItem item;
  item.mimetype = "text/xml";
  EXPECT_EQ(payloadEncoding(item), PayloadEncoding::kXml);
  item.mimetype = "text/plain";
  EXPECT_EQ(payloadEncoding(item), PayloadEncoding::kText);
  item.base64 = true;
  EXPECT_EQ(payloadEncoding(item), PayloadEncoding::kBase64);
  item.compressed = true;
  EXPECT_EQ(payloadEncoding(item), PayloadEncoding::kCompressedBase64);
  item.encrypted = true;  // the other flags then describe the cleartext (§1.4)
  EXPECT_EQ(payloadEncoding(item), PayloadEncoding::kEncrypted);
}

TEST(DecodePayloadTest, XmlPayloadIsItsElement) {
  std::string input = validDe();
  ItkDocument doc = readOk(input);
  Result<std::string> payload = decodePayload(input, *doc.de, doc.de->payloads[0]);
  ASSERT_TRUE(payload.ok());
  EXPECT_TRUE(payload->starts_with("<ClinicalDocument"));
  EXPECT_TRUE(payload->ends_with("</ClinicalDocument>"));
}

TEST(DecodePayloadTest, TextPayloadIsItsCharacterData) {
  std::string input = replaced(validDe(), "mimetype=\"text/xml\"", "mimetype=\"text/plain\"");
  input = replaced(input,
                   "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id "
                   "root=\"D4059820-1ACB-400A-B61D-A0A900A3D11F\"/><title>Ambulance &amp; Service "
                   "Report</title></ClinicalDocument>",
                   "MSH|^~\\&amp;|A&#13;PID|1");
  ItkDocument doc = readOk(input);
  Result<std::string> payload = decodePayload(input, *doc.de, doc.de->payloads[0]);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, "MSH|^~\\&|A\rPID|1");
}

TEST(DecodePayloadTest, EncryptedPayloadIsPassedThroughUntouched) {
  constexpr std::string_view kEncrypted =
      "<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"><xenc:CipherData>"
      "<xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>";
  std::string input = replaced(validDe(), "mimetype=\"text/xml\"",
                               "mimetype=\"text/xml\" encrypted=\"true\" base64=\"true\"");
  input = replaced(input,
                   "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id "
                   "root=\"D4059820-1ACB-400A-B61D-A0A900A3D11F\"/><title>Ambulance &amp; Service "
                   "Report</title></ClinicalDocument>",
                   kEncrypted);
  ItkDocument doc = readOk(input);
  Result<std::string> payload = decodePayload(input, *doc.de, doc.de->payloads[0]);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, kEncrypted);
}

TEST(DecodePayloadTest, Base64PdfFixtureDecodesToThePdf) {
  ITK_REQUIRE_FIXTURES();
  std::string input = testing::fixture("envelopes/derived/derived-base64-pdf-SendDocument-de.xml");
  ItkDocument doc = readOk(input);
  ASSERT_TRUE(doc.de);
  ASSERT_EQ(doc.de->payloads.size(), 1u);
  EXPECT_EQ(doc.de->payloads[0].filename, "discharge-letter.pdf");
  Result<std::string> pdf = decodePayload(input, *doc.de, doc.de->payloads[0]);
  ASSERT_TRUE(pdf.ok()) << pdf.status().toString();
  EXPECT_EQ(pdf->size(), 895u);
  EXPECT_TRUE(pdf->starts_with("%PDF-1.4"));
  EXPECT_NE(pdf->rfind("%%EOF"), std::string::npos);
  EXPECT_TRUE(sha256Hex(*pdf).starts_with("b51c5355fb07fcdb"));
}

TEST(DecodePayloadTest, CompressedCdaFixtureDecodesToTheOriginalClinicalDocument) {
  ITK_REQUIRE_FIXTURES();
  std::string input = testing::fixture("envelopes/derived/derived-compressed-base64-cda-de.xml");
  ItkDocument doc = readOk(input);
  ASSERT_TRUE(doc.de);
  Result<std::string> cda = decodePayload(input, *doc.de, doc.de->payloads[0]);
  ASSERT_TRUE(cda.ok()) << cda.status().toString();
  EXPECT_EQ(cda->size(), 77319u);
  EXPECT_TRUE(sha256Hex(*cda).starts_with("cc7d18c9a19297a2"));
  // Byte-identical to the ClinicalDocument of tkw-ITK_DE.xml, as the fixture notes say.
  std::string original = testing::fixture("envelopes/tkw-ITK_DE.xml");
  ItkDocument original_doc = readOk(original);
  EXPECT_EQ(*cda, original_doc.de->payloads[0].child.in(original));
}

TEST(DecodePayloadTest, PayloadWithoutManifestItemIsDe0007) {
  std::string input = validDe();
  ItkDocument doc = readOk(input);
  doc.de->manifest.clear();
  expectRefused(decodePayload(input, *doc.de, doc.de->payloads[0]).status(), k1000, "DE0007");
}

}  // namespace
}  // namespace itk::itk2
