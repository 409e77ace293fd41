// Transports: the adapters that receive and send messages on one protocol (SOAP, MESH, DTS,
// Spine, loopback). The core meets them only here. One instance per transport type; its
// section in router.yaml configures it, and routing tables name endpoints on it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "itk/clock.h"
#include "itk/inbound_sink.h"
#include "itk/message.h"
#include "itk/status.h"

namespace boost::asio {
class io_context;
}
namespace prometheus {
class Registry;
}
namespace YAML {
class Node;
}

namespace itk {

// Who the router is when it speaks for itself (generated acks, outbound SOAP headers).
struct RouterIdentity {
  std::string audit_identity = "urn:nhs-uk:identity:ods:ITKROUTER";
  std::string sender_address = "urn:nhs-uk:addressing:ods:ITKROUTER";
  std::string username = "itk-router";  // wsse:Username on outbound requests
  // ITK3 responses the router sends itself: its organisation (ODS code) and the MESH mailbox to
  // name as source.endpoint when the original's own mailbox is unknown.
  std::string ods_code = "ITKROUTER";
  std::string mesh_mailbox;
};

// A transport's parsed parameters for one endpoint (URLs and TLS files, MESH mailbox and
// workflow, ...). Each transport defines its own subclass.
class EndpointConfig {
 public:
  virtual ~EndpointConfig() = default;
};

// A named destination, defined once in a routing table and referenced by routes.
struct EndpointSpec {
  std::string name;
  std::string transport;    // the transport type: "soap", "mesh", "loopback", ...
  int max_concurrency = 8;  // deliveries in flight to this endpoint at once
  std::shared_ptr<const EndpointConfig> config;

  template <class T>
  const T* as() const {
    return dynamic_cast<const T*>(config.get());
  }
};

// One delivery attempt: a message, the copy's address and the route's sending parameters.
struct OutboundMessage {
  MessagePtr message;
  int64_t delivery_id = 0;
  std::string route;
  std::string address;                       // the address-list entry this copy is delivered for
  int attempt = 1;                           // 1 for the first attempt
  std::chrono::seconds time_to_live{600};    // e.g. the WS-Security Expires of a SOAP request
  std::chrono::milliseconds timeout{30000};  // how long to wait for the peer's answer
};

struct SendResult {
  enum class Outcome {
    kDelivered,  // the next hop took responsibility for the message
    kRetryable,  // try again later (busy, connection failure, timeout, fault 2100)
    kPermanent,  // will never succeed (fault 1000/2200/3000, 4xx): dead letter and NACK
  };
  Outcome outcome = Outcome::kDelivered;
  std::string detail;     // human-readable reason, for logs, audit and NACK diagnostics
  std::string remote_id;  // an id the peer gave the message (e.g. the MESH message id)
  std::shared_ptr<const std::string> response;  // synchronous proxy: the peer's response

  static SendResult delivered(std::string detail = {}) {
    return {Outcome::kDelivered, std::move(detail), {}, nullptr};
  }
  static SendResult retryable(std::string detail) {
    return {Outcome::kRetryable, std::move(detail), {}, nullptr};
  }
  static SendResult permanent(std::string detail) {
    return {Outcome::kPermanent, std::move(detail), {}, nullptr};
  }
};
std::string_view outcomeName(SendResult::Outcome o);

// Called exactly once, never inline from send(), on any thread.
using SendCallback = std::function<void(SendResult)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Starts listeners and pollers; received messages go to `sink`, which outlives the transport.
  // Fails (and starts nothing) when e.g. a port cannot be bound or a certificate cannot be read.
  virtual Status start(InboundSink& sink) = 0;
  // Stops taking new inbound work (closes listeners, stops polling). Requests already read are
  // still handed to the sink and answered. Idempotent.
  virtual void stopAccepting() = 0;
  // Sends one delivery to `endpoint` (whose config this transport parsed). Thread-safe.
  virtual void send(OutboundMessage message, const EndpointSpec& endpoint, SendCallback done) = 0;
  // For /readyz: listeners bound, pollers running.
  virtual bool ready() const = 0;
};

// Reads one whole ITK document (a bare Distribution Envelope or an ITK3 message Bundle) into a
// Message whose header is filled and whose body is `bytes`. Errors carry the spec's code
// (DE00xx / 100xx / 200xx). Thread-safe. Supplied by the app, so document-oriented transports
// (loopback, MESH, DTS) need not know each parser.
using MessageDecoder = std::function<Result<Message>(std::shared_ptr<const std::string> bytes)>;

// Hands the app (which owns transports through unique_ptr) a transport implementation that is
// shared with its own pending callbacks (enable_shared_from_this), so a callback still queued at
// shutdown never touches a destroyed transport.
template <class Impl>
class SharedTransport final : public Transport {
 public:
  explicit SharedTransport(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  // Pollers, timers, listeners and pooled connections of the implementation stop with the
  // handle: its shutdown() where it has one (more than stopAccepting), else stopAccepting().
  ~SharedTransport() override {
    if constexpr (requires(Impl & i) { i.shutdown(); })
      impl_->shutdown();
    else
      impl_->stopAccepting();
  }
  Status start(InboundSink& sink) override { return impl_->start(sink); }
  void stopAccepting() override { impl_->stopAccepting(); }
  bool ready() const override { return impl_->ready(); }
  void send(OutboundMessage message, const EndpointSpec& endpoint, SendCallback done) override {
    impl_->send(std::move(message), endpoint, std::move(done));
  }
  const std::shared_ptr<Impl>& impl() const { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

// What a transport may use from the router. References outlive the transport.
struct TransportContext {
  boost::asio::io_context& io;
  const Clock& clock;
  RouterIdentity identity;
  prometheus::Registry& metrics;
  std::string data_dir;  // where a transport may keep files (spool folders, state)
  MessageDecoder decode;
};

// Turns typed configuration into instances (Envoy's named factories). Factories are registered
// explicitly by registerBuiltinTransports(); a duplicate name is an error.
class TransportFactory {
 public:
  virtual ~TransportFactory() = default;
  virtual std::string_view name() const = 0;
  // Parses one endpoint's parameters from a routing table. Pure: no I/O, no network. Errors name
  // the offending field; the caller adds file and line.
  virtual Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(
      const YAML::Node& node) const = 0;
  // Creates the transport from its section of router.yaml (may be a null node: defaults).
  virtual Result<std::unique_ptr<Transport>> create(const YAML::Node& config,
                                                    const TransportContext& context) const = 0;
};

class TransportRegistry {
 public:
  Status add(std::unique_ptr<TransportFactory> factory);
  const TransportFactory* find(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::unique_ptr<TransportFactory>, std::less<>> factories_;
};

// Registers every transport built into this binary (transports/builtin.cc).
void registerBuiltinTransports(TransportRegistry& registry);

}  // namespace itk
