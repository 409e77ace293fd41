#include "itk/file_names.h"

#include <gtest/gtest.h>

namespace itk {
namespace {

TEST(FileNamesTest, OnlyLettersDigitsDashAndUnderscoreAreSafe) {
  EXPECT_TRUE(isSafeFileToken("5D3C0B8E-7A51_x"));
  EXPECT_FALSE(isSafeFileToken(""));
  EXPECT_FALSE(isSafeFileToken("../etc/passwd"));
  EXPECT_FALSE(isSafeFileToken("a.b"));
  EXPECT_FALSE(isSafeFileToken(std::string(101, 'a')));
  EXPECT_TRUE(isSafeFileToken(std::string(8, 'a'), 8));
  EXPECT_FALSE(isSafeFileToken(std::string(9, 'a'), 8));
}

TEST(FileNamesTest, AnythingElseIsReplacedAndCut) {
  EXPECT_EQ(safeFileName("../x/y\n.z"), "___x_y__z");
  EXPECT_EQ(safeFileName("uuid:AB-12"), "uuid_AB-12");
  EXPECT_EQ(safeFileName(""), "message");
  EXPECT_EQ(safeFileName(std::string(100, 'a')).size(), 80u);
  EXPECT_EQ(safeFileName("abcdef", 3), "abc");
}

}  // namespace
}  // namespace itk
