// The ITK008M response Bundle (spec/itk3-mesh.md §2.1), built by splicing escaped strings in the
// element order FHIR STU3 XML requires, and the policy of §2.4.
#include "itk/fhir/response.h"
#include "itk/uuid.h"
#include "itk/xml/text.h"

namespace itk::itk3 {

namespace {

constexpr size_t kMaxSenderReference = 255;

class XmlOut {
 public:
  // <name value="v"/>
  XmlOut& value(std::string_view name, std::string_view v) {
    out_ += '<';
    out_ += name;
    out_ += " value=\"";
    xml::appendEscapedAttribute(out_, v);
    out_ += "\"/>";
    return *this;
  }
  XmlOut& open(std::string_view name) {
    out_ += '<';
    out_ += name;
    out_ += '>';
    return *this;
  }
  XmlOut& openExtension(std::string_view url) {
    out_ += "<extension url=\"";
    xml::appendEscapedAttribute(out_, url);
    out_ += "\">";
    return *this;
  }
  XmlOut& close(std::string_view name) {
    out_ += "</";
    out_ += name;
    out_ += '>';
    return *this;
  }
  XmlOut& raw(std::string_view text) {
    out_ += text;
    return *this;
  }
  XmlOut& reference(std::string_view element, std::string_view ref) {
    return open(element).value("reference", ref).close(element);
  }
  XmlOut& profile(std::string_view url) { return open("meta").value("profile", url).close("meta"); }
  XmlOut& coding(std::string_view element, std::string_view system, std::string_view code,
                 std::string_view display) {
    return open(element)
        .value("system", system)
        .value("code", code)
        .value("display", display)
        .close(element);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string orNew(const std::string& id) {
  return id.empty() ? newUuidLower() : id;
}

Status invalid(std::string message) {
  return Status::invalid("ITK3 response: " + std::move(message));
}

}  // namespace

Result<std::string> buildResponse(const ResponseSpec& spec, const Responder& responder) {
  const ResponseCodeInfo* info = findResponseCode(spec.code);
  if (!info) return invalid("\"" + spec.code + "\" is not an ITK-ResponseCodes-1 code");
  if (info->withdrawn) return invalid(spec.code + " was withdrawn and is never sent");
  if (spec.acknowledged_id.empty()) return invalid("no acknowledged MessageHeader id");
  if (responder.mailbox.empty()) return invalid("the responder has no MESH mailbox");
  if (spec.sender_reference.size() > kMaxSenderReference) {
    return invalid("the sender reference is longer than 255 characters");
  }
  const std::string bundle_id = orNew(spec.ids.bundle);
  const std::string bundle_identifier = orNew(spec.ids.bundle_identifier);
  const std::string header_id = orNew(spec.ids.header);
  const std::string org_id = orNew(spec.ids.organization);
  const std::string outcome_id = orNew(spec.ids.outcome);
  const std::string org_ref = "urn:uuid:" + org_id;
  const std::string outcome_ref = "urn:uuid:" + outcome_id;

  XmlOut x;
  x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Bundle xmlns=\"http://hl7.org/fhir\">");
  x.value("id", bundle_id).profile(kMessageBundleProfile);
  x.open("identifier")
      .value("system", kUuidIdentifierSystem)
      .value("value", bundle_identifier)
      .close("identifier");
  x.value("type", "message");

  // entry[0]: the MessageHeader (§1.1), elements in STU3 order.
  x.open("entry").value("fullUrl", "urn:uuid:" + header_id).open("resource").open("MessageHeader");
  x.value("id", header_id).profile(kMessageHeaderProfile);
  x.openExtension(kMessageHandlingExtension);
  // §2.1 (GPC rules): a response requests no acknowledgement of its own.
  x.openExtension("BusAckRequested").value("valueBoolean", "false").close("extension");
  x.openExtension("InfAckRequested").value("valueBoolean", "false").close("extension");
  x.openExtension("RecipientType")
      .coding("valueCoding", kRecipientTypeSystem, "FA", "For Action")
      .close("extension");
  x.openExtension("MessageDefinition")
      .reference("valueReference", kResponseMessageDefinition)
      .close("extension");
  x.openExtension("SenderReference").value("valueString", spec.sender_reference).close("extension");
  x.openExtension("LocalExtension").value("valueString", "None").close("extension");
  x.close("extension");
  x.coding("event", kMessageEventSystem, kResponseEvent, "ITK Response");
  x.reference("sender", org_ref);
  x.value("timestamp", formatIsoSeconds(spec.timestamp));
  x.open("source").value("endpoint", responder.mailbox).close("source");
  x.open("response")
      .value("identifier", spec.acknowledged_id)
      .value("code", info->response_code)
      .reference("details", outcome_ref)
      .close("response");
  x.reference("focus", outcome_ref);
  x.close("MessageHeader").close("resource").close("entry");

  // The header sender: the router's organisation.
  x.open("entry").value("fullUrl", org_ref).open("resource").open("Organization");
  x.value("id", org_id).profile(kHeaderOrganizationProfile);
  if (!responder.ods_code.empty()) {
    x.open("identifier")
        .value("system", kOdsOrganizationSystem)
        .value("value", responder.ods_code)
        .close("identifier");
  }
  if (!responder.organisation_name.empty()) x.value("name", responder.organisation_name);
  x.close("Organization").close("resource").close("entry");

