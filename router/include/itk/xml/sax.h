// itk::xml: the hardened SAX2 layer every XML reader on the message path uses (the ITK2 envelope
// reader, the ITK3 FHIR reader). It wraps Xerces-C so that:
//  - a hostile document fails fast with bounded memory: DOCTYPE is refused (so no entity is ever
//    declared or expanded and no external DTD or entity is fetched), and Limits (bytes, depth,
//    elements, attributes per element) stop the parse as soon as one is crossed;
//  - only UTF-8 is accepted (ITK "WS-STD-01"): UTF-16/32 byte order marks and an XML declaration
//    naming another encoding are refused before Xerces sees the bytes;
//  - the document is parsed in place (never copied) and each element's start and end tags are
//    reported as byte ranges of the input, so callers can forward or slice the original bytes;
//  - every failure is a Status (kInvalid, toolkit 1000, vocabulary "DE0001" unless the handler
//    returned its own), never an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "itk/status.h"

namespace itk::xml {

// Bounds applied while parsing. A document crossing one is refused with toolkit code 1000.
struct Limits {
  size_t max_bytes = size_t{64} << 20;    // the whole document
  size_t max_depth = 256;                 // element nesting (the root is depth 1)
  size_t max_elements = size_t{1} << 20;  // elements in the document
  size_t max_attributes = 256;            // attributes on one element (xmlns excluded)
};

// [begin, end) byte offsets into the parsed document.
struct ByteRange {
  size_t begin = 0;
  size_t end = 0;

  size_t size() const { return end - begin; }
  bool empty() const { return end == begin; }
  std::string_view in(std::string_view document) const {
    return document.substr(begin, end - begin);
  }
  bool operator==(const ByteRange&) const = default;
};

// One attribute as Xerces reports it (XMLCh is char16_t). Views are valid during the callback.
struct Attribute {
  std::u16string_view uri;  // namespace URI; empty for an unqualified attribute
  std::u16string_view local_name;
  std::u16string_view qname;
  std::u16string_view value;
};

namespace detail {
struct AttributeList;
}

// The attributes of one start tag, read in place from the parser. Valid during the callback only.
class Attributes {
 public:
  size_t size() const;
  Attribute operator[](size_t i) const;
  // Sets *value to the value of the attribute {uri}local_name and returns true, or returns false
  // when the start tag has no such attribute.
  bool find(std::u16string_view uri, std::u16string_view local_name,
            std::u16string_view* value) const;

 private:
  friend class ParserAccess;
  explicit Attributes(const detail::AttributeList* list) : list_(list) {}
  const detail::AttributeList* list_;
};

struct StartTag {
  std::u16string_view uri;  // namespace URI; empty when the element has none
  std::u16string_view local_name;
  std::u16string_view qname;
  const Attributes& attributes;
  size_t depth;   // the root element is 1
  ByteRange tag;  // "<name ...>" (or "<name .../>")
};

struct EndTag {
  std::u16string_view uri;
  std::u16string_view local_name;
  std::u16string_view qname;
  size_t depth;
  ByteRange start_tag;  // the element's start tag
  ByteRange end_tag;    // "</name>"; empty, at start_tag.end, for an empty-element tag
  // The element's content, between its tags.
  ByteRange content() const { return {start_tag.end, end_tag.begin}; }
  // The whole element.
  ByteRange element() const { return {start_tag.begin, end_tag.end}; }
};

// Receives the events of one parse, on the parsing thread, inline. Returning an error stops the
// parse at once (no further callback) and parse() returns that status unchanged.
class Handler {
 public:
  virtual ~Handler() = default;
  // A namespace declaration on the element whose startElement follows ("" = default namespace).
  virtual Status startPrefixMapping(std::u16string_view /*prefix*/, std::u16string_view /*uri*/) {
    return {};
  }
  virtual Status startElement(const StartTag& tag) = 0;
  virtual Status endElement(const EndTag& tag) = 0;
  // Character data, possibly in several pieces per text node (entities already decoded).
  virtual Status characters(std::u16string_view /*text*/) { return {}; }
};

// Parses `document` in place with the calling thread's reader (one SAX2 reader per thread,
// reused; Xerces is initialised once per process). `document` must outlive the call; nothing of
// it is kept afterwards. Thread-safe: threads parse concurrently, each with its own reader.
// Reentrant: a handler may itself call parse() (the nested call uses a fresh reader).
Status parse(std::string_view document, Handler& handler, const Limits& limits = {});

// Checks the part of `document` before its root element without Xerces: refuses UTF-16/32
// input (byte order marks, NUL bytes), an XML declaration naming an encoding other than UTF-8,
// and any DOCTYPE declaration. Returns the offset of the root element's '<' in *root_offset.
// parse() calls this first; it is exposed for callers that splice documents.
Status checkProlog(std::string_view document, size_t* root_offset);

}  // namespace itk::xml
