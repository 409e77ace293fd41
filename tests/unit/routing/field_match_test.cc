#include <gtest/gtest.h>

#include "itk/routing.h"

namespace itk {
namespace {

constexpr const char* kRhm = "urn:nhs-uk:addressing:ods:RHM";

TEST(FieldMatchTest, any_matches_everything_including_empty) {
  FieldMatch m = FieldMatch::any();
  EXPECT_TRUE(m.matches(""));
  EXPECT_TRUE(m.matches(kRhm));
  EXPECT_EQ(m.specificity(), 0);
}

TEST(FieldMatchTest, exact_is_byte_for_byte) {
  FieldMatch m = FieldMatch::exact(kRhm);
  EXPECT_TRUE(m.matches(kRhm));
  EXPECT_FALSE(m.matches("urn:nhs-uk:addressing:ods:rhm"));  // case matters
  EXPECT_FALSE(m.matches("urn:nhs-uk:addressing:ods:RHM:team1"));
  EXPECT_FALSE(m.matches(""));
}

TEST(FieldMatchTest, prefix_matches_itself_and_descendant_tokens_only) {
  FieldMatch m = FieldMatch::prefix(kRhm);
  EXPECT_TRUE(m.matches(kRhm));
  EXPECT_TRUE(m.matches("urn:nhs-uk:addressing:ods:RHM:team1"));
  EXPECT_TRUE(m.matches("urn:nhs-uk:addressing:ods:RHM:team1:A"));
  EXPECT_FALSE(m.matches("urn:nhs-uk:addressing:ods:RHMX"));
  EXPECT_FALSE(m.matches("urn:nhs-uk:addressing:ods:RH"));
  EXPECT_FALSE(m.matches("urn:nhs-uk:addressing:ods"));
}

TEST(FieldMatchTest, glob_star_crosses_colons_and_question_mark_is_one_character) {
  EXPECT_TRUE(globMatch("urn:nhs-uk:addressing:ods:R*", "urn:nhs-uk:addressing:ods:RHM:team1"));
  EXPECT_TRUE(globMatch("*:team?:*", "urn:nhs-uk:addressing:ods:RHM:team1:A"));
  EXPECT_FALSE(globMatch("*:team?:*", "urn:nhs-uk:addressing:ods:RHM:team12:A"));
  EXPECT_TRUE(globMatch("a*b*c", "abc"));
  EXPECT_TRUE(globMatch("a*b*c", "aXXbYYbZc"));
  EXPECT_FALSE(globMatch("a*b*c", "aXXbYYbZ"));
  EXPECT_TRUE(globMatch("X26???", "X26ABC"));
  EXPECT_FALSE(globMatch("X26???", "X26ABCD"));
  EXPECT_TRUE(globMatch("**", ""));
  EXPECT_FALSE(globMatch("?", ""));
}

TEST(FieldMatchTest, glob_of_pathological_input_finishes) {
  std::string value(20000, 'a');
  EXPECT_FALSE(globMatch("*a*a*a*a*a*a*a*b", value));  // quadratic at worst, never exponential
}

TEST(FieldMatchTest, glob_constructor_normalises) {
  EXPECT_EQ(FieldMatch::glob("abc").kind, FieldMatch::Kind::kExact);
  EXPECT_EQ(FieldMatch::glob("*").kind, FieldMatch::Kind::kAny);
  EXPECT_EQ(FieldMatch::glob("**").kind, FieldMatch::Kind::kAny);
  EXPECT_EQ(FieldMatch::glob("a*").kind, FieldMatch::Kind::kGlob);
}

TEST(FieldMatchTest, specificity_exact_then_literal_characters_then_any) {
  int exact = FieldMatch::exact("urn:nhs-uk:addressing:ods:RHM:team1").specificity();
  int long_prefix = FieldMatch::prefix(kRhm).specificity();
  int short_prefix = FieldMatch::prefix("urn:nhs-uk:addressing").specificity();
  int long_glob = FieldMatch::glob("urn:nhs-uk:addressing:ods:RHM:team?").specificity();
  int short_glob = FieldMatch::glob("urn:nhs-uk:addressing:ods:R*").specificity();
  EXPECT_GT(exact, long_glob);
  EXPECT_GT(long_glob, long_prefix);   // 34 literal characters against 29
  EXPECT_GT(long_prefix, short_glob);  // 29 against 27
  EXPECT_GT(short_glob, short_prefix);
  EXPECT_GT(short_prefix, FieldMatch::any().specificity());
  // On equal literal characters a prefix beats a glob: it also pins a token boundary.
  EXPECT_GT(FieldMatch::prefix("abcd").specificity(), FieldMatch::glob("abcd*").specificity());
}

TEST(FieldMatchTest, covers_follows_set_containment) {
  FieldMatch prefix = FieldMatch::prefix(kRhm);
  EXPECT_TRUE(FieldMatch::any().covers(prefix));
  EXPECT_FALSE(prefix.covers(FieldMatch::any()));
  EXPECT_TRUE(prefix.covers(FieldMatch::exact("urn:nhs-uk:addressing:ods:RHM:team1")));
  EXPECT_FALSE(prefix.covers(FieldMatch::exact("urn:nhs-uk:addressing:ods:RHMX")));
  EXPECT_TRUE(prefix.covers(FieldMatch::prefix("urn:nhs-uk:addressing:ods:RHM:team1")));
  EXPECT_FALSE(prefix.covers(FieldMatch::prefix("urn:nhs-uk:addressing:ods")));
  EXPECT_TRUE(prefix.covers(FieldMatch::glob("urn:nhs-uk:addressing:ods:RHM:team?")));
  EXPECT_FALSE(prefix.covers(FieldMatch::glob("urn:nhs-uk:addressing:ods:RHM*")));
  FieldMatch head_star = FieldMatch::glob("urn:nhs-uk:addressing:ods:R*");
  EXPECT_TRUE(head_star.covers(prefix));
  EXPECT_TRUE(head_star.covers(FieldMatch::glob("urn:nhs-uk:addressing:ods:RH?")));
  EXPECT_FALSE(head_star.covers(FieldMatch::glob("urn:nhs-uk:addressing:ods:?H*")));
  EXPECT_TRUE(head_star.covers(head_star));
  EXPECT_FALSE(FieldMatch::exact(kRhm).covers(prefix));
  EXPECT_FALSE(FieldMatch::exact("a?").covers(FieldMatch::glob("a?")));
}

TEST(FieldMatchTest, to_string_names_kind_and_pattern) {
  EXPECT_EQ(FieldMatch::any().toString(), "any");
  EXPECT_EQ(FieldMatch::prefix("a:b").toString(), "prefix \"a:b\"");
  EXPECT_EQ(FieldMatch::glob("a*").toString(), "glob \"a*\"");
  EXPECT_EQ(FieldMatch::exact("x").toString(), "exact \"x\"");
}

}  // namespace
}  // namespace itk
