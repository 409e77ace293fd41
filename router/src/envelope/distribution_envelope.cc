#include "itk/envelope/distribution_envelope.h"

#include <algorithm>
#include <cctype>

#include "itk/envelope/vocabulary.h"
#include "itk/uuid.h"
#include "itk/xml/text.h"
#include "syntax.h"

namespace itk::itk2 {

using internal::equalsIgnoreCase;
using internal::quoted;

const std::string* DistributionEnvelope::handlingSpec(std::string_view key) const {
  for (const HandlingSpec& spec : handling_specs) {
    if (spec.key == key) return &spec.value;
  }
  return nullptr;
}

std::string_view DistributionEnvelope::interaction() const {
  const std::string* value = handlingSpec(kInteractionKey);
  return value ? std::string_view(*value) : std::string_view();
}

bool InfrastructureResponse::positive() const {
  return equalsIgnoreCase(result, "OK");
}

bool BusinessResponse::positive() const {
  return type_code == "AA" || type_code == "CA";
}

bool BusinessResponse::typeCodeKnown() const {
  for (std::string_view code : {"AA", "CA", "AE", "AR", "CE", "CR"}) {
    if (type_code == code) return true;
  }
  return false;
}

namespace {

// Rule 1: header/@trackingid is an upper-case UUID (itk:uuid in the XSD).
Status checkTrackingId(const DistributionEnvelope& de) {
  if (!isUuid(de.tracking_id, /*upper_only=*/true)) {
    return deError(DeError::kId,
                   "trackingid " + quoted(de.tracking_id) + " is not an upper-case UUID");
  }
  return {};
}

// Rules 2-4: the declared counts match what is there, and each other.
Status checkCounts(const DistributionEnvelope& de) {
  if (de.manifest_count != static_cast<int64_t>(de.manifest.size())) {
    return deError(DeError::kManifest,
                   "itk:manifest/@count (" + std::to_string(de.manifest_count) +
                       ") does not equal the number of itk:manifestitem elements (" +
                       std::to_string(de.manifest.size()) + ")");
  }
  if (de.payloads_count != static_cast<int64_t>(de.payloads.size())) {
    return deError(DeError::kPayloads, "itk:payloads/@count (" + std::to_string(de.payloads_count) +
                                           ") does not equal the number of itk:payload elements (" +
                                           std::to_string(de.payloads.size()) + ")");
  }
  if (de.payloads_count != de.manifest_count) {
    return deError(DeError::kPayloads, "itk:payloads/@count (" + std::to_string(de.payloads_count) +
                                           ") does not equal itk:manifest/@count (" +
                                           std::to_string(de.manifest_count) + ")");
  }
  return {};
}

// Rule 5 (and rule 10 for xs:ID): payload ids are prefixed upper-case UUIDs, NCNames, unique.
Status checkPayloadIds(const DistributionEnvelope& de) {
  for (size_t i = 0; i < de.payloads.size(); ++i) {
    const std::string& id = de.payloads[i].id;
    if (!internal::isPrefixedUuid(id, true)) {
      return deError(DeError::kPayload,
                     "payload id " + quoted(id) + " is not [a-zA-Z_:]* + an upper-case UUID");
    }
    if (!internal::isNcName(id)) {
      return deError(DeError::kPayload, "payload id " + quoted(id) + " is not an NCName (xs:ID)");
    }
    for (size_t j = 0; j < i; ++j) {
      if (de.payloads[j].id == id) {
        return deError(DeError::kPayload, "payload id " + quoted(id) + " is repeated");
      }
    }
  }
  return {};
}

// Rule 5: every manifest item id is well formed, unique, and names a payload.
Status checkManifestIds(const DistributionEnvelope& de) {
  for (size_t i = 0; i < de.manifest.size(); ++i) {
    const std::string& id = de.manifest[i].id;
    if (!internal::isPrefixedUuid(id, true)) {
      return deError(DeError::kManifestItem,
                     "manifestitem id " + quoted(id) + " is not [a-zA-Z_:]* + an upper-case UUID");
    }
    for (size_t j = 0; j < i; ++j) {
      if (de.manifest[j].id == id) {
        return deError(DeError::kManifestItem, "manifestitem id " + quoted(id) + " is repeated");
      }
    }
    auto same_id = [&](const Payload& p) { return p.id == id; };
    if (std::none_of(de.payloads.begin(), de.payloads.end(), same_id)) {
      return deError(DeError::kManifestItem,
                     "manifestitem id " + quoted(id) + " matches no payload id");
    }
  }
  return {};
}

// "...:<name>PH-v<digits|->" (HL7v2 pipe-and-hat services, rule 6).
bool isPipeAndHatService(std::string_view service) {
  if (!service.starts_with(kServicePrefix)) return false;
  for (size_t at = service.find("PH-v"); at != std::string_view::npos;
       at = service.find("PH-v", at + 1)) {
    char next = at + 4 < service.size() ? service[at + 4] : '\0';
    if ((next >= '0' && next <= '9') || next == '|' || next == '-') return true;
  }
  return false;
}

// Rule 6: text/plain for pipe-and-hat services, text/xml otherwise; not checked for SendDocument
// and BroadcastDocument, which carry any document type.
Status checkMimetypes(const DistributionEnvelope& de) {
  if (de.service == kSendDocumentService || de.service == kBroadcastDocumentService) return {};
  std::string_view wanted = isPipeAndHatService(de.service) ? "text/plain" : "text/xml";
  for (const ManifestItem& item : de.manifest) {
    if (!equalsIgnoreCase(item.mimetype, wanted)) {
      return deError(DeError::kManifestItem,
                     "manifestitem " + item.id + " mimetype " + quoted(item.mimetype) + " is not " +
                         std::string(wanted) + " for service " + de.service);
    }
  }
  return {};
}

// §1.4: an encrypted payload holds xenc:EncryptedData (and is passed through untouched).
Status checkEncryptedPayloads(const DistributionEnvelope& de) {
  for (const ManifestItem& item : de.manifest) {
    if (!item.encrypted) continue;
    for (const Payload& p : de.payloads) {
      if (p.id == item.id &&
          !(p.child_namespace == kXmlEncNamespace && p.child_name == "EncryptedData")) {
        return deError(DeError::kPayload,
                       "payload " + p.id + " is marked encrypted but holds no xenc:EncryptedData");
      }
    }
  }
  return {};
}

// §1.5: an address type, when given, is one of the ITK, DTS and Spine ASID OIDs (DET rejects
// any other: ADDR-0005 "Unrecognised OID").
bool knownAddressType(std::string_view type) {
  return type.empty() || type == kItkAddressType || type == kDtsAddressType ||
         type == kAsidAddressType;
}

Status checkAddresses(const DistributionEnvelope& de, DeRules rules) {
  for (const Address& a : de.addresses) {
    if (!knownAddressType(a.type)) {
      return deError(DeError::kAddressList,
                     "address " + a.uri + " has an unrecognised type OID " + quoted(a.type));
    }
  }
  // Rule 7. A relayed response passes with any sender address syntax (the SMSP fixture).
  if (de.sender_address && rules == DeRules::kRequest) {
    const Address& sender = *de.sender_address;
    if (!internal::isItkAddress(sender.uri)) {
      return deError(DeError::kSenderAddress,
                     "senderAddress " + quoted(sender.uri) +
                         " does not match urn:nhs-uk:addressing:[a-zA-Z_:0-9]+");
    }
    if (!knownAddressType(sender.type)) {
      return deError(DeError::kSenderAddress,
                     "senderAddress has an unrecognised type OID " + quoted(sender.type));
    }
  }
  return {};
}

// Rule 8: COR-DEH-03 (present) and COR-DEH-04 (toolkit identity, or a typed non-toolkit one).
Status checkAuditIdentity(const DistributionEnvelope& de) {
  if (de.audit_identities.empty()) {
    return deError(DeError::kAuditIdentity,
                   "itk:auditIdentity is missing (COR-DEH-03: the originating user's audit "
                   "identity must be populated)");
  }
  for (const Identity& id : de.audit_identities) {
    if (id.uri.starts_with(kItkIdentityPrefix)) {
      if (!internal::isToolkitIdentity(id.uri)) {
        return deError(DeError::kAuditIdentity,
                       "auditIdentity " + quoted(id.uri) +
                           " is not urn:nhs-uk:identity: + colon-delimited tokens (COR-DEH-04)");
      }
      if (!id.type.empty() && id.type != kItkIdentityType) {
        return deError(DeError::kAuditIdentity, "auditIdentity " + quoted(id.uri) +
                                                    " is a toolkit identity but its type is " +
                                                    quoted(id.type) + " (COR-DEH-04.7)");
      }
    } else if (id.type.empty()) {
      return deError(DeError::kAuditIdentity,
                     "auditIdentity " + quoted(id.uri) +
                         " is not a toolkit identity and has no type OID (COR-DEH-04.7)");
    } else if (id.type == kItkIdentityType || !internal::isOid(id.type)) {
      return deError(DeError::kAuditIdentity,
                     "auditIdentity " + quoted(id.uri) + " is not a toolkit identity: its type " +
                         quoted(id.type) + " must be a non-default OID (COR-DEH-04.7)");
    }
  }
  return {};
}

// Rule 9: the interaction, when given, names an interaction; no key is given twice.
Status checkHandlingSpecs(const DistributionEnvelope& de) {
  for (size_t i = 0; i < de.handling_specs.size(); ++i) {
    const HandlingSpec& spec = de.handling_specs[i];
    for (size_t j = 0; j < i; ++j) {
      if (de.handling_specs[j].key == spec.key) {
        return deError(DeError::kHandlingSpecifications,
                       "handling specification " + spec.key + " is given twice");
      }
    }
    if (spec.key == kInteractionKey && !internal::isAbsoluteUri(spec.value)) {
      return deError(DeError::kSpec, "interaction " + quoted(spec.value) + " is not a URI");
    }
  }
  return {};
}

}  // namespace

Status validateDistributionEnvelope(const DistributionEnvelope& de, DeRules rules) {
  for (Status s : {checkTrackingId(de), checkCounts(de), checkPayloadIds(de), checkManifestIds(de),
                   checkMimetypes(de), checkEncryptedPayloads(de), checkAddresses(de, rules),
                   checkAuditIdentity(de), checkHandlingSpecs(de)}) {
    if (!s.ok()) return s;
  }
  return {};
}

MessageKind classify(const DistributionEnvelope& de) {
  std::string_view interaction = de.interaction();
  if (interaction == kInfrastructureAckInteraction) return MessageKind::kInfrastructureAck;
  if (interaction == kBusinessAckInteraction) return MessageKind::kBusinessAck;
  if (!interaction.empty()) return MessageKind::kBusiness;
  if (de.service == kSendInfrastructureAckService) return MessageKind::kInfrastructureAck;
  if (de.service == kSendBusinessAckService) return MessageKind::kBusinessAck;
  return MessageKind::kBusiness;
}

namespace {

Status readAcknowledgement(const DistributionEnvelope& de, MessageHeader* h) {
  if (h->kind == MessageKind::kInfrastructureAck) {
    if (!de.infrastructure_response) {
      return deError(DeError::kPayload,
                     "infrastructure acknowledgement has no itk:InfrastructureResponse payload");
    }
    const InfrastructureResponse& r = *de.infrastructure_response;
    if (r.tracking_id_ref.empty()) {
      return deError(DeError::kPayload, "itk:InfrastructureResponse has no @trackingIdRef");
    }
    h->acknowledged_tracking_id = r.tracking_id_ref;
    h->ack_positive = r.positive();
  } else if (h->kind == MessageKind::kBusinessAck) {
    if (!de.business_response) {
      return deError(DeError::kPayload,
                     "business acknowledgement has no hl7:BusinessResponseMessage payload");
    }
    const BusinessResponse& r = *de.business_response;
    if (r.acknowledged_tracking_id.empty()) {
      return deError(DeError::kPayload,
                     "hl7:BusinessResponseMessage has no acknowledgedBy3/conveyingTransmission/id");
    }
    if (!r.typeCodeKnown()) {
      return deError(DeError::kPayload, "acknowledgedBy3/@typeCode " + quoted(r.type_code) +
                                            " is not AA, CA, AE, AR, CE or CR");
    }
    h->acknowledged_tracking_id = r.acknowledged_tracking_id;
    h->ack_positive = r.positive();
  }
  return {};
}

}  // namespace

Result<MessageHeader> messageHeaderOf(const DistributionEnvelope& de) {
  MessageHeader h;
  h.format = MessageFormat::kItk2;
  h.kind = classify(de);
  h.service = de.service;
  h.interaction = std::string(de.interaction());
  h.tracking_id = de.tracking_id;
  h.addresses.reserve(de.addresses.size());
  for (const Address& a : de.addresses) h.addresses.push_back(a.uri);
  if (de.sender_address) h.sender_address = de.sender_address->uri;
  if (!de.audit_identities.empty()) h.audit_identity = de.audit_identities.front().uri;
  // §2: booleans as Boolean.parseBoolean; a missing key is false.
  const std::string* infack = de.handlingSpec(kInfAckRequestedKey);
  const std::string* busack = de.handlingSpec(kAckRequestedKey);
  h.infack_requested = infack && internal::parseItkBoolean(*infack);
  h.busack_requested = busack && internal::parseItkBoolean(*busack);
  if (Status s = readAcknowledgement(de, &h); !s.ok()) return s;
  return h;
}

Result<MessageHeader> checkDistributionEnvelope(const DistributionEnvelope& de) {
  // A DE answering a synchronous request carries "<service>Response" (§1.6) and is relayed.
  DeRules rules = de.service.ends_with("Response") ? DeRules::kResponse : DeRules::kRequest;
  if (Status s = validateDistributionEnvelope(de, rules); !s.ok()) return s;
  return messageHeaderOf(de);
}

bool isAckable(const MessageHeader& header) {
  // ITK2 §2: never infack an infack, nor a Broadcast service.
  return header.kind != MessageKind::kInfrastructureAck &&
         header.service != kSendInfrastructureAckService &&
         header.service.find("Broadcast") == std::string::npos;
}

bool infrastructureAckWanted(const MessageHeader& header) {
  // ITK2 §2: acks go to the original senderAddress; without one there is no one to ack.
  return header.infack_requested && isAckable(header) && !header.sender_address.empty();
}

namespace {

// True when `prefix` followed by ':' occurs in `text` after a character that cannot end an XML
// name (so "wsa:" is found in "<wsa:To" or "xsi:type=\"wsa:x\"" but not in "xwsa:").
bool mayUsePrefix(std::string_view text, std::string_view prefix) {
  auto nameChar = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           static_cast<unsigned char>(c) >= 0x80;
  };
  for (size_t at = text.find(prefix); at != std::string_view::npos;
       at = text.find(prefix, at + 1)) {
    size_t end = at + prefix.size();
    if (end < text.size() && text[end] == ':' && (at == 0 || !nameChar(text[at - 1])))
      return true;
  }
  return false;
}

}  // namespace

std::string forwardableBytes(std::string_view input, const DistributionEnvelope& de) {
  std::string_view element = de.element.in(input);
  std::vector<const NamespaceDeclaration*> needed;
  for (const NamespaceDeclaration& d : de.inherited_namespaces) {
    if (d.prefix.empty() || mayUsePrefix(element, d.prefix)) needed.push_back(&d);
  }
  if (needed.empty()) return std::string(element);
  size_t name_end = de.start_tag_name_end - de.element.begin;
  std::string out;
  out.reserve(element.size() + 128);
  out.append(element.substr(0, name_end));
  for (const NamespaceDeclaration* d_ptr : needed) {
    const NamespaceDeclaration& d = *d_ptr;
    out += d.prefix.empty() ? " xmlns" : " xmlns:" + d.prefix;
    out += "=\"";
    xml::appendEscapedAttribute(out, d.uri);
    out += '"';
  }
  out.append(element.substr(name_end));
  return out;
}

}  // namespace itk::itk2
