#include "itk/log.h"

#include <gtest/gtest.h>

namespace itk::log {
namespace {

TEST(LogTest, TextLineQuotesValuesThatNeedIt) {
  std::string line = formatLine(Format::kText, Level::kInfo, "2026-11-25T10:00:00.000Z",
                                "message.accepted",
                                {{"tracking_id", "217D1168"}, {"reason", "route not found"}});
  EXPECT_EQ(line,
            "2026-11-25T10:00:00.000Z info message.accepted tracking_id=217D1168 "
            "reason=\"route not found\"");
}

TEST(LogTest, JsonLineEscapes) {
  std::string line = formatLine(Format::kJson, Level::kWarn, "t", "x.y",
                                {{"detail", "a\"b\nc"}, {"attempt", 3}});
  EXPECT_EQ(line,
            "{\"ts\":\"t\",\"level\":\"warn\",\"event\":\"x.y\",\"detail\":\"a\\\"b\\nc\","
            "\"attempt\":\"3\"}");
}

TEST(LogTest, ParsesSettings) {
  Format f;
  Level l;
  EXPECT_TRUE(parseFormat("json", &f));
  EXPECT_EQ(f, Format::kJson);
  EXPECT_FALSE(parseFormat("xml", &f));
  EXPECT_TRUE(parseLevel("warning", &l));
  EXPECT_EQ(l, Level::kWarn);
}

}  // namespace
}  // namespace itk::log
