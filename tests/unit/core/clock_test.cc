#include "itk/clock.h"

#include <gtest/gtest.h>

namespace itk {
namespace {

TEST(ClockTest, ParsesAndFormatsUtc) {
  TimePoint t;
  ASSERT_TRUE(parseIsoDateTime("2026-11-25T10:00:30Z", &t));
  EXPECT_EQ(formatIsoSeconds(t), "2026-11-25T10:00:30Z");
  EXPECT_EQ(formatCompact(t), "20261125100030");
}

TEST(ClockTest, AppliesOffsetsAndFractions) {
  TimePoint a, b;
  ASSERT_TRUE(parseIsoDateTime("2026-11-25T10:06:00+01:00", &a));
  ASSERT_TRUE(parseIsoDateTime("2026-11-25T09:06:00.250Z", &b));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count(), 250);
  EXPECT_EQ(formatIsoMillis(b), "2026-11-25T09:06:00.250Z");
  ASSERT_TRUE(parseIsoDateTime("2017-09-28T14:16:18", &a));  // no zone: UTC
  EXPECT_EQ(formatIsoSeconds(a), "2017-09-28T14:16:18Z");
}

TEST(ClockTest, RejectsMalformed) {
  TimePoint t;
  EXPECT_FALSE(parseIsoDateTime("2026-11-25 10:00:30Z", &t));
  EXPECT_FALSE(parseIsoDateTime("2026-13-25T10:00:30Z", &t));
  EXPECT_FALSE(parseIsoDateTime("2026-11-25T10:00:30Zjunk", &t));
  EXPECT_FALSE(parseIsoDateTime("", &t));
}

TEST(ClockTest, EpochMillisRoundTrip) {
  TimePoint t;
  ASSERT_TRUE(parseIsoDateTime("2026-11-25T10:00:30.123Z", &t));
  EXPECT_EQ(fromEpochMillis(toEpochMillis(t)), t);
}

}  // namespace
}  // namespace itk
