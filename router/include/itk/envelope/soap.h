// The ITK Web Services SOAP 1.1 envelope (spec/itk2.md §4) as read from a request or response:
// the WS-Addressing and WS-Security header fields the checks need, and what the Body holds.
// Reading is done by readItkDocument() (reader.h); the checks are in soap_checks.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "itk/envelope/distribution_envelope.h"

namespace itk::itk2 {

// The SOAP 1.1 fault codes ITK uses (§4.5).
enum class SoapFaultCode : uint8_t { kClient, kServer, kMustUnderstand, kVersionMismatch };
std::string_view faultCodeName(SoapFaultCode code);  // "Client", ...

struct SoapFault {
  std::string faultcode;              // as written, e.g. "soap:Client"
  std::optional<SoapFaultCode> code;  // its local part when it is one of the four
  std::string faultstring;
  std::optional<std::string> faultactor;
  std::optional<ErrorInfo> toolkit_error;  // detail/ToolkitErrorInfo
};

// wsse:Security/wsu:Timestamp.
struct WsuTimestamp {
  std::optional<std::string> id;  // @wsu:Id
  std::optional<std::string> created;
  std::optional<std::string> expires;
};

enum class SoapBodyKind : uint8_t {
  kEmpty,
  kDistributionEnvelope,
  kFault,
  kSimpleMessageResponse,
  kOther,  // some other element (body_element names it)
};

struct SoapEnvelope {
  std::string envelope_namespace;  // SOAP 1.1 unless the sender is on another version
  bool soap11() const;

  // WS-Addressing (absent fields are nullopt; <wsa:To/> is present and empty).
  std::optional<std::string> message_id;
  std::optional<std::string> action;
  std::optional<std::string> to;
  std::optional<std::string> from;      // wsa:From/wsa:Address
  std::optional<std::string> reply_to;  // wsa:ReplyTo/wsa:Address
  std::optional<std::string> fault_to;  // wsa:FaultTo/wsa:Address
  std::optional<std::string> relates_to;
  bool from_has_reference_parameters = false;  // not allowed (WS-ADR-08)

  // WS-Security.
  std::optional<WsuTimestamp> timestamp;
  std::optional<std::string> username;  // wsse:UsernameToken/wsse:Username

  // Header blocks with soap:mustUnderstand="1" addressed to us that we do not understand
  // (anything outside wsa and wsse), as "{namespace}local".
  std::vector<std::string> not_understood;
  // The first WS-Addressing/WS-Security element that appeared twice, "" when none did.
  std::string repeated_header;

  SoapBodyKind body_kind = SoapBodyKind::kEmpty;
  size_t body_elements = 0;  // element children of soap:Body
  std::string body_element;  // "{namespace}local" of the first one
  std::optional<SoapFault> fault;
  std::string simple_message_response;  // its text, whitespace-trimmed
};

}  // namespace itk::itk2
