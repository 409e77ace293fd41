#include "itk/envelope/vocabulary.h"

#include <array>

namespace itk::itk2 {
namespace {

struct DeErrorEntry {
  std::string_view code;
  std::string_view display_name;
};

// TKW contrib/Common/distributionenvelope/DE_error_reference.xml, in code order.
constexpr std::array<DeErrorEntry, 12> kDeErrors = {{
    {"DE0001", "Distribution Envelope Processing Error"},
    {"DE0002", "Distribution Envelope Header Processing Error"},
    {"DE0003", "Distribution Envelope Address List Processing Error"},
    {"DE0004", "Distribution Envelope Audit Identity Processing Error"},
    {"DE0005", "Distribution Envelope Id Processing Error"},
    {"DE0006", "Distribution Envelope Manifest Processing Error"},
    {"DE0007", "Distribution Envelope Manifest Item Processing Error"},
    {"DE0008", "Distribution Envelope Sender Address Processing Error"},
    {"DE0009", "Distribution Envelope Handling Specifications Processing Error"},
    {"DE0010", "Distribution Envelope Spec Processing Error"},
    {"DE0011", "Distribution Envelope Payloads Processing Error"},
    {"DE0012", "Distribution Envelope Payload Processing Error"},
}};

const DeErrorEntry& entry(DeError error) {
  return kDeErrors[static_cast<size_t>(error) - 1];
}

}  // namespace

std::string_view deErrorCode(DeError error) {
  return entry(error).code;
}

std::string_view deErrorDisplayName(DeError error) {
  return entry(error).display_name;
}

std::optional<DeError> parseDeError(std::string_view code) {
  for (size_t i = 0; i < kDeErrors.size(); ++i) {
    if (kDeErrors[i].code == code) return static_cast<DeError>(i + 1);
  }
  return std::nullopt;
}

Status deError(DeError error, std::string reason) {
  return Status::invalid(std::move(reason))
      .withToolkit(ToolkitCode::kInvalidMessage, std::string(deErrorCode(error)));
}

DeError deErrorFor(const Status& status) {
  if (auto own = parseDeError(status.vocabularyCode())) return *own;
  return status.code() == Code::kUnknownAddress ? DeError::kAddressList : DeError::kEnvelope;
}

std::string_view toolkitErrorText(ToolkitCode code) {
  switch (code) {
    case ToolkitCode::kInvalidMessage:
      return "Invalid Message - the message structure or content is unrecognised or incorrect";
    case ToolkitCode::kRetryable:
      return "Processing Error (retryable) - a recoverable processing error has been "
             "encountered";
    case ToolkitCode::kNotRetryable:
      return "Processing Error (not retryable) - a non-recoverable processing error has been "
             "encountered";
    case ToolkitCode::kAccessDenied:
      return "Access Denied";
    case ToolkitCode::kNone:
      break;
  }
  return "";
}

std::optional<ToolkitCode> parseToolkitCode(std::string_view code) {
  if (code == "1000") return ToolkitCode::kInvalidMessage;
  if (code == "2100") return ToolkitCode::kRetryable;
  if (code == "2200") return ToolkitCode::kNotRetryable;
  if (code == "3000") return ToolkitCode::kAccessDenied;
  return std::nullopt;
}

}  // namespace itk::itk2
