#include "soap_transport.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cctype>
#include <map>
#include <mutex>

#include "itk/envelope/builders.h"
#include "itk/envelope/reader.h"
#include "itk/envelope/soap_checks.h"
#include "itk/envelope/vocabulary.h"
#include "itk/http/client.h"
#include "itk/http/server.h"
#include "itk/log.h"
#include "itk/uuid.h"
#include "soap_config.h"

namespace itk {
namespace {

namespace asio = boost::asio;
using itk2::SoapFaultCode;
using soap::SoapEndpoint;
using soap::SoapTransportConfig;

constexpr const char* kXmlContentType = "text/xml; charset=UTF-8";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ITK2 §4.2: accept the SOAPAction quoted or not (LTKW strips the quotes).
std::string_view unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

// WS-STD-01: UTF-8 only. A Content-Type without a charset is fine (the XML declaration then
// decides, and the reader accepts only UTF-8).
bool charsetAllowed(std::optional<std::string_view> content_type) {
  if (!content_type) return true;
  std::string lower(*content_type);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = lower.find("charset=");
  if (at == std::string::npos) return true;
  std::string_view value = unquote(std::string_view(lower).substr(at + 8));
  value = value.substr(0, value.find(';'));
  value = unquote(value);
  return value == "utf-8" || value == "utf8";
}

http::Response xmlResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.set("Content-Type", kXmlContentType);
  r.body = std::move(body);
  return r;
}

// Which SOAP fault answers a refusal (§4.5, §4.6): the sender's fault (Client) unless the
// router failed (Server). 2100 is always the router's side: the sender may retry.
SoapFaultCode faultCodeFor(const Status& s) {
  if (s.toolkitCode() == ToolkitCode::kRetryable) return SoapFaultCode::kServer;
  switch (s.code()) {
    case Code::kInternal:
    case Code::kStoreError:
    case Code::kUnavailable:
    case Code::kTimeout:
      return SoapFaultCode::kServer;
    default:
      return SoapFaultCode::kClient;
  }
}

http::Response faultResponse(int http_status, SoapFaultCode code, ToolkitCode toolkit,
                             std::string diagnostic, std::string relates_to) {
  itk2::SoapFaultSpec spec;
  spec.code = code;
  spec.toolkit = toolkit;
  spec.diagnostic = std::move(diagnostic);
  spec.relates_to = std::move(relates_to);
  return xmlResponse(http_status, itk2::buildSoapFault(spec));
}

http::Response faultFor(const Status& s, const std::string& relates_to) {
  const std::string& vocabulary = s.vocabularyCode();
  return faultResponse(500, faultCodeFor(s), s.toolkitCode(),
                       vocabulary.empty() ? s.message() : vocabulary + " " + s.message(),
                       relates_to);
}

// The answer to one inbound request, given exactly once: by the router's outcome or, if the
// router has not answered within answer_timeout, by a fault 2100.
struct PendingAnswer : std::enable_shared_from_this<PendingAnswer> {
  PendingAnswer(asio::io_context& io, http::Responder respond)
      : respond(std::move(respond)), timer(asio::make_strand(io)) {}

  bool answer(http::Response r) {
    if (answered.exchange(true)) return false;
    // Timers are not thread-safe: stop it on its own strand.
    asio::post(timer.get_executor(), [self = shared_from_this()] { self->timer.cancel(); });
    respond(std::move(r));
    return true;
  }

  http::Responder respond;
  std::atomic<bool> answered{false};
  asio::steady_timer timer;
};

// One delivery on its way through the endpoint's URLs.
struct OutboundCall {
  OutboundMessage message;
  std::shared_ptr<const SoapEndpoint> endpoint;
  std::string endpoint_name;
  std::shared_ptr<http::Client> client;
  std::chrono::milliseconds timeout{0};
  SendCallback done;
  std::string failures;  // what the URLs tried so far answered, for the final detail
};

class SoapTransport final : public Transport, public std::enable_shared_from_this<SoapTransport> {
 public:
  SoapTransport(const TransportContext& ctx, SoapTransportConfig config)
      : ctx_(ctx),
        config_(std::move(config)),
        faults_(prometheus::BuildCounter()
                    .Name("itk_soap_faults_total")
                    .Help("SOAP faults the router sent (direction=sent) and received from next "
                          "hops (direction=received), by SOAP fault code and ITK toolkit code")
                    .Register(ctx.metrics)),
        tls_failures_(prometheus::BuildCounter()
                          .Name("itk_tls_handshake_failures_total")
                          .Help("Inbound TLS handshakes that failed, by transport and listener")
                          .Register(ctx.metrics)) {}

