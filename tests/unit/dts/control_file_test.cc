// The DTS control file (spec/itk2.md §6.1): build/parse round trip, both checksum spellings, the
// status record, and hostile or broken input refused as a Status (never a crash).
#include "itk/dts/control_file.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace itk::dts {
namespace {

std::string data(const std::string& name) {
  return test::readFile(std::string(ITK_TEST_DATA_DIR) + "/dts/" + name);
}

TEST(DtsControlFile, BuildThenParseRoundTrips) {
  ControlFile c;
  c.from_dts = "X26HUB01DTS";
  c.to_dts = "RW1DTS001";
  c.subject = "a & b <c>";
  c.local_id = "5D3C0B8E-7A51-4E2B-9A57-1F0C2B6E9D10";
  c.workflow_id = "TOC_DISCH_DMS";
  std::string text = buildControlFile(c);
  EXPECT_NE(text.find("<Version>1.0</Version>"), std::string::npos) << text;
  EXPECT_NE(text.find("<AddressType>DTS</AddressType>"), std::string::npos);
  EXPECT_NE(text.find("<MessageType>Data</MessageType>"), std::string::npos);
  EXPECT_NE(text.find("<Compress>N</Compress>"), std::string::npos);
  EXPECT_NE(text.find("<Encrypted>N</Encrypted>"), std::string::npos);
  EXPECT_NE(text.find("<IsCompressed>N</IsCompressed>"), std::string::npos);
  EXPECT_EQ(text.find("StatusRecord"), std::string::npos);  // only the DTS client writes one
  // §6.1 order (NHSD example): From_DTS before To_DTS before Subject before LocalId ...
  EXPECT_LT(text.find("<From_DTS>"), text.find("<To_DTS>"));
  EXPECT_LT(text.find("<Subject>"), text.find("<LocalId>"));
  EXPECT_LT(text.find("<Encrypted>"), text.find("<WorkflowId>"));
  EXPECT_LT(text.find("<WorkflowId>"), text.find("<IsCompressed>"));

  auto back = parseControlFile(text);
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(back->version, "1.0");
  EXPECT_EQ(back->address_type, "DTS");
  EXPECT_TRUE(back->isData());
  EXPECT_EQ(back->from_dts, c.from_dts);
  EXPECT_EQ(back->to_dts, c.to_dts);
  EXPECT_EQ(back->subject, c.subject);
  EXPECT_EQ(back->local_id, c.local_id);
  EXPECT_EQ(back->workflow_id, c.workflow_id);
  EXPECT_FALSE(back->compress);
  EXPECT_EQ(back->status(), nullptr);
}

TEST(DtsControlFile, StatusRecordRoundTrips) {
  ControlFile c;
  c.message_type = "Report";
  c.compress = true;
  c.status_records.push_back({"20261125101530", "SEND", "ERROR", "05", "retry"});
  auto back = parseControlFile(buildControlFile(c));
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_TRUE(back->isReport());
  EXPECT_TRUE(back->compress);
  ASSERT_NE(back->status(), nullptr);
  EXPECT_EQ(back->status()->event, "SEND");
  EXPECT_TRUE(back->status()->isError());
  EXPECT_EQ(back->status()->status_code, "05");
}

TEST(DtsControlFile, ReadsTheCiaoShapeWithDataCheckSumAndAStatusRecord) {
  auto c = parseControlFile(data("sent-transfer-error.ctl"));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->from_dts, "X26HUB01DTS");
  EXPECT_EQ(c->to_dts, "RW1DTS001");
  EXPECT_EQ(c->local_id, "5D3C0B8E-7A51-4E2B-9A57-1F0C2B6E9D10");
  EXPECT_EQ(c->dts_id, "X26HUB01DTS_20261125101530_000042");
  EXPECT_EQ(c->data_checksum, "0f343b0931126a20f133d67c2b018a3b");
  EXPECT_TRUE(c->compress);
  EXPECT_FALSE(c->encrypted);
  EXPECT_TRUE(c->from_esmtp.empty());
  ASSERT_NE(c->status(), nullptr);
  EXPECT_EQ(c->status()->date_time, "20261125101530");
  EXPECT_EQ(c->status()->event, "TRANSFER");
  EXPECT_EQ(c->status()->status, "ERROR");
  EXPECT_EQ(c->status()->description, "Transfer error - retry");
}

TEST(DtsControlFile, ReadsTheNhsdDataChecksumSpelling) {
  auto c = parseControlFile(data("in-data-nhsd.ctl"));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->data_checksum, "6b86b273ff34fce19d6b804eff5a3f57");
  EXPECT_EQ(c->to_dts, "X26HUB01DTS");
  ASSERT_NE(c->status(), nullptr);
  EXPECT_FALSE(c->status()->isError());
}

TEST(DtsControlFile, UnknownElementsAreIgnored) {
  auto c = parseControlFile(
      "<DTSControl><Version>1.0</Version><NewThing>x</NewThing>"
      "<To_DTS> X26A </To_DTS></DTSControl>");
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->to_dts, "X26A");  // trimmed
}

TEST(DtsControlFile, BrokenOrHostileInputIsAStatus) {
  for (const char* bad : {
           "",
           "not xml at all",
           "<DTSControl><Version>1.0</Version>",  // truncated
           "<Other/>",
           "<x:DTSControl xmlns:x=\"urn:x\"/>",
           "<DTSControl><Compress>maybe</Compress></DTSControl>",
           "<DTSControl><To_DTS><b>X</b></To_DTS></DTSControl>",
           "<!DOCTYPE d [<!ENTITY e \"x\">]><DTSControl><To_DTS>&e;</To_DTS></DTSControl>",
           "\xff\xfe<\0D\0",
       }) {
    auto c = parseControlFile(bad);
    EXPECT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), Code::kInvalid) << bad;
  }
  EXPECT_FALSE(parseControlFile(std::string(70000, ' ') + "<DTSControl/>").ok());
}

TEST(DtsControlFile, SafeTokens) {
  EXPECT_TRUE(isMailboxId("X26HUB01DTS"));
  EXPECT_FALSE(isMailboxId("X26_HUB"));
  EXPECT_FALSE(isMailboxId("../etc"));
  EXPECT_FALSE(isMailboxId(""));
  EXPECT_TRUE(isSafeFileToken("5D3C0B8E-7A51_x"));
  EXPECT_FALSE(isSafeFileToken("a/b"));
  EXPECT_FALSE(isSafeFileToken("a.b"));
  EXPECT_FALSE(isSafeFileToken(std::string(101, 'a')));
}

}  // namespace
}  // namespace itk::dts
