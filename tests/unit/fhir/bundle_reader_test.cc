// The ITK3 Bundle reader on synthetic documents: one rule per test, each refusal with its ITK3
// response code.
#include <gtest/gtest.h>

#include "itk/fhir/itk3.h"

namespace itk::itk3 {
namespace {

std::string key(const std::string& name, const std::string& value_xml) {
  return "<extension url=\"" + name + "\">" + value_xml + "</extension>";
}
std::string boolean(bool v) {
  return std::string("<valueBoolean value=\"") + (v ? "true" : "false") + "\"/>";
}

struct Doc {
  std::string root_open = "<Bundle xmlns=\"http://hl7.org/fhir\">";
  std::string root_close = "</Bundle>";
  std::string type = "message";
  std::string header_id = "11111111-2222-3333-4444-555555555555";
  std::string event = "ITK007C";
  std::string source = "MESHGP0001";
  std::string sender = "urn:uuid:org-1";
  std::string receiver = "urn:uuid:org-2";
  std::string focus = "urn:uuid:payload-1";
  std::string bus = boolean(true);
  std::string inf = boolean(true);
  std::string recipient =
      "<valueCoding><system value=\"https://fhir.nhs.uk/STU3/CodeSystem/ITK-RecipientType-1\"/>"
      "<code value=\"FA\"/><display value=\"For Action\"/></valueCoding>";
  std::string definition =
      "<valueReference><reference value=\"https://fhir.nhs.uk/STU3/MessageDefinition/X-1\"/>"
      "</valueReference>";
  std::string sender_reference = "<valueString value=\"REF-1\"/>";
  std::string local = "<valueString value=\"None\"/>";
  std::string extra_keys;    // more sub-extensions inside the complex extension
  std::string header_extra;  // more elements on the MessageHeader, after the extension
  std::string response;      // a response element
  std::string first_resource = "MessageHeader";
  bool handling = true;
  std::string more_entries;

  std::string handlingXml() const {
    if (!handling) return {};
    std::string x =
        "<extension url=\"https://fhir.nhs.uk/STU3/StructureDefinition/"
        "Extension-ITK-MessageHandling-2\">";
    if (!bus.empty()) x += key("BusAckRequested", bus);
    if (!inf.empty()) x += key("InfAckRequested", inf);
    if (!recipient.empty()) x += key("RecipientType", recipient);
    if (!definition.empty()) x += key("MessageDefinition", definition);
    if (!sender_reference.empty()) x += key("SenderReference", sender_reference);
    if (!local.empty()) x += key("LocalExtension", local);
    return x + extra_keys + "</extension>";
  }

