// ITK SOAP+DE requests of a chosen size for the end-to-end benchmark (tests/bench/e2e.py), built
// from the spec's facts (spec/itk2.md §4.2 the request envelope: SOAP 1.1, WS-Addressing
// MessageID/Action/To, WS-Security Timestamp and UsernameToken; §1.2 the Distribution
// Envelope: service, tracking id, address list, audit identity, manifest, sender address,
// handling specification (§2), payloads), carrying a CDA document whose text is padded so that the
// whole HTTP body is exactly the requested size (2 KB and up: unpadded it is just under 2 KB).
//
// The router de-duplicates on sender + tracking id and checks wsu:Expires, so every request gets
// a fresh tracking id and wsa:MessageID and the current time. Those fields sit in the first
// kilobyte or two (the "head"); the padded payload and the closing tags (the "tail") are the same
// for every request and are sent from one shared buffer.
//
// Header-only, no dependency on the router's libraries (the generator must not share code with
// what it measures). Infacks and business acks are not requested: the benchmark measures
// forwarding, not the acknowledgement traffic the router would generate besides.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace itk::bench {

inline constexpr std::string_view kService = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";
inline constexpr std::string_view kRecipient = "urn:nhs-uk:addressing:ods:RHM:team1";
inline constexpr std::string_view kSender = "urn:nhs-uk:addressing:ods:GP001:bench";

// An upper-case UUID from a 64-bit prefix and a 64-bit sequence number (36 characters).
inline void formatUuid(char* out, uint64_t prefix, uint64_t seq) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08X-%04X-%04X-%04X-%04X%08X",
                static_cast<unsigned>(prefix >> 32), static_cast<unsigned>((prefix >> 16) & 0xFFFF),
                static_cast<unsigned>(prefix & 0xFFFF), static_cast<unsigned>((seq >> 48) & 0xFFFF),
                static_cast<unsigned>((seq >> 32) & 0xFFFF),
                static_cast<unsigned>(seq & 0xFFFFFFFF));
  for (int i = 0; i < 36; ++i) out[i] = buf[i];
}

// xs:dateTime in UTC to the second: "2026-11-25T10:00:00Z" (20 characters).
inline void formatTimestamp(char* out, std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  for (int i = 0; i < 20; ++i) out[i] = buf[i];
}

class ItkMessage {
 public:
  // A request for `to_url` whose body is `body_bytes` long (at least the unpadded size, ~1.9 KB).
  ItkMessage(size_t body_bytes, std::string_view to_url) {
    const std::string uuid(36, '0'), time(20, '0');
    std::string head = R"(<?xml version="1.0" encoding="UTF-8"?>)"
                       R"(<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" )"
                       R"(xmlns:wsa="http://www.w3.org/2005/08/addressing" )"
                       R"(xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/)"
                       R"(oasis-200401-wss-wssecurity-secext-1.0.xsd" )"
                       R"(xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/)"
                       R"(oasis-200401-wss-wssecurity-utility-1.0.xsd">)"
                       R"(<soap:Header><wsa:MessageID>)";
    message_id_at_ = head.size();
    head += uuid;
    head += "</wsa:MessageID><wsa:Action>";
    head += kService;
    head += "</wsa:Action><wsa:To>";
    head += to_url;
    head += R"(</wsa:To><wsse:Security>)"
            R"(<wsu:Timestamp wsu:Id="uuid_D6CD5232-14CF-11DF-9423-1F9A910D4703">)"
            R"(<wsu:Created>)";
    created_at_ = head.size();
    head += time;
    head += "</wsu:Created><wsu:Expires>";
    expires_at_ = head.size();
    head += time;
    head += R"(</wsu:Expires></wsu:Timestamp><wsse:UsernameToken><wsse:Username>gp-system-a)"
            R"(</wsse:Username></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>)"
            R"(<itk:DistributionEnvelope xmlns:itk="urn:nhs-itk:ns:201005">)"
            R"(<itk:header service=")";
    head += kService;
    head += R"(" trackingid=")";
    tracking_id_at_ = head.size();
    head += uuid;
    head += R"("><itk:addresslist><itk:address uri=")";
    head += kRecipient;
    head +=
        R"("/></itk:addresslist>)"
        R"(<itk:auditIdentity><itk:id uri="urn:nhs-uk:identity:ods:GP001"/></itk:auditIdentity>)"
        R"(<itk:manifest count="1"><itk:manifestitem )"
        R"(id="uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5" mimetype="text/xml" )"
        R"(profileid="urn:nhs-en:profile:ambulanceServiceSummaryPatientReport-v1-1"/>)"
        R"(</itk:manifest><itk:senderAddress uri=")";
    head += kSender;
    head +=
        R"("/><itk:handlingSpecification>)"
        R"(<itk:spec key="urn:nhs-itk:ns:201005:infackrequested" value="false"/>)"
        R"(<itk:spec key="urn:nhs-itk:ns:201005:interaction" )"
        R"(value="urn:nhs-itk:interaction:primaryRecipientAmbulanceServicePatientReport-v1-0"/>)"
        R"(</itk:handlingSpecification></itk:header>)"
        R"(<itk:payloads count="1"><itk:payload id="uuid_57B3E02B-BF35-42DB-BD14-7B2E462D06D5">)"
        R"(<ClinicalDocument xmlns="urn:hl7-org:v3">)"
        R"(<title>Ambulance Service Summary Patient Report</title><text>)";
    const std::string end =
        "</text></ClinicalDocument>"
        "</itk:payload></itk:payloads></itk:DistributionEnvelope></soap:Body></soap:Envelope>";
    // Clinical-looking text (no markup characters) up to the requested size.
    static constexpr std::string_view kFiller =
        "Pulse 104, BP 152/94, SpO2 95 percent on air, RR 22, GCS 15, temperature 37.1; "
        "central chest pain radiating to the left arm since 09:10, sweating and nausea. ";
    std::string tail;
    const size_t fixed = head.size() + end.size();
    const size_t pad = body_bytes > fixed ? body_bytes - fixed : 0;
    tail.reserve(pad + end.size());
    while (tail.size() < pad)
      tail += kFiller.substr(0, std::min(kFiller.size(), pad - tail.size()));
    tail += end;
    head_ = std::move(head);
    tail_ = std::move(tail);
  }

  // The part that changes per request; copy it, then fill() the copy.
  const std::string& head() const { return head_; }
  // The part every request shares.
  const std::string& tail() const { return tail_; }
  size_t size() const { return head_.size() + tail_.size(); }

  // Gives `head` (a copy of head()) a fresh wsa:MessageID and tracking id and the timestamps
  // Created = now, Expires = now + 10 minutes.
  void fill(std::string& head, uint64_t id_prefix, uint64_t seq, std::time_t now) const {
    formatUuid(head.data() + message_id_at_, id_prefix ^ 0x5A5A5A5AA5A5A5A5ull, seq);
    formatUuid(head.data() + tracking_id_at_, id_prefix, seq);
    formatTimestamp(head.data() + created_at_, now);
    formatTimestamp(head.data() + expires_at_, now + 600);
  }

 private:
  std::string head_;
  std::string tail_;
  size_t message_id_at_ = 0;
  size_t tracking_id_at_ = 0;
  size_t created_at_ = 0;
  size_t expires_at_ = 0;
};

}  // namespace itk::bench
