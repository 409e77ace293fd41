// The message as the router sees it: immutable bytes forwarded verbatim, plus the header fields
// read from them that routing, de-duplication and acknowledgement tracking need.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "itk/clock.h"

namespace itk {

enum class MessageFormat : uint8_t {
  kItk2 = 0,  // an ITK2 Distribution Envelope (body = the DE element's bytes)
  kItk3 = 1,  // an ITK3 FHIR STU3 message Bundle (body = the Bundle document)
};

enum class MessageKind : uint8_t {
  kBusiness = 0,            // an ordinary clinical message
  kInfrastructureAck = 1,   // ITK2 InfrastructureResponse (infack or infnack)
  kBusinessAck = 2,         // ITK2 BusinessResponseMessage (busack or busnack)
  kItk3Response = 3,        // ITK3 ITK008M response
};

std::string_view formatName(MessageFormat f);
std::string_view kindName(MessageKind k);

// Fields read from the message itself (never from transport headers: spec/itk2.md §5.1).
struct MessageHeader {
  MessageFormat format = MessageFormat::kItk2;
  MessageKind kind = MessageKind::kBusiness;
  // ITK2 header/@service; ITK3 the MessageDefinition reference.
  std::string service;
  // ITK2 the interaction handling specification; ITK3 the MessageHeader.event code (ITK007C).
  std::string interaction;
  // ITK2 header/@trackingid; ITK3 MessageHeader.id.
  std::string tracking_id;
  // ITK2 the address list (address/@uri); ITK3 the recipient (MESH mailbox or ODS address).
  std::vector<std::string> addresses;
  // ITK2 senderAddress/@uri; ITK3 MessageHeader.source.endpoint (the sender's MESH mailbox).
  std::string sender_address;
  // ITK2 auditIdentity/id/@uri (the first); ITK3 the sender reference.
  std::string audit_identity;
  bool infack_requested = false;
  bool busack_requested = false;
  // Acknowledgements only: the tracking id they answer and whether they are positive.
  std::string acknowledged_tracking_id;
  bool ack_positive = true;
};

// Where and how a message arrived. Audit uses it; it never drives routing.
struct Origin {
  std::string transport;             // transport type that received it: "soap", "mesh", ...
  std::string peer;                  // remote ip:port, MESH mailbox, DTS mailbox
  std::string authenticated_as;      // TLS client subject, wsse:Username, MESH mailbox
  std::string transport_message_id;  // wsa:MessageID, MESH message id, DTS/ebXML id
  // Transport specifics needed to answer later (e.g. "mesh.workflow", "mesh.from").
  std::vector<std::pair<std::string, std::string>> attributes;

  const std::string* attribute(std::string_view key) const {
    for (const auto& [k, v] : attributes)
      if (k == key) return &v;
    return nullptr;
  }
};

struct Message {
  int64_t id = 0;  // the store's id; 0 until accepted
  MessageHeader header;
  std::shared_ptr<const std::string> body;  // forwarded byte-for-byte
  Origin origin;
  TimePoint received_at{};
};

using MessagePtr = std::shared_ptr<const Message>;

}  // namespace itk