  std::string str() const {
    std::string h = "<" + first_resource + "><id value=\"" + header_id + "\"/>";
    h += "<meta><profile value=\"https://fhir.nhs.uk/STU3/StructureDefinition/"
         "ITK-MessageHeader-2\"/></meta>";
    h += handlingXml() + header_extra;
    if (!event.empty()) {
      h += "<event><system value=\"https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2\"/>"
           "<code value=\"" +
           event + "\"/></event>";
    }
    if (!receiver.empty()) h += "<receiver><reference value=\"" + receiver + "\"/></receiver>";
    if (!sender.empty()) h += "<sender><reference value=\"" + sender + "\"/></sender>";
    if (!source.empty()) h += "<source><endpoint value=\"" + source + "\"/></source>";
    h += response;
    if (!focus.empty()) h += "<focus><reference value=\"" + focus + "\"/></focus>";
    h += "</" + first_resource + ">";
    return root_open + "<id value=\"b-1\"/><meta><profile value=\"https://fhir.nhs.uk/STU3/" +
           "StructureDefinition/ITK-Message-Bundle-1\"/></meta><type value=\"" + type + "\"/>" +
           "<entry><fullUrl value=\"urn:uuid:" + header_id + "\"/><resource>" + h +
           "</resource></entry>" +
           "<entry><fullUrl value=\"urn:uuid:org-1\"/><resource><Organization><id value=\"o1\"/>"
           "<identifier><system value=\"https://fhir.nhs.uk/Id/ods-organization-code\"/>"
           "<value value=\"SND01\"/></identifier></Organization></resource></entry>"
           "<entry><fullUrl value=\"urn:uuid:org-2\"/><resource><Organization><id value=\"o2\"/>"
           "<identifier><system value=\"https://fhir.nhs.uk/Id/ods-organization-code\"/>"
           "<value value=\"RCV02\"/></identifier></Organization></resource></entry>" +
           more_entries + root_close;
  }
};

std::string codeOf(const Result<MessageBundle>& r) {
  return r.ok() ? "ok" : r.status().vocabularyCode();
}

Result<MessageBundle> read(const Doc& d, bool strict = false) {
  ReadOptions o;
  o.strict = strict;
  return readMessageBundle(d.str(), o);
}

TEST(BundleReader, ReadsAConformantMessage) {
  Doc d;
  auto r = read(d, /*strict=*/true);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  MessageHeader h = toMessageHeader(*r);
  EXPECT_EQ(h.format, MessageFormat::kItk3);
  EXPECT_EQ(h.kind, MessageKind::kBusiness);
  EXPECT_EQ(h.tracking_id, d.header_id);
  EXPECT_EQ(h.interaction, "ITK007C");
  EXPECT_EQ(h.service, "https://fhir.nhs.uk/STU3/MessageDefinition/X-1");
  EXPECT_EQ(h.addresses, std::vector<std::string>{"urn:nhs-uk:addressing:ods:RCV02"});
  EXPECT_EQ(h.sender_address, "MESHGP0001");
  EXPECT_EQ(h.audit_identity, "urn:nhs-uk:identity:ods:SND01");
  EXPECT_TRUE(h.infack_requested);
  EXPECT_TRUE(h.busack_requested);
  EXPECT_EQ(r->header.handling.sender_reference, std::optional<std::string>("REF-1"));
  EXPECT_TRUE(r->tolerated.empty());
}

TEST(BundleReader, DecodeKeepsTheBytesUnchanged) {
  auto bytes = std::make_shared<const std::string>(Doc().str());
  auto m = decodeMessage(bytes);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->body.get(), bytes.get());
}

TEST(BundleReader, PrefixedFhirNamespaceReadsTheSame) {
  Doc d;
  std::string plain = d.str();
  // Same document with every FHIR element prefixed "f:".
  std::string prefixed;
  for (size_t i = 0; i < plain.size(); ++i) {
    prefixed += plain[i];
    if (plain[i] == '<') {
      if (plain[i + 1] == '/') {
        prefixed += '/';
        ++i;
      }
      prefixed += "f:";
    }
  }
  size_t ns = prefixed.find("xmlns=");
  prefixed.replace(ns, 6, "xmlns:f=");
  auto r = readMessageBundle(prefixed);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->header.id, d.header_id);
  EXPECT_EQ(r->receiverOds(), "RCV02");
}

TEST(BundleReader, HostileOrUnreadableInputIs10009) {
  Doc d;
  std::string doc = d.str();
  EXPECT_EQ(codeOf(readMessageBundle("<!DOCTYPE Bundle [<!ENTITY x \"y\">]>" + doc)), "10009");
  EXPECT_EQ(codeOf(readMessageBundle(doc.substr(0, doc.size() - 3))), "10009");
  EXPECT_EQ(codeOf(readMessageBundle(std::string("\xFF\xFE<\0B\0", 6))), "10009");
  EXPECT_EQ(codeOf(readMessageBundle("")), "10009");
  EXPECT_EQ(codeOf(readMessageBundle("not xml at all")), "10009");
  // Well-formed but not a FHIR Bundle: an ITK2 envelope, a Bundle in no namespace.
  EXPECT_EQ(
      codeOf(readMessageBundle("<itk:DistributionEnvelope xmlns:itk=\"urn:nhs-itk:ns:201005\"/>")),
      "10009");
  Doc no_ns;
  no_ns.root_open = "<Bundle>";
  EXPECT_EQ(codeOf(read(no_ns)), "10009");
  ReadOptions tight;
  tight.limits.max_depth = 4;
  EXPECT_EQ(codeOf(readMessageBundle(doc, tight)), "10009");
  tight = {};
  tight.limits.max_bytes = 100;
  EXPECT_EQ(codeOf(readMessageBundle(doc, tight)), "10009");
}

TEST(BundleReader, UnusableHeadersAre20006) {
  Doc d;
  d.type = "document";
  EXPECT_EQ(codeOf(read(d)), "20006");
  d = {};
  d.first_resource = "Composition";
  EXPECT_EQ(codeOf(read(d)), "20006");
  d = {};
  d.header_id = "";
  EXPECT_EQ(codeOf(read(d)), "20006");
  d = {};
  d.event = "";
  EXPECT_EQ(codeOf(read(d)), "20006");
  d = {};
  d.source = "";
  EXPECT_EQ(codeOf(read(d)), "20006");
  std::string no_entries =
      "<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"message\"/></Bundle>";
  EXPECT_EQ(codeOf(readMessageBundle(no_entries)), "20006");
}

