#include "itk/envelope/reader.h"

#include "ack_reader.h"
#include "de_reader.h"
#include "itk/envelope/vocabulary.h"
#include "sub_reader.h"

namespace itk::itk2 {

std::string_view faultCodeName(SoapFaultCode code) {
  switch (code) {
    case SoapFaultCode::kClient:
      return "Client";
    case SoapFaultCode::kServer:
      return "Server";
    case SoapFaultCode::kMustUnderstand:
      return "MustUnderstand";
    case SoapFaultCode::kVersionMismatch:
      return "VersionMismatch";
  }
  return "Client";
}

bool SoapEnvelope::soap11() const {
  return envelope_namespace == kSoap11Namespace;
}

namespace internal {
namespace {

constexpr std::u16string_view kSoapActorNext = u"http://schemas.xmlsoap.org/soap/actor/next";
constexpr std::string_view kToolkitErrorInfoChild = ":detail/itk:ToolkitErrorInfo/";

// "soap:Client.Authentication" -> kClient (SOAP 1.1 §4.4.1: a dotted code refines its prefix).
std::optional<SoapFaultCode> parseFaultCode(std::string_view faultcode) {
  size_t colon = faultcode.rfind(':');
  std::string_view local =
      colon == std::string_view::npos ? faultcode : faultcode.substr(colon + 1);
  local = local.substr(0, local.find('.'));
  for (SoapFaultCode c : {SoapFaultCode::kClient, SoapFaultCode::kServer,
                          SoapFaultCode::kMustUnderstand, SoapFaultCode::kVersionMismatch}) {
    if (local == faultCodeName(c)) return c;
  }
  return std::nullopt;
}

// soap:Fault (spec §4.5): faultcode, faultstring, faultactor, detail/itk:ToolkitErrorInfo.
class FaultReader final : public SubReader {
 public:
  void begin(SoapFault* out) {
    out_ = out;
    path_.clear();
  }

  Status start(const xml::StartTag& tag, size_t depth) override {
    if (depth == 0) return {};
    path_.push(tag.uri, tag.local_name);
    const std::string& p = path_.str();
    if (p == ":faultcode") {
      capture_.begin(&out_->faultcode);
    } else if (p == ":faultstring") {
      capture_.begin(&out_->faultstring);
    } else if (p == ":faultactor") {
      capture_.begin(&out_->faultactor.emplace());
    } else if (p == ":detail/itk:ToolkitErrorInfo") {
      out_->toolkit_error.emplace();
    } else if (out_->toolkit_error && p.starts_with(kToolkitErrorInfoChild)) {
      captureErrorField(std::string_view(p).substr(kToolkitErrorInfoChild.size()), tag.attributes,
                        &*out_->toolkit_error, &capture_);
    }
    return {};
  }

  Status end(const xml::EndTag&, size_t depth) override {
    capture_.end();
    if (depth == 0)
      out_->code = parseFaultCode(out_->faultcode);
    else
      path_.pop();
    return {};
  }

  Status text(std::u16string_view text) override {
    capture_.append(text);
    return {};
  }

 private:
  SoapFault* out_ = nullptr;
  ElementPath path_;
  TextCapture capture_;
};

// soap:Envelope (spec §4.2, §4.4): the WS-Addressing and WS-Security header fields, the
// mustUnderstand header blocks, and the Body's content (a DE, a fault, a SimpleMessageResponse).
class SoapReader final : public SubReader {
 public:
  void begin(ItkDocument* doc, size_t max_list_entries, NamespaceScope* scope) {
    doc_ = doc;
    soap_ = &doc->soap;
    max_list_entries_ = max_list_entries;
    scope_ = scope;
  }

  Status start(const xml::StartTag& tag, size_t depth) override {
    if (body_reader_ != nullptr && depth >= 2) return body_reader_->start(tag, depth - 2);
    if (depth == 0) {
      soap_->envelope_namespace = xml::toUtf8(tag.uri);
      // Another SOAP version: the answer is a VersionMismatch fault, nothing else is read.
      other_version_ = tag.uri != kSoap11Ns;
      return {};
    }
    if (other_version_) return {};
    if (depth == 1) return startEnvelopeChild(tag);
    if (in_header_) return startHeaderElement(tag, depth);
    if (in_body_ && depth == 2) return startBodyChild(tag);
    return {};
  }

  Status end(const xml::EndTag& tag, size_t depth) override {
    if (body_reader_ != nullptr && depth >= 2) {
      Status s = body_reader_->end(tag, depth - 2);
      if (depth == 2) body_reader_ = nullptr;
      return s;
    }
    capture_.end();
    if (in_header_ && depth >= 2) path_.pop();
    if (depth == 1) in_header_ = in_body_ = false;
    return {};
  }

