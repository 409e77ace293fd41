// The MESH transport: polls the router's MESH mailboxes and sends to other mailboxes.
//
// router.yaml:
//   transports:
//     mesh:
//       url: https://mesh-sync.spineservices.nhs.uk   # the environment
//       shared_key_file: /etc/itk-router/mesh.key      # or shared_key: (the HMAC key)
//       handshake_interval: 24h                        # default 24h (§3.6: once a day)
//       max_message_bytes: 104857600                   # larger DATA is answered 20015 (ITK3)
//       request_timeout: 60s
//       auth_backoff: 5m                               # after a 401/403 (doubles up to 1h)
//       ods_code: X26                                  # the router's ODS code in ITK3 responses
//       organisation_name: Regional ITK hub            # optional, ditto
//       respond_unreadable: true                       # ITK3 10009/20006/... for bad input
//       mailboxes:
//         - id: X26HUB01
//           password_file: /etc/itk-router/X26HUB01.pw # or password:
//           tls: {cert: client.pem, key: client.key, ca: nhs-ca-bundle.pem,
//                 verify_peer: true, server_name: ...}  # mutual TLS (https URLs)
//           poll_interval: 5m                          # default 5m; 0 or poll: false = send only
//           chunk_size: 20971520                       # of uncompressed data per chunk
//           workflows: [TOC_FHIR_IP_DISCH]             # inbox workflow filters; empty: all
//           download_concurrency: 8                    # inbox messages taken at once (1-64);
//                                                      # 1: one by one, in the inbox's order
//
// Routing-table endpoint:
//   - name: gp-mailbox
//     transport: mesh
//     mailbox: X26HUB01        # ours, one of transports.mesh.mailboxes (the sender)
//     to: MESHGP0001           # optional; default the delivery's address (a mailbox id)
//     workflow: GPFED_CONSULT_REPORT  # optional; default the message's Origin
//                              # mesh.reply_workflow (responses: the request's workflow + _ACK)
//     subject: ...             # optional mex-Subject
//     content_type: ...        # optional mex-Content-Type (default by format)
//     compress: true           # gzip each chunk (default true)
//     chunk_size: 20971520     # optional; default the mailbox's
//
// Inbound: each mailbox is polled every poll_interval (again at once when a page of 500 ids came
// back). Up to download_concurrency messages of a listed page are in hand at once, so that
// the router's store commits them together (one fsync). Each message is downloaded whole (206 until
// the last chunk), read, handed to the router and acknowledged to MESH only once the router
// answered kAccepted or kDuplicate; a crash before that leaves it in the inbox, MESH offers it
// again and the router's de-duplication absorbs it. ITK3 Bundles are read with itk::itk3 (an ITK3
// business message with no receiver is addressed to the mailbox it arrived in: GP Connect's
// GPPROVIDER routing); anything else goes to the TransportContext decoder (ITK2: the DE is the data
// file). Input that cannot be read is kept in <data_dir>/mesh/rejected/, reported, answered (ITK3:
// 10009/20006/... to the sender's mailbox on <workflow>_ACK, unless it came on an _ACK workflow)
// and acknowledged once the answer is durable. REPORT messages become DeliveryFailureReports
// (InboundSink::reportDeliveryFailure) and are acknowledged once the router has taken them.
//
// Outbound: send() posts the message (local id = tracking id), chunked and gzipped as configured.
// Outcomes: 202 delivered (remote id = the MESH message id); 5xx, timeouts and connection failures
// retryable; 400/417/422 permanent; 401/403 an authentication failure: logged as an error once per
// outage, retryable, and the mailbox is closed (MailboxGate) so retries fail fast without asking
// MESH until the backoff passes.
#pragma once

#include <functional>
#include <memory>

#include "itk/mesh/client.h"
#include "itk/transport.h"

namespace boost::asio {
class io_context;
}

namespace itk::mesh {

struct MailboxTls {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool verify_peer = true;
  std::string server_name;
};

struct MailboxConfig {
  std::string id;
  std::string password;
  std::optional<MailboxTls> tls;
  std::chrono::milliseconds poll_interval{std::chrono::minutes(5)};
  size_t chunk_size = size_t{20} << 20;
  std::vector<std::string> workflows;
  // Inbox messages downloaded and accepted at once: their store commits share one fsync (group
  // commit). 1 takes them strictly one after another, in the order MESH lists them.
  int download_concurrency = 8;
};

struct TransportConfig {
  std::string url;
  std::string shared_key;
  std::vector<MailboxConfig> mailboxes;
  std::chrono::milliseconds handshake_interval{std::chrono::hours(24)};
  size_t max_message_bytes = size_t{100} << 20;
  std::chrono::milliseconds request_timeout{60000};
  std::chrono::milliseconds auth_backoff{std::chrono::minutes(5)};
  std::chrono::milliseconds auth_backoff_max{std::chrono::hours(1)};
  std::string ods_code;
  std::string organisation_name;
  bool respond_unreadable = true;

  const MailboxConfig* mailbox(std::string_view id) const;
};

// Parses transports.mesh (secrets from *_file are read here). Errors name the field.
Result<TransportConfig> parseTransportConfig(const YAML::Node& node);

struct Endpoint final : EndpointConfig {
  std::string mailbox;
  std::string to;
  std::string workflow;
  std::string subject;
  std::string content_type;
  bool compress = true;
  size_t chunk_size = 0;  // 0: the mailbox's
};
Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(const YAML::Node& node);

// Makes the HTTP exchange for one mailbox (with its TLS files).
using ExchangeFactory = std::function<Result<HttpExchange>(
    const TransportConfig&, const MailboxConfig&, boost::asio::io_context&)>;

// The factory registered in the router: HTTP(S) through itk::http::Client.
std::unique_ptr<TransportFactory> makeMeshTransportFactory();
// The same with another exchange (tests).
std::unique_ptr<TransportFactory> makeMeshTransportFactory(ExchangeFactory exchanges);

}  // namespace itk::mesh