TEST(BundleReader, SenderAndFocusAreToleratedOnlyWhenLenient) {
  Doc d;
  d.focus = "";
  auto lenient = read(d);
  ASSERT_TRUE(lenient.ok());
  EXPECT_EQ(lenient->tolerated.size(), 1u);
  EXPECT_EQ(codeOf(read(d, true)), "20006");
  d = {};
  d.sender = "";
  EXPECT_EQ(codeOf(read(d)), "ok");
  EXPECT_EQ(codeOf(read(d, true)), "20006");
}

TEST(BundleReader, HandlingKeyValuesHaveTheirOwnCodes) {
  Doc d;
  d.inf = "<valueBoolean value=\"yes\"/>";
  EXPECT_EQ(codeOf(read(d)), "10002");
  d = {};
  d.bus = "<valueString value=\"true\"/>";
  EXPECT_EQ(codeOf(read(d)), "10003");
  d = {};
  d.definition = "<valueReference><display value=\"x\"/></valueReference>";
  EXPECT_EQ(codeOf(read(d)), "10004");
  d = {};
  d.sender_reference = "<valueString value=\"" + std::string(256, 'x') + "\"/>";
  EXPECT_EQ(codeOf(read(d)), "10007");
  d.sender_reference = "<valueString value=\"" + std::string(255, 'x') + "\"/>";
  EXPECT_EQ(codeOf(read(d)), "ok");
  d = {};
  d.recipient = "<valueCoding><code value=\"XX\"/></valueCoding>";
  EXPECT_EQ(codeOf(read(d)), "10010");
  d = {};
  d.local = "";
  d.extra_keys = key("LocalExtension", "");
  EXPECT_EQ(codeOf(read(d)), "10001");
}

TEST(BundleReader, MissingKeysAreToleratedLenientlyAndRefusedStrictly) {
  Doc d;
  d.definition = "";
  d.inf = "";
  auto r = read(d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header.handling.missingKeys(),
            (std::vector<std::string>{"InfAckRequested", "MessageDefinition"}));
  MessageHeader h = toMessageHeader(*r);
  EXPECT_FALSE(h.infack_requested);
  EXPECT_EQ(h.service, "");
  EXPECT_EQ(codeOf(read(d, true)), "10001");
  d = {};
  d.handling = false;
  EXPECT_EQ(codeOf(read(d)), "ok");
  EXPECT_EQ(codeOf(read(d, true)), "10001");
}

TEST(BundleReader, MisplacedSiblingsAreReadButNeverOverrideTheRealKey) {
  Doc d;
  d.sender_reference = "";
  d.header_extra = key("SenderReference", "<valueString value=\"SIBLING\"/>") +
                   key("LocalExtension", "<valueString value=\"L\"/>");
  d.local = "<valueString value=\"INSIDE\"/>";
  auto r = read(d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header.handling.sender_reference, std::optional<std::string>("SIBLING"));
  EXPECT_EQ(r->header.handling.local_extension, std::optional<std::string>("INSIDE"));
  EXPECT_EQ(r->header.handling.misplaced,
            (std::vector<std::string>{"SenderReference", "LocalExtension"}));
  EXPECT_EQ(codeOf(read(d, true)), "10001");
}

TEST(BundleReader, DuplicateKeysPriorityLocalKeysAndLegacyV1) {
  Doc d;
  d.extra_keys = key("InfAckRequested", boolean(false)) +
                 key("Priority",
                     "<valueCoding><system value=\"https://fhir.nhs.uk/STU3/CodeSystem/"
                     "ITK-Priority-1\"/><code value=\"urgent\"/></valueCoding>") +
                 key("MyLocalKey", "<valueString value=\"v\"/>");
  auto r = read(d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header.handling.inf_ack_requested, std::optional<bool>(true));  // first one wins
  EXPECT_EQ(r->header.handling.priority->code, "urgent");
  EXPECT_EQ(r->header.handling.local_keys, std::vector<std::string>{"MyLocalKey"});
  EXPECT_EQ(codeOf(read(d, true)), "10001");  // the duplicate

  Doc v1;
  v1.handling = false;
  v1.header_extra =
      "<extension url=\"https://fhir.nhs.uk/STU3/StructureDefinition/"
      "extension-itk-messagehandling-1\"><extension url=\"key\"><valueCoding><code "
      "value=\"INFACK\"/></valueCoding></extension></extension>";
  auto legacy = read(v1);
  ASSERT_TRUE(legacy.ok());
  EXPECT_TRUE(legacy->header.handling.legacy_v1);
  EXPECT_FALSE(legacy->header.handling.present);
  EXPECT_EQ(codeOf(read(v1, true)), "10001");
}

