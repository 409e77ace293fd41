#include <gtest/gtest.h>

#include "itk/routing/duration.h"

namespace itk {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, parses_each_unit) {
  EXPECT_EQ(*parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*parseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(*parseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(*parseDuration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(*parseDuration("5d"), milliseconds(432'000'000));
  EXPECT_EQ(*parseDuration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*parseDuration("0s"), milliseconds(0));
}

TEST(DurationTest, refuses_bare_numbers_unknown_units_and_signs) {
  for (const char* bad : {"", "30", "30x", "s", "-5s", "5 s", "1.5h", "5mss"}) {
    auto r = parseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalid) << bad;
  }
}

TEST(DurationTest, refuses_overflow) {
  EXPECT_FALSE(parseDuration("99999999999999999999s").ok());
  EXPECT_FALSE(parseDuration("9223372036854775807d").ok());
}

TEST(DurationTest, formats_shortest_exact_form) {
  EXPECT_EQ(formatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(formatDuration(milliseconds(90'000)), "1m30s");
  EXPECT_EQ(formatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(formatDuration(milliseconds(432'000'000)), "5d");
  for (const char* text : {"1h30m", "5d", "250ms", "1d2h3m4s5ms"}) {
    EXPECT_EQ(formatDuration(*parseDuration(text)), text);
  }
}

}  // namespace
}  // namespace itk
