#include "itk/status.h"

#include <gtest/gtest.h>

#include "itk/uuid.h"

namespace itk {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.toolkitCode(), ToolkitCode::kNone);
  EXPECT_EQ(s.toString(), "ok");
}

TEST(StatusTest, ToolkitCodeDerivedFromCode) {
  EXPECT_EQ(Status::invalid("x").toolkitCode(), ToolkitCode::kInvalidMessage);
  EXPECT_EQ(Status::unavailable("x").toolkitCode(), ToolkitCode::kRetryable);
  EXPECT_EQ(Status::unknownAddress("x").toolkitCode(), ToolkitCode::kNotRetryable);
  EXPECT_EQ(Status::accessDenied("x").toolkitCode(), ToolkitCode::kAccessDenied);
}

TEST(StatusTest, AttachedVocabularyWins) {
  Status s = Status::invalid("manifest count").withToolkit(ToolkitCode::kInvalidMessage, "DE0006");
  EXPECT_EQ(s.vocabularyCode(), "DE0006");
  EXPECT_EQ(s.toString(), "invalid: DE0006 manifest count");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = Status::notFound("nothing");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
}

TEST(UuidTest, NewUuidIsUpperCaseV4) {
  std::string id = newUuid();
  EXPECT_TRUE(isUuid(id, /*upper_only=*/true)) << id;
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(id, newUuid());
  EXPECT_TRUE(isUuid(newUuidLower(), false));
  EXPECT_FALSE(isUuid(newUuidLower(), true));
  EXPECT_FALSE(isUuid("217D1168-7F0B-4F31-A0A9-5B030E545FA", true));
  EXPECT_FALSE(isUuid("217D1168-7F0B-4F31-A0A9_5B030E545FAE", true));
}

}  // namespace
}  // namespace itk
