// ITK2 vocabulary: namespaces, services, handling specification keys, OIDs and the two error code
// systems, spelled exactly as spec/itk2.md gives them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "itk/status.h"

namespace itk::itk2 {

// Namespaces (spec/itk2.md §1.1, §3.2, §4.1, §1.4).
inline constexpr std::string_view kItkNamespace = "urn:nhs-itk:ns:201005";
inline constexpr std::string_view kHl7Namespace = "urn:hl7-org:v3";
inline constexpr std::string_view kSoap11Namespace = "http://schemas.xmlsoap.org/soap/envelope/";
inline constexpr std::string_view kSoap12Namespace = "http://www.w3.org/2003/05/soap-envelope";
inline constexpr std::string_view kWsaNamespace = "http://www.w3.org/2005/08/addressing";
inline constexpr std::string_view kWsseNamespace =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
inline constexpr std::string_view kWsuNamespace =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
inline constexpr std::string_view kXmlEncNamespace = "http://www.w3.org/2001/04/xmlenc#";
inline constexpr std::string_view kXsiNamespace = "http://www.w3.org/2001/XMLSchema-instance";

// Services (§1.6) and the handling specification keys and values (§2).
inline constexpr std::string_view kServicePrefix = "urn:nhs-itk:services:201005:";
inline constexpr std::string_view kSendInfrastructureAckService =
    "urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0";
inline constexpr std::string_view kSendBusinessAckService =
    "urn:nhs-itk:services:201005:SendBusinessAck-v1-0";
inline constexpr std::string_view kSendDocumentService =
    "urn:nhs-itk:services:201005:SendDocument-v1-0";
inline constexpr std::string_view kBroadcastDocumentService =
    "urn:nhs-itk:services:201005:BroadcastDocument-v1-0";
inline constexpr std::string_view kInfAckRequestedKey = "urn:nhs-itk:ns:201005:infackrequested";
inline constexpr std::string_view kAckRequestedKey = "urn:nhs-itk:ns:201005:ackrequested";
inline constexpr std::string_view kInteractionKey = "urn:nhs-itk:ns:201005:interaction";
inline constexpr std::string_view kInfrastructureAckInteraction =
    "urn:nhs-itk:interaction:ITKInfrastructureAcknowledgement-v1-0";
inline constexpr std::string_view kBusinessAckInteraction =
    "urn:nhs-itk:interaction:ITKBusinessAcknowledgement-v1-0";

// Address and identity forms and types (§1.5).
inline constexpr std::string_view kItkAddressPrefix = "urn:nhs-uk:addressing:";
inline constexpr std::string_view kItkIdentityPrefix = "urn:nhs-uk:identity:";
inline constexpr std::string_view kItkAddressType = "2.16.840.1.113883.2.1.3.2.4.18.22";
inline constexpr std::string_view kDtsAddressType = "2.16.840.1.113883.2.1.3.2.4.21.1";
inline constexpr std::string_view kAsidAddressType = "1.2.826.0.1285.0.2.0.107";
inline constexpr std::string_view kItkIdentityType = "2.16.840.1.113883.2.1.3.2.4.18.27";

// Error code systems (§3.1, §4.6).
inline constexpr std::string_view kToolkitCodeSystem = "2.16.840.1.113883.2.1.3.2.4.17.268";
inline constexpr std::string_view kDeErrorCodeSystem = "2.16.840.1.113883.2.1.3.2.4.17.516";

// WS-Addressing values (§4.3, §4.5).
inline constexpr std::string_view kWsaAnonymous = "http://www.w3.org/2005/08/addressing/anonymous";
inline constexpr std::string_view kWsaSoapFaultAction =
    "http://www.w3.org/2005/08/addressing/soap/fault";
inline constexpr std::string_view kWsaFaultAction = "http://www.w3.org/2005/08/addressing/fault";

// The ITK 2.2 "DE_Error" vocabulary (OID .17.516, §3.1), one code per part of the envelope.
// Readers and validators report each rule with the code of the part it is about.
enum class DeError : uint8_t {
  kEnvelope = 1,                // DE0001 Distribution Envelope Processing Error (also: unparseable)
  kHeader = 2,                  // DE0002 ... Header Processing Error
  kAddressList = 3,             // DE0003 ... Address List Processing Error
  kAuditIdentity = 4,           // DE0004 ... Audit Identity Processing Error
  kId = 5,                      // DE0005 ... Id Processing Error (the tracking id)
  kManifest = 6,                // DE0006 ... Manifest Processing Error
  kManifestItem = 7,            // DE0007 ... Manifest Item Processing Error
  kSenderAddress = 8,           // DE0008 ... Sender Address Processing Error
  kHandlingSpecifications = 9,  // DE0009 ... Handling Specifications Processing Error
  kSpec = 10,                   // DE0010 ... Spec Processing Error
  kPayloads = 11,               // DE0011 ... Payloads Processing Error
  kPayload = 12,                // DE0012 ... Payload Processing Error
};

// "DE0006".
std::string_view deErrorCode(DeError error);
// The display name, as TKW's ITKServiceAcknowledgements.conf requires it next to the code
// ("Distribution Envelope Manifest Item Processing Error" for DE0007, with the space the
// vocabulary file lacks).
std::string_view deErrorDisplayName(DeError error);
// Parses "DE0001".."DE0012".
std::optional<DeError> parseDeError(std::string_view code);

// An invalid-message Status carrying toolkit code 1000 and the DE code of `error`.
Status deError(DeError error, std::string reason);

// The DE code to report for `status` in an infrastructure NACK: its own DE code when it has one,
// DE0003 when no route exists for an address, DE0001 otherwise.
DeError deErrorFor(const Status& status);

// The toolkit error texts of §4.6 ("Invalid Message - the message structure ...").
std::string_view toolkitErrorText(ToolkitCode code);
// Parses "1000", "2100", "2200", "3000".
std::optional<ToolkitCode> parseToolkitCode(std::string_view code);

}  // namespace itk::itk2
