#include "itk/spine/ebxml.h"

#include <algorithm>
#include <cctype>

#include "itk/uuid.h"
#include "itk/xml/sax.h"
#include "itk/xml/text.h"

namespace itk::spine {
namespace {

constexpr std::u16string_view kEbNs =
    u"http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd";
constexpr std::u16string_view kSoapNs = u"http://schemas.xmlsoap.org/soap/envelope/";
constexpr std::u16string_view kXlinkNs = u"http://www.w3.org/1999/xlink";
constexpr std::u16string_view kHl7EbxmlNs = u"urn:hl7-org:transport/ebxml/DSTUv1.0";
constexpr std::u16string_view kHl7Ns = u"urn:hl7-org:v3";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

Status invalid(std::string why) {
  return Status::invalid(std::move(why)).withToolkit(ToolkitCode::kInvalidMessage);
}

// RFC 2046 §5.1.1: 1 to 70 characters from a restricted set, not ending in a space.
bool validBoundary(std::string_view b) {
  if (b.empty() || b.size() > 70 || b.back() == ' ') return false;
  for (char c : b) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::string_view("'()+_,-./:=? ").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// An attribute in the eb namespace, or unqualified (some senders omit the prefix).
std::string ebAttribute(const xml::Attributes& attributes, std::u16string_view name) {
  std::u16string_view v;
  if (attributes.find(kEbNs, name, &v) || attributes.find(u"", name, &v)) return xml::toUtf8(v);
  return {};
}

// Collects the ebXML header and manifest with a stack of element names.
class EbxmlReader final : public xml::Handler {
 public:
  explicit EbxmlReader(EbxmlHeader* out) : out_(out) {}

  Status startElement(const xml::StartTag& tag) override {
    const bool eb = tag.uri == kEbNs;
    if (tag.depth == 1 && !(tag.uri == kSoapNs && xml::equalsAscii(tag.local_name, "Envelope")))
      return invalid("not a SOAP 1.1 envelope");
    std::string name = eb ? "eb:" + xml::toUtf8(tag.local_name) : xml::toUtf8(tag.local_name);
    if (eb) {
      if (name == "eb:MessageHeader") saw_header_ = true;
      if (name == "eb:DuplicateElimination") out_->duplicate_elimination = true;
      if (name == "eb:AckRequested") out_->ack_requested = true;
      if (name == "eb:SyncReply") out_->sync_reply = true;
      if (name == "eb:Acknowledgment") out_->acknowledgment = true;
      if (name == "eb:Error") {
        EbxmlError e;
        e.code = ebAttribute(tag.attributes, u"errorCode");
        e.severity = ebAttribute(tag.attributes, u"severity");
        e.context = ebAttribute(tag.attributes, u"codeContext");
        out_->errors.push_back(std::move(e));
      }
      if (name == "eb:Reference" && parent() == "eb:Manifest") {
        ManifestReference r;
        std::u16string_view href;
        if (tag.attributes.find(kXlinkNs, u"href", &href)) r.href = xml::toUtf8(href);
        out_->manifest.push_back(std::move(r));
      }
    } else if (tag.uri == kHl7EbxmlNs && xml::equalsAscii(tag.local_name, "Payload") &&
               parent() == "eb:Reference" && !out_->manifest.empty()) {
      out_->manifest.back().hl7_payload = true;
    }
    stack_.push_back(std::move(name));
    text_.clear();
    return {};
  }

  Status characters(std::u16string_view text) override {
    if (text_.size() + text.size() > 4096) return invalid("an ebXML header value is too long");
    xml::appendUtf8(text_, text);
    return {};
  }

  Status endElement(const xml::EndTag&) override {
    std::string name = std::move(stack_.back());
    stack_.pop_back();
    std::string value(xml::trimXmlSpace(text_));
    text_.clear();
    const std::string& up = parent();
    const std::string& up2 = stack_.size() >= 2 ? stack_[stack_.size() - 2] : kEmpty;
    if (name == "eb:PartyId" && up == "eb:From" && up2 == "eb:MessageHeader") {
      out_->from_party = value;
    } else if (name == "eb:PartyId" && up == "eb:To" && up2 == "eb:MessageHeader") {
      out_->to_party = value;
    } else if (up == "eb:MessageHeader") {
      if (name == "eb:CPAId") out_->cpa_id = value;
      if (name == "eb:ConversationId") out_->conversation_id = value;
      if (name == "eb:Service") out_->service = value;
      if (name == "eb:Action") out_->action = value;
    } else if (up == "eb:MessageData") {
      if (name == "eb:MessageId") out_->message_id = value;
      if (name == "eb:Timestamp") out_->timestamp = value;
      if (name == "eb:RefToMessageId") out_->ref_to_message_id = value;
    } else if (up == "eb:Acknowledgment" && name == "eb:RefToMessageId") {
      ack_ref_ = value;
    } else if (up == "eb:Error" && name == "eb:Description" && !out_->errors.empty()) {
      out_->errors.back().description = value;
    } else if (up == "eb:Reference" && name == "eb:Description" && !out_->manifest.empty()) {
      out_->manifest.back().description = value;
    }
    return {};
  }

  Status finish() {
    if (!saw_header_) return invalid("the SOAP envelope has no ebXML MessageHeader");
    if (out_->ref_to_message_id.empty()) out_->ref_to_message_id = ack_ref_;
    return {};
  }

 private:
  const std::string& parent() const { return stack_.empty() ? kEmpty : stack_.back(); }

  inline static const std::string kEmpty;
  EbxmlHeader* out_;
  std::vector<std::string> stack_;
  std::string text_;
  std::string ack_ref_;
  bool saw_header_ = false;
};

// Finds communicationFunctionSnd|Rcv/device/id/@extension in the HL7 wrapper.
class Hl7Reader final : public xml::Handler {
 public:
  Hl7Reader(std::string* sender, std::string* receiver) : sender_(sender), receiver_(receiver) {}
  Status startElement(const xml::StartTag& tag) override {
    if (tag.depth == 1 &&
        !(tag.uri == kHl7Ns && xml::equalsAscii(tag.local_name, "COPC_IN000001GB01")))
      return invalid("part 2 is not an HL7 COPC_IN000001GB01 wrapper");
    if (tag.depth == 2) {
      in_snd_ = xml::equalsAscii(tag.local_name, "communicationFunctionSnd");
      in_rcv_ = xml::equalsAscii(tag.local_name, "communicationFunctionRcv");
    }
    if (tag.depth == 4 && (in_snd_ || in_rcv_) && xml::equalsAscii(tag.local_name, "id")) {
      std::u16string_view ext;
      if (tag.attributes.find(u"", u"extension", &ext))
        *(in_snd_ ? sender_ : receiver_) = xml::toUtf8(ext);
    }
    return {};
  }
  Status endElement(const xml::EndTag&) override { return {}; }

 private:
  std::string* sender_;
  std::string* receiver_;
  bool in_snd_ = false;
  bool in_rcv_ = false;
};

// The value of a MIME header parameter list entry, unquoted.
std::string unquote(std::string_view v) {
  v = trim(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

std::string stripAngles(std::string_view id) {
  id = trim(id);
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  return std::string(id);
}

// Splits "a; b=\"x;y\"; c" at semicolons outside quotes.
std::vector<std::string_view> splitParameters(std::string_view s) {
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (s[i] == ';' && !quoted) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

void appendPart(std::string& out, std::string_view boundary, const MimePart& part) {
  out += "--";
  out += boundary;
  out += "\r\nContent-Id: <" + part.content_id + ">\r\nContent-Type: " + part.content_type + "\r\n";
  if (!part.transfer_encoding.empty())
    out += "Content-Transfer-Encoding: " + part.transfer_encoding + "\r\n";
  out += "\r\n";
  out += part.body;
  out += "\r\n";
}

// Escaped for text and double-quoted attribute values alike.
std::string esc(std::string_view s) {
  std::string out;
  xml::appendEscapedAttribute(out, s);
  return out;
}

std::string messageHeaderXml(const std::string& from, const std::string& to, const std::string& cpa,
                             const std::string& conversation, std::string_view service,
                             std::string_view action, const std::string& message_id,
                             const std::string& timestamp, const std::string& ref_to) {
  std::string x;
  x += "<eb:MessageHeader SOAP:mustUnderstand=\"1\" eb:version=\"2.0\">\r\n";
  x += "<eb:From><eb:PartyId eb:type=\"" + std::string(kPartyType) + "\">" + esc(from) +
       "</eb:PartyId></eb:From>\r\n";
  x += "<eb:To><eb:PartyId eb:type=\"" + std::string(kPartyType) + "\">" + esc(to) +
       "</eb:PartyId></eb:To>\r\n";
  x += "<eb:CPAId>" + esc(cpa) + "</eb:CPAId>\r\n";
  x += "<eb:ConversationId>" + esc(conversation) + "</eb:ConversationId>\r\n";
  x += "<eb:Service>" + esc(service) + "</eb:Service>\r\n";
  x += "<eb:Action>" + esc(action) + "</eb:Action>\r\n";
  x += "<eb:MessageData>\r\n<eb:MessageId>" + esc(message_id) + "</eb:MessageId>\r\n";
  x += "<eb:Timestamp>" + esc(timestamp) + "</eb:Timestamp>\r\n";
  if (!ref_to.empty()) x += "<eb:RefToMessageId>" + esc(ref_to) + "</eb:RefToMessageId>\r\n";
  x += "</eb:MessageData>\r\n";
  return x;
}

constexpr const char* kEnvelopeOpen =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
    "<SOAP:Envelope xmlns:xsi=\"http://www.w3c.org/2001/XML-Schema-Instance\" "
    "xmlns:SOAP=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:eb=\"http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd\" "
    "xmlns:hl7ebxml=\"urn:hl7-org:transport/ebxml/DSTUv1.0\" "
    "xmlns:xlink=\"http://www.w3.org/1999/xlink\">\r\n<SOAP:Header>\r\n";

}  // namespace

// ---- multipart -------------------------------------------------------------------------------

Result<MultipartType> parseMultipartType(std::string_view content_type) {
  auto params = splitParameters(content_type);
  if (lower(trim(params[0])).rfind("multipart/", 0) != 0)
    return invalid("Content-Type " + std::string(content_type) + " is not multipart");
  MultipartType t;
  for (size_t i = 1; i < params.size(); ++i) {
    std::string_view p = trim(params[i]);
    auto eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name = lower(trim(p.substr(0, eq)));
    std::string value = unquote(p.substr(eq + 1));
    if (name == "boundary") t.boundary = value;
    if (name == "start") t.start = stripAngles(value);
    if (name == "type") t.type = value;
  }
  if (!validBoundary(t.boundary))
    return invalid("the multipart Content-Type has no valid boundary parameter");
  return t;
}

Result<std::vector<MimePart>> parseMultipart(std::string_view body, std::string_view boundary,
                                             const MultipartLimits& limits) {
  if (!validBoundary(boundary)) return invalid("invalid multipart boundary");
  const std::string dash = "--" + std::string(boundary);
  // The first delimiter may open the body; later ones follow a line end.
  size_t at;
  if (body.substr(0, dash.size()) == dash) {
    at = 0;
  } else {
    at = body.find("\n" + dash);
    if (at == std::string_view::npos) return invalid("the multipart body has no delimiter");
    ++at;
  }
  std::vector<MimePart> parts;
  while (true) {
    size_t after = at + dash.size();
    if (body.substr(after, 2) == "--") break;  // the close delimiter
    // Transport padding, then the line end.
    size_t eol = body.find('\n', after);
    if (eol == std::string_view::npos) return invalid("a multipart delimiter line is not ended");
    if (parts.size() == limits.max_parts)
      return invalid("the multipart body has more than " + std::to_string(limits.max_parts) +
                     " parts");
    size_t headers_start = eol + 1;
    size_t blank = body.find("\r\n\r\n", headers_start);
    size_t blank_lf = body.find("\n\n", headers_start);
    size_t headers_end, content_start;
    if (body.substr(headers_start, 2) == "\r\n") {
      headers_end = headers_start;
      content_start = headers_start + 2;
    } else if (body.substr(headers_start, 1) == "\n") {
      headers_end = headers_start;
      content_start = headers_start + 1;
    } else if (blank != std::string_view::npos &&
               (blank_lf == std::string_view::npos || blank < blank_lf)) {
      headers_end = blank;
      content_start = blank + 4;
    } else if (blank_lf != std::string_view::npos) {
      headers_end = blank_lf;
      content_start = blank_lf + 2;
    } else {
      return invalid("a multipart part has no blank line after its headers");
    }
    if (headers_end - headers_start > limits.max_header_bytes)
      return invalid("a multipart part's headers are too large");
    MimePart part;
    std::string_view headers = body.substr(headers_start, headers_end - headers_start);
    while (!headers.empty()) {
      size_t nl = headers.find('\n');
      std::string_view line = headers.substr(0, nl);
      headers = nl == std::string_view::npos ? std::string_view() : headers.substr(nl + 1);
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-id") part.content_id = stripAngles(value);
      if (name == "content-type") part.content_type = std::string(value);
      if (name == "content-transfer-encoding") part.transfer_encoding = lower(value);
    }
    if (!part.transfer_encoding.empty() && part.transfer_encoding != "7bit" &&
        part.transfer_encoding != "8bit" && part.transfer_encoding != "binary") {
      return invalid("unsupported Content-Transfer-Encoding " + part.transfer_encoding);
    }
    size_t next = body.find("\n" + dash, content_start > 0 ? content_start - 1 : 0);
    if (next == std::string_view::npos || next + 1 < content_start)
      return invalid("the multipart body is not closed");
    size_t content_end = next;
    if (content_end > content_start && body[content_end - 1] == '\r') --content_end;
    content_end = std::max(content_end, content_start);
    part.body = std::string(body.substr(content_start, content_end - content_start));
    parts.push_back(std::move(part));
    at = next + 1;
  }
  if (parts.empty()) return invalid("the multipart body has no parts");
  return parts;
}

std::string buildMultipart(std::string_view boundary, const std::vector<MimePart>& parts) {
  std::string out;
  size_t size = 0;
  for (const auto& p : parts) size += p.body.size() + 200;
  out.reserve(size);
  for (const auto& p : parts) appendPart(out, boundary, p);
  out += "--";
  out += boundary;
  out += "--\r\n";
  return out;
}

std::string chooseBoundary(const std::vector<MimePart>& parts) {
  while (true) {
    std::string b = "=_itk-router_" + newUuid();
    bool clash = std::any_of(parts.begin(), parts.end(), [&](const MimePart& p) {
      return p.body.find(b) != std::string::npos;
    });
    if (!clash) return b;
  }
}

// ---- ebXML -------------------------------------------------------------------------------------

std::string ManifestReference::contentId() const {
  if (lower(href.substr(0, 4)) != "cid:") return {};
  return href.substr(4);
}

EbxmlHeader::Kind EbxmlHeader::kind() const {
  for (const auto& e : errors)
    if (e.code == kDeliveryFailureCode) return Kind::kDeliveryFailure;
  if (action == "MessageError" || !errors.empty()) return Kind::kMessageError;
  if (action == "Acknowledgment" || acknowledgment) return Kind::kAcknowledgment;
  return Kind::kMessage;
}

std::string EbxmlHeader::errorText() const {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.code.empty() ? "(no errorCode)" : e.code;
    out += " (" + (e.severity.empty() ? std::string("Error") : e.severity);
    if (!e.context.empty()) out += ", " + e.context;
    out += ")";
    if (!e.description.empty()) out += ": " + e.description;
  }
  return out;
}

std::string_view kindName(EbxmlHeader::Kind k) {
  switch (k) {
    case EbxmlHeader::Kind::kMessage:
      return "message";
    case EbxmlHeader::Kind::kAcknowledgment:
      return "acknowledgment";
    case EbxmlHeader::Kind::kMessageError:
      return "message_error";
    case EbxmlHeader::Kind::kDeliveryFailure:
      return "delivery_failure";
  }
  return "unknown";
}

Result<EbxmlHeader> parseEbxml(std::string_view soap_envelope) {
  EbxmlHeader header;
  EbxmlReader reader(&header);
  xml::Limits limits;
  limits.max_bytes = size_t{1} << 20;  // a header, not a payload
  limits.max_depth = 32;
  limits.max_elements = 4096;
  Status s = xml::parse(soap_envelope, reader, limits);
  if (!s.ok()) return invalid("the ebXML envelope cannot be read: " + s.message());
  s = reader.finish();
  if (!s.ok()) return s;
  return header;
}

Status readHl7Asids(std::string_view hl7, std::string* sender_asid, std::string* receiver_asid) {
  Hl7Reader reader(sender_asid, receiver_asid);
  xml::Limits limits;
  limits.max_bytes = size_t{1} << 20;
  limits.max_depth = 32;
  limits.max_elements = 4096;
  Status s = xml::parse(hl7, reader, limits);
  if (!s.ok()) return invalid("the HL7 wrapper cannot be read: " + s.message());
  return {};
}

Result<TrunkMessage> parseTrunkMessage(std::string_view content_type, std::string_view body,
                                       const MultipartLimits& limits) {
  auto type = parseMultipartType(content_type);
  if (!type.ok()) return type.status();
  auto parts = parseMultipart(body, type->boundary, limits);
  if (!parts.ok()) return parts.status();
  auto find = [&](const std::string& id) -> const MimePart* {
    for (const auto& p : *parts)
      if (p.content_id == id) return &p;
    return nullptr;
  };
  const MimePart* root = type->start.empty() ? &parts->front() : find(type->start);
  if (!root) return invalid("no part has the start Content-Id <" + type->start + ">");
  auto header = parseEbxml(root->body);
  if (!header.ok()) return header.status();
  TrunkMessage m;
  m.ebxml = std::move(*header);
  const ManifestReference* de_ref = nullptr;
  const ManifestReference* hl7_ref = nullptr;
  for (const auto& r : m.ebxml.manifest) {
    if (r.description == "ITK Trunk Message") de_ref = &r;  // ST DEFAULT_DESCRIPTION
    if (r.hl7_payload || r.description == "HL7 payload") hl7_ref = &r;
  }
  if (!de_ref) {
    for (const auto& r : m.ebxml.manifest)
      if (&r != hl7_ref) {
        if (de_ref) return invalid("the ebXML Manifest does not say which part is the DE");
        de_ref = &r;
      }
  }
  if (!de_ref) return invalid("the ebXML Manifest names no ITK Trunk Message part");
  const MimePart* de = find(de_ref->contentId());
  if (!de || de == root)
    return invalid("the ebXML Manifest names " + de_ref->href + ", which is not a part");
  m.de = de->body;
  if (hl7_ref) {
    const MimePart* hl7 = find(hl7_ref->contentId());
    if (!hl7 || hl7 == root)
      return invalid("the ebXML Manifest names " + hl7_ref->href + ", which is not a part");
    m.hl7 = hl7->body;
  }
  return m;
}

// ---- builders ----------------------------------------------------------------------------------

std::string buildTrunkEbxml(const TrunkSpec& s) {
  std::string x = kEnvelopeOpen;
  x += messageHeaderXml(s.from_party, s.to_party, s.cpa_id, s.conversation_id, kItkService,
                        kTrunkAction, s.message_id, s.timestamp, "");
  x += "<eb:DuplicateElimination/>\r\n</eb:MessageHeader>\r\n";
  x += "<eb:AckRequested eb:version=\"2.0\" SOAP:mustUnderstand=\"1\" SOAP:actor=\"" +
       std::string(kToPartyMsh) + "\" eb:signed=\"false\"/>\r\n";
  x += "</SOAP:Header>\r\n<SOAP:Body>\r\n<eb:Manifest eb:version=\"2.0\">\r\n";
  x += "<eb:Reference xlink:href=\"cid:" + esc(s.hl7_content_id) + "\">\r\n";
  x += "<eb:Schema eb:location=\"http://www.nhsia.nhs.uk/schemas/HL7-Message.xsd\" "
       "eb:version=\"1.0\"/>\r\n";
  x += "<eb:Description xml:lang=\"en\">HL7 payload</eb:Description>\r\n";
  x += "<hl7ebxml:Payload style=\"HL7\" encoding=\"XML\" version=\"3.0\"/>\r\n</eb:Reference>\r\n";
  x += "<eb:Reference xlink:href=\"cid:" + esc(s.de_content_id) + "\">\r\n";
  x += "<eb:Description xml:lang=\"en\">ITK Trunk Message</eb:Description>\r\n</eb:Reference>\r\n";
  x += "</eb:Manifest>\r\n</SOAP:Body>\r\n</SOAP:Envelope>";
  return x;
}

std::string buildHl7Wrapper(const TrunkSpec& s) {
  const std::string asid = std::string(kAsidOid);
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  x += "<COPC_IN000001GB01 xmlns=\"urn:hl7-org:v3\">\r\n";
  x += "<id root=\"" + esc(s.hl7_id) + "\"/>\r\n";
  x += "<creationTime value=\"" + esc(s.hl7_creation_time) + "\"/>\r\n";
  x += "<versionCode code=\"V3NPfIT4.2.00\"/>\r\n";
  x += "<interactionId extension=\"COPC_IN000001GB01\" "
       "root=\"2.16.840.1.113883.2.1.3.2.4.12\"/>\r\n";
  x += "<processingCode code=\"P\"/>\r\n<processingModeCode code=\"T\"/>\r\n";
  x += "<acceptAckCode code=\"NE\"/>\r\n";
  x += "<communicationFunctionRcv>\r\n<device classCode=\"DEV\" determinerCode=\"INSTANCE\">\r\n"
       "<id extension=\"" +
       esc(s.receiver_asid) + "\" root=\"" + asid +
       "\"/>\r\n</device>\r\n</communicationFunctionRcv>\r\n";
  x += "<communicationFunctionSnd>\r\n<device classCode=\"DEV\" determinerCode=\"INSTANCE\">\r\n"
       "<id extension=\"" +
       esc(s.sender_asid) + "\" root=\"" + asid +
       "\"/>\r\n</device>\r\n</communicationFunctionSnd>\r\n";
  x += "<ControlActEvent classCode=\"CACT\" moodCode=\"EVN\">\r\n<author1 typeCode=\"AUT\">\r\n"
       "<AgentSystemSDS classCode=\"AGNT\">\r\n"
       "<agentSystemSDS classCode=\"DEV\" determinerCode=\"INSTANCE\">\r\n"
       "<id extension=\"" +
       esc(s.sender_asid) + "\" root=\"" + asid +
       "\"/>\r\n</agentSystemSDS>\r\n</AgentSystemSDS>\r\n</author1>\r\n</ControlActEvent>\r\n";
  x += "</COPC_IN000001GB01>";
  return x;
}

BuiltRequest buildTrunkRequest(const TrunkSpec& spec, std::string_view de) {
  std::vector<MimePart> parts(3);
  parts[0] = {spec.ebxml_content_id, "text/xml", "8bit", buildTrunkEbxml(spec)};
  parts[1] = {spec.hl7_content_id, "application/xml; charset=UTF-8", "8bit", buildHl7Wrapper(spec)};
  parts[2] = {spec.de_content_id, "text/xml", "8bit", std::string(de)};
  BuiltRequest r;
  std::string boundary = chooseBoundary(parts);
  r.content_type = "multipart/related; boundary=\"" + boundary +
                   "\"; type=\"text/xml\"; start=\"<" + spec.ebxml_content_id + ">\"";
  r.body = buildMultipart(boundary, parts);
  return r;
}

std::string buildAcknowledgment(const ReplySpec& s) {
  std::string x = kEnvelopeOpen;
  x += messageHeaderXml(s.from_party, s.to_party, s.cpa_id, s.conversation_id, kEbxmlService,
                        "Acknowledgment", s.message_id, s.timestamp, s.ref_to_message_id);
  x += "</eb:MessageHeader>\r\n";
  x += "<eb:Acknowledgment eb:version=\"2.0\" SOAP:mustUnderstand=\"1\" SOAP:actor=\"" +
       std::string(kToPartyMsh) + "\">\r\n";
  x += "<eb:Timestamp>" + esc(s.timestamp) + "</eb:Timestamp>\r\n";
  x += "<eb:RefToMessageId>" + esc(s.ref_to_message_id) + "</eb:RefToMessageId>\r\n";
  x += "<eb:From><eb:PartyId eb:type=\"" + std::string(kPartyType) + "\">" + esc(s.from_party) +
       "</eb:PartyId></eb:From>\r\n";
  x += "</eb:Acknowledgment>\r\n</SOAP:Header>\r\n<SOAP:Body/>\r\n</SOAP:Envelope>";
  return x;
}

std::string buildMessageError(const ReplySpec& s, const EbxmlError& e) {
  std::string x = kEnvelopeOpen;
  x += messageHeaderXml(s.from_party, s.to_party, s.cpa_id, s.conversation_id, kEbxmlService,
                        "MessageError", s.message_id, s.timestamp, s.ref_to_message_id);
  x += "</eb:MessageHeader>\r\n";
  std::string severity = e.severity.empty() ? "Error" : e.severity;
  x += "<eb:ErrorList eb:version=\"2.0\" SOAP:mustUnderstand=\"1\" eb:highestSeverity=\"" +
       esc(severity) + "\">\r\n";
  x += "<eb:Error eb:errorCode=\"" + esc(e.code) + "\" eb:severity=\"" + esc(severity) + "\"";
  if (!e.context.empty()) x += " eb:codeContext=\"" + esc(e.context) + "\"";
  x += ">\r\n<eb:Description xml:lang=\"en-GB\">" + esc(e.description) +
       "</eb:Description>\r\n</eb:Error>\r\n</eb:ErrorList>\r\n";
  x += "</SOAP:Header>\r\n<SOAP:Body/>\r\n</SOAP:Envelope>";
  return x;
}

}  // namespace itk::spine
