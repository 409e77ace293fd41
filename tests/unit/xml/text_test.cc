#include "itk/xml/text.h"

#include <gtest/gtest.h>

namespace itk::xml {
namespace {

TEST(TextTest, Utf16ToUtf8CoversEveryLength) {
  // A, e-acute, euro sign, U+1F600 (a surrogate pair).
  std::u16string text = u"A\u00E9\u20AC\U0001F600";
  EXPECT_EQ(toUtf8(text), "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8Length(text), 10u);
}

TEST(TextTest, LoneSurrogateBecomesReplacementCharacter) {
  std::u16string text = u"a";
  text += char16_t(0xD800);
  EXPECT_EQ(toUtf8(text), "a\xEF\xBF\xBD");
}

TEST(TextTest, EqualsAsciiComparesWithoutConverting) {
  EXPECT_TRUE(equalsAscii(u"header", "header"));
  EXPECT_FALSE(equalsAscii(u"header", "headers"));
  EXPECT_FALSE(equalsAscii(u"h\u00E9", "h\xC3"));
}

TEST(TextTest, TrimsXmlWhitespaceOnly) {
  EXPECT_EQ(trimXmlSpace(" \t\r\nOK \n"), "OK");
  EXPECT_EQ(trimXmlSpace("\xC2\xA0OK"), "\xC2\xA0OK");  // NBSP is not XML whitespace
  EXPECT_TRUE(isAllXmlSpace(u" \t\r\n"));
  EXPECT_FALSE(isAllXmlSpace(u" x "));
}

TEST(TextTest, EscapesTextAndAttributes) {
  EXPECT_EQ(escapeText("a<b>&c\r"), "a&lt;b&gt;&amp;c&#13;");
  std::string attr;
  appendEscapedAttribute(attr, "\"q\"\t\n<&>");
  EXPECT_EQ(attr, "&quot;q&quot;&#9;&#10;&lt;&amp;&gt;");
}

TEST(TextTest, DecodesReferencesCdataAndLineEnds) {
  auto text = decodeCharacterData("a&lt;&#65;&#x42;<![CDATA[<x>&amp;]]><!-- c --><?pi x?>\r\nz\r");
  ASSERT_TRUE(text.ok()) << text.status().toString();
  EXPECT_EQ(*text, "a<AB<x>&amp;\nz\n");
}

TEST(TextTest, DecodeRejectsChildElements) {
  auto text = decodeCharacterData("text<child/>");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().vocabularyCode(), "DE0001");
}

TEST(TextTest, DecodeRejectsUndeclaredEntitiesAndBadCharacterReferences) {
  EXPECT_FALSE(decodeCharacterData("&xxe;").ok());
  EXPECT_FALSE(decodeCharacterData("&#0;").ok());
  EXPECT_FALSE(decodeCharacterData("&#xZZ;").ok());
  EXPECT_FALSE(decodeCharacterData("&amp").ok());
}

}  // namespace
}  // namespace itk::xml
