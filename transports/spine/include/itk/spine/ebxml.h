// The ITK Trunk's wire formats (spec/itk2.md §7): MIME multipart/related bodies, the ebXML
// message header (MessageHeader, AckRequested, Acknowledgment, ErrorList, Manifest) and the HL7
// COPC_IN000001GB01 wrapper. Pure functions on strings: no I/O, no Asio, thread-safe.
//
// Readers take untrusted input: sizes and part counts are bounded, XML goes through the hardened
// itk::xml parser (no DOCTYPE, bounded depth), and every failure is a Status (kInvalid), never an
// exception or an assertion.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "itk/status.h"

namespace itk::spine {

// ITK2 §7.1
inline constexpr std::string_view kItkService = "urn:nhs:names:services:itk";
inline constexpr std::string_view kTrunkAction = "COPC_IN000001GB01";
inline constexpr std::string_view kTrunkSoapAction = "urn:nhs:names:services:itk/COPC_IN000001GB01";
inline constexpr std::string_view kEbxmlService = "urn:oasis:names:tc:ebxml-msg:service";
inline constexpr std::string_view kPartyType = "urn:nhs:names:partyType:ocs+serviceInstance";
inline constexpr std::string_view kToPartyMsh = "urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH";
inline constexpr std::string_view kAckSoapAction =
    "urn:oasis:names:tc:ebxml-msg:service/Acknowledgment";
inline constexpr std::string_view kErrorSoapAction =
    "urn:oasis:names:tc:ebxml-msg:service/MessageError";
inline constexpr std::string_view kDeliveryFailureCode = "DeliveryFailure";
// ITK2 §7.3: SpineTools answers a message it cannot read with errorCode 1000.
inline constexpr std::string_view kUnreadableErrorCode = "1000";
inline constexpr std::string_view kAsidOid = "1.2.826.0.1285.0.2.0.107";  // ITK2 §1.5

// ---- MIME multipart/related ------------------------------------------------------------------

struct MimePart {
  std::string content_id;         // without the angle brackets
  std::string content_type;       // as given
  std::string transfer_encoding;  // Content-Transfer-Encoding, lower case; empty when absent
  std::string body;
};

struct MultipartLimits {
  size_t max_parts = 16;
  size_t max_header_bytes = 8 * 1024;  // the header block of one part
};

// The parameters of a multipart Content-Type header that the trunk uses.
struct MultipartType {
  std::string boundary;
  std::string start;  // the root part's Content-Id without angle brackets; empty when absent
  std::string type;   // the root part's type ("text/xml")
};

// Reads `multipart/related; boundary="..."; type=...; start="<...>"`. kInvalid when the media
// type is not multipart or the boundary is missing or not a valid RFC 2046 boundary.
Result<MultipartType> parseMultipartType(std::string_view content_type);

// Splits `body` at `boundary` (RFC 2046: the preamble and epilogue are ignored; each part is
// header lines, a blank line, then content up to CRLF--boundary). Accepts LF-only line ends.
// kInvalid when a delimiter, the closing delimiter or a part's blank line is missing, or a limit
// is crossed. Only 7bit/8bit/binary transfer encodings are accepted.
Result<std::vector<MimePart>> parseMultipart(std::string_view body, std::string_view boundary,
                                             const MultipartLimits& limits = {});

// Writes parts with CRLF line ends and the closing delimiter. The caller picks a boundary that no
// part contains (see chooseBoundary).
std::string buildMultipart(std::string_view boundary, const std::vector<MimePart>& parts);

// A boundary ("=_itk-router_" + a random UUID) that occurs in none of `parts`.
std::string chooseBoundary(const std::vector<MimePart>& parts);

// ---- ebXML -------------------------------------------------------------------------------------

struct EbxmlError {
  std::string code;      // eb:errorCode ("DeliveryFailure", "ValueNotRecognized", "1000", ...)
  std::string severity;  // "Error" or "Warning"
  std::string context;   // eb:codeContext
  std::string description;
};

struct ManifestReference {
  std::string href;  // "cid:..." as given
  std::string description;
  bool hl7_payload = false;  // carries an hl7ebxml:Payload element
  // The Content-Id the href names (href without "cid:"), or empty for another scheme.
  std::string contentId() const;
};

// What the ebXML SOAP envelope says. Missing elements stay empty.
struct EbxmlHeader {
  std::string from_party;
  std::string to_party;
  std::string cpa_id;
  std::string conversation_id;
  std::string service;
  std::string action;
  std::string message_id;
  std::string timestamp;
  std::string ref_to_message_id;  // MessageData's, else the Acknowledgment block's
  bool duplicate_elimination = false;
  bool ack_requested = false;
  bool sync_reply = false;
  bool acknowledgment = false;  // an eb:Acknowledgment header block is present
  std::vector<EbxmlError> errors;
  std::vector<ManifestReference> manifest;

