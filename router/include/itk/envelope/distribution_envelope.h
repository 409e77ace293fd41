// The ITK2 Distribution Envelope (spec/itk2.md §1) as read from a message, the rules a router
// applies to it (§1.3), and what routing needs from it (itk::MessageHeader).
//
// Reading is done by readItkDocument() (reader.h), in one SAX pass over the original bytes; the
// DE keeps byte ranges into those bytes, so it is forwarded verbatim, never re-serialised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "itk/message.h"
#include "itk/status.h"
#include "itk/xml/sax.h"

namespace itk::itk2 {

// address/@uri, @type (§1.5). An empty type means the attribute was absent (the XSD default).
struct Address {
  std::string uri;
  std::string type;
  bool operator==(const Address&) const = default;
};

// auditIdentity/id and reportingIdentity/id (§1.5, §3.1); empty type = absent.
struct Identity {
  std::string uri;
  std::string type;
  bool operator==(const Identity&) const = default;
};

struct ManifestItem {
  std::string id;
  std::string mimetype;
  std::string profileid;
  bool metadata = false;
  bool compressed = false;  // gzip then base64 (§1.4)
  bool base64 = false;
  bool encrypted = false;  // xenc:EncryptedData; base64/compressed then describe the cleartext
};

struct HandlingSpec {
  std::string key;
  std::string value;
};

struct Payload {
  std::string id;
  std::string filename;
  xml::ByteRange element;  // <itk:payload ...>...</itk:payload> in the input
  xml::ByteRange content;  // between the payload's tags, verbatim
  // The payload's child element (the XSD allows one), e.g. a ClinicalDocument or an
  // InfrastructureResponse: its bytes, namespace and local name. Empty for a text payload.
  xml::ByteRange child;
  std::string child_namespace;
  std::string child_name;
};

// errorInfo in an InfrastructureResponse, and ToolkitErrorInfo in a SOAP fault (§3.1, §4.5).
struct ErrorInfo {
  std::string error_id;
  std::string code;
  std::string code_system;  // empty = absent (the XSD default is the toolkit system .17.268)
  std::string text;
  std::string diagnostic;
};

// itk:InfrastructureResponse (§3.1).
struct InfrastructureResponse {
  std::string result;  // "OK" or "Failure" on emission; read case-insensitively
  std::string timestamp;
  std::string tracking_id_ref;
  std::string service_ref;
  std::vector<Identity> reporting_identities;
  std::vector<ErrorInfo> errors;

  // Only "OK" (any case) is positive: Failure, Warning and the non-standard ERROR are not.
  bool positive() const;
};

// hl7:BusinessResponseMessage (§3.2).
struct BusinessResponse {
  struct Detail {  // acknowledgedBy3/acknowledgementDetail/code
    std::string code;
    std::string code_system;
    std::string display_name;
  };
  struct ItemAck {  // acknowledgedBy2: one per acknowledged payload (manifest item)
    std::string type_code;
    std::string payload_id;
    std::string text;  // controlActEvent/reason/detectedIssueEvent/text
  };
  std::string id;
  std::string creation_time;
  std::string interaction;               // interactionId/@extension
  std::string type_code;                 // acknowledgedBy3/@typeCode
  std::string acknowledged_tracking_id;  // acknowledgedBy3/conveyingTransmission/id/@root
  std::vector<Detail> details;
  std::vector<ItemAck> item_acks;

  // AA and CA are positive; AE, AR, CE and CR negative (CIAO ItkMessageReceiverRoute).
  bool positive() const;
  bool typeCodeKnown() const;
};

// A namespace declaration in scope at the DE but made on an ancestor (a SOAP element).
struct NamespaceDeclaration {
  std::string prefix;  // empty for the default namespace
  std::string uri;
};

struct DistributionEnvelope {
  std::string service;
  std::string tracking_id;
  bool has_address_list = false;
  std::vector<Address> addresses;
  std::vector<Identity> audit_identities;  // empty when auditIdentity is absent
  int64_t manifest_count = 0;              // manifest/@count (an xs:integer, checked while reading)
  std::vector<ManifestItem> manifest;
  std::optional<Address> sender_address;
  bool has_handling_specification = false;
  std::vector<HandlingSpec> handling_specs;
  int64_t payloads_count = 0;  // payloads/@count
  std::vector<Payload> payloads;

  xml::ByteRange element;  // the whole DE element in the input
  // Declarations the DE relies on from its SOAP ancestors (see forwardableBytes()).
  std::vector<NamespaceDeclaration> inherited_namespaces;
  size_t start_tag_name_end = 0;  // offset just after "<itk:DistributionEnvelope"