TEST(BundleReader, RelativeReferencesResolve) {
  Doc d;
  d.receiver = "Organization/o2";
  auto r = read(d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->receiverOds(), "RCV02");
  d.receiver = "urn:uuid:nowhere";
  r = read(d);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(toMessageHeader(*r).addresses.empty());
}

TEST(BundleReader, ResponsesAreClassifiedByTheItkCode) {
  auto respond = [](const std::string& code, const std::string& itk_code,
                    const std::string& system) {
    Doc d;
    d.event = "ITK008M";
    d.inf = boolean(false);
    d.bus = boolean(false);
    d.response = "<response><identifier value=\"orig-1\"/><code value=\"" + code +
                 "\"/><details><reference value=\"urn:uuid:oo\"/></details></response>";
    if (!itk_code.empty()) {
      d.more_entries =
          "<entry><fullUrl value=\"urn:uuid:oo\"/><resource><OperationOutcome><issue>"
          "<severity value=\"fatal\"/><code value=\"processing\"/><details><coding><system "
          "value=\"" +
          system + "\"/><code value=\"" + itk_code +
          "\"/></coding></details></issue></OperationOutcome></resource></entry>";
    }
    return read(d);
  };
  const std::string itk = "https://fhir.nhs.uk/STU3/CodeSystem/ITK-ResponseCodes-1";
  auto ok_but_negative = respond("ok", "20015", itk);
  ASSERT_TRUE(ok_but_negative.ok());
  MessageHeader h = toMessageHeader(*ok_but_negative);
  EXPECT_EQ(h.kind, MessageKind::kItk3Response);
  EXPECT_EQ(h.acknowledged_tracking_id, "orig-1");
  EXPECT_FALSE(h.ack_positive);
  EXPECT_TRUE(toMessageHeader(*respond("fatal-error", "20013", itk)).ack_positive);
  // The legacy acknowledgement system is recognised.
  EXPECT_FALSE(
      toMessageHeader(*respond("ok", "10009", "https://fhir.nhs.uk/STU3/ITK-Acknowledgement-1"))
          .ack_positive);
  // No known code: response.code decides.
  EXPECT_TRUE(toMessageHeader(*respond("ok", "", itk)).ack_positive);
  EXPECT_FALSE(toMessageHeader(*respond("fatal-error", "99999", itk)).ack_positive);
  EXPECT_EQ(codeOf(respond("maybe", "20013", itk)), "20006");
  Doc no_identifier;
  no_identifier.event = "ITK008M";
  no_identifier.response = "<response><code value=\"ok\"/></response>";
  EXPECT_EQ(codeOf(read(no_identifier)), "20006");
}

TEST(BundleReader, AFailureReportsWhatWasRead) {
  Doc d;
  std::string doc = d.str();
  // Cut inside the MessageHeader: the id was seen but the header is not whole.
  size_t cut = doc.find("<event>");
  ReadFailure early;
  EXPECT_FALSE(readMessageBundle(doc.substr(0, cut), {}, &early).ok());
  EXPECT_FALSE(early.header_complete);
  EXPECT_EQ(early.acknowledgedId(), kUnreadableId);
  EXPECT_EQ(early.inf_ack_requested, std::optional<bool>(true));
  // Cut after it: the id can be answered.
  ReadFailure late;
  EXPECT_FALSE(readMessageBundle(doc.substr(0, doc.size() - 20), {}, &late).ok());
  EXPECT_TRUE(late.header_complete);
  EXPECT_EQ(late.acknowledgedId(), d.header_id);
  EXPECT_EQ(late.sender_reference, std::optional<std::string>("REF-1"));
  EXPECT_EQ(late.status.vocabularyCode(), "10009");
}

TEST(BundleReader, LooksLikeBundle) {
  EXPECT_TRUE(looksLikeBundle(Doc().str()));
  EXPECT_TRUE(looksLikeBundle("<?xml version=\"1.0\"?>\n<!-- c -->\n<f:Bundle xmlns:f=\"x\">"));
  EXPECT_FALSE(looksLikeBundle("<itk:DistributionEnvelope xmlns:itk=\"urn:nhs-itk:ns:201005\">"));
  EXPECT_FALSE(looksLikeBundle("garbage"));
  EXPECT_FALSE(looksLikeBundle("<BundleX/>"));
}

}  // namespace
}  // namespace itk::itk3
