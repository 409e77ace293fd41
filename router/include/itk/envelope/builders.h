// Builders for the documents the router originates: Distribution Envelopes and infrastructure
// acks (spec/itk2.md §1, §3.1), and the ITK Web Services SOAP request, SimpleMessageResponse and
// fault (§4.2, §4.4, §4.5). They splice escaped strings (no DOM); every output reads back with
// readItkDocument() to the values given and validates against the ITK schemas.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "itk/clock.h"
#include "itk/envelope/distribution_envelope.h"
#include "itk/envelope/payload_codec.h"
#include "itk/envelope/soap_checks.h"
#include "itk/message.h"
#include "itk/status.h"
#include "itk/transport.h"

namespace itk::itk2 {

struct OutboundPayload {
  std::string id;  // "uuid_" + a new upper-case UUID when empty
  std::string mimetype = "text/xml";
  std::string profileid;
  std::string filename;
  // kXml: `content` is one well-formed element that declares the namespaces it uses; it is
  // inserted as is. kText: escaped. kBase64 / kCompressedBase64: `content` is the raw bytes,
  // encoded by the builder. kEncrypted is not built (encrypted payloads are only relayed).
  PayloadEncoding encoding = PayloadEncoding::kXml;
  std::string content;
};

struct DistributionEnvelopeSpec {
  std::string service;
  std::string tracking_id;  // a new upper-case UUID when empty
  std::vector<Address> addresses;
  std::vector<Identity> audit_identities;
  std::optional<Address> sender_address;
  std::vector<HandlingSpec> handling_specs;
  std::vector<OutboundPayload> payloads;
};

// A document the router built, with the tracking id it was given.
struct BuiltEnvelope {
  std::string tracking_id;
  std::string bytes;
};

// The DE element (no XML declaration, so it can go straight into a SOAP Body or a file).
// Fails for a spec without a service or payloads, or with a kEncrypted payload.
Result<BuiltEnvelope> buildDistributionEnvelope(const DistributionEnvelopeSpec& spec);

// The itk:InfrastructureResponse element (§3.1), declaring its own namespace.
std::string infrastructureResponseElement(const InfrastructureResponse& response);

// The infrastructure ack (`outcome` ok: result OK, empty errors) or NACK (result Failure, one
// errorInfo: a new ErrorID, the DE code deErrorFor(outcome) in the .17.516 system with its
// display name, and outcome's message as diagnostic) for the message `original`, in a DE with
// service SendInfrastructureAck-v1-0 and interaction ITKInfrastructureAcknowledgement-v1-0,
// addressed to the original senderAddress, from the router's identity (reportingIdentity,
// auditIdentity, senderAddress), timestamped `now`. It requests no ack of itself (§2).
// Fails when `original` must not be acked (isAckable) or has no senderAddress.
Result<BuiltEnvelope> buildInfrastructureAck(const MessageHeader& original,
                                             const RouterIdentity& router, const Status& outcome,
                                             TimePoint now);

// The outbound request (§4.2) wrapping the DE bytes unchanged (a leading XML declaration or BOM
// is dropped: it cannot appear inside a Body).
struct SoapRequestHeader {
  std::string message_id;    // a new upper-case UUID when empty
  std::string action;        // = the DE service
  std::string to;            // the endpoint URL
  std::string username;      // wsse:Username
  std::string timestamp_id;  // wsu:Id; "uuid_" + a new UUID when empty
  TimePoint created{};
  std::chrono::seconds time_to_live{600};  // Expires = Created + TTL (TKW default 600 s)
};
std::string buildSoapRequest(const SoapRequestHeader& header, std::string_view de_bytes);

// The synchronous OK response (§4.4): a new MessageID, Action "<service>Response", RelatesTo
// the request's MessageID (omitted when empty), Body SimpleMessageResponse `text`.
std::string buildSimpleMessageResponse(std::string_view service,
                                       std::string_view request_message_id,
                                       std::string_view text = "OK");
// The synchronous response carrying a response DE (§4.4, SMSP): a new MessageID, Action
// `action` (the request's Action with "Response" appended, which is also the response DE's
// service, §1.6), RelatesTo the request's MessageID (omitted when empty), Body the DE bytes
// unchanged (a leading XML declaration or BOM is dropped, as in buildSoapRequest).
std::string buildSoapResponse(std::string_view action, std::string_view request_message_id,
                              std::string_view de_bytes);
// The itk:SimpleMessageResponse element alone, declaring its namespace.
std::string simpleMessageResponseElement(std::string_view text);

// A SOAP 1.1 fault with ToolkitErrorInfo (§4.5), sent with HTTP 500. Action is .../soap/fault,
// or .../fault for MustUnderstand (TKW cmdfaultresponses.conf).
struct SoapFaultSpec {
  SoapFaultCode code = SoapFaultCode::kClient;
  ToolkitCode toolkit = ToolkitCode::kInvalidMessage;
  std::string diagnostic;  // ErrorDiagnosticText; omitted when empty
  std::string relates_to;  // the request's MessageID, when known
  std::string faultactor;  // omitted when empty; must be an http URI when given
};
std::string buildSoapFault(const SoapFaultSpec& spec);
// The fault answering a failed check: its fault code, toolkit code, and the reason (prefixed
// with the DE code when there is one) as diagnostic.
std::string buildSoapFault(const SoapVerdict& verdict, std::string_view request_message_id);
// The itk:ToolkitErrorInfo element alone, declaring its namespace.
std::string toolkitErrorInfoElement(const ErrorInfo& error);

}  // namespace itk::itk2