  // The payload: ITK-Response-OperationOutcome-1 with one issue (at most one code, §2.4).
  x.open("entry").value("fullUrl", outcome_ref).open("resource").open("OperationOutcome");
  x.value("id", outcome_id).profile(kResponseOperationOutcomeProfile);
  x.open("issue").value("severity", info->severity).value("code", info->issue_code);
  x.open("details")
      .coding("coding", kResponseCodesSystem, info->code, info->display)
      .close("details");
  if (!spec.diagnostics.empty()) x.value("diagnostics", spec.diagnostics);
  x.close("issue");
  x.close("OperationOutcome").close("resource").close("entry");
  x.raw("</Bundle>\n");
  return x.take();
}

std::string ackWorkflow(std::string_view workflow) {
  if (workflow.empty() || isAckWorkflow(workflow)) return std::string(workflow);
  return std::string(workflow) + "_ACK";
}

bool isAckWorkflow(std::string_view workflow) {
  return workflow.ends_with("_ACK");
}

Result<Message> makeResponseMessage(const ResponseSpec& spec, const Responder& responder,
                                    std::string reply_to, std::string reply_workflow) {
  auto xml = buildResponse(spec, responder);
  if (!xml.ok()) return xml.status();
  auto body = std::make_shared<const std::string>(std::move(*xml));
  // Read back with the same reader, strictly: what the router sends must pass its own checks.
  ReadOptions strict;
  strict.strict = true;
  auto decoded = decodeMessage(body, strict);
  if (!decoded.ok()) {
    return Status::internal("a built ITK3 response does not read back: " +
                            decoded.status().toString());
  }
  Message message = std::move(*decoded);
  if (!reply_to.empty()) message.header.addresses = {std::move(reply_to)};
  message.received_at = spec.timestamp;
  message.origin.transport = "router";
  if (!reply_workflow.empty()) {
    message.origin.attributes.emplace_back(std::string(kAttrMeshReplyWorkflow),
                                           std::move(reply_workflow));
  }
  return message;
}

Result<Message> respondTo(const Message& original, std::string_view code,
                          const Responder& responder, TimePoint now, std::string diagnostics) {
  ResponseSpec spec;
  spec.code = std::string(code);
  spec.acknowledged_id = original.header.tracking_id;
  spec.diagnostics = std::move(diagnostics);
  spec.timestamp = now;
  if (original.body) {
    // The SenderReference lives only in the body; echo it (FHIR-SR-03 default "None").
    auto bundle = readMessageBundle(*original.body);
    if (bundle.ok() && bundle->header.handling.sender_reference) {
      spec.sender_reference = *bundle->header.handling.sender_reference;
    }
  }
  const std::string* from = original.origin.attribute(kAttrMeshFrom);
  const std::string* workflow = original.origin.attribute(kAttrMeshWorkflow);
  return makeResponseMessage(spec, responder,
                             from && !from->empty() ? *from : original.header.sender_address,
                             workflow ? ackWorkflow(*workflow) : std::string());
}

Result<Message> respondToUnreadable(const ReadFailure& failure, const Origin& from,
                                    const Responder& responder, TimePoint now) {
  ResponseSpec spec;
  const std::string& vocabulary = failure.status.vocabularyCode();
  const ResponseCodeInfo* info = findResponseCode(vocabulary);
  spec.code = info && !info->positive && !info->withdrawn ? vocabulary : "10009";
  spec.acknowledged_id = failure.acknowledgedId();
  if (failure.sender_reference && failure.sender_reference->size() <= kMaxSenderReference) {
    spec.sender_reference = *failure.sender_reference;
  }
  // FHIR-BA-02: no patient data in the text; the reader's messages name elements, not values
  // from the payload.
  spec.diagnostics = failure.status.message();
  spec.timestamp = now;
  const std::string* mailbox = from.attribute(kAttrMeshFrom);
  const std::string* workflow = from.attribute(kAttrMeshWorkflow);
  return makeResponseMessage(spec, responder,
                             mailbox && !mailbox->empty() ? *mailbox : failure.source_endpoint,
                             workflow ? ackWorkflow(*workflow) : std::string());
}

std::string_view deliveryFailureCode(std::string_view mesh_report_code) {
  if (mesh_report_code == "EPL-152" || mesh_report_code == "EPL-153" ||
      mesh_report_code == "EPL-154") {
    return "20001";
  }
  return "20002";
}

std::string_view decisionName(ResponseDecision d) {
  switch (d) {
    case ResponseDecision::kSend:
      return "send";
    case ResponseDecision::kNeverAnswerAResponse:
      return "never_answer_a_response";
    case ResponseDecision::kNotRequested:
      return "not_requested";
    case ResponseDecision::kLimitReached:
      return "limit_reached";
    case ResponseDecision::kAfterNegative:
      return "after_negative";
    case ResponseDecision::kUnknownCode:
      return "unknown_code";
  }
  return "unknown";
}

ResponseDecision decideResponse(const ResponseContext& context, std::string_view code) {
  const ResponseCodeInfo* info = findResponseCode(code);
  if (!info || info->withdrawn) return ResponseDecision::kUnknownCode;
  // No response loops: a response is never answered with another response.
  if (context.is_response) return ResponseDecision::kNeverAnswerAResponse;
  // §2.4: "no further response message following the response message that contains the
  // negative response code regardless of what acknowledgement flags are set".
  if (context.negative_sent) return ResponseDecision::kAfterNegative;
  if (context.responses_sent >= 2) return ResponseDecision::kLimitReached;
  const std::optional<bool>& flag = info->level == ResponseLevel::kInfrastructure
                                        ? context.inf_ack_requested
                                        : context.bus_ack_requested;
  if (!flag) {
    // The flags cannot be read: "default to always return a response wherever possible", but
    // Fire and Forget allows 0..1 such response.
    return context.responses_sent == 0 ? ResponseDecision::kSend : ResponseDecision::kLimitReached;
  }
  return *flag ? ResponseDecision::kSend : ResponseDecision::kNotRequested;
}

}  // namespace itk::itk3
