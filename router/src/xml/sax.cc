#include "itk/xml/sax.h"

#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/sax/EntityResolver.hpp>
#include <xercesc/sax/ErrorHandler.hpp>
#include <xercesc/sax/SAXParseException.hpp>
#include <xercesc/sax2/Attributes.hpp>
#include <xercesc/sax2/ContentHandler.hpp>
#include <xercesc/sax2/SAX2XMLReader.hpp>
#include <xercesc/sax2/XMLReaderFactory.hpp>
#include <xercesc/util/OutOfMemoryException.hpp>
#include <xercesc/util/PlatformUtils.hpp>
#include <xercesc/util/XMLException.hpp>
#include <xercesc/util/XMLUni.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <exception>
#include <new>
#include <vector>

#include "itk/xml/text.h"

namespace itk::xml {

namespace xc = XERCES_CPP_NAMESPACE;

namespace detail {
struct AttributeList {
  const xc::Attributes* attributes;
};
}  // namespace detail

namespace {

std::u16string_view view(const XMLCh* s) {
  return s ? std::u16string_view(s) : std::u16string_view();
}

Status invalidXml(std::string message) {
  return Status::invalid(std::move(message)).withToolkit(ToolkitCode::kInvalidMessage, "DE0001");
}

std::string describe(const XMLCh* message) {
  return toUtf8(view(message));
}

}  // namespace

// Builds Attributes views for the parser adapter (Attributes' constructor is private).
class ParserAccess {
 public:
  static Attributes attributes(const detail::AttributeList* list) { return Attributes(list); }
};

size_t Attributes::size() const {
  return list_->attributes->getLength();
}

Attribute Attributes::operator[](size_t i) const {
  const xc::Attributes& a = *list_->attributes;
  return Attribute{view(a.getURI(i)), view(a.getLocalName(i)), view(a.getQName(i)),
                   view(a.getValue(i))};
}

bool Attributes::find(std::u16string_view uri, std::u16string_view local_name,
                      std::u16string_view* value) const {
  const xc::Attributes& a = *list_->attributes;
  for (XMLSize_t i = 0, n = a.getLength(); i < n; ++i) {
    if (view(a.getLocalName(i)) == local_name && view(a.getURI(i)) == uri) {
      *value = view(a.getValue(i));
      return true;
    }
  }
  return false;
}

namespace {

// Thrown by RefusingEntityResolver; parse() turns it into a Status.
struct EntityRefused {
  std::string system_id;
};

// No external DTD or entity is ever fetched: DOCTYPE is refused before Xerces runs, and this
// resolver makes any resolution Xerces might still attempt fail instead of reaching the network
// or the file system.
class RefusingEntityResolver final : public xc::EntityResolver {
 public:
  xc::InputSource* resolveEntity(const XMLCh* const /*public_id*/,
                                 const XMLCh* const system_id) override {
    throw EntityRefused{describe(system_id)};
  }
};

// Thrown through Xerces by the adapter to end a parse at once (Xerces unwinds with its janitors
// and the reader stays reusable); runParse() catches it.
struct StopParse {};

// Adapts Xerces SAX2 callbacks to an itk::xml::Handler: computes byte ranges, enforces Limits,
// and stops at the first error (the handler's or a limit's).
class Adapter final : public xc::ContentHandler, public xc::ErrorHandler {
 public:
  // `base` is where the bytes Xerces reads start in `document` (after a UTF-8 byte order mark).
  Adapter(const xc::SAX2XMLReader& reader, std::string_view document, size_t base, Handler& handler,
          const Limits& limits, std::vector<ByteRange>& open_tags)
      : reader_(reader),
        document_(document),
        base_(base),
        handler_(handler),
        limits_(limits),
        open_tags_(open_tags) {
    open_tags_.clear();
  }

  const Status& status() const { return status_; }

  // ContentHandler
  void startPrefixMapping(const XMLCh* const prefix, const XMLCh* const uri) override {
    stopOn(handler_.startPrefixMapping(view(prefix), view(uri)));
  }