  Status text(std::u16string_view text) override {
    if (body_reader_ != nullptr) return body_reader_->text(text);
    capture_.append(text);
    return {};
  }

 private:
  Status startEnvelopeChild(const xml::StartTag& tag) {
    if (tag.uri != kSoap11Ns) return {};  // SOAP 1.1 allows trailing foreign elements
    if (tag.local_name == u"Header") {
      if (seen_header_ || seen_body_) return malformed("soap:Header repeated or after soap:Body");
      seen_header_ = in_header_ = true;
    } else if (tag.local_name == u"Body") {
      if (seen_body_) return malformed("soap:Body repeated");
      seen_body_ = in_body_ = true;
    }
    return {};
  }

  static Status malformed(std::string reason) { return deError(DeError::kEnvelope, reason); }

  // SOAP 1.1 §4.2.3: a header block for us (no actor, or actor "next") with mustUnderstand="1"
  // must be understood. We understand WS-Addressing and WS-Security only.
  void checkMustUnderstand(const xml::StartTag& tag) {
    std::u16string_view must;
    if (!tag.attributes.find(kSoap11Ns, u"mustUnderstand", &must)) return;
    if (must != u"1" && must != u"true") return;
    std::u16string_view actor;
    if (tag.attributes.find(kSoap11Ns, u"actor", &actor) && actor != kSoapActorNext) return;
    if (tag.uri == kWsaNs || tag.uri == kWsseNs) return;
    soap_->not_understood.push_back(expandedName(tag.uri, tag.local_name));
  }

  // Captures a header field's text; a second occurrence is recorded and its text ignored.
  void captureOnce(std::optional<std::string>& field) {
    if (field) {
      if (soap_->repeated_header.empty()) soap_->repeated_header = path_.str();
      capture_.begin(&ignored_);
      return;
    }
    capture_.begin(&field.emplace());
  }

  Status startHeaderElement(const xml::StartTag& tag, size_t depth) {
    if (depth == 2) checkMustUnderstand(tag);
    path_.push(tag.uri, tag.local_name);
    const std::string& p = path_.str();
    if (p == "wsa:MessageID")
      captureOnce(soap_->message_id);
    else if (p == "wsa:Action")
      captureOnce(soap_->action);
    else if (p == "wsa:To")
      captureOnce(soap_->to);
    else if (p == "wsa:RelatesTo")
      captureOnce(soap_->relates_to);
    else if (p == "wsa:From/wsa:Address")
      captureOnce(soap_->from);
    else if (p == "wsa:ReplyTo/wsa:Address")
      captureOnce(soap_->reply_to);
    else if (p == "wsa:FaultTo/wsa:Address")
      captureOnce(soap_->fault_to);
    else if (p == "wsa:From/wsa:ReferenceParameters" || p == "wsa:From/wsa:ReferenceProperties") {
      soap_->from_has_reference_parameters = true;
    } else if (p == "wsse:Security/wsu:Timestamp") {
      if (soap_->timestamp) {
        if (soap_->repeated_header.empty()) soap_->repeated_header = p;
      } else {
        WsuTimestamp& ts = soap_->timestamp.emplace();
        std::u16string_view id;
        if (tag.attributes.find(kWsuNs, u"Id", &id)) ts.id = xml::toUtf8(id);
      }
    } else if (p == "wsse:Security/wsu:Timestamp/wsu:Created") {
      captureOnce(soap_->timestamp->created);
    } else if (p == "wsse:Security/wsu:Timestamp/wsu:Expires") {
      captureOnce(soap_->timestamp->expires);
    } else if (p == "wsse:Security/wsse:UsernameToken/wsse:Username") {
      captureOnce(soap_->username);
    }
    return {};
  }

  Status startBodyChild(const xml::StartTag& tag) {
    if (++soap_->body_elements > 1) return {};  // the checks refuse a Body with several
    soap_->body_element = expandedName(tag.uri, tag.local_name);
    if (tag.uri == kItkNs && tag.local_name == u"DistributionEnvelope") {
      soap_->body_kind = SoapBodyKind::kDistributionEnvelope;
      de_reader_.begin(&doc_->de.emplace(), max_list_entries_, scope_);
      body_reader_ = &de_reader_;
    } else if (tag.uri == kSoap11Ns && tag.local_name == u"Fault") {
      soap_->body_kind = SoapBodyKind::kFault;
      fault_reader_.begin(&soap_->fault.emplace());
      body_reader_ = &fault_reader_;
    } else if (tag.uri == kItkNs && tag.local_name == u"SimpleMessageResponse") {
      soap_->body_kind = SoapBodyKind::kSimpleMessageResponse;
      capture_.begin(&soap_->simple_message_response);
      return {};
    } else {
      soap_->body_kind = SoapBodyKind::kOther;
      return {};
    }
    return body_reader_->start(tag, 0);
  }

