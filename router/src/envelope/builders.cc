#include "itk/envelope/builders.h"

#include "itk/envelope/vocabulary.h"
#include "itk/uuid.h"
#include "itk/xml/sax.h"
#include "itk/xml/text.h"

namespace itk::itk2 {
namespace {

constexpr std::string_view kXmlDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

// Minimal writers: the names are ours (never escaped), the values are escaped.
void attribute(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  xml::appendEscapedAttribute(out, value);
  out += '"';
}

void optionalAttribute(std::string& out, std::string_view name, std::string_view value) {
  if (!value.empty()) attribute(out, name, value);
}

void textElement(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  xml::appendEscapedText(out, text);
  out += "</";
  out += name;
  out += '>';
}

// <name type="..." uri="..."/> for addresses and identities (type omitted when empty).
void typedUriElement(std::string& out, std::string_view name, std::string_view type,
                     std::string_view uri) {
  out += '<';
  out += name;
  optionalAttribute(out, "type", type);
  attribute(out, "uri", uri);
  out += "/>";
}

std::string newPayloadId() {
  return "uuid_" + newUuid();
}

// ErrorID, ErrorCode (@codeSystem), ErrorText, ErrorDiagnosticText: the common content of an
// InfrastructureResponse errorInfo (§3.1) and a fault's ToolkitErrorInfo (§4.5).
void writeErrorFields(std::string& out, const ErrorInfo& e) {
  textElement(out, "itk:ErrorID", e.error_id);
  out += "<itk:ErrorCode";
  optionalAttribute(out, "codeSystem", e.code_system);
  out += '>';
  xml::appendEscapedText(out, e.code);
  out += "</itk:ErrorCode>";
  textElement(out, "itk:ErrorText", e.text);
  if (!e.diagnostic.empty()) textElement(out, "itk:ErrorDiagnosticText", e.diagnostic);
}

void writeHeader(std::string& out, const DistributionEnvelopeSpec& spec,
                 const std::string& tracking_id, const std::vector<std::string>& payload_ids) {
  out += "<itk:header";
  attribute(out, "service", spec.service);
  attribute(out, "trackingid", tracking_id);
  out += '>';
  if (!spec.addresses.empty()) {
    out += "<itk:addresslist>";
    for (const Address& a : spec.addresses) typedUriElement(out, "itk:address", a.type, a.uri);
    out += "</itk:addresslist>";
  }
  if (!spec.audit_identities.empty()) {
    out += "<itk:auditIdentity>";
    for (const Identity& id : spec.audit_identities) {
      typedUriElement(out, "itk:id", id.type, id.uri);
    }
    out += "</itk:auditIdentity>";
  }
  out += "<itk:manifest";
  attribute(out, "count", std::to_string(spec.payloads.size()));
  out += '>';
  for (size_t i = 0; i < spec.payloads.size(); ++i) {
    const OutboundPayload& p = spec.payloads[i];
    out += "<itk:manifestitem";
    attribute(out, "id", payload_ids[i]);
    attribute(out, "mimetype", p.mimetype);
    optionalAttribute(out, "profileid", p.profileid);
    // §1.4: compressed means gzip then base64, so both flags are set.
    bool compressed = p.encoding == PayloadEncoding::kCompressedBase64;
    if (compressed || p.encoding == PayloadEncoding::kBase64) attribute(out, "base64", "true");
    if (compressed) attribute(out, "compressed", "true");
    out += "/>";
  }
  out += "</itk:manifest>";
  if (spec.sender_address) {
    typedUriElement(out, "itk:senderAddress", spec.sender_address->type, spec.sender_address->uri);
  }
  if (!spec.handling_specs.empty()) {
    out += "<itk:handlingSpecification>";
    for (const HandlingSpec& h : spec.handling_specs) {
      out += "<itk:spec";
      attribute(out, "key", h.key);
      attribute(out, "value", h.value);
      out += "/>";
    }
    out += "</itk:handlingSpecification>";
  }
  out += "</itk:header>";
}

Status writePayloadContent(std::string& out, const OutboundPayload& p) {
  switch (p.encoding) {
    case PayloadEncoding::kXml:
      out += p.content;
      return {};
    case PayloadEncoding::kText:
      xml::appendEscapedText(out, p.content);
      return {};
    case PayloadEncoding::kBase64:
      out += base64Encode(p.content, 76);
      return {};
    case PayloadEncoding::kCompressedBase64: {
      Result<std::string> gz = gzipCompress(p.content);
      if (!gz.ok()) return gz.status();
      out += base64Encode(*gz, 76);
      return {};
    }
    case PayloadEncoding::kEncrypted:
      break;
  }
  return Status::invalid("encrypted payloads are relayed, not built");
}

// The SOAP response envelope (§4.4): a new MessageID, the Action, RelatesTo when known.
std::string responseEnvelope(std::string_view action, std::string_view relates_to,
                             std::string_view body) {
  std::string out;
  out.reserve(512 + body.size());
  out += kXmlDeclaration;
  out += "<soap:Envelope";
  attribute(out, "xmlns:soap", kSoap11Namespace);
  attribute(out, "xmlns:wsa", kWsaNamespace);
  out += "><soap:Header>";
  textElement(out, "wsa:MessageID", newUuid());
  textElement(out, "wsa:Action", action);
  if (!relates_to.empty()) textElement(out, "wsa:RelatesTo", relates_to);
  out += "</soap:Header><soap:Body>";
  out += body;
  out += "</soap:Body></soap:Envelope>";
  return out;
}

// TKW's fault templates (simulator_packs/fault/response_templates).
std::string_view faultString(SoapFaultCode code) {
  switch (code) {
    case SoapFaultCode::kClient:
      return "A client related error has occurred, see detail element for further information";
    case SoapFaultCode::kServer:
      return "A server related error has occurred, see detail element for further information";
    case SoapFaultCode::kMustUnderstand:
      return "SOAP MustUnderstand error thrown.";
    case SoapFaultCode::kVersionMismatch:
      return "Improper SOAP Version referenced";
  }
  return "";
}

}  // namespace

Result<BuiltEnvelope> buildDistributionEnvelope(const DistributionEnvelopeSpec& spec) {
  if (spec.service.empty()) return Status::invalid("a DE needs a service");
  if (spec.payloads.empty()) return Status::invalid("a DE needs at least one payload");
  BuiltEnvelope built{spec.tracking_id.empty() ? newUuid() : spec.tracking_id, {}};
  std::vector<std::string> ids;
  size_t content_size = 0;
  for (const OutboundPayload& p : spec.payloads) {
    ids.push_back(p.id.empty() ? newPayloadId() : p.id);
    content_size += p.content.size();
  }
  std::string& out = built.bytes;
  out.reserve(1024 + content_size * 4 / 3);
  out += "<itk:DistributionEnvelope";
  attribute(out, "xmlns:itk", kItkNamespace);
  out += '>';
  writeHeader(out, spec, built.tracking_id, ids);
  out += "<itk:payloads";
  attribute(out, "count", std::to_string(spec.payloads.size()));
  out += '>';
  for (size_t i = 0; i < spec.payloads.size(); ++i) {
    out += "<itk:payload";
    attribute(out, "id", ids[i]);
    optionalAttribute(out, "filename", spec.payloads[i].filename);
    out += '>';
    if (Status s = writePayloadContent(out, spec.payloads[i]); !s.ok()) return s;
    out += "</itk:payload>";
  }
  out += "</itk:payloads></itk:DistributionEnvelope>";
  return built;
}

std::string infrastructureResponseElement(const InfrastructureResponse& r) {
  std::string out = "<itk:InfrastructureResponse";
  attribute(out, "xmlns:itk", kItkNamespace);
  optionalAttribute(out, "timestamp", r.timestamp);
  attribute(out, "serviceRef", r.service_ref);
  attribute(out, "trackingIdRef", r.tracking_id_ref);
  attribute(out, "result", r.result);
  out += "><itk:reportingIdentity>";
  for (const Identity& id : r.reporting_identities) typedUriElement(out, "itk:id", id.type, id.uri);
  out += "</itk:reportingIdentity>";
  if (r.errors.empty()) {
    out += "<itk:errors/>";
  } else {
    out += "<itk:errors>";
    for (const ErrorInfo& e : r.errors) {
      out += "<itk:errorInfo>";
      writeErrorFields(out, e);
      out += "</itk:errorInfo>";
    }
    out += "</itk:errors>";
  }
  out += "</itk:InfrastructureResponse>";
  return out;
}

Result<BuiltEnvelope> buildInfrastructureAck(const MessageHeader& original,
                                             const RouterIdentity& router, const Status& outcome,
                                             TimePoint now) {
  // ITK2 §2: never infack an infack (nor a Broadcast); acks go to the original senderAddress.
  if (!isAckable(original)) {
    return Status::rejected("message " + original.tracking_id + " (" + original.service +
                            ") must not be infacked");
  }
  if (original.sender_address.empty()) {
    return Status::rejected("message " + original.tracking_id +
                            " has no senderAddress to send an infrastructure ack to");
  }
  InfrastructureResponse response;
  response.result = outcome.ok() ? "OK" : "Failure";
  response.timestamp = formatIsoSeconds(now);
  response.tracking_id_ref = original.tracking_id;
  response.service_ref = original.service;
  response.reporting_identities.push_back({router.audit_identity, {}});
  if (!outcome.ok()) {
    // ITK 2.2 (§3.1): the DE_Error vocabulary, code and display name together.
    DeError code = deErrorFor(outcome);
    response.errors.push_back({newUuid(), std::string(deErrorCode(code)),
                               std::string(kDeErrorCodeSystem),
                               std::string(deErrorDisplayName(code)), outcome.message()});
  }
  DistributionEnvelopeSpec spec;
  spec.service = std::string(kSendInfrastructureAckService);
  spec.addresses.push_back({original.sender_address, {}});
  spec.audit_identities.push_back({router.audit_identity, {}});
  spec.sender_address = Address{router.sender_address, {}};
  spec.handling_specs.push_back(
      {std::string(kInteractionKey), std::string(kInfrastructureAckInteraction)});
  OutboundPayload payload;
  payload.content = infrastructureResponseElement(response);
  spec.payloads.push_back(std::move(payload));
  return buildDistributionEnvelope(spec);
}

std::string buildSoapRequest(const SoapRequestHeader& h, std::string_view de_bytes) {
  // The DE goes into the Body as it is, without what may precede its root element.
  size_t root = 0;
  if (xml::checkProlog(de_bytes, &root).ok()) de_bytes.remove_prefix(root);
  de_bytes = xml::trimXmlSpace(de_bytes);
  std::string out;
  out.reserve(1024 + de_bytes.size());
  out += kXmlDeclaration;
  out += "<soap:Envelope";
  attribute(out, "xmlns:soap", kSoap11Namespace);
  attribute(out, "xmlns:wsa", kWsaNamespace);
  attribute(out, "xmlns:wsse", kWsseNamespace);
  attribute(out, "xmlns:wsu", kWsuNamespace);
  out += "><soap:Header>";
  textElement(out, "wsa:MessageID", h.message_id.empty() ? newUuid() : h.message_id);
  textElement(out, "wsa:Action", h.action);
  textElement(out, "wsa:To", h.to);
  out += "<wsse:Security><wsu:Timestamp";
  attribute(out, "wsu:Id", h.timestamp_id.empty() ? newPayloadId() : h.timestamp_id);
  out += '>';
  textElement(out, "wsu:Created", formatIsoSeconds(h.created));
  textElement(out, "wsu:Expires", formatIsoSeconds(h.created + h.time_to_live));
  out += "</wsu:Timestamp><wsse:UsernameToken>";
  textElement(out, "wsse:Username", h.username);
  out += "</wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>";
  out += de_bytes;
  out += "</soap:Body></soap:Envelope>";
  return out;
}

std::string simpleMessageResponseElement(std::string_view text) {
  std::string out = "<itk:SimpleMessageResponse";
  attribute(out, "xmlns:itk", kItkNamespace);
  out += '>';
  xml::appendEscapedText(out, text);
  out += "</itk:SimpleMessageResponse>";
  return out;
}

std::string buildSimpleMessageResponse(std::string_view service,
                                       std::string_view request_message_id, std::string_view text) {
  // LTKW makeWrapper: the response Action is the request's with "Response" appended.
  return responseEnvelope(std::string(service) + "Response", request_message_id,
                          simpleMessageResponseElement(text));
}

std::string buildSoapResponse(std::string_view action, std::string_view request_message_id,
                              std::string_view de_bytes) {
  size_t root = 0;
  if (xml::checkProlog(de_bytes, &root).ok()) de_bytes.remove_prefix(root);
  return responseEnvelope(action, request_message_id, xml::trimXmlSpace(de_bytes));
}

std::string toolkitErrorInfoElement(const ErrorInfo& e) {
  std::string out = "<itk:ToolkitErrorInfo";
  attribute(out, "xmlns:itk", kItkNamespace);
  out += '>';
  writeErrorFields(out, e);
  out += "</itk:ToolkitErrorInfo>";
  return out;
}

std::string buildSoapFault(const SoapFaultSpec& spec) {
  ErrorInfo error{newUuid(), std::to_string(static_cast<int>(spec.toolkit)),
                  std::string(kToolkitCodeSystem), std::string(toolkitErrorText(spec.toolkit)),
                  spec.diagnostic};
  std::string body = "<soap:Fault>";
  textElement(body, "faultcode", "soap:" + std::string(faultCodeName(spec.code)));
  textElement(body, "faultstring", faultString(spec.code));
  if (!spec.faultactor.empty()) textElement(body, "faultactor", spec.faultactor);
  body += "<detail>";
  body += toolkitErrorInfoElement(error);
  body += "</detail></soap:Fault>";
  std::string_view action =
      spec.code == SoapFaultCode::kMustUnderstand ? kWsaFaultAction : kWsaSoapFaultAction;
  return responseEnvelope(action, spec.relates_to, body);
}

std::string buildSoapFault(const SoapVerdict& verdict, std::string_view request_message_id) {
  SoapFaultSpec spec;
  spec.code = verdict.fault;
  spec.toolkit = verdict.status.toolkitCode();
  const std::string& vocabulary = verdict.status.vocabularyCode();
  spec.diagnostic =
      vocabulary.empty() ? verdict.status.message() : vocabulary + " " + verdict.status.message();
  spec.relates_to = std::string(request_message_id);
  return buildSoapFault(spec);
}

}  // namespace itk::itk2