  // The acknowledgement carried as the first child of a payload, when there is one.
  std::optional<InfrastructureResponse> infrastructure_response;
  std::optional<BusinessResponse> business_response;

  // The value of the handling specification `key`, or nullptr.
  const std::string* handlingSpec(std::string_view key) const;
  // The interaction handling specification, or "".
  std::string_view interaction() const;
};

// Which rules apply. A synchronous response relayed back to a caller is passed through even
// when its senderAddress breaks the TKW syntax (the SMSP fixture's "addrssing" typo).
enum class DeRules : uint8_t { kRequest, kResponse };

// Applies every rule of spec §1.3 that the envelope alone decides (rules 1-10; rule 11 needs the
// SOAP header: see checkSoapRequest()). The first failure is returned with toolkit code 1000 and
// the DE code of the part it concerns:
//   DE0005 trackingid missing or not an upper-case UUID (rule 1)
//   DE0006 manifest/@count differs from the number of manifestitem elements (rule 2)
//   DE0011 payloads/@count differs from the number of payload elements, or from manifest/@count
//          (rules 3, 4)
//   DE0007 manifestitem/@id not [a-zA-Z_:]* + upper-case UUID, or matching no payload/@id, or
//          repeated (rule 5); mimetype not text/xml, or text/plain for *PH-v* services, except
//          for SendDocument and BroadcastDocument (rule 6)
//   DE0012 payload/@id not [a-zA-Z_:]* + upper-case UUID, not an NCName (xs:ID), or repeated
//          (rules 5, 10); an encrypted payload that is not xenc:EncryptedData (§1.4)
//   DE0008 senderAddress/@uri not urn:nhs-uk:addressing:[a-zA-Z_:0-9]+ (rule 7; kRequest only),
//          or an unknown address type OID (§1.5)
//   DE0003 an address type OID that is not ITK, DTS or ASID (§1.5)
//   DE0004 auditIdentity absent (COR-DEH-03); a toolkit identity without two colon-delimited
//          tokens or with a @type other than .18.27; a non-toolkit identity without an OID
//          @type, or with the default one (COR-DEH-04) (rule 8)
//   DE0010 the interaction handling specification's value is not a URI (rule 9)
//   DE0009 a handling specification key given twice (rule 9)
// Rule 10 (XSD validity of the envelope) is enforced while reading. TKW's rule 9 only checks
// the interaction specification when it is present (subGeneric.conf), so an envelope without
// one is valid, as the SendDocument fixture is.
Status validateDistributionEnvelope(const DistributionEnvelope& de,
                                    DeRules rules = DeRules::kRequest);

// Business, infrastructure ack or business ack: by the interaction handling specification first,
// then by service (spec §7.3: TKW sends acks with service sendDistEnvelope).
MessageKind classify(const DistributionEnvelope& de);

// What routing, de-duplication and ack tracking need (format kItk2). Fails (DE0012) for an
// acknowledgement whose payload is not the matching InfrastructureResponse or
// BusinessResponseMessage, or that names no acknowledged tracking id or a BusAck typeCode
// outside AA/CA/AE/AR/CE/CR.
Result<MessageHeader> messageHeaderOf(const DistributionEnvelope& de);

// The door check for a DE that arrives on its own (DTS .dat, MESH, loopback): the rules of §1.3
// (DeRules::kResponse for a "<service>Response", §1.6) and then its routing header.
Result<MessageHeader> checkDistributionEnvelope(const DistributionEnvelope& de);

// Loop prevention (spec §2, DET isAckable): never infack an infrastructure ack, nor any service
// whose name contains "Broadcast".
bool isAckable(const MessageHeader& header);
// An infack is due: requested, ackable, and there is a senderAddress to send it to.
bool infrastructureAckWanted(const MessageHeader& header);

// The DE's bytes from `input` (what readItkDocument() read) for forwarding: verbatim, except that
// the namespace declarations it may use from its SOAP ancestors are added to its start tag, so the
// bytes stand alone. "May use": an inherited default namespace, and every inherited prefix that
// appears as "prefix:" anywhere in the DE (names, and QNames in values such as xsi:type) — a
// conservative test, so a DE that declares what it uses (the usual case) is forwarded
// byte-identical.
std::string forwardableBytes(std::string_view input, const DistributionEnvelope& de);

}  // namespace itk::itk2
