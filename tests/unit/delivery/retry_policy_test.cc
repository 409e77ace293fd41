#include "delivery/retry_policy.h"

#include <gtest/gtest.h>

namespace itk {
namespace {

using namespace std::chrono_literals;

RetrySpec spec() {
  RetrySpec s;
  s.max_attempts = 8;
  s.initial_backoff = 1000ms;
  s.max_backoff = 10000ms;
  s.multiplier = 2.0;
  s.jitter = 0.2;
  s.deadline = 24h;
  return s;
}

const TimePoint kNow = fromEpochMillis(1767225600000);
const TimePoint kFar = kNow + 24h;

TEST(RetryPolicyTest, BackoffDoublesUpToTheCap) {
  RetryPolicy p(spec());
  EXPECT_EQ(p.backoff(1), 1000ms);
  EXPECT_EQ(p.backoff(2), 2000ms);
  EXPECT_EQ(p.backoff(3), 4000ms);
  EXPECT_EQ(p.backoff(4), 8000ms);
  EXPECT_EQ(p.backoff(5), 10000ms);  // capped
  EXPECT_EQ(p.backoff(50), 10000ms);
}

TEST(RetryPolicyTest, JitterSpreadsEachDelayByTheConfiguredFraction) {
  RetryPolicy p(spec());
  // unit_random 0.5 is no jitter; 0 is -20 %; just under 1 is +20 %.
  EXPECT_EQ(*p.nextAttempt(2, kNow, kFar, 0.5), kNow + 2000ms);
  EXPECT_EQ(*p.nextAttempt(2, kNow, kFar, 0.0), kNow + 1600ms);
  EXPECT_EQ(*p.nextAttempt(2, kNow, kFar, 0.75), kNow + 2200ms);
  EXPECT_EQ(*p.nextAttempt(6, kNow, kFar, 0.0), kNow + 8000ms);  // jitter applies to the cap too
  RetrySpec none = spec();
  none.jitter = 0;
  EXPECT_EQ(*RetryPolicy(none).nextAttempt(3, kNow, kFar, 0.9), kNow + 4000ms);
}

TEST(RetryPolicyTest, GivesUpAfterTheLastAttempt) {
  RetryPolicy p(spec());
  EXPECT_TRUE(p.nextAttempt(7, kNow, kFar, 0.5).has_value());
  EXPECT_FALSE(p.nextAttempt(8, kNow, kFar, 0.5).has_value());
  RetrySpec once = spec();
  once.max_attempts = 1;
  EXPECT_FALSE(RetryPolicy(once).nextAttempt(1, kNow, kFar, 0.5).has_value());
}

TEST(RetryPolicyTest, GivesUpWhenTheNextAttemptWouldMissTheDeadline) {
  RetryPolicy p(spec());
  EXPECT_EQ(*p.nextAttempt(3, kNow, kNow + 4000ms, 0.5), kNow + 4000ms);
  EXPECT_FALSE(p.nextAttempt(3, kNow, kNow + 3999ms, 0.5).has_value());
}

TEST(RetryPolicyTest, AMultiplierBelowOneNeverShrinksTheDelay) {
  RetrySpec s = spec();
  s.multiplier = 0.5;
  EXPECT_EQ(RetryPolicy(s).backoff(4), 1000ms);
}

}  // namespace
}  // namespace itk
