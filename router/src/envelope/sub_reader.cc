#include "sub_reader.h"

namespace itk::itk2::internal {

std::string expandedName(std::u16string_view uri, std::u16string_view local_name) {
  std::string out = "{";
  xml::appendUtf8(out, uri);
  out += '}';
  xml::appendUtf8(out, local_name);
  return out;
}

std::optional<std::string> attribute(const xml::Attributes& attributes, std::u16string_view name) {
  std::u16string_view value;
  if (!attributes.find(u"", name, &value)) return std::nullopt;
  return xml::toUtf8(value);
}

std::string attributeOr(const xml::Attributes& attributes, std::u16string_view name) {
  return attribute(attributes, name).value_or(std::string());
}

namespace {

std::string_view namespaceTag(std::u16string_view uri) {
  if (uri.empty()) return "";
  if (uri == kWsaNs) return "wsa";
  if (uri == kWsseNs) return "wsse";
  if (uri == kWsuNs) return "wsu";
  if (uri == kItkNs) return "itk";
  if (uri == kHl7Ns) return "hl7";
  if (uri == kSoap11Ns) return "soap";
  return "?";
}

}  // namespace

void ElementPath::push(std::u16string_view uri, std::u16string_view local_name) {
  marks_.push_back(path_.size());
  if (!path_.empty()) path_ += '/';
  path_ += namespaceTag(uri);
  path_ += ':';
  xml::appendUtf8(path_, local_name);
}

void ElementPath::pop() {
  if (marks_.empty()) return;
  path_.resize(marks_.back());
  marks_.pop_back();
}

void ElementPath::clear() {
  path_.clear();
  marks_.clear();
}

void TextCapture::end() {
  if (!target_) return;
  std::string_view trimmed = xml::trimXmlSpace(*target_);
  if (trimmed.size() != target_->size()) *target_ = std::string(trimmed);
  target_ = nullptr;
}

void captureErrorField(std::string_view element, const xml::Attributes& attributes,
                       ErrorInfo* error, TextCapture* capture) {
  if (element == "itk:ErrorID") {
    capture->begin(&error->error_id);
  } else if (element == "itk:ErrorCode") {
    error->code_system = attributeOr(attributes, u"codeSystem");
    capture->begin(&error->code);
  } else if (element == "itk:ErrorText") {
    capture->begin(&error->text);
  } else if (element == "itk:ErrorDiagnosticText") {
    capture->begin(&error->diagnostic);
  }
}

void NamespaceScope::declare(std::u16string_view prefix, std::u16string_view uri) {
  if (tracking_) pending_.push_back({xml::toUtf8(prefix), xml::toUtf8(uri)});
}

void NamespaceScope::open(size_t depth) {
  for (auto& d : pending_) entries_.push_back({depth, std::move(d)});
  pending_.clear();
}

void NamespaceScope::close(size_t depth) {
  while (!entries_.empty() && entries_.back().depth == depth) entries_.pop_back();
}

std::vector<NamespaceDeclaration> NamespaceScope::inheritedAt(size_t depth) const {
  std::vector<NamespaceDeclaration> out;
  auto declared = [&](std::string_view prefix, size_t from) {
    for (size_t i = from; i < entries_.size(); ++i) {
      if (entries_[i].declaration.prefix == prefix) return true;
    }
    return false;
  };
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    // Skip the element's own declarations and any an inner ancestor overrides.
    if (e.depth >= depth || declared(e.declaration.prefix, i + 1)) continue;
    out.push_back(e.declaration);
  }
  return out;
}

void NamespaceScope::stopTracking() {
  tracking_ = false;
  entries_.clear();
  pending_.clear();
}

}  // namespace itk::itk2::internal
