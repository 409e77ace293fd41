#include "ack_reader.h"

namespace itk::itk2::internal {
namespace {

constexpr std::string_view kErrorInfoChild = "itk:errors/itk:errorInfo/";

}  // namespace

void InfrastructureResponseReader::begin(InfrastructureResponse* out) {
  out_ = out;
  path_.clear();
}

// ITK2 §3.1: InfrastructureResponse @result @timestamp @trackingIdRef @serviceRef,
// reportingIdentity/id, errors/errorInfo/{ErrorID, ErrorCode@codeSystem, ErrorText,
// ErrorDiagnosticText}.
Status InfrastructureResponseReader::start(const xml::StartTag& tag, size_t depth) {
  const xml::Attributes& a = tag.attributes;
  if (depth == 0) {
    out_->result = attributeOr(a, u"result");
    out_->timestamp = attributeOr(a, u"timestamp");
    out_->tracking_id_ref = attributeOr(a, u"trackingIdRef");
    out_->service_ref = attributeOr(a, u"serviceRef");
    return {};
  }
  path_.push(tag.uri, tag.local_name);
  const std::string& p = path_.str();
  if (p == "itk:reportingIdentity/itk:id") {
    out_->reporting_identities.push_back({attributeOr(a, u"uri"), attributeOr(a, u"type")});
  } else if (p == "itk:errors/itk:errorInfo") {
    out_->errors.emplace_back();
  } else if (!out_->errors.empty() && p.starts_with(kErrorInfoChild)) {
    captureErrorField(std::string_view(p).substr(kErrorInfoChild.size()), a, &out_->errors.back(),
                      &capture_);
  }
  return {};
}

Status InfrastructureResponseReader::end(const xml::EndTag&, size_t depth) {
  capture_.end();
  if (depth > 0) path_.pop();
  return {};
}

Status InfrastructureResponseReader::text(std::u16string_view text) {
  capture_.append(text);
  return {};
}

void BusinessResponseReader::begin(BusinessResponse* out) {
  out_ = out;
  path_.clear();
}

// ITK2 §3.2: the BusinessResponseMessage fields that correlate and classify the ack.
Status BusinessResponseReader::start(const xml::StartTag& tag, size_t depth) {
  if (depth == 0) return {};
  const xml::Attributes& a = tag.attributes;
  path_.push(tag.uri, tag.local_name);
  const std::string& p = path_.str();
  if (p == "hl7:id") {
    out_->id = attributeOr(a, u"root");
  } else if (p == "hl7:creationTime") {
    out_->creation_time = attributeOr(a, u"value");
  } else if (p == "hl7:interactionId") {
    out_->interaction = attributeOr(a, u"extension");
  } else if (p == "hl7:acknowledgedBy3") {
    out_->type_code = attributeOr(a, u"typeCode");
  } else if (p == "hl7:acknowledgedBy3/hl7:conveyingTransmission/hl7:id") {
    out_->acknowledged_tracking_id = attributeOr(a, u"root");
  } else if (p == "hl7:acknowledgedBy3/hl7:acknowledgementDetail/hl7:code") {
    out_->details.push_back(
        {attributeOr(a, u"code"), attributeOr(a, u"codeSystem"), attributeOr(a, u"displayName")});
  } else if (p == "hl7:acknowledgedBy2") {
    out_->item_acks.push_back({attributeOr(a, u"typeCode"), {}, {}});
  } else if (!out_->item_acks.empty()) {
    BusinessResponse::ItemAck& item = out_->item_acks.back();
    if (p == "hl7:acknowledgedBy2/hl7:conveyingTransmission/hl7:id") {
      item.payload_id = attributeOr(a, u"root");
    } else if (p ==
               "hl7:acknowledgedBy2/hl7:conveyingTransmission/hl7:controlActEvent/"
               "hl7:reason/hl7:detectedIssueEvent/hl7:text") {
      capture_.begin(&item.text);
    }
  }
  return {};
}

Status BusinessResponseReader::end(const xml::EndTag&, size_t depth) {
  capture_.end();
  if (depth > 0) path_.pop();
  return {};
}

Status BusinessResponseReader::text(std::u16string_view text) {
  capture_.append(text);
  return {};
}

}  // namespace itk::itk2::internal
