#include "de_reader.h"

#include <charconv>
#include <initializer_list>

namespace itk::itk2::internal {
namespace {

struct AttributeRule {
  std::u16string_view name;
  bool required;
};

std::string itkName(std::u16string_view local_name) {
  std::string out = "itk:";
  xml::appendUtf8(out, local_name);
  return out;
}

// Rule 10 (the XSD) and TKW's blank-attribute check: each required attribute present, no blank
// value, and no attribute the schema does not declare. xsi:* is always allowed; ITK-namespaced
// attributes only where the schema has anyAttribute ##targetNamespace (`any_itk`).
Status checkAttributes(const xml::StartTag& tag, std::initializer_list<AttributeRule> rules,
                       DeError code, bool any_itk = false) {
  const xml::Attributes& attributes = tag.attributes;
  for (size_t i = 0; i < attributes.size(); ++i) {
    xml::Attribute a = attributes[i];
    if (a.value.empty()) {
      return deError(code,
                     "blank attribute " + xml::toUtf8(a.qname) + " on " + itkName(tag.local_name));
    }
    bool declared = false;
    if (a.uri.empty()) {
      for (const AttributeRule& r : rules) declared = declared || r.name == a.local_name;
    } else {
      declared = a.uri == kXsiNs || (any_itk && a.uri == kItkNs);
    }
    if (!declared) {
      return deError(code, "attribute " + xml::toUtf8(a.qname) + " is not allowed on " +
                               itkName(tag.local_name));
    }
  }
  std::u16string_view ignored;
  for (const AttributeRule& r : rules) {
    if (r.required && !attributes.find(u"", r.name, &ignored)) {
      return deError(code, itkName(tag.local_name) + " has no @" + xml::toUtf8(r.name));
    }
  }
  return {};
}

// xs:integer: optional sign, digits, surrounding whitespace collapsed.
std::optional<int64_t> parseXsInteger(std::string_view text) {
  text = xml::trimXmlSpace(text);
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// xs:boolean: true, false, 1, 0.
std::optional<bool> parseXsBoolean(std::string_view text) {
  text = xml::trimXmlSpace(text);
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return std::nullopt;
}

Status readCount(const xml::StartTag& tag, DeError code, int64_t* out) {
  std::string text = attributeOr(tag.attributes, u"count");
  std::optional<int64_t> count = parseXsInteger(text);
  if (!count) {
    return deError(code, itkName(tag.local_name) + "/@count \"" + text + "\" is not an integer");
  }
  *out = *count;
  return {};
}

Status readFlag(const xml::StartTag& tag, std::u16string_view name, bool* out) {
  std::optional<std::string> text = attribute(tag.attributes, name);
  if (!text) return {};
  std::optional<bool> value = parseXsBoolean(*text);
  if (!value) {
    return deError(DeError::kManifestItem, "itk:manifestitem/@" + xml::toUtf8(name) + " \"" +
                                               *text + "\" is not a boolean");
  }
  *out = *value;
  return {};
}

// addressType and identityType (@uri required, @type optional): addresses, the sender address
// and audit identities.
template <class UriAndType>
Status readTypedUri(const xml::StartTag& tag, DeError code, UriAndType* out) {
  if (Status s = checkAttributes(tag, {{u"uri", true}, {u"type", false}}, code); !s.ok()) return s;
  out->uri = attributeOr(tag.attributes, u"uri");
  out->type = attributeOr(tag.attributes, u"type");
  return {};
}

Status readManifestItem(const xml::StartTag& tag, ManifestItem* item) {
  if (Status s = checkAttributes(tag,
                                 {{u"id", true},
                                  {u"mimetype", true},
                                  {u"profileid", false},
                                  {u"metadata", false},
                                  {u"compressed", false},
                                  {u"base64", false},
                                  {u"encrypted", false}},
                                 DeError::kManifestItem, /*any_itk=*/true);
      !s.ok()) {
    return s;
  }
  item->id = attributeOr(tag.attributes, u"id");
  item->mimetype = attributeOr(tag.attributes, u"mimetype");
  item->profileid = attributeOr(tag.attributes, u"profileid");
  for (auto [name, flag] :
       {std::pair{u"metadata", &item->metadata}, std::pair{u"compressed", &item->compressed},
        std::pair{u"base64", &item->base64}, std::pair{u"encrypted", &item->encrypted}}) {
    if (Status s = readFlag(tag, name, flag); !s.ok()) return s;
  }
  return {};
}

}  // namespace

void DeReader::begin(DistributionEnvelope* out, size_t max_list_entries, NamespaceScope* scope) {
  out_ = out;
  max_list_entries_ = max_list_entries;
  scope_ = scope;
  seen_header_ = seen_payloads_ = in_header_ = seen_manifest_ = false;
  part_ = HeaderPart::kNone;
  entries_ = 0;
  payload_ = nullptr;
  depth_ = 0;
  codes_.fill(DeError::kEnvelope);
  ack_reader_ = nullptr;
}

Status DeReader::start(const xml::StartTag& tag, size_t depth) {
  depth_ = depth;
  // Payload content (depth 3 and below) is delimited, not interpreted: the hot path for CDA.
  if (payload_ != nullptr && depth >= 3) return startPayloadContent(tag, depth);
  if (tag.uri != kItkNs) return unexpected(tag, codeAt(depth == 0 ? 0 : depth - 1), "here");
  switch (depth) {
    case 0:
      return startEnvelope(tag);
    case 1:
      return startSection(tag);
    case 2:
      return in_header_ ? startHeaderPart(tag) : startPayload(tag);
    case 3:
      return startEntry(tag);
    default:
      return unexpected(tag, codeAt(3), "inside a header entry");
  }
}

Status DeReader::startEnvelope(const xml::StartTag& tag) {
  codes_[0] = DeError::kEnvelope;
  out_->element.begin = tag.tag.begin;
  out_->start_tag_name_end = tag.tag.begin + 1 + xml::utf8Length(tag.qname);
  out_->inherited_namespaces = scope_->inheritedAt(tag.depth);
  scope_->stopTracking();
  return checkAttributes(tag, {}, DeError::kEnvelope);
}

Status DeReader::startSection(const xml::StartTag& tag) {
  if (tag.local_name == u"header") return startHeader(tag);
  if (tag.local_name == u"payloads") return startPayloads(tag);
  return unexpected(tag, DeError::kEnvelope, "in itk:DistributionEnvelope");
}

Status DeReader::startHeader(const xml::StartTag& tag) {
  if (seen_header_ || seen_payloads_) {
    return unexpected(tag, DeError::kHeader, "repeated or after itk:payloads");
  }
  seen_header_ = in_header_ = true;
  codes_[1] = DeError::kHeader;
  // Rule 1: a tracking id must be present (its form is checked by the rules).
  std::optional<std::string> tracking_id = attribute(tag.attributes, u"trackingid");
  if (!tracking_id || tracking_id->empty()) {
    return deError(DeError::kId, "itk:header has no @trackingid");
  }
  if (Status s =
          checkAttributes(tag, {{u"service", true}, {u"trackingid", true}}, DeError::kHeader);
      !s.ok()) {
    return s;
  }
  out_->tracking_id = std::move(*tracking_id);
  out_->service = attributeOr(tag.attributes, u"service");
  return {};
}

Status DeReader::startPayloads(const xml::StartTag& tag) {
  if (!seen_header_) return unexpected(tag, DeError::kHeader, "before itk:header");
  if (seen_payloads_) return unexpected(tag, DeError::kPayloads, "repeated");
  seen_payloads_ = true;
  codes_[1] = DeError::kPayloads;
  entries_ = 0;
  if (Status s = checkAttributes(tag, {{u"count", true}}, DeError::kPayloads); !s.ok()) return s;
  return readCount(tag, DeError::kPayloads, &out_->payloads_count);
}

Status DeReader::startHeaderPart(const xml::StartTag& tag) {
  struct PartInfo {
    std::u16string_view name;
    HeaderPart part;
    DeError code;
  };
  static constexpr PartInfo kParts[] = {
      {u"addresslist", HeaderPart::kAddressList, DeError::kAddressList},
      {u"auditIdentity", HeaderPart::kAuditIdentity, DeError::kAuditIdentity},
      {u"manifest", HeaderPart::kManifest, DeError::kManifest},
      {u"senderAddress", HeaderPart::kSenderAddress, DeError::kSenderAddress},
      {u"handlingSpecification", HeaderPart::kHandlingSpecification,
       DeError::kHandlingSpecifications},
  };
  const PartInfo* info = nullptr;
  for (const PartInfo& p : kParts) {
    if (p.name == tag.local_name) info = &p;
  }
  if (info == nullptr) return unexpected(tag, DeError::kHeader, "in itk:header");
  // The header is an xs:sequence of optional-once parts (manifest required): strictly increasing.
  if (info->part <= part_) {
    return unexpected(tag, DeError::kHeader, "repeated or out of order in itk:header");
  }
  part_ = info->part;
  codes_[2] = info->code;
  entries_ = 0;
  switch (info->part) {
    case HeaderPart::kAddressList:
      out_->has_address_list = true;
      return checkAttributes(tag, {}, info->code);
    case HeaderPart::kManifest:
      seen_manifest_ = true;
      if (Status s = checkAttributes(tag, {{u"count", true}}, info->code); !s.ok()) return s;
      return readCount(tag, info->code, &out_->manifest_count);
    case HeaderPart::kSenderAddress:
      return readTypedUri(tag, info->code, &out_->sender_address.emplace());
    case HeaderPart::kHandlingSpecification:
      out_->has_handling_specification = true;
      return checkAttributes(tag, {}, info->code);
    case HeaderPart::kAuditIdentity:
    case HeaderPart::kNone:
      break;
  }
  return checkAttributes(tag, {}, info->code);
}

Status DeReader::countEntry(DeError code, std::string_view list) {
  if (++entries_ > max_list_entries_) {
    return deError(code, std::string(list) + " has more than " + std::to_string(max_list_entries_) +
                             " entries");
  }
  return {};
}

Status DeReader::startEntry(const xml::StartTag& tag) {
  const xml::Attributes& a = tag.attributes;
  auto is = [&](std::u16string_view name) { return tag.local_name == name; };
  switch (part_) {
    case HeaderPart::kAddressList:
      if (!is(u"address")) break;
      codes_[3] = DeError::kAddressList;
      if (Status s = countEntry(DeError::kAddressList, "itk:addresslist"); !s.ok()) return s;
      return readTypedUri(tag, DeError::kAddressList, &out_->addresses.emplace_back());
    case HeaderPart::kAuditIdentity:
      if (!is(u"id")) break;
      codes_[3] = DeError::kAuditIdentity;
      // XSD: id maxOccurs="4".
      if (out_->audit_identities.size() == 4) {
        return deError(DeError::kAuditIdentity, "itk:auditIdentity has more than 4 itk:id");
      }
      return readTypedUri(tag, DeError::kAuditIdentity, &out_->audit_identities.emplace_back());
    case HeaderPart::kManifest:
      if (!is(u"manifestitem")) break;
      codes_[3] = DeError::kManifestItem;
      if (Status s = countEntry(DeError::kManifest, "itk:manifest"); !s.ok()) return s;
      return readManifestItem(tag, &out_->manifest.emplace_back());
    case HeaderPart::kHandlingSpecification:
      if (!is(u"spec")) break;
      codes_[3] = DeError::kSpec;
      if (Status s = countEntry(DeError::kHandlingSpecifications, "itk:handlingSpecification");
          !s.ok()) {
        return s;
      }
      if (Status s = checkAttributes(tag, {{u"key", true}, {u"value", true}}, DeError::kSpec);
          !s.ok()) {
        return s;
      }
      out_->handling_specs.push_back({attributeOr(a, u"key"), attributeOr(a, u"value")});
      return {};
    case HeaderPart::kSenderAddress:
    case HeaderPart::kNone:
      break;
  }
  return unexpected(tag, codes_[2], "here");
}

Status DeReader::startPayload(const xml::StartTag& tag) {
  if (tag.local_name != u"payload") return unexpected(tag, DeError::kPayloads, "in itk:payloads");
  codes_[2] = DeError::kPayload;
  if (Status s = countEntry(DeError::kPayloads, "itk:payloads"); !s.ok()) return s;
  if (Status s = checkAttributes(tag, {{u"id", true}, {u"filename", false}}, DeError::kPayload);
      !s.ok()) {
    return s;
  }
  payload_ = &out_->payloads.emplace_back();
  payload_->id = attributeOr(tag.attributes, u"id");
  payload_->filename = attributeOr(tag.attributes, u"filename");
  payload_->element.begin = tag.tag.begin;
  payload_->content.begin = tag.tag.end;
  return {};
}

Status DeReader::startPayloadContent(const xml::StartTag& tag, size_t depth) {
  if (depth == 3) {
    // XSD: payload holds at most one element (xs:any, maxOccurs 1), mixed with text.
    if (!payload_->child_name.empty()) {
      return deError(DeError::kPayload,
                     "itk:payload " + payload_->id + " holds more than one element");
    }
    payload_->child.begin = tag.tag.begin;
    payload_->child_namespace = xml::toUtf8(tag.uri);
    payload_->child_name = xml::toUtf8(tag.local_name);
    // An acknowledgement payload is read in the same pass (spec §3).
    if (tag.uri == kItkNs && tag.local_name == u"InfrastructureResponse" &&
        !out_->infrastructure_response) {
      infrastructure_reader_.begin(&out_->infrastructure_response.emplace());
      ack_reader_ = &infrastructure_reader_;
    } else if (tag.uri == kHl7Ns && tag.local_name == u"BusinessResponseMessage" &&
               !out_->business_response) {
      business_reader_.begin(&out_->business_response.emplace());
      ack_reader_ = &business_reader_;
    }
  }
  return ack_reader_ ? ack_reader_->start(tag, depth - 3) : Status();
}

Status DeReader::end(const xml::EndTag& tag, size_t depth) {
  depth_ = depth == 0 ? 0 : depth - 1;
  if (payload_ != nullptr && depth >= 3) {
    if (depth == 3) payload_->child.end = tag.end_tag.end;
    if (ack_reader_ == nullptr) return {};
    Status s = ack_reader_->end(tag, depth - 3);
    if (depth == 3) ack_reader_ = nullptr;
    return s;
  }
  return endSection(tag, depth);
}

// Closing an element: the cardinalities the XSD demands of what it held.
Status DeReader::endSection(const xml::EndTag& tag, size_t depth) {
  if (depth == 2 && payload_ != nullptr) {
    payload_->content.end = tag.end_tag.begin;
    payload_->element.end = tag.end_tag.end;
    payload_ = nullptr;
    return {};
  }
  if (depth == 2 && in_header_) {
    switch (part_) {
      case HeaderPart::kAddressList:
        if (out_->addresses.empty()) {
          return deError(DeError::kAddressList, "itk:addresslist has no itk:address");
        }
        break;
      case HeaderPart::kAuditIdentity:
        if (out_->audit_identities.empty()) {
          return deError(DeError::kAuditIdentity, "itk:auditIdentity has no itk:id");
        }
        break;
      case HeaderPart::kManifest:
        if (out_->manifest.empty()) {
          return deError(DeError::kManifest, "itk:manifest has no itk:manifestitem");
        }
        break;
      case HeaderPart::kHandlingSpecification:
        if (out_->handling_specs.empty()) {
          return deError(DeError::kHandlingSpecifications,
                         "itk:handlingSpecification has no itk:spec");
        }
        break;
      case HeaderPart::kSenderAddress:
      case HeaderPart::kNone:
        break;
    }
    return {};
  }
  if (depth == 1 && in_header_) {
    in_header_ = false;
    if (!seen_manifest_) return deError(DeError::kManifest, "itk:header has no itk:manifest");
    return {};
  }
  if (depth == 1 && out_->payloads.empty()) {
    return deError(DeError::kPayloads, "itk:payloads has no itk:payload");
  }
  if (depth == 0) {
    out_->element.end = tag.end_tag.end;
    if (!seen_header_)
      return deError(DeError::kHeader, "itk:DistributionEnvelope has no itk:header");
    if (!seen_payloads_) {
      return deError(DeError::kPayloads, "itk:DistributionEnvelope has no itk:payloads");
    }
  }
  return {};
}

Status DeReader::text(std::u16string_view text) {
  if (payload_ != nullptr) {
    return ack_reader_ && depth_ >= 3 ? ack_reader_->text(text) : Status();
  }
  // Element-only content everywhere outside the payloads (XSD): whitespace at most.
  if (!xml::isAllXmlSpace(text)) {
    return deError(codeAt(depth_),
                   "text \"" + xml::toUtf8(text.substr(0, 40)) + "\" where only elements belong");
  }
  return {};
}

DeError DeReader::codeAt(size_t depth) const {
  return codes_[depth < codes_.size() ? depth : codes_.size() - 1];
}

Status DeReader::unexpected(const xml::StartTag& tag, DeError code, std::string_view where) const {
  return deError(code, "unexpected element " + expandedName(tag.uri, tag.local_name) + " " +
                           std::string(where));
}

}  // namespace itk::itk2::internal
