// itk::itk3: reading ITK3 messages (FHIR STU3 message Bundles, XML) with the hardened SAX layer
// (itk::xml), per spec/itk3-mesh.md §1. The reader picks out what routing, de-duplication and the
// ITK3 response framework need and leaves the bytes alone: the Bundle is forwarded unchanged.
//
// How an ITK3 message maps onto itk::MessageHeader (toMessageHeader):
//   format          kItk3
//   kind            kItk3Response when MessageHeader.event is ITK008M or MessageHeader.response
//                   carries an identifier and a code; else kBusiness
//   tracking_id     MessageHeader.id (a response echoes it in response.identifier)
//   service         the MessageDefinition handling key's reference (empty when absent: routes can
//                   still match on the event through `interaction`)
//   interaction     MessageHeader.event code (ITK007C, ITK008M, ...)
//   addresses       the recipient organisation: MessageHeader.receiver resolved to an entry of the
//                   Bundle with an ODS identifier (https://fhir.nhs.uk/Id/ods-organization-code),
//                   as "urn:nhs-uk:addressing:ods:<ODS>" (the ITK2 form, so one route can serve
//                   both). Empty when there is no receiver: GP Connect Send Document MUST NOT carry
//                   one (MESH GPPROVIDER routing, §1.2), so the recipient is then the MESH mailbox
//                   the message was sent to, which only the transport knows; the MESH transport
//                   fills in that mailbox id for business messages (see transports/mesh).
//                   Responses keep an empty list unless they name a receiver; the Router
//                   addresses a response from a peer by correlation (acknowledged_tracking_id ->
//                   the original -> the mailbox it came from), see docs/ITK3-MESH.md.
//   sender_address  MessageHeader.source.endpoint (the sender's MESH mailbox, GPCM requirement)
//   audit_identity  the sender organisation as "urn:nhs-uk:identity:ods:<ODS>" when
//                   MessageHeader.sender resolves to one, else the sender reference as written
//   infack/busack   InfAckRequested / BusAckRequested (false when absent)
//   acknowledged_tracking_id  response.identifier (may be UNREADABLE-IN-ORIGINAL-MESSAGE)
//   ack_positive    classified by the ITK response code (ITK-ResponseCodes-1 P/N), because the
//                   official examples include response.code "ok" with negative codes (20014,
//                   20015); response.code decides only when no known ITK code is present.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "itk/message.h"
#include "itk/status.h"
#include "itk/xml/sax.h"

namespace itk::itk3 {

// FHIR and ITK3 vocabulary (spec/itk3-mesh.md §1–§2).
inline constexpr std::string_view kFhirNamespace = "http://hl7.org/fhir";
inline constexpr std::string_view kMessageBundleProfile =
    "https://fhir.nhs.uk/STU3/StructureDefinition/ITK-Message-Bundle-1";
inline constexpr std::string_view kMessageHeaderProfile =
    "https://fhir.nhs.uk/STU3/StructureDefinition/ITK-MessageHeader-2";
inline constexpr std::string_view kMessageHandlingExtension =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-ITK-MessageHandling-2";
inline constexpr std::string_view kMessageEventSystem =
    "https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2";
inline constexpr std::string_view kRecipientTypeSystem =
    "https://fhir.nhs.uk/STU3/CodeSystem/ITK-RecipientType-1";
inline constexpr std::string_view kResponseCodesSystem =
    "https://fhir.nhs.uk/STU3/CodeSystem/ITK-ResponseCodes-1";
inline constexpr std::string_view kResponseMessageDefinition =
    "https://fhir.nhs.uk/STU3/MessageDefinition/ITK-Response-MessageDefinition-1";
inline constexpr std::string_view kResponseOperationOutcomeProfile =
    "https://fhir.nhs.uk/STU3/StructureDefinition/ITK-Response-OperationOutcome-1";
inline constexpr std::string_view kHeaderOrganizationProfile =
    "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-ITK-Header-Organization-1";
inline constexpr std::string_view kOdsOrganizationSystem =
    "https://fhir.nhs.uk/Id/ods-organization-code";
inline constexpr std::string_view kUuidIdentifierSystem = "https://tools.ietf.org/html/rfc4122";
inline constexpr std::string_view kResponseEvent = "ITK008M";
// ITK3 §2.4: response.identifier when the original's MessageHeader.id cannot be read.
inline constexpr std::string_view kUnreadableId = "UNREADABLE-IN-ORIGINAL-MESSAGE";
// The ITK2-style address and identity forms used for ODS codes read from a Bundle.
inline constexpr std::string_view kOdsAddressPrefix = "urn:nhs-uk:addressing:ods:";
inline constexpr std::string_view kOdsIdentityPrefix = "urn:nhs-uk:identity:ods:";

struct Coding {
  std::string system;
  std::string code;
  std::string display;
};

struct Identifier {
  std::string system;
  std::string value;
};

// Extension-ITK-MessageHandling-2 (§1.3). Keys that are absent stay empty / nullopt.
struct HandlingSpecification {
  bool present = false;  // the complex extension was found on the MessageHeader
  std::optional<bool> bus_ack_requested;
  std::optional<bool> inf_ack_requested;
  std::optional<Coding> recipient_type;         // FA | FI
  std::string message_definition;               // valueReference.reference
  std::optional<std::string> sender_reference;  // echoed in every response
  std::optional<std::string> local_extension;   // any value[x], as text
  std::optional<Coding> priority;               // withdrawn in 2.5.0: recognised, ignored
  std::vector<std::string> misplaced;           // keys found as siblings of the complex extension
  std::vector<std::string> local_keys;          // other sub-extensions (the slicing is open)
  bool legacy_v1 = false;  // the obsolete ITK3 v1 extension-itk-messagehandling-1 was present