  void startElement(const XMLCh* const uri, const XMLCh* const local_name, const XMLCh* const qname,
                    const xc::Attributes& attrs) override {
    ++elements_;
    size_t depth = open_tags_.size() + 1;
    if (depth > limits_.max_depth) {
      return stopOn(invalidXml("element nesting deeper than the limit of " +
                               std::to_string(limits_.max_depth)));
    }
    if (elements_ > limits_.max_elements) {
      return stopOn(
          invalidXml("more elements than the limit of " + std::to_string(limits_.max_elements)));
    }
    if (attrs.getLength() > limits_.max_attributes) {
      return stopOn(invalidXml("an element has more attributes than the limit of " +
                               std::to_string(limits_.max_attributes)));
    }
    // getSrcOffset() is the offset just after the markup just scanned, here the start tag's '>'.
    // A start tag contains no '<' (attribute values must escape it), so the last '<' before the
    // offset begins the tag.
    size_t end = currentOffset();
    ByteRange tag{tagBegin(end), end};
    open_tags_.push_back(tag);
    detail::AttributeList list{&attrs};
    Attributes attributes = ParserAccess::attributes(&list);
    stopOn(handler_.startElement(
        StartTag{view(uri), view(local_name), view(qname), attributes, depth, tag}));
  }

  void endElement(const XMLCh* const uri, const XMLCh* const local_name,
                  const XMLCh* const qname) override {
    ByteRange start = open_tags_.back();
    size_t depth = open_tags_.size();
    open_tags_.pop_back();
    size_t end = currentOffset();
    // An empty-element tag ("<a/>") reports its end at the same offset as its start.
    ByteRange end_tag = end == start.end ? ByteRange{end, end} : ByteRange{tagBegin(end), end};
    stopOn(handler_.endElement(
        EndTag{view(uri), view(local_name), view(qname), depth, start, end_tag}));
  }

  void characters(const XMLCh* const chars, const XMLSize_t length) override {
    stopOn(handler_.characters(std::u16string_view(chars, length)));
  }

  void endPrefixMapping(const XMLCh* const) override {}
  void ignorableWhitespace(const XMLCh* const, const XMLSize_t) override {}
  void processingInstruction(const XMLCh* const, const XMLCh* const) override {}
  void setDocumentLocator(const xc::Locator* const) override {}
  void startDocument() override {}
  void endDocument() override {}
  void skippedEntity(const XMLCh* const) override {}

  // ErrorHandler: any error ends the parse (we never validate, so there are no "recoverable"
  // validity errors worth continuing for).
  void warning(const xc::SAXParseException&) override {}
  void error(const xc::SAXParseException& e) override { throw e; }
  void fatalError(const xc::SAXParseException& e) override { throw e; }
  void resetErrors() override {}

 private:
  void stopOn(Status s) {
    if (s.ok()) return;
    status_ = std::move(s);
    throw StopParse{};
  }

  size_t currentOffset() const {
    auto offset = base_ + static_cast<size_t>(reader_.getSrcOffset());
    return offset <= document_.size() ? offset : document_.size();
  }

  size_t tagBegin(size_t end) const {
    const void* p = memrchr(document_.data(), '<', end);
    return p ? static_cast<size_t>(static_cast<const char*>(p) - document_.data()) : 0;
  }