  ItkDocument* doc_ = nullptr;
  SoapEnvelope* soap_ = nullptr;
  size_t max_list_entries_ = 0;
  NamespaceScope* scope_ = nullptr;
  bool other_version_ = false;
  bool seen_header_ = false;
  bool seen_body_ = false;
  bool in_header_ = false;
  bool in_body_ = false;
  ElementPath path_;  // within soap:Header
  TextCapture capture_;
  std::string ignored_;
  DeReader de_reader_;
  FaultReader fault_reader_;
  SubReader* body_reader_ = nullptr;
};

// Chooses the reader for the root element and hands it every event.
class DocumentReader final : public xml::Handler {
 public:
  DocumentReader(const ReadOptions& options, ItkDocument* doc) : options_(options), doc_(doc) {}

  Status startPrefixMapping(std::u16string_view prefix, std::u16string_view uri) override {
    scope_.declare(prefix, uri);
    return {};
  }

  Status startElement(const xml::StartTag& tag) override {
    scope_.open(tag.depth);
    if (tag.depth == 1) {
      if (Status s = chooseRoot(tag); !s.ok()) return s;
    }
    return root_reader_->start(tag, tag.depth - 1);
  }

  Status endElement(const xml::EndTag& tag) override {
    Status s = root_reader_->end(tag, tag.depth - 1);
    scope_.close(tag.depth);
    return s;
  }

  Status characters(std::u16string_view text) override {
    return root_reader_ ? root_reader_->text(text) : Status();
  }

 private:
  Status chooseRoot(const xml::StartTag& tag) {
    if (tag.uri == kItkNs && tag.local_name == u"DistributionEnvelope") {
      doc_->root = DocumentRoot::kDistributionEnvelope;
      de_reader_.begin(&doc_->de.emplace(), options_.max_list_entries, &scope_);
      root_reader_ = &de_reader_;
    } else if (tag.local_name == u"Envelope") {
      doc_->root = DocumentRoot::kSoapEnvelope;
      soap_reader_.begin(doc_, options_.max_list_entries, &scope_);
      root_reader_ = &soap_reader_;
    } else if (tag.uri == kItkNs && tag.local_name == u"InfrastructureResponse") {
      scope_.stopTracking();  // only a DE inside SOAP inherits declarations
      doc_->root = DocumentRoot::kInfrastructureResponse;
      infrastructure_reader_.begin(&doc_->infrastructure_response.emplace());
      root_reader_ = &infrastructure_reader_;
    } else if (tag.uri == kHl7Ns && tag.local_name == u"BusinessResponseMessage") {
      scope_.stopTracking();
      doc_->root = DocumentRoot::kBusinessResponse;
      business_reader_.begin(&doc_->business_response.emplace());
      root_reader_ = &business_reader_;
    } else {
      return deError(DeError::kEnvelope,
                     "root element " + expandedName(tag.uri, tag.local_name) +
                         " is not an itk:DistributionEnvelope, a SOAP Envelope or an ITK "
                         "acknowledgement");
    }
    return {};
  }

  const ReadOptions& options_;
  ItkDocument* doc_;
  NamespaceScope scope_;
  DeReader de_reader_;
  SoapReader soap_reader_;
  InfrastructureResponseReader infrastructure_reader_;
  BusinessResponseReader business_reader_;
  SubReader* root_reader_ = nullptr;
};

}  // namespace
}  // namespace internal

Result<ItkDocument> readItkDocument(std::string_view input, const ReadOptions& options) {
  ItkDocument doc;
  internal::DocumentReader reader(options, &doc);
  if (Status s = xml::parse(input, reader, options.xml); !s.ok()) return s;
  return doc;
}

Result<MessageHeader> readDistributionEnvelope(std::string_view input, const ReadOptions& options) {
  Result<ItkDocument> doc = readItkDocument(input, options);
  if (!doc.ok()) return doc.status();
  if (doc->root != DocumentRoot::kDistributionEnvelope) {
    return deError(DeError::kEnvelope, "the document is not an itk:DistributionEnvelope");
  }
  return checkDistributionEnvelope(*doc->de);
}

}  // namespace itk::itk2