  // The keys 2.5.0 made mandatory that were not found (inside the extension or, leniently, as
  // misplaced siblings).
  std::vector<std::string> missingKeys() const;
};

// One top-level entry of the message Bundle (nested Bundles are payload and not looked into).
struct Entry {
  std::string full_url;
  std::string resource_type;  // "MessageHeader", "Organization", "OperationOutcome", ...
  std::string id;
  std::vector<std::string> profiles;
  std::vector<Identifier> identifiers;  // the resource's own identifier elements
  std::string name;                     // Organization.name

  // The value of the first identifier with `system`, or empty.
  std::string identifier(std::string_view system) const;
};

// An issue of the response's OperationOutcome.
struct Issue {
  std::string severity;
  std::string code;
  std::vector<Coding> details;  // issue.details.coding
  std::string diagnostics;
};

struct ResponseElement {
  std::string identifier;  // the original's MessageHeader.id
  std::string code;        // ok | fatal-error (transient-error is FHIR but not ITK3)
  std::string details_reference;
};

struct MessageHeaderResource {
  std::string id;
  std::vector<std::string> profiles;
  Coding event;
  std::string sender_reference;
  std::string receiver_reference;
  std::string timestamp;
  std::string source_endpoint;
  std::string focus_reference;
  std::optional<ResponseElement> response;
  HandlingSpecification handling;
};

// What the reader found in an ITK3 message Bundle.
struct MessageBundle {
  std::string id;
  std::vector<std::string> profiles;
  Identifier identifier;
  std::string type;
  MessageHeaderResource header;
  std::vector<Entry> entries;  // in document order; entries[0] is the MessageHeader
  std::vector<Issue> issues;   // the first top-level OperationOutcome's issues (responses)
  // Deviations from the profiles that lenient reading accepted, one line each, for logs.
  std::vector<std::string> tolerated;

  bool isResponse() const;
  // The entry a reference points at: "urn:uuid:..." (fullUrl) or "Type/id"; nullptr otherwise.
  const Entry* resolve(std::string_view reference) const;
  // ODS codes of the header's sender and receiver: from the referenced entry's ODS identifier,
  // or from an NHS directory reference ".../Organization/<ODS>". Empty when unknown.
  std::string senderOds() const;
  std::string receiverOds() const;
  // Responses: the ITK response codes of the OperationOutcome (ITK-ResponseCodes-1 and the legacy
  // acknowledgement systems), in issue order.
  std::vector<std::string> responseCodes() const;
  // Responses: positive when every known ITK code is positive; when none is known, response.code
  // decides ("ok").
  bool responsePositive() const;
};

struct ReadOptions {
  // Lenient (the default) accepts what the published examples do (fixtures MANIFEST): handling
  // keys as siblings of the complex extension, absent keys, no focus, the withdrawn Priority key.
  // Strict refuses those: 10001 for handling-specification faults, 20006 for header faults.
  bool strict = false;
  xml::Limits limits;
};

// What was known about a message the reader refused, so the refusal can be answered (§2.4:
// respond to the originating mailbox; UNREADABLE-IN-ORIGINAL-MESSAGE when the id is unknown).
struct ReadFailure {
  Status status;                 // vocabulary code = the ITK3 response code (10009, 20006, ...)
  bool header_complete = false;  // the whole MessageHeader element was read before the error
  std::string header_id;         // MessageHeader.id, when header_complete
  std::string source_endpoint;
  std::optional<std::string> sender_reference;
  std::optional<bool> inf_ack_requested;
  std::optional<bool> bus_ack_requested;
  bool is_response = false;  // the header said ITK008M or had a response element

  // What a response to this failure should put in response.identifier.
  std::string acknowledgedId() const;
};

// Reads an ITK3 message Bundle. Errors are Status::invalid with toolkit 1000 and the ITK3 response
// code as vocabulary code:
//   10009  not well-formed, not UTF-8, a DOCTYPE, a limit crossed, or the root is not a FHIR Bundle
//   20006  the header cannot be used: Bundle.type is not "message", entry[0] is not a
//          MessageHeader, no MessageHeader.id / event code / source.endpoint, a response without
//          response.identifier or response.code; strict: no sender or focus
//   10001  strict only: the handling extension or one of its six keys is absent or misplaced, or
//          only the obsolete v1 extension is present
//   10002 / 10003  InfAckRequested / BusAckRequested is not a boolean
//   10004  MessageDefinition has no reference
//   10007  SenderReference is longer than 255 characters
//   10010  RecipientType is not FA or FI
// When `failure` is given it is filled on error with what was read. Thread-safe; `document` is
// parsed in place and not kept.
Result<MessageBundle> readMessageBundle(std::string_view document, const ReadOptions& options = {},
                                        ReadFailure* failure = nullptr);

// The routing view of a Bundle (see the table at the top of this file).
MessageHeader toMessageHeader(const MessageBundle& bundle);

// Reads `bytes` into a Message (format kItk3, body = bytes, header filled). The shape of a
// TransportContext::MessageDecoder for ITK3 input.
Result<Message> decodeMessage(std::shared_ptr<const std::string> bytes,
                              const ReadOptions& options = {});

// True when `document` looks like an ITK3 message (its root element is a FHIR Bundle), from the
// first bytes only: for telling ITK3 from an ITK2 Distribution Envelope before a full read.
bool looksLikeBundle(std::string_view document);

}  // namespace itk::itk3