  const xc::SAX2XMLReader& reader_;
  std::string_view document_;
  size_t base_;
  Handler& handler_;
  const Limits& limits_;
  std::vector<ByteRange>& open_tags_;
  size_t elements_ = 0;
  Status status_;
};

void initialiseXercesOnce() {
  // Initialised once per process and never terminated: readers live in thread_local storage
  // until their thread exits.
  static std::once_flag once;
  std::call_once(once, [] { xc::XMLPlatformUtils::Initialize(); });
}

RefusingEntityResolver& refusingResolver() {
  static RefusingEntityResolver resolver;
  return resolver;
}

// A SAX2 reader configured for untrusted input: well-formedness scanner only (no DTD, schema or
// validation), namespaces on, byte offsets on, no external resolution.
std::unique_ptr<xc::SAX2XMLReader> makeReader() {
  initialiseXercesOnce();
  std::unique_ptr<xc::SAX2XMLReader> reader(xc::XMLReaderFactory::createXMLReader());
  // The scanner first: changing it replaces the scanner the features below configure.
  reader->setProperty(xc::XMLUni::fgXercesScannerName,
                      const_cast<XMLCh*>(xc::XMLUni::fgWFXMLScanner));
  reader->setFeature(xc::XMLUni::fgSAX2CoreNameSpaces, true);
  reader->setFeature(xc::XMLUni::fgSAX2CoreNameSpacePrefixes, false);
  reader->setFeature(xc::XMLUni::fgSAX2CoreValidation, false);
  reader->setFeature(xc::XMLUni::fgXercesSchema, false);
  reader->setFeature(xc::XMLUni::fgXercesLoadSchema, false);
  reader->setFeature(xc::XMLUni::fgXercesLoadExternalDTD, false);
  reader->setFeature(xc::XMLUni::fgXercesDisableDefaultEntityResolution, true);
  reader->setFeature(xc::XMLUni::fgXercesCalculateSrcOfs, true);
  reader->setEntityResolver(&refusingResolver());
  return reader;
}

// One reader per thread, reused: creating a reader costs far more than a small document's parse.
struct ThreadReader {
  std::unique_ptr<xc::SAX2XMLReader> reader;
  std::vector<ByteRange> open_tags;
  bool busy = false;
};

std::string parseErrorMessage(const xc::SAXParseException& e) {
  return "XML is not well-formed: " + describe(e.getMessage()) + " (line " +
         std::to_string(e.getLineNumber()) + ", column " + std::to_string(e.getColumnNumber()) +
         ")";
}

Status runParse(xc::SAX2XMLReader& reader, std::vector<ByteRange>& open_tags,
                std::string_view document, Handler& handler, const Limits& limits) {
  // Xerces reports offsets after a byte order mark as if it were absent: give it the bytes after
  // the mark and add the mark's length back to every offset.
  size_t base = document.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  std::string_view input = document.substr(base);
  Adapter adapter(reader, document, base, handler, limits, open_tags);
  reader.setContentHandler(&adapter);
  reader.setErrorHandler(&adapter);
  // In place: the input source neither copies nor adopts the buffer.
  xc::MemBufInputSource source(reinterpret_cast<const XMLByte*>(input.data()), input.size(),
                               "itk-message", false);
  // checkProlog() has established the document is UTF-8; say so, so no other decoder is tried.
  source.setEncoding(xc::XMLUni::fgUTF8EncodingString);
  Status result;
  try {
    reader.parse(source);
  } catch (const StopParse&) {
    result = adapter.status();
  } catch (const xc::SAXParseException& e) {
    result = invalidXml(parseErrorMessage(e));
  } catch (const EntityRefused& e) {
    result = invalidXml("external entity refused: " + e.system_id);
  } catch (const xc::OutOfMemoryException&) {
    result = invalidXml("XML parser out of memory");
  } catch (const xc::XMLException& e) {
    // Transcoding errors (bytes that are not UTF-8) arrive here.
    result = invalidXml("XML is not well-formed: " + describe(e.getMessage()));
  } catch (const std::bad_alloc&) {
    result = invalidXml("XML parser out of memory");
  } catch (const std::exception& e) {
    // A handler that threw: a bug, but never an exception out of parse().
    result = Status::internal(std::string("XML handler failed: ") + e.what());
  }
  reader.setContentHandler(nullptr);
  reader.setErrorHandler(nullptr);
  return result;
}

}  // namespace

Status checkProlog(std::string_view doc, size_t* root_offset) {
  auto bytes = [&](size_t i) { return static_cast<unsigned char>(doc[i]); };
  size_t i = 0;
  if (doc.size() >= 3 && bytes(0) == 0xEF && bytes(1) == 0xBB && bytes(2) == 0xBF) i = 3;
  if (doc.size() >= 2 &&
      ((bytes(0) == 0xFE && bytes(1) == 0xFF) || (bytes(0) == 0xFF && bytes(1) == 0xFE))) {
    return invalidXml("document is UTF-16 or UTF-32 (byte order mark); ITK requires UTF-8");
  }
  // UTF-16/32 without a byte order mark has NUL bytes among the first few.
  if (std::memchr(doc.data(), 0, std::min<size_t>(doc.size(), 4)) != nullptr) {
    return invalidXml("document is not UTF-8 (NUL bytes); ITK requires UTF-8");
  }
  // The XML declaration, if any: its encoding must be UTF-8 (ITK WS-STD-01).
  if (doc.compare(i, 5, "<?xml") == 0 && i + 5 < doc.size() &&
      (isXmlSpace(bytes(i + 5)) || doc[i + 5] == '?')) {
    size_t end = doc.find("?>", i);
    if (end == std::string_view::npos) return invalidXml("unterminated XML declaration");
    std::string_view decl = doc.substr(i, end - i);
    size_t enc = decl.find("encoding");
    if (enc != std::string_view::npos) {
      size_t q = decl.find_first_of("\"'", enc);
      size_t q_end = q == std::string_view::npos ? q : decl.find(decl[q], q + 1);
      if (q_end == std::string_view::npos) return invalidXml("malformed XML declaration");
      std::string_view name = decl.substr(q + 1, q_end - q - 1);
      bool utf8 = name.size() == 5;
      for (size_t k = 0; utf8 && k < 5; ++k) {
        utf8 = std::tolower(static_cast<unsigned char>(name[k])) == "utf-8"[k];
      }
      if (!utf8) {
        return invalidXml("document declares encoding \"" + std::string(name) +
                          "\"; ITK requires UTF-8");
      }
    }
    i = end + 2;
  }
  // Misc* before the root: whitespace, comments, processing instructions. Anything else that
  // starts with "<!" is a DOCTYPE (or junk): refused, so no entity can ever be declared.
  while (i < doc.size()) {
    if (isXmlSpace(bytes(i))) {
      ++i;
    } else if (doc.compare(i, 4, "<!--") == 0) {
      size_t end = doc.find("-->", i + 4);
      if (end == std::string_view::npos) return invalidXml("unterminated comment");
      i = end + 3;
    } else if (doc.compare(i, 2, "<?") == 0) {
      size_t end = doc.find("?>", i + 2);
      if (end == std::string_view::npos) return invalidXml("unterminated processing instruction");
      i = end + 2;
    } else if (doc.compare(i, 2, "<!") == 0) {
      return invalidXml("DOCTYPE declarations are refused (no DTDs or entities)");
    } else if (doc[i] == '<') {
      *root_offset = i;
      return {};
    } else {
      return invalidXml("content before the root element");
    }
  }
  return invalidXml("document has no root element");
}

Status parse(std::string_view document, Handler& handler, const Limits& limits) {
  if (document.size() > limits.max_bytes) {
    return invalidXml("document of " + std::to_string(document.size()) +
                      " bytes exceeds the limit of " + std::to_string(limits.max_bytes));
  }
  size_t root = 0;
  if (Status s = checkProlog(document, &root); !s.ok()) return s;
  thread_local ThreadReader cached;
  try {
    if (cached.busy) {
      // A handler parsing another document from inside a callback: use a private reader.
      ThreadReader nested{makeReader(), {}, true};
      return runParse(*nested.reader, nested.open_tags, document, handler, limits);
    }
    if (!cached.reader) cached.reader = makeReader();
  } catch (const xc::XMLException& e) {
    return Status::internal("cannot initialise the XML parser: " + describe(e.getMessage()));
  }
  cached.busy = true;
  Status result = runParse(*cached.reader, cached.open_tags, document, handler, limits);
  cached.busy = false;
  return result;
}

}  // namespace itk::xml
