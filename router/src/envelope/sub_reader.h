// Internal building blocks of readItkDocument(): one SubReader per kind of subtree (SOAP
// envelope, DE, fault, acknowledgement payloads), each seeing depths relative to its own root.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "itk/envelope/distribution_envelope.h"
#include "itk/status.h"
#include "itk/xml/sax.h"
#include "itk/xml/text.h"

namespace itk::itk2::internal {

// The namespaces as Xerces reports them (UTF-16), for comparing without converting.
inline constexpr std::u16string_view kItkNs = u"urn:nhs-itk:ns:201005";
inline constexpr std::u16string_view kHl7Ns = u"urn:hl7-org:v3";
inline constexpr std::u16string_view kSoap11Ns = u"http://schemas.xmlsoap.org/soap/envelope/";
inline constexpr std::u16string_view kWsaNs = u"http://www.w3.org/2005/08/addressing";
inline constexpr std::u16string_view kWsseNs =
    u"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
inline constexpr std::u16string_view kWsuNs =
    u"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
inline constexpr std::u16string_view kXsiNs = u"http://www.w3.org/2001/XMLSchema-instance";

// Receives the events of one subtree. `depth` is 0 for the subtree's root element.
class SubReader {
 public:
  virtual ~SubReader() = default;
  virtual Status start(const xml::StartTag& tag, size_t depth) = 0;
  virtual Status end(const xml::EndTag& tag, size_t depth) = 0;
  virtual Status text(std::u16string_view text) = 0;
};

// "{namespace}local" in UTF-8, for messages and records.
std::string expandedName(std::u16string_view uri, std::u16string_view local_name);

// The value of the unqualified attribute `name` as UTF-8, or nullopt when absent.
std::optional<std::string> attribute(const xml::Attributes& attributes, std::u16string_view name);
// The same, "" when absent.
std::string attributeOr(const xml::Attributes& attributes, std::u16string_view name);

// The path from a subtree's root to the current element, as "tag:local/tag:local" where tag is
// a short name for the element's namespace: soap, wsa, wsse, wsu, itk, hl7, "" (none) or "?".
// The subtree's root itself is not part of the path.
class ElementPath {
 public:
  void push(std::u16string_view uri, std::u16string_view local_name);
  void pop();
  void clear();
  const std::string& str() const { return path_; }

 private:
  std::string path_;
  std::vector<size_t> marks_;
};

// Collects the text of one leaf element into a string, trimmed of XML whitespace at the end.
class TextCapture {
 public:
  void begin(std::string* target) {
    target_ = target;
    target_->clear();
  }
  void append(std::u16string_view text) {
    if (target_) xml::appendUtf8(*target_, text);
  }
  void end();
  bool active() const { return target_ != nullptr; }

 private:
  std::string* target_ = nullptr;
};

// Starts capturing the ErrorInfo field `element` ("itk:ErrorID", "itk:ErrorCode" with its
// @codeSystem, "itk:ErrorText", "itk:ErrorDiagnosticText"), common to an InfrastructureResponse
// errorInfo (§3.1) and a fault's ToolkitErrorInfo (§4.5). Other elements are ignored.
void captureErrorField(std::string_view element, const xml::Attributes& attributes,
                       ErrorInfo* error, TextCapture* capture);

// Namespace declarations made on the elements enclosing a DE, so that its verbatim bytes can be
// made to stand alone (see forwardableBytes()). Tracking stops once the DE has started.
class NamespaceScope {
 public:
  void declare(std::u16string_view prefix, std::u16string_view uri);
  void open(size_t depth);   // the pending declarations belong to the element starting at depth
  void close(size_t depth);  // the element at depth ended
  // What the element at `depth` inherits: the innermost ancestor declaration of each prefix the
  // element does not declare itself.
  std::vector<NamespaceDeclaration> inheritedAt(size_t depth) const;
  void stopTracking();

 private:
  struct Entry {
    size_t depth;
    NamespaceDeclaration declaration;
  };
  std::vector<Entry> entries_;
  std::vector<NamespaceDeclaration> pending_;
  bool tracking_ = true;
};

}  // namespace itk::itk2::internal
