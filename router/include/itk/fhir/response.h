// ITK3 responses (spec/itk3-mesh.md §2): the response codes with their response.code / severity /
// issue.code mapping as data, the builder of an ITK008M response Bundle, and the pure policy that
// says whether a response may be sent at all.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "itk/clock.h"
#include "itk/fhir/itk3.h"
#include "itk/message.h"
#include "itk/status.h"

namespace itk::itk3 {

enum class ResponseLevel {
  kInfrastructure,  // 1xxxx and 2xxxx: answer InfAckRequested
  kBusiness,        // 3xxxx: answer BusAckRequested
};

// One row of ITK-ResponseCodes-1 (§2.3) with its mapping (§2.2).
struct ResponseCodeInfo {
  std::string_view code;           // "20013"
  bool positive;                   // the P/N column
  std::string_view response_code;  // MessageHeader.response.code: "ok" | "fatal-error"
  std::string_view severity;       // OperationOutcome.issue.severity (FHIR IssueSeverity)
  std::string_view issue_code;     // OperationOutcome.issue.code (FHIR IssueType)
  std::string_view display;        // the CodeSystem's display
  ResponseLevel level;
  bool withdrawn;  // 10006 (Priority) was withdrawn with the Priority key: never sent
};

// Every code of §2.3 in code order, including the withdrawn 10006.
std::span<const ResponseCodeInfo> responseCodes();
// The row for `code`, or nullptr.
const ResponseCodeInfo* findResponseCode(std::string_view code);

// Who the router is when it answers: MessageHeader.source.endpoint and the header Organization.
struct Responder {
  std::string mailbox;   // the router's MESH mailbox id (source.endpoint)
  std::string ods_code;  // the router's organisation (CareConnect-ITK-Header-Organization-1)
  std::string organisation_name;  // optional
};

// Resource ids of a built response. Empty ones are generated (lower-case UUIDs); tests fix them.
struct ResponseIds {
  std::string bundle;
  std::string bundle_identifier;
  std::string header;
  std::string organization;
  std::string outcome;
};

struct ResponseSpec {
  std::string code;                                          // an ITK response code, e.g. "20007"
  std::string acknowledged_id = std::string(kUnreadableId);  // the original's MessageHeader.id
  std::string sender_reference = "None";  // echoed from the original (FHIR-SR-03 default)
  // Optional issue.diagnostics. FHIR-BA-02: MUST NOT contain patient-identifiable information.
  std::string diagnostics;
  TimePoint timestamp{};  // MessageHeader.timestamp
  ResponseIds ids;
};

// Builds an ITK008M response Bundle (§2.1): ITK-MessageHeader-2 with response.identifier/code/
// details and focus on the OperationOutcome, source.endpoint = the responder's mailbox, sender =
// a CareConnect-ITK-Header-Organization-1 entry, Extension-ITK-MessageHandling-2 with both ack
// flags false, RecipientType FA, MessageDefinition ITK-Response-MessageDefinition-1, the sender
// reference echoed and LocalExtension "None"; then an ITK-Response-OperationOutcome-1 with one
// issue mapped from the code. Fails (kInvalid) for an unknown or withdrawn code, an empty
// acknowledged id or mailbox, or a sender reference over 255 characters.
Result<std::string> buildResponse(const ResponseSpec& spec, const Responder& responder);

// Origin attributes (itk::Origin::attributes) through which the transport that received a message
// tells the router how to answer it, and through which a response tells the MESH transport where
// it goes. Responses travel on the request's workflow with "_ACK" appended (§2.4).
inline constexpr std::string_view kAttrMeshFrom = "mesh.from";          // the sender's mailbox
inline constexpr std::string_view kAttrMeshTo = "mesh.to";              // the mailbox it came to
inline constexpr std::string_view kAttrMeshWorkflow = "mesh.workflow";  // its workflow id
inline constexpr std::string_view kAttrMeshReplyWorkflow = "mesh.reply_workflow";

// "TOC_FHIR_IP_DISCH" -> "TOC_FHIR_IP_DISCH_ACK"; a workflow that already ends in _ACK is kept.
std::string ackWorkflow(std::string_view workflow);
bool isAckWorkflow(std::string_view workflow);

// A response ready for Router::accept: format kItk3, kind kItk3Response, tracking id = the new
// MessageHeader.id, acknowledged_tracking_id = `spec.acknowledged_id`, addresses = {reply_to},
// origin.transport "router" with kAttrMeshReplyWorkflow set when `reply_workflow` is not empty.
Result<Message> makeResponseMessage(const ResponseSpec& spec, const Responder& responder,
                                    std::string reply_to, std::string reply_workflow);

// The response the router sends about an ITK3 message it has accepted (20007 duplicate, 20002
// unknown recipient organisation, delivery failure, ...): echoes the original's SenderReference
// (re-read from its body), acknowledges its MessageHeader.id, goes back to the mailbox it came
// from (Origin kAttrMeshFrom, else header.sender_address = source.endpoint) on the ack workflow of
// the workflow it came on (Origin kAttrMeshWorkflow), if any.
Result<Message> respondTo(const Message& original, std::string_view code,
                          const Responder& responder, TimePoint now, std::string diagnostics = {});

// The response to a message the reader refused (10009, 20006, 10001 ...): response.identifier is
// the MessageHeader.id when the header was read whole, else UNREADABLE-IN-ORIGINAL-MESSAGE; it
// goes to the mailbox the message came from (`from` kAttrMeshFrom) on the ack workflow.
Result<Message> respondToUnreadable(const ReadFailure& failure, const Origin& from,
                                    const Responder& responder, TimePoint now);

// The code the router answers a failed delivery with: ITK-ResponseCodes-1 has no "could not
// deliver" code, so the closest recipient-level code is used and the reason goes in diagnostics.
// MESH REPORT codes EPL-152/153/154 (the patient could not be matched to a registered GP) give
// 20001 Unrecognised Recipient Person; everything else (MESH 12 unregistered address, EPL-150/151,
// 14 undelivered, 17 workflow not allowed, a dead-lettered delivery) gives 20002 Unrecognised
// Recipient Organisation.
std::string_view deliveryFailureCode(std::string_view mesh_report_code = {});

// --- When to respond (§2.4), as a pure function the router calls before sending one. ---

struct ResponseContext {
  bool is_response = false;  // it is itself an ITK3 response (ITK008M), or came on an _ACK workflow
  // The message's ack flags; nullopt when they could not be read (an unreadable message, or a
  // header without the key).
  std::optional<bool> inf_ack_requested;
  std::optional<bool> bus_ack_requested;
  int responses_sent = 0;      // responses already sent about this message
  bool negative_sent = false;  // one of them was negative
};

enum class ResponseDecision {
  kSend,
  kNeverAnswerAResponse,  // never respond to a response (no response loops)
  kNotRequested,          // the matching ack flag is false or absent
  kLimitReached,          // at most 2 responses per message
  kAfterNegative,         // nothing follows a negative response
  kUnknownCode,           // not an ITK response code (or withdrawn)
};
std::string_view decisionName(ResponseDecision d);

// Infrastructure codes (1xxxx, 2xxxx) answer InfAckRequested=true and business codes (3xxxx)
// BusAckRequested=true; when the flags cannot be read (an unreadable message) the default is to
// respond ("wherever possible"), once. Never respond to a response; at most 2 responses; nothing
// after a negative one.
ResponseDecision decideResponse(const ResponseContext& context, std::string_view code);

}  // namespace itk::itk3
