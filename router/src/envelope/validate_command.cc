#include "itk/envelope/validate_command.h"

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "itk/envelope/reader.h"
#include "itk/envelope/vocabulary.h"

namespace itk::itk2 {
namespace {

constexpr std::string_view kUsage =
    "usage: itk-router validate [--now TIME] FILE...\n"
    "  Applies the router's door checks to each file (a Distribution Envelope, a SOAP envelope\n"
    "  or an ITK acknowledgement) and prints \"FILE: OK <kind> <tracking id>\" or\n"
    "  \"FILE: REJECT <toolkit code> <DE code or -> <reason>\".\n"
    "  --now TIME  the time for the WS-Security timestamp checks (xs:dateTime, e.g.\n"
    "              2026-11-25T10:00:30Z); default: now\n"
    "  Exit status: 0 all OK, 1 any REJECT, 2 usage error.\n";

std::string ackLabel(MessageKind kind, bool positive) {
  switch (kind) {
    case MessageKind::kInfrastructureAck:
      return positive ? "infack" : "infnack";
    case MessageKind::kBusinessAck:
      return positive ? "busack" : "busnack";
    case MessageKind::kBusiness:
    case MessageKind::kItk3Response:
      break;
  }
  return std::string(kindName(kind));
}

DoorVerdict refused(Status status, std::string kind) {
  return {std::move(status), std::move(kind), "-"};
}

DoorVerdict accepted(const MessageHeader& header, std::string_view container) {
  return {
      {}, std::string(container) + ackLabel(header.kind, header.ack_positive), header.tracking_id};
}

// The DE's kind and tracking id, or why routing could not use it.
DoorVerdict deVerdict(const DistributionEnvelope& de, std::string_view container) {
  Result<MessageHeader> header = messageHeaderOf(de);
  if (!header.ok()) return refused(header.status(), std::string(container));
  return accepted(*header, container);
}

DoorVerdict checkBareDe(const DistributionEnvelope& de) {
  Result<MessageHeader> header = checkDistributionEnvelope(de);
  if (!header.ok()) return refused(header.status(), "de");
  return accepted(*header, "de/");
}

// SOAP fault codes go in front of the reason: they are what the sender saw.
Status withFaultCode(const SoapVerdict& v) {
  Status s = v.status;
  std::string reason = "soap:" + std::string(faultCodeName(v.fault)) + " " + s.message();
  if (s.code() == Code::kAccessDenied) {
    return Status::accessDenied(std::move(reason)).withToolkit(s.toolkitCode(), s.vocabularyCode());
  }
  return Status::invalid(std::move(reason)).withToolkit(s.toolkitCode(), s.vocabularyCode());
}

DoorVerdict checkSoap(const ItkDocument& doc, const SoapPolicy& policy, TimePoint now) {
  if (isSoapResponse(doc)) {
    SoapVerdict v = checkSoapResponse(doc);
    if (!v.ok()) return refused(withFaultCode(v), "soap-response");
    switch (doc.soap.body_kind) {
      case SoapBodyKind::kFault:
        return {{}, "soap-response/fault", "-"};
      case SoapBodyKind::kSimpleMessageResponse:
        return {{}, "soap-response/simple-message-response", "-"};
      default:
        return deVerdict(*doc.de, "soap-response/");
    }
  }
  SoapVerdict v = checkSoapRequest(doc, policy, now);
  if (!v.ok()) return refused(withFaultCode(v), "soap-request");
  return deVerdict(*doc.de, "soap-request/");
}

DoorVerdict checkInfrastructureResponse(const InfrastructureResponse& r) {
  if (r.tracking_id_ref.empty()) {
    return refused(deError(DeError::kPayload, "itk:InfrastructureResponse has no @trackingIdRef"),
                   "infrastructure-response");
  }
  return {{},
          "infrastructure-response/" + ackLabel(MessageKind::kInfrastructureAck, r.positive()),
          r.tracking_id_ref};
}

DoorVerdict checkBusinessResponse(const BusinessResponse& r) {
  if (r.acknowledged_tracking_id.empty() || !r.typeCodeKnown()) {
    return refused(deError(DeError::kPayload,
                           "hl7:BusinessResponseMessage lacks acknowledgedBy3 with a known "
                           "typeCode and conveyingTransmission/id"),
                   "business-response");
  }
  return {{},
          "business-response/" + ackLabel(MessageKind::kBusinessAck, r.positive()),
          r.acknowledged_tracking_id};
}

std::string_view orDash(std::string_view text) {
  return text.empty() ? "-" : text;
}

// Reads a file no larger than `max_bytes` (a larger one is refused without being read).
Result<std::string> readFile(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::notFound(ec.message());
  if (size > max_bytes) {
    return deError(DeError::kEnvelope, "document of " + std::to_string(size) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  if (!(in && bytes << in.rdbuf())) return Status::notFound("cannot read");
  return std::move(bytes).str();
}

}  // namespace

DoorVerdict checkAtTheDoor(std::string_view bytes, const SoapPolicy& policy, TimePoint now) {
  Result<ItkDocument> doc = readItkDocument(bytes);
  if (!doc.ok()) return refused(doc.status(), "unreadable");
  switch (doc->root) {
    case DocumentRoot::kDistributionEnvelope:
      return checkBareDe(*doc->de);
    case DocumentRoot::kSoapEnvelope:
      return checkSoap(*doc, policy, now);
    case DocumentRoot::kInfrastructureResponse:
      return checkInfrastructureResponse(*doc->infrastructure_response);
    case DocumentRoot::kBusinessResponse:
      return checkBusinessResponse(*doc->business_response);
  }
  return refused(deError(DeError::kEnvelope, "unknown document"), "unreadable");
}

std::string formatVerdict(const DoorVerdict& v) {
  if (v.status.ok()) return "OK " + v.kind + " " + v.tracking_id;
  return "REJECT " + std::to_string(static_cast<int>(v.status.toolkitCode())) + " " +
         std::string(orDash(v.status.vocabularyCode())) + " " + v.status.message();
}

int runValidateCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  TimePoint now = SystemClock::instance().now();
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kUsage;
      return 0;
    }
    if (arg == "--now" || arg.starts_with("--now=")) {
      std::string value = arg == "--now" ? (i + 1 < args.size() ? args[++i] : "") : arg.substr(6);
      if (!parseIsoDateTime(value, &now)) {
        err << "itk-router validate: --now needs an xs:dateTime such as 2026-11-25T10:00:30Z, "
               "not \""
            << value << "\"\n"
            << kUsage;
        return 2;
      }
    } else if (arg.starts_with("-")) {
      err << "itk-router validate: unknown option " << arg << "\n" << kUsage;
      return 2;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    err << "itk-router validate: no FILE given\n" << kUsage;
    return 2;
  }
  SoapPolicy policy;  // the router's defaults: 300 s skew, any username
  size_t max_bytes = ReadOptions().xml.max_bytes;
  bool rejected = false;
  bool unreadable = false;
  for (const std::string& file : files) {
    Result<std::string> bytes = readFile(file, max_bytes);
    if (!bytes.ok() && bytes.status().code() == Code::kNotFound) {
      err << "itk-router validate: cannot read " << file << ": " << bytes.status().message()
          << '\n';
      unreadable = true;
      continue;
    }
    DoorVerdict v =
        bytes.ok() ? checkAtTheDoor(*bytes, policy, now) : refused(bytes.status(), "unreadable");
    out << file << ": " << formatVerdict(v) << '\n';
    rejected = rejected || !v.status.ok();
  }
  return unreadable ? 2 : rejected ? 1 : 0;
}

}  // namespace itk::itk2