  Status start(InboundSink& sink) override {
    sink_ = &sink;
    std::weak_ptr<SoapTransport> weak = weak_from_this();
    for (size_t i = 0; i < config_.listeners.size(); ++i) {
      http::ServerConfig server_config = config_.listeners[i].server;
      prometheus::Counter* tls_failures =
          &tls_failures_.Add({{"transport", "soap"}, {"listener", server_config.name}});
      server_config.on_tls_handshake_failure = [tls_failures] { tls_failures->Increment(); };
      auto server =
          http::Server::start(ctx_.io, std::move(server_config),
                              [weak, i](http::Request&& request, http::Responder respond) {
                                auto self = weak.lock();
                                if (!self)
                                  return respond(http::Response::text(503, "shutting down\n"));
                                self->handle(i, std::move(request), std::move(respond));
                              });
      if (!server.ok()) {
        stopAccepting();
        servers_.clear();
        return server.status();
      }
      servers_.push_back(std::move(*server));
    }
    started_ = true;
    return Status();
  }

  void stopAccepting() override {
    for (auto& s : servers_) s->stopAccepting();
  }

  uint16_t port(std::string_view name) const {
    for (size_t i = 0; i < servers_.size(); ++i)
      if (config_.listeners[i].server.name == name) return servers_[i]->port();
    return 0;
  }

  bool ready() const override {
    if (!started_) return false;
    for (const auto& s : servers_)
      if (!s->listening()) return false;
    return true;
  }

  // Called when the app lets go of the transport.
  void shutdown() {
    stopAccepting();
    std::lock_guard lock(clients_mu_);
    for (auto& [key, client] : clients_) client->shutdown();
  }

  void send(OutboundMessage message, const EndpointSpec& endpoint, SendCallback done) override {
    const auto* ep = endpoint.as<SoapEndpoint>();
    if (!ep) {
      return post(std::move(done),
                  SendResult::permanent("endpoint " + endpoint.name + " is not a SOAP endpoint"));
    }
    if (!message.message || !message.message->body) {
      return post(std::move(done), SendResult::permanent("no message body to send"));
    }
    auto client = clientFor(*ep, endpoint.max_concurrency);
    if (!client.ok()) {
      // A TLS file that cannot be read: the operator can fix it, so try again later.
      log::error("soap.client_unavailable",
                 {{"endpoint", endpoint.name}, {"error", client.status().message()}});
      return post(std::move(done), SendResult::retryable("endpoint " + endpoint.name + ": " +
                                                         client.status().message()));
    }
    auto call = std::make_shared<OutboundCall>();
    call->timeout = ep->timeout ? *ep->timeout : message.timeout;
    call->message = std::move(message);
    call->endpoint = std::shared_ptr<const SoapEndpoint>(endpoint.config, ep);
    call->endpoint_name = endpoint.name;
    call->client = std::move(*client);
    call->done = std::move(done);
    attempt(std::move(call), 0);
  }

