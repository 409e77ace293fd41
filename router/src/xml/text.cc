#include "itk/xml/text.h"

#include <charconv>
#include <cstdint>

namespace itk::xml {
namespace {

void appendCodePoint(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

constexpr bool isHighSurrogate(char16_t c) {
  return c >= 0xD800 && c <= 0xDBFF;
}
constexpr bool isLowSurrogate(char16_t c) {
  return c >= 0xDC00 && c <= 0xDFFF;
}

// Decodes the code point at text[*i] and advances *i past it.
char32_t nextCodePoint(std::u16string_view text, size_t* i) {
  char16_t c = text[(*i)++];
  if (isHighSurrogate(c) && *i < text.size() && isLowSurrogate(text[*i])) {
    char16_t low = text[(*i)++];
    return 0x10000 + ((char32_t(c) - 0xD800) << 10) + (char32_t(low) - 0xDC00);
  }
  if (isHighSurrogate(c) || isLowSurrogate(c)) return 0xFFFD;
  return c;
}

Status invalidText(std::string message) {
  return Status::invalid(std::move(message)).withToolkit(ToolkitCode::kInvalidMessage, "DE0001");
}

// XML 1.0 Char production: the code points a character reference may name.
bool isXmlChar(uint32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

// Resolves the reference starting at raw[i] ('&'); appends it and returns the index after ';'.
Result<size_t> appendReference(std::string& out, std::string_view raw, size_t i) {
  size_t semi = raw.find(';', i);
  if (semi == std::string_view::npos) return invalidText("unterminated reference in text");
  std::string_view name = raw.substr(i + 1, semi - i - 1);
  if (name == "lt")
    out += '<';
  else if (name == "gt")
    out += '>';
  else if (name == "amp")
    out += '&';
  else if (name == "quot")
    out += '"';
  else if (name == "apos")
    out += '\'';
  else if (name.size() > 1 && name[0] == '#') {
    bool hex = name[1] == 'x';
    std::string_view digits = name.substr(hex ? 2 : 1);
    uint32_t code = 0;
    auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), code, hex ? 16 : 10);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
        !isXmlChar(code)) {
      return invalidText("invalid character reference &" + std::string(name) + ";");
    }
    appendCodePoint(out, code);
  } else {
    return invalidText("undeclared entity &" + std::string(name) + ";");
  }
  return semi + 1;
}

// Appends raw[begin, end) with XML line-end normalisation (CR LF and lone CR become LF).
void appendNormalisedLines(std::string& out, std::string_view raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      out += '\n';
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else {
      out += raw[i];
    }
  }
}

// Skips the markup "<open ... close" at raw[i]; returns the index after it.
Result<size_t> skipPast(std::string_view raw, size_t i, std::string_view close,
                        std::string_view what) {
  size_t end = raw.find(close, i);
  if (end == std::string_view::npos) return invalidText("unterminated " + std::string(what));
  return end + close.size();
}

}  // namespace

void appendUtf8(std::string& out, std::u16string_view text) {
  // ASCII fast path (nearly everything ITK headers carry): one resize, then a narrowing copy.
  size_t ascii = 0;
  while (ascii < text.size() && text[ascii] < 0x80) ++ascii;
  size_t old_size = out.size();
  out.resize(old_size + ascii);
  char* p = out.data() + old_size;
  for (size_t i = 0; i < ascii; ++i) p[i] = static_cast<char>(text[i]);
  size_t i = ascii;
  while (i < text.size()) appendCodePoint(out, nextCodePoint(text, &i));
}

std::string toUtf8(std::u16string_view text) {
  std::string out;
  appendUtf8(out, text);
  return out;
}

size_t utf8Length(std::u16string_view text) {
  size_t n = 0;
  size_t i = 0;
  while (i < text.size()) {
    char32_t c = nextCodePoint(text, &i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

bool equalsAscii(std::u16string_view text, std::string_view ascii) {
  if (text.size() != ascii.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != static_cast<unsigned char>(ascii[i])) return false;
  }
  return true;
}

bool isAllXmlSpace(std::u16string_view text) {
  for (char16_t c : text) {
    if (!isXmlSpace(c)) return false;
  }
  return true;
}

std::string_view trimXmlSpace(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && isXmlSpace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && isXmlSpace(static_cast<unsigned char>(text[e - 1]))) --e;
  return text.substr(b, e - b);
}

namespace {

// Escapes & < > and CR (a literal CR reads back as LF). In an attribute value in double quotes,
// also '"' (it would end the value) and TAB and LF (normalisation would turn them into spaces).
void appendEscaped(std::string& out, std::string_view text, bool attribute) {
  for (char c : text) {
    const char* reference = nullptr;
    switch (c) {
      case '&': reference = "&amp;"; break;
      case '<': reference = "&lt;"; break;
      case '>': reference = "&gt;"; break;
      case '\r': reference = "&#13;"; break;
      case '"': reference = attribute ? "&quot;" : nullptr; break;
      case '\t': reference = attribute ? "&#9;" : nullptr; break;
      case '\n': reference = attribute ? "&#10;" : nullptr; break;
      default: break;
    }
    if (reference) out += reference;
    else out += c;
  }
}

}  // namespace

void appendEscapedText(std::string& out, std::string_view text) {
  appendEscaped(out, text, false);
}

void appendEscapedAttribute(std::string& out, std::string_view value) {
  appendEscaped(out, value, true);
}

std::string escapeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendEscapedText(out, text);
  return out;
}

Result<std::string> decodeCharacterData(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    size_t special = raw.find_first_of("&<", i);
    appendNormalisedLines(
        out,
        raw.substr(i, special == std::string_view::npos ? std::string_view::npos : special - i));
    if (special == std::string_view::npos) break;
    i = special;
    Result<size_t> next = size_t{0};
    if (raw[i] == '&') {
      next = appendReference(out, raw, i);
    } else if (raw.compare(i, 9, "<![CDATA[") == 0) {
      size_t end = raw.find("]]>", i + 9);
      if (end == std::string_view::npos) return invalidText("unterminated CDATA section");
      appendNormalisedLines(out, raw.substr(i + 9, end - i - 9));
      next = end + 3;
    } else if (raw.compare(i, 4, "<!--") == 0) {
      next = skipPast(raw, i + 4, "-->", "comment");
    } else if (raw.compare(i, 2, "<?") == 0) {
      next = skipPast(raw, i + 2, "?>", "processing instruction");
    } else {
      return invalidText("element found where only character data is allowed");
    }
    if (!next.ok()) return next.status();
    i = *next;
  }
  return out;
}

}  // namespace itk::xml
