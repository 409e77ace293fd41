#include "itk/dts/control_file.h"

#include <cctype>

#include "itk/xml/sax.h"
#include "itk/xml/text.h"

namespace itk::dts {

namespace {

void element(std::string& out, std::string_view name, std::string_view value, bool always) {
  if (value.empty() && !always) return;
  out += "  <";
  out += name;
  out += '>';
  xml::appendEscapedText(out, value);
  out += "</";
  out += name;
  out += ">\n";
}

std::string_view yesNo(bool b) {
  return b ? "Y" : "N";
}

// §6.1 (CIAOU YesNoAdapter): Y/N. Lower case is tolerated on read.
bool parseYesNo(std::string_view v, bool* out) {
  if (v == "Y" || v == "y") return *out = true, true;
  if (v == "N" || v == "n" || v.empty()) return *out = false, true;
  return false;
}

// Collects the text of DTSControl's children (depth 2) and of StatusRecord's (depth 3).
class ControlHandler final : public xml::Handler {
 public:
  Status startElement(const xml::StartTag& tag) override {
    text_.clear();
    if (tag.depth == 1) {
      if (!xml::equalsAscii(tag.local_name, "DTSControl") || !tag.uri.empty())
        return Status::invalid("the root element is " + xml::toUtf8(tag.qname) +
                               ", not DTSControl");
      return {};
    }
    if (tag.depth == 2 && xml::equalsAscii(tag.local_name, "StatusRecord")) {
      in_status_ = true;
      control.status_records.emplace_back();
      return {};
    }
    if (tag.depth > 3 || (tag.depth == 3 && !in_status_))
      return Status::invalid("unexpected nested element " + xml::toUtf8(tag.qname));
    return {};
  }

  Status characters(std::u16string_view text) override {
    // 4 KB of text per element is plenty for any control field.
    if (text_.size() + text.size() > 4096) return Status::invalid("a control field is too long");
    xml::appendUtf8(text_, text);
    return {};
  }

  Status endElement(const xml::EndTag& tag) override {
    std::string value(xml::trimXmlSpace(text_));
    text_.clear();
    std::string name = xml::toUtf8(tag.local_name);
    if (tag.depth == 2 && name == "StatusRecord") {
      in_status_ = false;
      return {};
    }
    if (tag.depth == 3) {
      StatusRecord& r = control.status_records.back();
      if (name == "DateTime")
        r.date_time = value;
      else if (name == "Event")
        r.event = value;
      else if (name == "Status")
        r.status = value;
      else if (name == "StatusCode")
        r.status_code = value;
      else if (name == "Description")
        r.description = value;
      return {};
    }
    if (tag.depth != 2) return {};
    ControlFile& c = control;
    bool ok = true;
    if (name == "Version")
      c.version = value;
    else if (name == "AddressType")
      c.address_type = value;
    else if (name == "MessageType")
      c.message_type = value;
    else if (name == "From_DTS")
      c.from_dts = value;
    else if (name == "To_DTS")
      c.to_dts = value;
    else if (name == "From_ESMTP")
      c.from_esmtp = value;
    else if (name == "To_ESMTP")
      c.to_esmtp = value;
    else if (name == "Subject")
      c.subject = value;
    else if (name == "LocalId")
      c.local_id = value;
    else if (name == "DTSId")
      c.dts_id = value;
    else if (name == "PartnerId")
      c.partner_id = value;
    else if (name == "Compress")
      ok = parseYesNo(value, &c.compress);
    else if (name == "Encrypted")
      ok = parseYesNo(value, &c.encrypted);
    else if (name == "WorkflowId")
      c.workflow_id = value;
    else if (name == "ProcessId")
      c.process_id = value;
    else if (name == "DataChecksum" || name == "DataCheckSum")  // §6.1: both spellings exist
      c.data_checksum = value;
    else if (name == "IsCompressed")
      ok = parseYesNo(value, &c.is_compressed);
    if (!ok) return Status::invalid(name + " must be Y or N, not '" + value + "'");
    return {};
  }

  ControlFile control;

 private:
  std::string text_;
  bool in_status_ = false;
};

}  // namespace

std::string buildControlFile(const ControlFile& c) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DTSControl>\n";
  element(out, "Version", c.version, true);
  element(out, "AddressType", c.address_type, true);
  element(out, "MessageType", c.message_type, true);
  element(out, "From_DTS", c.from_dts, true);
  element(out, "To_DTS", c.to_dts, true);
  element(out, "From_ESMTP", c.from_esmtp, false);
  element(out, "To_ESMTP", c.to_esmtp, false);
  element(out, "Subject", c.subject, true);
  element(out, "LocalId", c.local_id, true);
  element(out, "DTSId", c.dts_id, false);
  element(out, "PartnerId", c.partner_id, false);
  element(out, "Compress", yesNo(c.compress), true);
  element(out, "Encrypted", yesNo(c.encrypted), true);
  element(out, "WorkflowId", c.workflow_id, true);
  element(out, "ProcessId", c.process_id, false);
  element(out, "DataChecksum", c.data_checksum, false);
  element(out, "IsCompressed", yesNo(c.is_compressed), true);
  for (const StatusRecord& r : c.status_records) {
    out += "  <StatusRecord>\n";
    auto sub = [&out](std::string_view name, std::string_view value) {
      out += "  ";
      element(out, name, value, true);
    };
    sub("DateTime", r.date_time);
    sub("Event", r.event);
    sub("Status", r.status);
    sub("StatusCode", r.status_code);
    sub("Description", r.description);
    out += "  </StatusRecord>\n";
  }
  out += "</DTSControl>\n";
  return out;
}

Result<ControlFile> parseControlFile(std::string_view document) {
  xml::Limits limits;
  limits.max_bytes = 64 * 1024;  // a control file is a few hundred bytes
  limits.max_depth = 3;
  limits.max_elements = 200;
  limits.max_attributes = 16;
  ControlHandler handler;
  Status s = xml::parse(document, handler, limits);
  if (!s.ok()) return Status::invalid("unreadable DTS control file: " + s.message());
  return std::move(handler.control);
}

bool isMailboxId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace itk::dts
