// The Spine transport (spec/itk2.md §7): the ITK Trunk, i.e. a Distribution Envelope carried in a
// COPC_IN000001GB01 ebXML message over the Spine TMS (reliable messaging, asynchronous acks).
//
// router.yaml (docs/CONFIGURATION.md#spine):
//   transports:
//     spine:
//       party_key: X26HUB-807354          # ours: eb:From PartyId of what we send, To of acks
//       asid: "200000001234"              # ours: the HL7 wrapper's sender ASID
//       cpa_id: S3024519A3110234          # default eb:CPAId (an endpoint may name its own)
//       listen: 0.0.0.0:8443              # optional: without it the transport only sends
//       path: /reliablemessaging/intermediary
//       tls: {cert: ..., key: ..., ca: ..., client_cert: required}   # optional (the listener)
//       limits: {max_body_bytes: ..., ...}                           # optional (the listener)
//       client_tls: {ca: ..., cert: ..., key: ...}  # optional: for acks we POST (and endpoints
//                                                   # without their own tls)
//       ack_urls:                         # where asynchronous acks go, by the sender's party key
//         BBB-654321: https://mhs.example/reliablemessaging/intermediary
//       ack_timeout: 30s                  # how long a sent message waits for its ebXML ack
//       request_timeout: 30s              # outbound HTTP exchanges (acks)
//
// Routing-table endpoint:
//   spine-trunk:
//     transport: spine
//     url: https://msg.spine.nhs.example/reliablemessaging/reliablerequest   # required
//     party_key: BBB-654321    # the receiving MHS's party key (eb:To PartyId), required
//     asid: "000000000000"     # the receiver's ASID (HL7 communicationFunctionRcv), required
//     cpa_id: S3024519A3110234 # optional: default transports.spine.cpa_id
//     tls: {ca, cert, key, server_name, verify}    # optional (https URL)
//     timeout: 30s             # optional: overrides the route's timeout for the HTTP answer
//
// Outbound: send() POSTs a 3-part multipart/related request (ebXML, HL7 wrapper, the DE verbatim)
// whose MessageId is derived from the delivery, so that a retried delivery is a duplicate the
// receiving MHS eliminates. 2xx delivered (remote id = the MessageId) unless the body carries a
// synchronous ebXML MessageError (permanent); no connection, a timeout or 5xx retryable; 4xx
// permanent. An ebXML MessageError or DeliveryFailure that arrives later on the listener becomes
// an InboundSink::reportDeliveryFailure for that MessageId; an Acknowledgment is counted.
//
// Inbound: POST on `path`, routed by SOAPAction. A trunk message is read (multipart, ebXML,
// manifest), its DE decoded with TransportContext::decode and handed to the router; HTTP 200 with
// an empty body once the router has it durably (or as a duplicate), then an ebXML Acknowledgment
// is POSTed to the sender's ack URL. Unreadable: HTTP 500 with an ebXML MessageError. Router busy:
// 503. Acknowledgment/MessageError requests: handled as above, 200. Anything else: 400.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "itk/http/client.h"
#include "itk/http/server.h"
#include "itk/status.h"
#include "itk/transport.h"

namespace YAML {
class Node;
}

namespace itk::spine {

struct TransportConfig {
  std::string party_key;
  std::string asid;
  std::string cpa_id;
  // The listener; none when `listen` is absent (outbound only: no acks can arrive).
  std::optional<http::ServerConfig> listener;
  std::string path = "/reliablemessaging/intermediary";
  std::optional<http::ClientTlsConfig> client_tls;
  // Sender party key -> URL of its MHS for asynchronous acks. A real deployment finds this in
  // SDS (the sender's nhsMHSEndPoint); this router has no SDS client.
  std::map<std::string, std::string> ack_urls;
  std::chrono::milliseconds ack_timeout{30000};
  std::chrono::milliseconds request_timeout{30000};
};

// Parses transports.spine. Errors name the option (and its line).
Result<TransportConfig> parseTransportConfig(const YAML::Node& node);

struct Endpoint final : EndpointConfig {
  std::string url;
  std::string party_key;
  std::string asid;
  std::string cpa_id;  // empty: the transport's
  std::optional<http::ClientTlsConfig> tls;
  std::optional<std::chrono::milliseconds> timeout;
};
// Parses a routing-table endpoint. Pure. Errors name the field.
Result<std::shared_ptr<const Endpoint>> parseEndpoint(const YAML::Node& node);

// The ebXML MessageId (an upper-case UUID) of a delivery: the same for every attempt of that
// delivery, different for another delivery, tracking id or sending party.
std::string messageIdFor(const std::string& party_key, const std::string& tracking_id,
                         int64_t delivery_id);

std::unique_ptr<TransportFactory> makeSpineTransportFactory();

// The port the listener of a started Spine transport bound (useful with port 0), or 0.
uint16_t spineListenerPort(const Transport& transport);

}  // namespace itk::spine
