#include "itk/status.h"

namespace itk {

std::string_view codeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalid: return "invalid";
    case Code::kUnknownAddress: return "unknown-address";
    case Code::kUnavailable: return "unavailable";
    case Code::kTimeout: return "timeout";
    case Code::kRejected: return "rejected";
    case Code::kStoreError: return "store-error";
    case Code::kNotFound: return "not-found";
    case Code::kAccessDenied: return "access-denied";
    case Code::kInternal: return "internal";
  }
  return "unknown";
}

ToolkitCode Status::toolkitCode() const {
  if (toolkit_ != ToolkitCode::kNone) return toolkit_;
  switch (code_) {
    case Code::kOk: return ToolkitCode::kNone;
    case Code::kInvalid: return ToolkitCode::kInvalidMessage;
    case Code::kAccessDenied: return ToolkitCode::kAccessDenied;
    // Busy, timeouts and store trouble are worth a retry by the sender.
    case Code::kUnavailable:
    case Code::kTimeout:
    case Code::kStoreError:
    case Code::kInternal: return ToolkitCode::kRetryable;
    case Code::kUnknownAddress:
    case Code::kRejected:
    case Code::kNotFound: return ToolkitCode::kNotRetryable;
  }
  return ToolkitCode::kNotRetryable;
}

std::string Status::toString() const {
  if (ok()) return "ok";
  std::string out(codeName(code_));
  out += ": ";
  if (!vocabulary_code_.empty()) {
    out += vocabulary_code_;
    out += ' ';
  }
  out += message_;
  return out;
}

}  // namespace itk
