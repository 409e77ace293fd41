#include "itk/envelope/soap_checks.h"

#include <algorithm>
#include <array>
#include <utility>

#include "itk/envelope/vocabulary.h"
#include "syntax.h"

namespace itk::itk2 {
namespace {

using internal::equalsIgnoreCase;
using internal::quoted;

// TKW's demonstrator identity needs no wsa:To (subGeneric.conf, spec §1.5).
constexpr std::string_view kDemonstratorIdentity =
    "urn:nhs-uk:identity:cfh:nic:lab:itk-demonstrator";

// §4.3 pattern 1: services that may be asynchronous, so ReplyTo may be any address.
constexpr std::array<std::string_view, 9> kPatternOneServices = {
    "transferPatientUpdateMaster",       "registerOutpatientUpdateMaster",
    "dischargePatientUpdateMaster",      "cancelDischargePatientUpdateMaster",
    "cancelTransferPatientUpdateMaster", "queryPatientDemographicsAndVisit",
    "queryPatientDemographics",          "findCandidatesQuery",
    "updatePatientUpdateMaster",
};

SoapVerdict client(Status status) {
  return {std::move(status), SoapFaultCode::kClient};
}

SoapVerdict invalid(std::string reason) {
  return client(Status::invalid(std::move(reason)).withToolkit(ToolkitCode::kInvalidMessage));
}

SoapVerdict invalidDe(DeError error, std::string reason) {
  return client(deError(error, std::move(reason)));
}

bool isPatternOneService(std::string_view action) {
  if (!action.starts_with(kServicePrefix)) return false;
  std::string_view name = action.substr(kServicePrefix.size());
  if (!name.ends_with("-v1-0")) return false;
  name.remove_suffix(5);
  if (name.ends_with("PH")) name.remove_suffix(2);
  return std::find(kPatternOneServices.begin(), kPatternOneServices.end(), name) !=
         kPatternOneServices.end();
}

SoapVerdict checkVersion(const SoapEnvelope& soap) {
  if (soap.soap11()) return {};
  return {Status::invalid("envelope namespace " + quoted(soap.envelope_namespace) +
                          " is not SOAP 1.1 (" + std::string(kSoap11Namespace) + ")")
              .withToolkit(ToolkitCode::kInvalidMessage),
          SoapFaultCode::kVersionMismatch};
}

SoapVerdict checkMustUnderstand(const SoapEnvelope& soap) {
  if (soap.not_understood.empty()) return {};
  return {Status::invalid("header " + soap.not_understood.front() +
                          " has soap:mustUnderstand=\"1\" and is not understood")
              .withToolkit(ToolkitCode::kInvalidMessage),
          SoapFaultCode::kMustUnderstand};
}

// xs:dateTime as TKW's dateTimeValidator accepts it (year 1000 or later).
bool parseTimestamp(const std::optional<std::string>& text, TimePoint* out) {
  return text && !text->empty() && (*text)[0] != '0' && parseIsoDateTime(*text, out);
}

// §4.2 and TKW timestampChecks.xslt: Created and Expires present and well formed, Created not
// after now, Expires after now and after Created; `skew` absorbs clock differences.
SoapVerdict checkTimestamp(const SoapEnvelope& soap, const SoapPolicy& policy, TimePoint now) {
  if (!soap.timestamp) return invalid("wsse:Security/wsu:Timestamp is missing");
  const WsuTimestamp& ts = *soap.timestamp;
  TimePoint created;
  TimePoint expires;
  if (!ts.created) return invalid("wsu:Timestamp has no wsu:Created");
  if (!parseTimestamp(ts.created, &created)) {
    return invalid("wsu:Created " + quoted(*ts.created) + " is not an xs:dateTime");
  }
  if (!ts.expires) return invalid("wsu:Timestamp has no wsu:Expires");
  if (!parseTimestamp(ts.expires, &expires)) {
    return invalid("wsu:Expires " + quoted(*ts.expires) + " is not an xs:dateTime");
  }
  if (ts.id && !internal::isPrefixedUuid(*ts.id, false)) {
    return invalid("wsu:Timestamp/@wsu:Id " + quoted(*ts.id) + " is not a UUID (WS-ADR-01)");
  }
  if (created >= expires) {
    return invalid("wsu:Created " + *ts.created + " is not before wsu:Expires " + *ts.expires);
  }
  if (expires + policy.clock_skew <= now) {
    return invalid("the message expired at " + *ts.expires + " (now " + formatIsoSeconds(now) +
                   ")");
  }
  if (created - policy.clock_skew > now) {
    return invalid("wsu:Created " + *ts.created + " is in the future (now " +
                   formatIsoSeconds(now) + ")");
  }
  return {};
}

// §4.2: UsernameToken/Username is mandatory and identifies the sender (TKW autotest: 3000).
SoapVerdict checkUsername(const SoapEnvelope& soap, const SoapPolicy& policy) {
  auto denied = [](std::string reason) {
    return client(Status::accessDenied(std::move(reason)).withToolkit(ToolkitCode::kAccessDenied));
  };
  if (!soap.username || soap.username->empty()) {
    return denied("wsse:UsernameToken/wsse:Username is missing");
  }
  const auto& allowed = policy.allowed_usernames;
  if (!allowed.empty() &&
      std::find(allowed.begin(), allowed.end(), *soap.username) == allowed.end()) {
    return denied("wsse:Username " + quoted(*soap.username) + " is not authorised");
  }
  return {};
}

// §4.2, §4.3: the WS-Addressing headers of a request.
SoapVerdict checkAddressing(const SoapEnvelope& soap, const DistributionEnvelope& de) {
  if (!soap.message_id) return invalid("wsa:MessageID is missing");
  if (!internal::isPrefixedUuid(*soap.message_id, false)) {
    return invalid("wsa:MessageID " + quoted(*soap.message_id) + " is not a UUID (WS-ADR-01)");
  }
  if (!soap.action) return invalid("wsa:Action is missing");
  bool demonstrator =
      !de.audit_identities.empty() && de.audit_identities.front().uri == kDemonstratorIdentity;
  if (!soap.to && !demonstrator) return invalid("wsa:To is missing");
  if (soap.to && !internal::isAbsoluteUri(*soap.to)) {
    return invalid("wsa:To " + quoted(*soap.to) + " is not an absolute URI");
  }
  if (soap.from_has_reference_parameters) {
    return invalid("wsa:From carries reference parameters, which are not allowed (WS-ADR-08)");
  }
  if (soap.reply_to && *soap.reply_to != kWsaAnonymous) {
    if (!isPatternOneService(*soap.action)) {
      return invalid("wsa:ReplyTo " + quoted(*soap.reply_to) + " is not anonymous, and " +
                     *soap.action + " is a synchronous-only service");
    }
    if (soap.reply_to->empty()) return invalid("wsa:ReplyTo/wsa:Address is empty");
  }
  return {};
}

// Rule 11 (TKW crosscheck_id.xslt): MessageID, Timestamp Id, trackingid, manifest item and
// payload ids are all different (a manifest item id equals its payload's, by rule 5).
SoapVerdict checkIdsDistinct(const SoapEnvelope& soap, const DistributionEnvelope& de) {
  std::vector<std::pair<std::string_view, std::string_view>> singles;
  if (soap.message_id) singles.emplace_back("wsa:MessageID", *soap.message_id);
  if (soap.timestamp && soap.timestamp->id) singles.emplace_back("wsu:Id", *soap.timestamp->id);
  singles.emplace_back("trackingid", de.tracking_id);
  auto clash = [](std::string_view a, std::string_view b, std::string_view value) {
    return invalidDe(DeError::kId, std::string(a) + " and " + std::string(b) +
                                       " are identical: " + std::string(value));
  };
  for (size_t i = 0; i < singles.size(); ++i) {
    for (size_t j = i + 1; j < singles.size(); ++j) {
      if (singles[i].second == singles[j].second) {
        return clash(singles[i].first, singles[j].first, singles[i].second);
      }
    }
    for (const ManifestItem& item : de.manifest) {
      if (item.id == singles[i].second) return clash(singles[i].first, "manifestitem id", item.id);
    }
    for (const Payload& p : de.payloads) {
      if (p.id == singles[i].second) return clash(singles[i].first, "payload id", p.id);
    }
  }
  return {};
}

SoapVerdict checkSingleBodyElement(const SoapEnvelope& soap) {
  if (soap.body_elements > 1) {
    return invalidDe(DeError::kEnvelope,
                     "soap:Body holds " + std::to_string(soap.body_elements) + " elements");
  }
  return {};
}

// §4.5 and TKW faultresponse_validator.conf.
SoapVerdict checkFault(const SoapEnvelope& soap) {
  const SoapFault& fault = *soap.fault;
  if (!fault.code)
    return invalid("faultcode " + quoted(fault.faultcode) + " is not a SOAP 1.1 code");
  if (fault.faultstring.empty()) return invalid("soap:Fault has no faultstring");
  if (fault.faultactor && !(fault.faultactor->size() >= 4 &&
                            equalsIgnoreCase(fault.faultactor->substr(0, 4), "http"))) {
    return invalid("faultactor " + quoted(*fault.faultactor) + " is not an http URI");
  }
  bool detail_required =
      *fault.code == SoapFaultCode::kClient || *fault.code == SoapFaultCode::kServer;
  if (!fault.toolkit_error) {
    if (detail_required) return invalid("soap:Fault has no detail/itk:ToolkitErrorInfo");
    return {};
  }
  const ErrorInfo& e = *fault.toolkit_error;
  if (!parseToolkitCode(e.code)) {
    return invalid("ToolkitErrorInfo ErrorCode " + quoted(e.code) +
                   " is not 1000, 2100, 2200 or 3000");
  }
  if (!e.code_system.empty() && e.code_system != kToolkitCodeSystem) {
    return invalid("ToolkitErrorInfo ErrorCode codeSystem " + quoted(e.code_system) + " is not " +
                   std::string(kToolkitCodeSystem));
  }
  if (soap.action && *soap.action != kWsaSoapFaultAction && *soap.action != kWsaFaultAction) {
    return invalid("fault wsa:Action " + quoted(*soap.action) + " is not a WS-Addressing fault");
  }
  return {};
}

}  // namespace

SoapVerdict checkSoapRequest(const ItkDocument& doc, const SoapPolicy& policy, TimePoint now) {
  if (doc.root != DocumentRoot::kSoapEnvelope) {
    return invalidDe(DeError::kEnvelope, "the request is not a SOAP envelope");
  }
  const SoapEnvelope& soap = doc.soap;
  if (SoapVerdict v = checkVersion(soap); !v.ok()) return v;
  if (SoapVerdict v = checkMustUnderstand(soap); !v.ok()) return v;
  if (SoapVerdict v = checkSingleBodyElement(soap); !v.ok()) return v;
  if (soap.body_kind != SoapBodyKind::kDistributionEnvelope || !doc.de) {
    return invalidDe(DeError::kEnvelope, "soap:Body holds no itk:DistributionEnvelope");
  }
  const DistributionEnvelope& de = *doc.de;
  if (!soap.repeated_header.empty()) return invalid(soap.repeated_header + " is repeated");
  if (SoapVerdict v = checkTimestamp(soap, policy, now); !v.ok()) return v;
  if (SoapVerdict v = checkUsername(soap, policy); !v.ok()) return v;
  if (SoapVerdict v = checkAddressing(soap, de); !v.ok()) return v;
  if (Status s = validateDistributionEnvelope(de, DeRules::kRequest); !s.ok()) return client(s);
  if (*soap.action != de.service) {
    return invalidDe(DeError::kHeader, "wsa:Action " + quoted(*soap.action) +
                                           " does not match the DE service " + quoted(de.service));
  }
  return checkIdsDistinct(soap, de);
}

bool isSoapResponse(const ItkDocument& doc) {
  if (doc.root != DocumentRoot::kSoapEnvelope) return false;
  const SoapEnvelope& soap = doc.soap;
  switch (soap.body_kind) {
    case SoapBodyKind::kFault:
    case SoapBodyKind::kSimpleMessageResponse:
      return true;
    case SoapBodyKind::kDistributionEnvelope:
      return soap.action && soap.action->ends_with("Response");
    case SoapBodyKind::kEmpty:
    case SoapBodyKind::kOther:
      break;
  }
  return false;
}

SoapVerdict checkSoapResponse(const ItkDocument& doc) {
  if (doc.root != DocumentRoot::kSoapEnvelope) {
    return invalidDe(DeError::kEnvelope, "the response is not a SOAP envelope");
  }
  const SoapEnvelope& soap = doc.soap;
  if (SoapVerdict v = checkVersion(soap); !v.ok()) return v;
  if (SoapVerdict v = checkSingleBodyElement(soap); !v.ok()) return v;
  if (!soap.message_id) return invalid("wsa:MessageID is missing");
  if (!soap.action) return invalid("wsa:Action is missing");
  if (soap.relates_to && !internal::isPrefixedUuid(*soap.relates_to, true)) {
    return invalid("wsa:RelatesTo " + quoted(*soap.relates_to) + " is not an upper-case UUID");
  }
  switch (soap.body_kind) {
    case SoapBodyKind::kSimpleMessageResponse:
      return {};
    case SoapBodyKind::kFault:
      return checkFault(soap);
    case SoapBodyKind::kDistributionEnvelope:
      if (Status s = validateDistributionEnvelope(*doc.de, DeRules::kResponse); !s.ok()) {
        return client(s);
      }
      if (*soap.action != doc.de->service) {
        return invalidDe(DeError::kHeader, "wsa:Action " + quoted(*soap.action) +
                                               " does not match the DE service " +
                                               quoted(doc.de->service));
      }
      return {};
    case SoapBodyKind::kEmpty:
    case SoapBodyKind::kOther:
      break;
  }
  return invalid("soap:Body holds no ITK response (" +
                 (soap.body_element.empty() ? std::string("empty") : soap.body_element) + ")");
}

PeerResponse classifyPeerResponse(const ItkDocument& doc) {
  PeerResponse r;
  if (doc.root != DocumentRoot::kSoapEnvelope) {
    r.detail = "the response is not a SOAP envelope";
    return r;
  }
  const SoapEnvelope& soap = doc.soap;
  switch (soap.body_kind) {
    case SoapBodyKind::kSimpleMessageResponse:
      r.kind = PeerResponse::Kind::kSimpleMessageResponse;
      r.detail = soap.simple_message_response;
      return r;
    case SoapBodyKind::kDistributionEnvelope:
      r.kind = PeerResponse::Kind::kDistributionEnvelope;
      r.detail = doc.de->service;
      return r;
    case SoapBodyKind::kFault: {
      const SoapFault& fault = *soap.fault;
      r.kind = PeerResponse::Kind::kFault;
      r.fault = fault.code.value_or(SoapFaultCode::kClient);
      r.detail = fault.faultcode;
      if (fault.toolkit_error) {
        r.toolkit = parseToolkitCode(fault.toolkit_error->code).value_or(ToolkitCode::kNone);
        r.detail += " " + fault.toolkit_error->code + " " + fault.toolkit_error->text;
        if (!fault.toolkit_error->diagnostic.empty()) {
          r.detail += ": " + fault.toolkit_error->diagnostic;
        }
      } else {
        r.detail += " " + fault.faultstring;
      }
      // §4.6: 2100 is the retryable processing error; a Server fault without a code is presumed
      // transient too. 1000, 2200 and 3000 will fail the same way again.
      r.retryable = r.toolkit == ToolkitCode::kRetryable ||
                    (r.fault == SoapFaultCode::kServer && r.toolkit == ToolkitCode::kNone);
      return r;
    }
    case SoapBodyKind::kEmpty:
    case SoapBodyKind::kOther:
      break;
  }
  r.detail = "soap:Body holds no ITK response";
  return r;
}

}  // namespace itk::itk2