 private:
  void post(SendCallback done, SendResult result) {
    // Contract: the callback never runs inline from send().
    asio::post(ctx_.io, [done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

  // --- inbound ----------------------------------------------------------------------------

  void handle(size_t index, http::Request&& request, http::Responder respond) {
    const soap::ListenerConfig& listener = config_.listeners[index];
    if (request.path() != listener.path) {
      return respond(http::Response::text(404, "no ITK service at " + request.target + "\n"));
    }
    if (request.method != "POST") {
      http::Response r = http::Response::text(405, "ITK Web Services take POST\n");
      r.headers.set("Allow", "POST");
      return respond(std::move(r));
    }
    Origin origin;
    origin.transport = "soap";
    origin.peer = request.peer;
    origin.attributes.emplace_back("soap.listener", listener.server.name);

    auto refuse = [&](const Status& why, const std::string& message_id) {
      log::warn("soap.refused", {{"listener", listener.server.name},
                                 {"peer", request.peer},
                                 {"message_id", message_id},
                                 {"toolkit", static_cast<int>(why.toolkitCode())},
                                 {"reason", why.toString()}});
      countFault("sent", faultCodeFor(why), why.toolkitCode());
      respond(faultFor(why, message_id));
    };
    // WS-STD-01: UTF-8 only.
    if (!charsetAllowed(request.headers.get("Content-Type"))) {
      return refuse(Status::invalid("WS-STD-01: the request must be UTF-8, not " +
                                    std::string(*request.headers.get("Content-Type")))
                        .withToolkit(ToolkitCode::kInvalidMessage),
                    "");
    }
    auto bytes = std::make_shared<const std::string>(std::move(request.body));
    Result<itk2::ItkDocument> doc = itk2::readItkDocument(*bytes);
    if (!doc.ok()) {
      sink_->reportUnreadable(origin, doc.status());
      return refuse(doc.status(), "");
    }
    if (doc->root != itk2::DocumentRoot::kSoapEnvelope) {
      Status s = Status::invalid("an ITK Web Service request must be a SOAP envelope")
                     .withToolkit(ToolkitCode::kInvalidMessage);
      sink_->reportUnreadable(origin, s);
      return refuse(s, "");
    }
    const itk2::SoapEnvelope& env = doc->soap;
    const std::string message_id = env.message_id.value_or("");
    origin.transport_message_id = message_id;
    // The same checks as `itk-router validate` (one implementation).
    itk2::SoapVerdict verdict = itk2::checkSoapRequest(*doc, config_.policy, ctx_.clock.now());
    if (!verdict.ok()) {
      log::warn("soap.refused", {{"listener", listener.server.name},
                                 {"peer", request.peer},
                                 {"message_id", message_id},
                                 {"fault", itk2::faultCodeName(verdict.fault)},
                                 {"toolkit", static_cast<int>(verdict.status.toolkitCode())},
                                 {"reason", verdict.status.toString()}});
      countFault("sent", verdict.fault, verdict.status.toolkitCode());
      return respond(xmlResponse(500, itk2::buildSoapFault(verdict, message_id)));
    }
    // ITK2 §4.2: a missing SOAPAction is an error (LTKW); it names the same service as wsa:Action.
    auto soap_action = request.headers.get("SOAPAction");
    if (!soap_action) {
      return refuse(Status::invalid("the HTTP header SOAPAction is missing")
                        .withToolkit(ToolkitCode::kInvalidMessage),
                    message_id);
    }
    if (unquote(*soap_action) != *env.action) {
      return refuse(Status::invalid("SOAPAction " + std::string(*soap_action) +
                                    " differs from wsa:Action " + *env.action)
                        .withToolkit(ToolkitCode::kInvalidMessage),
                    message_id);
    }
    Result<MessageHeader> header = itk2::messageHeaderOf(*doc->de);
    if (!header.ok()) return refuse(header.status(), message_id);

    Message message;
    message.header = std::move(*header);
    // The DE as received, standing alone (spec §5.1: routers pass it through intact).
    message.body = std::make_shared<const std::string>(itk2::forwardableBytes(*bytes, *doc->de));
    origin.authenticated_as =
        !request.tls_client_subject.empty() ? request.tls_client_subject : *env.username;
    origin.attributes.emplace_back("soap.username", *env.username);
    if (env.from) origin.attributes.emplace_back("soap.from", *env.from);
    if (env.reply_to) origin.attributes.emplace_back("soap.reply_to", *env.reply_to);
    message.origin = std::move(origin);
    message.received_at = ctx_.clock.now();

    // ITK2 §4.3: a non-anonymous ReplyTo passed the checks only for a pattern-1 service, which
    // may be answered asynchronously: 202 once the message is durable.
    const bool asynchronous =
        env.reply_to && !env.reply_to->empty() && *env.reply_to != itk2::kWsaAnonymous;
    const std::string action = *env.action;

    auto pending = std::make_shared<PendingAnswer>(ctx_.io, std::move(respond));
    auto timeout = config_.answer_timeout;
    std::weak_ptr<SoapTransport> weak = weak_from_this();
    asio::post(pending->timer.get_executor(), [pending, timeout, message_id, weak] {
      if (pending->answered) return;
      pending->timer.expires_after(timeout);
      pending->timer.async_wait([pending, timeout, message_id, weak](boost::system::error_code ec) {
        if (ec) return;
        if (pending->answer(faultResponse(
                500, SoapFaultCode::kServer, ToolkitCode::kRetryable,
                "the router did not answer within " + std::to_string(timeout.count()) + " ms",
                message_id))) {
          log::warn("soap.answer_timeout", {{"message_id", message_id}});
          if (auto self = weak.lock())
            self->countFault("sent", SoapFaultCode::kServer, ToolkitCode::kRetryable);
        }
      });
    });
    const std::string listener_name = listener.server.name;
    sink_->accept(std::move(message), [self = shared_from_this(), pending, message_id, action,
                                       asynchronous, listener_name](AcceptOutcome o) {
      pending->answer(self->answerFor(o, message_id, action, asynchronous, listener_name));
    });
  }

  // itk_soap_faults_total{direction,fault,code}: every value comes from a fixed vocabulary.
  void countFault(const char* direction, SoapFaultCode fault, ToolkitCode code) const {
    faults_
        .Add({{"direction", direction},
              {"fault", std::string(itk2::faultCodeName(fault))},
              {"code", code == ToolkitCode::kNone ? std::string("none")
                                                  : std::to_string(static_cast<int>(code))}})
        .Increment();
  }

  http::Response answerFor(const AcceptOutcome& o, const std::string& message_id,
                           const std::string& action, bool asynchronous,
                           const std::string& listener) const {
    switch (o.kind) {
      case AcceptOutcome::Kind::kAccepted:
      case AcceptOutcome::Kind::kDuplicate:
        if (o.response) {
          // A request/response service proxied synchronously: relay the response DE (§4.4).
          return xmlResponse(200,
                             itk2::buildSoapResponse(action + "Response", message_id, *o.response));
        }
        if (asynchronous) {
          http::Response r;
          r.status = 202;
          return r;
        }
        return xmlResponse(200, itk2::buildSimpleMessageResponse(action, message_id));
      case AcceptOutcome::Kind::kRejected:
        log::warn("soap.refused", {{"listener", listener},
                                   {"message_id", message_id},
                                   {"toolkit", static_cast<int>(o.status.toolkitCode())},
                                   {"reason", o.status.toString()}});
        countFault("sent", faultCodeFor(o.status), o.status.toolkitCode());
        return faultFor(o.status, message_id);
      case AcceptOutcome::Kind::kBusy: {
        countFault("sent", SoapFaultCode::kServer, ToolkitCode::kRetryable);
        // ITK2 §4.4: HTTP 503 is the ITK busy tone; the fault tells a person why.
        http::Response r = faultResponse(503, SoapFaultCode::kServer, ToolkitCode::kRetryable,
                                         o.status.message(), message_id);
        r.headers.set("Retry-After", "5");
        return r;
      }
    }
    Status unknown = Status::internal("unknown accept outcome");
    countFault("sent", faultCodeFor(unknown), unknown.toolkitCode());
    return faultFor(unknown, message_id);
  }

  // --- outbound ---------------------------------------------------------------------------

  // One client per distinct TLS setting and connection cap: connections are pooled across
  // deliveries and across reloads of the routing table.
  Result<std::shared_ptr<http::Client>> clientFor(const SoapEndpoint& ep, int max_concurrency) {
    std::string key = std::to_string(max_concurrency);
    if (ep.tls) {
      key += "|" + ep.tls->ca_file + "|" + ep.tls->cert_file + "|" + ep.tls->key_file + "|" +
             ep.tls->server_name + "|" + (ep.tls->verify_peer ? "v" : "-");
    }
    std::lock_guard lock(clients_mu_);
    auto it = clients_.find(key);
    if (it != clients_.end()) return it->second;
    http::ClientOptions options = config_.client;
    options.max_connections_per_origin =
        std::max(options.max_connections_per_origin, static_cast<size_t>(max_concurrency));
    auto client = http::Client::create(ctx_.io, options, ep.tls);
    if (!client.ok()) return client.status();
    std::shared_ptr<http::Client> shared(std::move(*client));
    clients_.emplace(key, shared);
    return shared;
  }

  void attempt(std::shared_ptr<OutboundCall> call, size_t index) {
    const std::string& url = call->endpoint->urls[index];
    const MessageHeader& h = call->message.message->header;
    itk2::SoapRequestHeader soap;
    soap.message_id = newUuid();
    soap.action = h.service;
    soap.to = url;
    soap.username = ctx_.identity.username;
    soap.created = ctx_.clock.now();
    soap.time_to_live = call->message.time_to_live;
    http::ClientRequest request;
    request.method = "POST";
    request.url = url;
    request.headers.set("Content-Type", kXmlContentType);
    request.headers.set("SOAPAction", "\"" + h.service + "\"");  // §4.2: quoted on send
    request.body = itk2::buildSoapRequest(soap, *call->message.message->body);
    request.timeout = call->timeout;
    std::string message_id = soap.message_id;
    call->client->request(std::move(request), [self = shared_from_this(), call, index,
                                               message_id](Result<http::Response> r) {
      self->settle(call, index, message_id, std::move(r));
    });
  }

  // Classifies the answer from urls[index]; fails over to the next URL when that one could not
  // take the message at all (no connection, 503).
  void settle(const std::shared_ptr<OutboundCall>& call, size_t index,
              const std::string& message_id, Result<http::Response> r) {
    const std::string& url = call->endpoint->urls[index];
    bool failover = false;
    SendResult result = classify(url, r, &failover);
    log::debug("soap.sent", {{"endpoint", call->endpoint_name},
                             {"url", url},
                             {"message_id", message_id},
                             {"tracking_id", call->message.message->header.tracking_id},
                             {"outcome", outcomeName(result.outcome)},
                             {"detail", result.detail}});
    if (failover && index + 1 < call->endpoint->urls.size()) {
      call->failures += result.detail + "; ";
      return attempt(call, index + 1);
    }
    if (!call->failures.empty()) result.detail = call->failures + result.detail;
    call->done(std::move(result));
  }

  SendResult classify(const std::string& url, const Result<http::Response>& r,
                      bool* failover) const {
    if (!r.ok()) {
      switch (r.status().code()) {
        case Code::kUnavailable:
          *failover = true;  // nothing reached the peer's application: try the next URL
          return SendResult::retryable(url + ": " + r.status().message());
        case Code::kTimeout:
          // The peer may be processing it: retry later (it de-duplicates on the tracking id),
          // but do not hand the same message to a second site now.
          return SendResult::retryable(url + ": " + r.status().message());
        default:
          return SendResult::permanent(url + ": " + r.status().message());
      }
    }
    const http::Response& response = *r;
    const std::string status = "HTTP " + std::to_string(response.status);
    if (response.status == 503) {
      *failover = true;
      return SendResult::retryable(url + ": " + status + " (ITK busy tone)");
    }
    if (response.status == 202) return SendResult::delivered(url + ": " + status + " accepted");
    if (response.body.empty()) {
      return SendResult::permanent(url + ": " + status + " without an ITK response");
    }
    Result<itk2::ItkDocument> doc = itk2::readItkDocument(response.body);
    if (!doc.ok() || doc->root != itk2::DocumentRoot::kSoapEnvelope) {
      return SendResult::permanent(url + ": " + status + " with a body that is not a SOAP " +
                                   "envelope" +
                                   (doc.ok() ? std::string() : ": " + doc.status().message()));
    }
    itk2::PeerResponse peer = itk2::classifyPeerResponse(*doc);
    std::string detail = url + ": " + status + " " + peer.detail;
    switch (peer.kind) {
      case itk2::PeerResponse::Kind::kSimpleMessageResponse:
        if (response.status != 200) break;
        return SendResult::delivered(std::move(detail));
      case itk2::PeerResponse::Kind::kDistributionEnvelope: {
        if (response.status != 200) break;
        SendResult result = SendResult::delivered(std::move(detail));
        result.response =
            std::make_shared<const std::string>(itk2::forwardableBytes(response.body, *doc->de));
        return result;
      }
      case itk2::PeerResponse::Kind::kFault:
        countFault("received", peer.fault, peer.toolkit);
        return peer.retryable ? SendResult::retryable(std::move(detail))
                              : SendResult::permanent(std::move(detail));
      case itk2::PeerResponse::Kind::kUnrecognised:
        break;
    }
    return SendResult::permanent(detail);
  }

  const TransportContext& ctx_;
  const SoapTransportConfig config_;
  prometheus::Family<prometheus::Counter>& faults_;
  prometheus::Family<prometheus::Counter>& tls_failures_;
  InboundSink* sink_ = nullptr;
  std::vector<std::unique_ptr<http::Server>> servers_;
  std::atomic<bool> started_{false};
  std::mutex clients_mu_;
  std::map<std::string, std::shared_ptr<http::Client>> clients_;
};

class SoapFactory final : public TransportFactory {
 public:
  std::string_view name() const override { return "soap"; }

  Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(
      const YAML::Node& node) const override {
    auto ep = soap::parseEndpointConfig(node);
    if (!ep.ok()) return ep.status();
    return std::shared_ptr<const EndpointConfig>(std::move(*ep));
  }

  Result<std::unique_ptr<Transport>> create(const YAML::Node& config,
                                            const TransportContext& context) const override {
    auto parsed = soap::parseTransportConfig(config);
    if (!parsed.ok()) return parsed.status();
    auto impl = std::make_shared<SoapTransport>(context, std::move(*parsed));
    return std::unique_ptr<Transport>(
        std::make_unique<SharedTransport<SoapTransport>>(std::move(impl)));
  }
};

}  // namespace

std::unique_ptr<TransportFactory> makeSoapTransportFactory() {
  return std::make_unique<SoapFactory>();
}

uint16_t soapListenerPort(const Transport& transport, std::string_view name) {
  const auto* handle = dynamic_cast<const SharedTransport<SoapTransport>*>(&transport);
  return handle ? handle->impl()->port(name) : 0;
}

}  // namespace itk
