// The ITK3 message Bundle reader: one SAX pass over the document (itk::xml, hardened), which
// records the Bundle's own fields, the first entry's MessageHeader with its handling keys, and the
// id, profiles and identifiers of every top-level entry (to resolve sender and receiver) plus the
// issues of a response's OperationOutcome. Nothing is copied from payload entries; the whole
// document is still parsed, because well-formedness decides between a readable message and 10009.
#include <algorithm>
#include <array>
#include <cctype>

#include "itk/fhir/itk3.h"
#include "itk/xml/text.h"

namespace itk::itk3 {

namespace {

// The six keys 2.5.0 made mandatory, in the order the spec lists them.
constexpr std::array<std::string_view, 6> kMandatoryKeys = {"BusAckRequested", "InfAckRequested",
                                                            "RecipientType",   "MessageDefinition",
                                                            "SenderReference", "LocalExtension"};
constexpr std::string_view kPriorityKey = "Priority";
constexpr size_t kMaxSenderReference = 255;  // FHIR-SR: "Any String up to 255 Characters"

Status itk3Error(std::string_view code, std::string message) {
  return Status::invalid(std::move(message))
      .withToolkit(ToolkitCode::kInvalidMessage, std::string(code));
}

bool iequalsAscii(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool icontains(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (iequalsAscii(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool isMandatoryKey(std::string_view key) {
  return std::find(kMandatoryKeys.begin(), kMandatoryKeys.end(), key) != kMandatoryKeys.end();
}

// The handling extension, by its canonical URL or (tolerantly) any URL ending in its name.
bool isHandlingExtensionUrl(std::string_view url) {
  constexpr std::string_view kName = "Extension-ITK-MessageHandling-2";
  return url == kMessageHandlingExtension ||
         (url.size() >= kName.size() && iequalsAscii(url.substr(url.size() - kName.size()), kName));
}

// The obsolete ITK3 v1 handling extension (ITK3-Messaging-Distribution@master).
bool isLegacyHandlingUrl(std::string_view url) {
  return icontains(url, "itk-messagehandling-1");
}

// A handling key's value as written: value[x] with its type name, its value attribute, and the
// value attributes of the leaves below it (system, code, display, reference, value ...).
struct KeyValue {
  std::string type;  // "valueBoolean", "valueCoding", ...
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::string>> leaves;
  int values_seen = 0;

  const std::string* leaf(std::string_view name) const {
    for (const auto& [k, v] : leaves)
      if (k == name) return &v;
    return nullptr;
  }
  std::string text() const {
    if (value) return *value;
    for (std::string_view name : {"reference", "code", "value", "display"}) {
      if (const std::string* v = leaf(name)) return *v;
    }
    return {};
  }
  Coding coding() const {
    Coding c;
    if (const std::string* v = leaf("system")) c.system = *v;
    if (const std::string* v = leaf("code")) c.code = *v;
    if (const std::string* v = leaf("display")) c.display = *v;
    return c;
  }
};

class BundleHandler final : public xml::Handler {
 public:
  explicit BundleHandler(const ReadOptions& options) : options_(options) {}

  MessageBundle bundle;
  bool header_complete = false;
  bool root_seen = false;

  Status startElement(const xml::StartTag& tag) override {
    const bool fhir = xml::equalsAscii(tag.uri, kFhirNamespace);
    Frame frame;
    // Element names are only interpreted in the FHIR namespace (the narrative's XHTML is not).
    if (fhir) frame.name = xml::toUtf8(tag.local_name);
    std::u16string_view raw;
    std::optional<std::string> value;
    if (tag.attributes.find(u"", u"value", &raw)) value = xml::toUtf8(raw);
    if (frame.name == "extension" && tag.attributes.find(u"", u"url", &raw)) {
      frame.url = xml::toUtf8(raw);
    }
    stack_.push_back(std::move(frame));
    const size_t depth = tag.depth;

    if (depth == 1) {
      root_seen = true;
      if (stack_[0].name != "Bundle") {
        return itk3Error("10009", "the root element is not a FHIR Bundle (namespace " +
                                      std::string(kFhirNamespace) + ")");
      }
      return {};
    }
    const std::string& name = stack_.back().name;
    if (name.empty()) return {};
    if (depth == 2) return bundleChild(name, value);
    if (depth == 3) return bundleGrandchild(name, value);
    if (stack_[1].name != "entry" || depth < 4 || stack_[2].name != "resource") return {};
    if (depth == 4) return resourceStart(name);
    if (in_header_) return headerElement(depth - 4, name, value);
    return entryElement(depth, name, value);
  }

  Status endElement(const xml::EndTag& tag) override {
    const size_t depth = tag.depth;
    Status s;
    if (key_ && depth == key_->depth) s = finishKey();
    if (in_header_ && depth == 4) {
      in_header_ = false;
      header_complete = true;
    }
    if (depth == 4) in_outcome_ = false;
    stack_.pop_back();
    return s;
  }

  // Checks what the whole document said, once it has been read.
  Status finish() {
    if (bundle.type != "message") {
      return itk3Error("20006", "Bundle.type is \"" + bundle.type + "\", not \"message\"");
    }
    if (bundle.entries.empty() || bundle.entries[0].resource_type != "MessageHeader") {
      return itk3Error("20006", "the Bundle has no MessageHeader entry");
    }
    const MessageHeaderResource& h = bundle.header;
    if (h.id.empty()) return itk3Error("20006", "MessageHeader.id is missing");
    if (h.event.code.empty()) return itk3Error("20006", "MessageHeader.event has no code");
    if (h.source_endpoint.empty()) {
      return itk3Error("20006", "MessageHeader.source.endpoint (the sender's mailbox) is missing");
    }
    if (bundle.isResponse()) {
      if (!h.response || h.response->identifier.empty()) {
        return itk3Error("20006", "the response has no MessageHeader.response.identifier");
      }
      if (h.response->code.empty()) {
        return itk3Error("20006", "the response has no MessageHeader.response.code");
      }
      if (h.response->code != "ok" && h.response->code != "fatal-error" &&
          h.response->code != "transient-error") {
        return itk3Error("20006", "MessageHeader.response.code \"" + h.response->code +
                                      "\" is not a FHIR ResponseType");
      }
    }
    if (h.sender_reference.empty()) {
      if (Status s = deviation("20006", "MessageHeader.sender is missing"); !s.ok()) return s;
    }
    // focus is 1..1 for messages; no official response example carries one (response.details
    // points at the OperationOutcome), so a response without it is not a deviation.
    if (h.focus_reference.empty() && !bundle.isResponse()) {
      if (Status s = deviation("20006", "MessageHeader.focus is missing"); !s.ok()) return s;
    }
    if (options_.strict) {
      if (!contains(bundle.profiles, kMessageBundleProfile)) {
        return itk3Error("20006", "the Bundle does not claim the ITK-Message-Bundle-1 profile");
      }
      if (!contains(h.profiles, kMessageHeaderProfile)) {
        return itk3Error("20006",
                         "the MessageHeader does not claim the ITK-MessageHeader-2 profile");
      }
    }
    return checkHandling();
  }

 private:
  struct Frame {
    std::string name;  // local name in the FHIR namespace; empty otherwise
    std::string url;   // extension/@url
  };
  // A handling key being read: inside the complex extension or (misplaced) beside it.
  struct OpenKey {
    std::string name;
    size_t depth;  // the key's extension element
    bool misplaced;
    KeyValue value;
  };

  // A deviation a lenient read accepts (and notes) and a strict read refuses with `code`.
  Status deviation(std::string_view code, std::string what) {
    if (options_.strict) return itk3Error(code, what);
    bundle.tolerated.push_back(std::move(what));
    return {};
  }

  Status bundleChild(const std::string& name, const std::optional<std::string>& value) {
    if (name == "id" && value)
      bundle.id = *value;
    else if (name == "type" && value)
      bundle.type = *value;
    else if (name == "entry")
      bundle.entries.emplace_back();
    return {};
  }

  Status bundleGrandchild(const std::string& name, const std::optional<std::string>& value) {
    const std::string& parent = stack_[1].name;
    if (!value) return {};
    if (parent == "meta" && name == "profile")
      bundle.profiles.push_back(*value);
    else if (parent == "identifier" && name == "system")
      bundle.identifier.system = *value;
    else if (parent == "identifier" && name == "value")
      bundle.identifier.value = *value;
    else if (parent == "entry" && name == "fullUrl")
      bundle.entries.back().full_url = *value;
    return {};
  }

  Status resourceStart(const std::string& type) {
    Entry& entry = bundle.entries.back();
    if (!entry.resource_type.empty()) return {};  // a second resource: not FHIR; ignored
    entry.resource_type = type;
    if (bundle.entries.size() == 1) {
      // ITK3 §1.1: entry[0] MUST be the MessageHeader.
      if (type != "MessageHeader") {
        return itk3Error("20006",
                         "the first entry of the Bundle is a " + type + ", not the MessageHeader");
      }
      in_header_ = true;
    } else if (type == "OperationOutcome" && !outcome_seen_) {
      outcome_seen_ = true;
      in_outcome_ = true;
    }
    return {};
  }

  // Elements of an entry's resource other than the MessageHeader (depth >= 5).
  Status entryElement(size_t depth, const std::string& name,
                      const std::optional<std::string>& value) {
    Entry& entry = bundle.entries.back();
    if (depth == 5) {
      if (name == "id" && value)
        entry.id = *value;
      else if (name == "identifier")
        entry.identifiers.emplace_back();
      else if (name == "name" && value && entry.name.empty())
        entry.name = *value;
      else if (name == "issue" && in_outcome_)
        bundle.issues.emplace_back();
      return {};
    }
    const std::string& parent = stack_[4].name;
    if (depth == 6 && value) {
      if (parent == "meta" && name == "profile")
        entry.profiles.push_back(*value);
      else if (parent == "identifier" && name == "system")
        entry.identifiers.back().system = *value;
      else if (parent == "identifier" && name == "value")
        entry.identifiers.back().value = *value;
    }
    if (!in_outcome_ || parent != "issue" || bundle.issues.empty()) return {};
    Issue& issue = bundle.issues.back();
    if (depth == 6 && value) {
      if (name == "severity")
        issue.severity = *value;
      else if (name == "code")
        issue.code = *value;
      else if (name == "diagnostics")
        issue.diagnostics = *value;
    } else if (depth == 7 && stack_[5].name == "details" && name == "coding") {
      issue.details.emplace_back();
    } else if (depth == 8 && stack_[5].name == "details" && stack_[6].name == "coding" && value &&
               !issue.details.empty()) {
      Coding& c = issue.details.back();
      if (name == "system")
        c.system = *value;
      else if (name == "code")
        c.code = *value;
      else if (name == "display")
        c.display = *value;
    }
    return {};
  }

  // Elements below the MessageHeader; `rel` is the depth below it (its children are 1).
  Status headerElement(size_t rel, const std::string& name,
                       const std::optional<std::string>& value) {
    MessageHeaderResource& h = bundle.header;
    if (key_ && rel + 4 > key_->depth) return keyElement(rel + 4, name, value);
    const std::string& p1 = rel >= 2 ? stack_[4].name : name;
    if (rel == 1) {
      if (name == "id" && value)
        h.id = *value;
      else if (name == "timestamp" && value)
        h.timestamp = *value;
      else if (name == "response")
        h.response.emplace();
      else if (name == "extension")
        return headerExtension(stack_.back().url);
      return {};
    }
    if (rel == 2 && name == "extension" && p1 == "extension" &&
        isHandlingExtensionUrl(stack_[4].url)) {
      openKey(stack_.back().url, /*misplaced=*/false);
      return {};
    }
    if (!value) return {};
    if (rel == 2) {
      if (p1 == "meta" && name == "profile")
        h.profiles.push_back(*value);
      else if (p1 == "event" && name == "system")
        h.event.system = *value;
      else if (p1 == "event" && name == "code")
        h.event.code = *value;
      else if (p1 == "event" && name == "display")
        h.event.display = *value;
      else if (p1 == "sender" && name == "reference")
        h.sender_reference = *value;
      else if (p1 == "receiver" && name == "reference")
        h.receiver_reference = *value;
      else if (p1 == "focus" && name == "reference")
        h.focus_reference = *value;
      else if (p1 == "source" && name == "endpoint")
        h.source_endpoint = *value;
      else if (p1 == "response" && name == "identifier")
        h.response->identifier = *value;
      else if (p1 == "response" && name == "code")
        h.response->code = *value;
    } else if (rel == 3 && p1 == "response" && stack_[5].name == "details" && name == "reference") {
      h.response->details_reference = *value;
    }
    return {};
  }

  // An extension directly on the MessageHeader.
  Status headerExtension(const std::string& url) {
    HandlingSpecification& hs = bundle.header.handling;
    if (isHandlingExtensionUrl(url)) {
      hs.present = true;
    } else if (isLegacyHandlingUrl(url)) {
      hs.legacy_v1 = true;
    } else if (isMandatoryKey(url) || url == kPriorityKey) {
      // A bare key name beside the complex extension (the pathology examples, MANIFEST).
      openKey(url, /*misplaced=*/true);
    }
    return {};
  }

  void openKey(const std::string& name, bool misplaced) {
    key_ = OpenKey{name, stack_.size(), misplaced, {}};
  }

  // Inside a handling key's extension element: its value[x] and the leaves below it.
  Status keyElement(size_t depth, const std::string& name,
                    const std::optional<std::string>& value) {
    KeyValue& kv = key_->value;
    if (depth == key_->depth + 1) {
      if (name.rfind("value", 0) == 0) {
        ++kv.values_seen;
        if (kv.values_seen == 1) {
          kv.type = name;
          kv.value = value;
        }
      }
      return {};
    }
    if (kv.values_seen == 1 && value && !kv.leaf(name)) kv.leaves.emplace_back(name, *value);
    return {};
  }

  // A key's extension element has ended: check its value and record it.
  Status finishKey() {
    OpenKey key = std::move(*key_);
    key_.reset();
    HandlingSpecification& hs = bundle.header.handling;
    const KeyValue& kv = key.value;
    if (!isMandatoryKey(key.name) && key.name != kPriorityKey) {
      hs.local_keys.push_back(key.name);
      return {};
    }
    if (key.misplaced) {
      hs.misplaced.push_back(key.name);
      Status s = deviation("10001", "handling key " + key.name +
                                        " is a sibling of Extension-ITK-MessageHandling-2, "
                                        "not inside it");
      if (!s.ok()) return s;
      // Read leniently, but never over the same key found where it belongs.
      if (isSet(key.name)) return {};
    } else if (isSet(key.name)) {
      return deviation("10001", "handling key " + key.name + " appears more than once");
    }
    if (kv.values_seen > 1) {
      return itk3Error("10001", "handling key " + key.name + " has more than one value");
    }
    if (key.name == "BusAckRequested" || key.name == "InfAckRequested") {
      const bool inf = key.name == "InfAckRequested";
      std::optional<bool> flag;
      if (kv.type == "valueBoolean" && kv.value == "true") flag = true;
      if (kv.type == "valueBoolean" && kv.value == "false") flag = false;
      if (!flag) {
        // ITK-ResponseCodes-1: 10002 Infrastructure / 10003 Business Level Response Value.
        return itk3Error(inf ? "10002" : "10003",
                         key.name + " is not a valueBoolean true or false");
      }
      (inf ? hs.inf_ack_requested : hs.bus_ack_requested) = flag;
    } else if (key.name == "RecipientType") {
      Coding c = kv.coding();
      if (kv.type != "valueCoding" || (c.code != "FA" && c.code != "FI")) {
        return itk3Error("10010", "RecipientType is not a valueCoding FA or FI");
      }
      if (c.system != kRecipientTypeSystem) {
        if (Status s = deviation("10010", "RecipientType system is \"" + c.system + "\", not " +
                                              std::string(kRecipientTypeSystem));
            !s.ok()) {
          return s;
        }
      }
      hs.recipient_type = std::move(c);
    } else if (key.name == "MessageDefinition") {
      const std::string* ref = kv.leaf("reference");
      if (kv.type != "valueReference" || !ref || ref->empty()) {
        return itk3Error("10004", "MessageDefinition is not a valueReference with a reference");
      }
      hs.message_definition = *ref;
    } else if (key.name == "SenderReference") {
      if (kv.type != "valueString" || !kv.value) {
        return itk3Error("10007", "SenderReference is not a valueString");
      }
      if (kv.value->size() > kMaxSenderReference) {
        return itk3Error("10007", "SenderReference is longer than 255 characters");
      }
      hs.sender_reference = *kv.value;
    } else if (key.name == "LocalExtension") {
      if (kv.values_seen == 0) return itk3Error("10001", "LocalExtension has no value");
      hs.local_extension = kv.text();  // value[x] of any type (FHIR-SR-06)
    } else {
      // Priority: withdrawn in 2.5.0; a receiver tolerates and ignores it (§1.3).
      hs.priority = kv.coding();
      bundle.tolerated.push_back("the withdrawn Priority handling key was ignored");
    }
    return {};
  }

  bool isSet(const std::string& key) const {
    const HandlingSpecification& hs = bundle.header.handling;
    if (key == "BusAckRequested") return hs.bus_ack_requested.has_value();
    if (key == "InfAckRequested") return hs.inf_ack_requested.has_value();
    if (key == "RecipientType") return hs.recipient_type.has_value();
    if (key == "MessageDefinition") return !hs.message_definition.empty();
    if (key == "SenderReference") return hs.sender_reference.has_value();
    if (key == "LocalExtension") return hs.local_extension.has_value();
    if (key == kPriorityKey) return hs.priority.has_value();
    return false;
  }

  Status checkHandling() {
    const HandlingSpecification& hs = bundle.header.handling;
    if (!hs.present) {
      std::string what = hs.legacy_v1 ? "only the obsolete ITK3 v1 handling extension is present"
                                      : "the MessageHeader has no Extension-ITK-MessageHandling-2";
      if (Status s = deviation("10001", what); !s.ok()) return s;
    }
    std::vector<std::string> missing = hs.missingKeys();
    if (hs.present && !missing.empty()) {
      std::string keys;
      for (const auto& k : missing) keys += (keys.empty() ? "" : ", ") + k;
      if (Status s = deviation("10001", "mandatory handling keys missing: " + keys); !s.ok()) {
        return s;
      }
    }
    return {};
  }

  const ReadOptions& options_;
  std::vector<Frame> stack_;
  bool in_header_ = false;
  bool in_outcome_ = false;
  bool outcome_seen_ = false;
  std::optional<OpenKey> key_;
};

// The ODS code an organisation reference names without an entry: the NHS directory's
// "https://directory.spineservices.nhs.uk/STU3/Organization/<ODS>" form (the EMS example).
std::string odsFromDirectoryReference(std::string_view reference) {
  constexpr std::string_view kMarker = "/Organization/";
  if (!reference.starts_with("https://") && !reference.starts_with("http://")) return {};
  size_t at = reference.rfind(kMarker);
  if (at == std::string_view::npos) return {};
  std::string_view code = reference.substr(at + kMarker.size());
  if (code.empty() || code.size() > 12) return {};
  for (char c : code) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return {};
  }
  return std::string(code);
}

std::string odsOf(const MessageBundle& bundle, std::string_view reference) {
  if (reference.empty()) return {};
  if (const Entry* e = bundle.resolve(reference)) return e->identifier(kOdsOrganizationSystem);
  return odsFromDirectoryReference(reference);
}

}  // namespace

std::vector<std::string> HandlingSpecification::missingKeys() const {
  std::vector<std::string> missing;
  if (!bus_ack_requested) missing.emplace_back("BusAckRequested");
  if (!inf_ack_requested) missing.emplace_back("InfAckRequested");
  if (!recipient_type) missing.emplace_back("RecipientType");
  if (message_definition.empty()) missing.emplace_back("MessageDefinition");
  if (!sender_reference) missing.emplace_back("SenderReference");
  if (!local_extension) missing.emplace_back("LocalExtension");
  return missing;
}

std::string Entry::identifier(std::string_view system) const {
  for (const auto& id : identifiers)
    if (id.system == system) return id.value;
  return {};
}

bool MessageBundle::isResponse() const {
  return header.event.code == kResponseEvent ||
         (header.response && !header.response->identifier.empty() &&
          !header.response->code.empty());
}

const Entry* MessageBundle::resolve(std::string_view reference) const {
  if (reference.empty()) return nullptr;
  for (const Entry& e : entries) {
    if (!e.full_url.empty() && e.full_url == reference) return &e;
  }
  // "Type/id": a relative reference to a resource in the Bundle.
  size_t slash = reference.find('/');
  if (slash == std::string_view::npos || reference.find(':') != std::string_view::npos) {
    return nullptr;
  }
  std::string_view type = reference.substr(0, slash);
  std::string_view id = reference.substr(slash + 1);
  for (const Entry& e : entries) {
    if (e.resource_type == type && e.id == id) return &e;
  }
  return nullptr;
}

std::string MessageBundle::senderOds() const {
  return odsOf(*this, header.sender_reference);
}
std::string MessageBundle::receiverOds() const {
  return odsOf(*this, header.receiver_reference);
}

std::vector<std::string> MessageBundle::responseCodes() const {
  // The legacy acknowledgement system is recognised on input (§2.1, TKW's InfAck actor).
  constexpr std::string_view kLegacyAckSystem = "https://fhir.nhs.uk/STU3/ITK-Acknowledgement-1";
  std::vector<std::string> codes;
  for (const Issue& issue : issues) {
    for (const Coding& c : issue.details) {
      if ((c.system == kResponseCodesSystem || c.system == kLegacyAckSystem) && !c.code.empty()) {
        codes.push_back(c.code);
      }
    }
  }
  return codes;
}

MessageHeader toMessageHeader(const MessageBundle& bundle) {
  const MessageHeaderResource& h = bundle.header;
  MessageHeader out;
  out.format = MessageFormat::kItk3;
  out.kind = bundle.isResponse() ? MessageKind::kItk3Response : MessageKind::kBusiness;
  out.service = h.handling.message_definition;
  out.interaction = h.event.code;
  out.tracking_id = h.id;
  if (std::string ods = bundle.receiverOds(); !ods.empty()) {
    out.addresses.push_back(std::string(kOdsAddressPrefix) + ods);
  }
  out.sender_address = h.source_endpoint;
  std::string sender_ods = bundle.senderOds();
  out.audit_identity =
      sender_ods.empty() ? h.sender_reference : std::string(kOdsIdentityPrefix) + sender_ods;
  out.infack_requested = h.handling.inf_ack_requested.value_or(false);
  out.busack_requested = h.handling.bus_ack_requested.value_or(false);
  if (out.kind == MessageKind::kItk3Response && h.response) {
    out.acknowledged_tracking_id = h.response->identifier;
    out.ack_positive = bundle.responsePositive();
  }
  return out;
}

std::string ReadFailure::acknowledgedId() const {
  return header_complete && !header_id.empty() ? header_id : std::string(kUnreadableId);
}

Result<MessageBundle> readMessageBundle(std::string_view document, const ReadOptions& options,
                                        ReadFailure* failure) {
  BundleHandler handler(options);
  Status status = xml::parse(document, handler, options.limits);
  if (!status.ok() && status.vocabularyCode().rfind("DE", 0) == 0) {
    // The SAX layer speaks ITK2 (DE0001); for ITK3 an unreadable message is 10009.
    status = itk3Error("10009", "unreadable message: " + status.message());
  }
  if (status.ok() && !handler.root_seen) status = itk3Error("10009", "no root element");
  if (status.ok()) status = handler.finish();
  if (status.ok()) return std::move(handler.bundle);
  if (failure) {
    const MessageBundle& b = handler.bundle;
    failure->status = status;
    failure->header_complete = handler.header_complete;
    failure->header_id = handler.header_complete ? b.header.id : std::string();
    failure->source_endpoint = b.header.source_endpoint;
    failure->sender_reference = b.header.handling.sender_reference;
    failure->inf_ack_requested = b.header.handling.inf_ack_requested;
    failure->bus_ack_requested = b.header.handling.bus_ack_requested;
    failure->is_response = b.isResponse();
  }
  return status;
}

Result<Message> decodeMessage(std::shared_ptr<const std::string> bytes,
                              const ReadOptions& options) {
  if (!bytes) return itk3Error("10009", "no message bytes");
  auto bundle = readMessageBundle(*bytes, options);
  if (!bundle.ok()) return bundle.status();
  Message message;
  message.header = toMessageHeader(*bundle);
  message.body = std::move(bytes);
  return message;
}

bool looksLikeBundle(std::string_view document) {
  size_t root = 0;
  if (!xml::checkProlog(document, &root).ok()) return false;
  std::string_view tag = document.substr(root + 1, 256);
  size_t end = tag.find_first_of(" \t\r\n/>");
  std::string_view qname = tag.substr(0, end);
  size_t colon = qname.find(':');
  std::string_view local = colon == std::string_view::npos ? qname : qname.substr(colon + 1);
  return local == "Bundle";
}

}  // namespace itk::itk3
