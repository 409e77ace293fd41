// The checks the router applies at its ITK Web Services door (spec/itk2.md §4.2, §4.3, §4.5 and
// the TKW autotest cases of §4.7), as pure functions of a read document, a policy and the time.
// The SOAP transport and `itk-router validate` both call these.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "itk/clock.h"
#include "itk/envelope/reader.h"
#include "itk/status.h"

namespace itk::itk2 {

struct SoapPolicy {
  // Allowed difference between our clock and the sender's for wsu:Created and wsu:Expires.
  std::chrono::seconds clock_skew{300};
  // wsse:Username values allowed to send; empty = any (a missing Username is always refused).
  std::vector<std::string> allowed_usernames;
};

// How to answer: the fault code and the Status (toolkit code, DE code when the DE is at fault,
// and a reason naming the field and values).
struct SoapVerdict {
  Status status;
  SoapFaultCode fault = SoapFaultCode::kClient;
  bool ok() const { return status.ok(); }
};

// A request to the router (§4.2, §4.3, §4.7), in this order, the first failure winning:
//   VersionMismatch/1000  the envelope is not SOAP 1.1
//   MustUnderstand/1000   a header block with soap:mustUnderstand="1" we do not understand
//   Client/1000 DE0001    the Body holds other than exactly one itk:DistributionEnvelope
//   Client/1000           a repeated WS-Addressing/WS-Security header; wsu:Timestamp missing;
//                         Created or Expires missing or not xs:dateTime; Expires passed or
//                         Created in the future (beyond the skew), or Created not before Expires
//   Client/3000           wsse:Username missing, or not in the policy's allow-list
//   Client/1000           wsa:MessageID missing or not a UUID (WS-ADR-01); wsu:Id not a UUID;
//                         wsa:Action missing; wsa:To missing or not an absolute URI; wsa:From
//                         with reference parameters (WS-ADR-08); a wsa:ReplyTo other than
//                         anonymous for a service outside the pattern-1 list (§4.3)
//   Client/1000 DE00xx    the DE breaks a rule (validateDistributionEnvelope, kRequest)
//   Client/1000 DE0002    wsa:Action differs from header/@service (rule 11)
//   Client/1000 DE0005    wsa:MessageID, wsu:Timestamp/@wsu:Id, trackingid and the manifest and
//                         payload ids are not mutually distinct (rule 11)
SoapVerdict checkSoapRequest(const ItkDocument& doc, const SoapPolicy& policy, TimePoint now);

// A response from a peer (§4.4, §4.5; TKW GEN_responses_validate_soapEnvelope and the fault
// validator): SOAP 1.1, wsa:MessageID and wsa:Action present, wsa:RelatesTo an upper-case UUID
// when present; a fault has a faultstring, a faultactor starting "http" if any, ToolkitErrorInfo
// for Client and Server faults with an ErrorCode of 1000/2100/2200/3000 in the .17.268 system; a
// response DE obeys the DE rules for responses (kResponse).
SoapVerdict checkSoapResponse(const ItkDocument& doc);

// A SOAP envelope that answers a request: a fault, a SimpleMessageResponse, or a DE whose
// wsa:Action is "<service>Response" (§1.6, §4.4).
bool isSoapResponse(const ItkDocument& doc);

// What a peer's answer to our request means for the delivery (§4.4, §4.5).
struct PeerResponse {
  enum class Kind : uint8_t {
    kSimpleMessageResponse,  // accepted (any text is an acceptance: TKW answers with an id)
    kDistributionEnvelope,   // a synchronous response DE (relay it to the caller)
    kFault,                  // refused; `retryable` says whether to try again
    kUnrecognised,           // not an ITK response
  };
  Kind kind = Kind::kUnrecognised;
  SoapFaultCode fault = SoapFaultCode::kClient;
  ToolkitCode toolkit = ToolkitCode::kNone;  // the fault's ErrorCode, when it is one of the four
  // 2100, or a Server fault without a toolkit code: the same message may succeed later.
  bool retryable = false;
  std::string detail;  // for logs, audit and NACK diagnostics
};
PeerResponse classifyPeerResponse(const ItkDocument& doc);

}  // namespace itk::itk2