  enum class Kind { kMessage, kAcknowledgment, kMessageError, kDeliveryFailure };
  // ITK2 §7.3: a DeliveryFailure error wins over an Acknowledgment sent with it; an ErrorList or
  // Action MessageError is an error; Action Acknowledgment (or the block alone) an ack.
  Kind kind() const;
  // "code (severity, context): description; ..." of every error.
  std::string errorText() const;
};
std::string_view kindName(EbxmlHeader::Kind k);

// Reads a SOAP 1.1 envelope carrying an ebXML MessageHeader. kInvalid when it is not XML, not a
// SOAP envelope or has no eb:MessageHeader.
Result<EbxmlHeader> parseEbxml(std::string_view soap_envelope);

// ---- the ITK Trunk message (3 parts) ------------------------------------------------------------

struct TrunkMessage {
  EbxmlHeader ebxml;
  std::string hl7;            // part 2, as received (empty when the manifest names none)
  std::string de;             // part 3, the Distribution Envelope bytes as received
  std::string sender_asid;    // from the HL7 wrapper (communicationFunctionSnd), when given
  std::string receiver_asid;  // communicationFunctionRcv
};

// Reads a trunk request body given its HTTP Content-Type: the root part (start, else the first)
// is the ebXML envelope; the DE is the manifest reference described "ITK Trunk Message", else
// the one reference that is not the HL7 payload. kInvalid with the reason otherwise.
Result<TrunkMessage> parseTrunkMessage(std::string_view content_type, std::string_view body,
                                       const MultipartLimits& limits = {});

// The sender and receiver ASIDs of a COPC_IN000001GB01 wrapper.
Status readHl7Asids(std::string_view hl7, std::string* sender_asid, std::string* receiver_asid);

struct TrunkSpec {
  std::string from_party;
  std::string to_party;
  std::string cpa_id;
  std::string conversation_id;
  std::string message_id;
  std::string timestamp;  // yyyy-MM-ddTHH:mm:ssZ
  std::string sender_asid;
  std::string receiver_asid;
  std::string hl7_id;             // the wrapper's id/@root (an upper-case UUID)
  std::string hl7_creation_time;  // yyyyMMddHHmmss
  // Content-Ids of the three parts (without angle brackets).
  std::string ebxml_content_id;
  std::string hl7_content_id;
  std::string de_content_id;
};

struct BuiltRequest {
  std::string content_type;  // the HTTP Content-Type header
  std::string body;
};

// The ebXML envelope (part 1) and the HL7 wrapper (part 2) of a trunk message.
std::string buildTrunkEbxml(const TrunkSpec& spec);
std::string buildHl7Wrapper(const TrunkSpec& spec);
// The whole multipart/related request; `de` goes verbatim into part 3.
BuiltRequest buildTrunkRequest(const TrunkSpec& spec, std::string_view de);

// An asynchronous ebXML Acknowledgment or MessageError answering `to` (its From becomes our To,
// its MessageId our RefToMessageId, its ConversationId and CPAId are kept).
struct ReplySpec {
  std::string from_party;  // ours
  std::string to_party;
  std::string cpa_id;
  std::string conversation_id;
  std::string message_id;  // the reply's own id
  std::string timestamp;
  std::string ref_to_message_id;
};
std::string buildAcknowledgment(const ReplySpec& spec);
std::string buildMessageError(const ReplySpec& spec, const EbxmlError& error);

}  // namespace itk::spine
