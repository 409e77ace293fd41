// Text helpers shared by the XML readers and builders: UTF-16 (what Xerces reports) to UTF-8,
// XML whitespace, escaping for building documents by splicing strings, and decoding the raw
// character data of an element taken from the original bytes.
#pragma once

#include <string>
#include <string_view>

#include "itk/status.h"

namespace itk::xml {

// Appends `text` (UTF-16) to `out` as UTF-8. A lone surrogate becomes U+FFFD.
void appendUtf8(std::string& out, std::u16string_view text);
std::string toUtf8(std::u16string_view text);
// The number of bytes appendUtf8 would append.
size_t utf8Length(std::u16string_view text);

// True when `text` is exactly the ASCII string `ascii` (no allocation).
bool equalsAscii(std::u16string_view text, std::string_view ascii);

// XML's S production: space, tab, CR, LF.
constexpr bool isXmlSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool isAllXmlSpace(std::u16string_view text);
std::string_view trimXmlSpace(std::string_view text);

// Escaping for text content (& < > and CR) and attribute values in double quotes (also " and
// TAB/LF/CR, so the value reads back unchanged).
void appendEscapedText(std::string& out, std::string_view text);
void appendEscapedAttribute(std::string& out, std::string_view value);
std::string escapeText(std::string_view text);

// Decodes the character data of an element as found between its tags in a well-formed document
// parsed by xml::parse (so the only references are the five predefined entities and character
// references): resolves references and CDATA sections, drops comments and processing
// instructions, and normalises line ends to LF as an XML parser would. Child elements are an
// error. Returns kInvalid (1000) for anything else.
Result<std::string> decodeCharacterData(std::string_view raw);

}  // namespace itk::xml
