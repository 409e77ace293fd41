// `itk-router validate [--now TIME] FILE...`: applies to each file every check the router applies
// at its door to that kind of document, so an administrator can see why a partner's message was
// refused. main.cc dispatches to runValidateCommand().
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "itk/clock.h"
#include "itk/envelope/soap_checks.h"
#include "itk/status.h"

namespace itk::itk2 {

// The outcome for one document.
struct DoorVerdict {
  Status status;            // ok, or why it is refused (toolkit code, DE code, reason)
  std::string kind;         // e.g. "soap-request/business", "de/infnack", "soap-response/fault"
  std::string tracking_id;  // the DE's tracking id; for a bare ack the one it acknowledges; "-"
};

// Classifies `bytes` (a bare DE, a SOAP envelope, or a bare acknowledgement payload) and applies
// the checks for that kind: the DE rules (a DE whose service ends in "Response" is a relayed
// response); for a SOAP request the SOAP 1.1 / WS-Addressing / WS-Security checks at `now`
// (checkSoapRequest); for a SOAP response checkSoapResponse; for an acknowledgement what the
// ack tracker needs (messageHeaderOf).
DoorVerdict checkAtTheDoor(std::string_view bytes, const SoapPolicy& policy, TimePoint now);

// "OK <kind> <tracking id>" or "REJECT <toolkit code> <DE code or -> <reason>".
std::string formatVerdict(const DoorVerdict& verdict);

// Runs the command. `args` are the arguments after "validate". For each file prints one line
// "FILE: OK <kind> <tracking id>" or "FILE: REJECT <toolkit code> <DE code or -> <reason>" on
// `out`; usage problems go to `err`. Returns 0 when every file is OK, 1 when any is refused, 2 on
// a usage error (no file, an unknown option, a bad --now, an unreadable file).
// --now TIME (xs:dateTime) sets the clock for the timestamp checks; the default is the system
// clock. The SOAP policy is the router's default: 300 s clock skew, any wsse:Username.
int runValidateCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace itk::itk2
