// The Spine transport (header comment in itk/spine/transport.h; spec/itk2.md §7).
#include "itk/spine/transport.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <mutex>

#include "itk/log.h"
#include "itk/spine/ebxml.h"
#include "itk/uuid.h"

namespace itk::spine {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr const char* kXmlContentType = "text/xml; charset=UTF-8";
// A late failure report the router cannot take yet (the delivery is still in flight) is offered
// again this many times, with doubling delays from kReportRetryDelay, before the peer gets 503.
constexpr int kReportAttempts = 6;
constexpr std::chrono::milliseconds kReportRetryDelay{100};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

http::Response empty(int status) {
  http::Response r;
  r.status = status;
  return r;
}

http::Response xmlResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.set("Content-Type", kXmlContentType);
  r.body = std::move(body);
  return r;
}

enum class Route { kAck, kTrunk, kOther };

// ITK2 §7.3: route by SOAPAction; SpineTools writes "urn:urn:oasis..." (a typo) for acks.
Route routeOf(std::string_view soap_action) {
  std::string_view a = unquote(soap_action);
  constexpr std::string_view kEbxmlPrefix = "urn:oasis:names:tc:ebxml-msg:service/";
  constexpr std::string_view kTypoPrefix = "urn:urn:oasis:names:tc:ebxml-msg:service/";
  std::string_view rest;
  if (a.substr(0, kEbxmlPrefix.size()) == kEbxmlPrefix)
    rest = a.substr(kEbxmlPrefix.size());
  else if (a.substr(0, kTypoPrefix.size()) == kTypoPrefix)
    rest = a.substr(kTypoPrefix.size());
  if (rest == "Acknowledgment" || rest == "MessageError") return Route::kAck;
  constexpr std::string_view kItkPrefix = "urn:nhs:names:services:itk/";
  if (a.size() > kItkPrefix.size() && a.substr(0, kItkPrefix.size()) == kItkPrefix)
    return Route::kTrunk;
  return Route::kOther;
}

// A message we sent and the peer took (HTTP 2xx), waiting for its asynchronous ack.
struct AwaitingAck {
  std::string tracking_id;
  std::string endpoint;
  Clock::time_point deadline;
};

class SpineTransport final : public Transport, public std::enable_shared_from_this<SpineTransport> {
 public:
  SpineTransport(const TransportContext& ctx, TransportConfig config)
      : ctx_(ctx),
        config_(std::move(config)),
        sweep_timer_(asio::make_strand(ctx.io)),
        inbound_(prometheus::BuildCounter()
                     .Name("itk_spine_inbound_total")
                     .Help("Requests on the Spine listener, by ebXML kind (message, "
                           "acknowledgment, message_error, delivery_failure, unknown) and outcome")
                     .Register(ctx.metrics)),
        sent_(prometheus::BuildCounter()
                  .Name("itk_spine_sent_total")
                  .Help("ITK Trunk messages sent, by outcome (delivered, retryable, permanent)")
                  .Register(ctx.metrics)),
        acks_sent_(prometheus::BuildCounter()
                       .Name("itk_spine_acks_sent_total")
                       .Help("Asynchronous ebXML Acknowledgments the router sent, by outcome "
                             "(ok, failed, no_ack_url)")
                       .Register(ctx.metrics)),
        ack_timeouts_(prometheus::BuildCounter()
                          .Name("itk_spine_ack_timeouts_total")
                          .Help("Sent ITK Trunk messages whose ebXML Acknowledgment did not come "
                                "within ack_timeout")
                          .Register(ctx.metrics)
                          .Add({})),
        awaiting_gauge_(prometheus::BuildGauge()
                            .Name("itk_spine_awaiting_ack")
                            .Help("Sent ITK Trunk messages waiting for their ebXML Acknowledgment")
                            .Register(ctx.metrics)
                            .Add({})) {}

  Status start(InboundSink& sink) override {
    sink_ = &sink;
    auto ack_client = makeClient(config_.client_tls, 16);
    if (!ack_client.ok()) return ack_client.status();
    ack_client_ = std::move(*ack_client);
    if (config_.listener) {
      std::weak_ptr<SpineTransport> weak = weak_from_this();
      http::ServerConfig server_config = *config_.listener;
      prometheus::Counter* tls_failures =
          &prometheus::BuildCounter()
               .Name("itk_tls_handshake_failures_total")
               .Help("Inbound TLS handshakes that failed, by transport and listener")
               .Register(ctx_.metrics)
               .Add({{"transport", "spine"}, {"listener", server_config.name}});
      server_config.on_tls_handshake_failure = [tls_failures] { tls_failures->Increment(); };
      auto server =
          http::Server::start(ctx_.io, std::move(server_config),
                              [weak](http::Request&& request, http::Responder respond) {
                                auto self = weak.lock();
                                if (!self)
                                  return respond(http::Response::text(503, "shutting down\n"));
                                self->handle(std::move(request), std::move(respond));
                              });
      if (!server.ok()) return server.status();
      server_ = std::move(*server);
    }
    scheduleSweep();
    started_ = true;
    log::info("spine.started", {{"party_key", config_.party_key},
                                {"asid", config_.asid},
                                {"listening", server_ != nullptr},
                                {"ack_urls", config_.ack_urls.size()}});
    return Status();
  }

  void stopAccepting() override {
    if (server_) server_->stopAccepting();
  }

  bool ready() const override { return started_ && (!server_ || server_->listening()); }

  uint16_t port() const { return server_ ? server_->port() : 0; }

  void shutdown() {
    stopAccepting();
    stopped_ = true;
    asio::post(sweep_timer_.get_executor(),
               [self = shared_from_this()] { self->sweep_timer_.cancel(); });
    std::lock_guard lock(mu_);
    for (auto& [key, client] : clients_) client->shutdown();
    if (ack_client_) ack_client_->shutdown();
  }

  // ---- outbound ------------------------------------------------------------------------------

  void send(OutboundMessage message, const EndpointSpec& endpoint, SendCallback done) override {
    const auto* ep = endpoint.as<Endpoint>();
    if (!ep) {
      return post(std::move(done),
                  SendResult::permanent("endpoint " + endpoint.name + " is not a Spine endpoint"));
    }
    if (!message.message || !message.message->body) {
      return post(std::move(done), SendResult::permanent("no message body to send"));
    }
    const Message& m = *message.message;
    // ITK2 §7: the trunk carries Distribution Envelopes.
    if (m.header.format != MessageFormat::kItk2) {
      return post(std::move(done),
                  SendResult::permanent("the ITK Trunk carries ITK2 Distribution Envelopes only"));
    }
    const std::string cpa_id = ep->cpa_id.empty() ? config_.cpa_id : ep->cpa_id;
    if (cpa_id.empty()) {
      return post(std::move(done),
                  SendResult::permanent("endpoint " + endpoint.name +
                                        ": no cpa_id (give it there or in transports.spine)"));
    }
    auto client = clientFor(ep->tls ? ep->tls : config_.client_tls, endpoint.max_concurrency);
    if (!client.ok()) {
      log::error("spine.client_unavailable",
                 {{"endpoint", endpoint.name}, {"error", client.status().message()}});
      return post(std::move(done), SendResult::retryable("endpoint " + endpoint.name + ": " +
                                                         client.status().message()));
    }
    TrunkSpec spec;
    spec.from_party = config_.party_key;
    spec.to_party = ep->party_key;
    spec.cpa_id = cpa_id;
    // Stable across attempts: a retry is a duplicate the receiving MHS eliminates (§7.3).
    spec.message_id = messageIdFor(config_.party_key, m.header.tracking_id, message.delivery_id);
    spec.conversation_id = spec.message_id;  // as CIAO does
    const TimePoint now = ctx_.clock.now();
    spec.timestamp = formatIsoSeconds(now);
    spec.sender_asid = config_.asid;
    spec.receiver_asid = ep->asid;
    spec.hl7_id =
        messageIdFor(config_.party_key + "/hl7", m.header.tracking_id, message.delivery_id);
    spec.hl7_creation_time = formatCompact(now);
    spec.ebxml_content_id = "ebXMLHeader@itk-router";
    spec.hl7_content_id = newUuidLower() + "@itk-router";
    spec.de_content_id = newUuidLower() + "@itk-router";
    BuiltRequest built = buildTrunkRequest(spec, *m.body);

    http::ClientRequest request;
    request.method = "POST";
    request.url = ep->url;
    request.headers.set("Content-Type", std::move(built.content_type));
    request.headers.set("SOAPAction", "\"" + std::string(kTrunkSoapAction) + "\"");
    request.body = std::move(built.body);
    request.timeout = ep->timeout ? *ep->timeout : message.timeout;
    const std::string message_id = spec.message_id;
    const std::string tracking_id = m.header.tracking_id;
    const std::string name = endpoint.name;
    const std::string url = ep->url;
    (*client)->request(
        std::move(request), [self = shared_from_this(), message_id, tracking_id, name, url,
                             done = std::move(done)](Result<http::Response> r) {
          SendResult result = self->classify(url, message_id, r);
          if (result.outcome == SendResult::Outcome::kDelivered) {
            result.remote_id = message_id;
            self->awaitAck(message_id, tracking_id, name);
          }
          self->sent_.Add({{"outcome", std::string(outcomeName(result.outcome))}}).Increment();
          log::info("spine.sent", {{"endpoint", name},
                                   {"message_id", message_id},
                                   {"tracking_id", tracking_id},
                                   {"outcome", outcomeName(result.outcome)},
                                   {"detail", result.detail}});
          done(std::move(result));
        });
  }

 private:
  void post(SendCallback done, SendResult result) {
    // Contract: the callback never runs inline from send().
    asio::post(ctx_.io, [done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

  Result<std::shared_ptr<http::Client>> makeClient(const std::optional<http::ClientTlsConfig>& tls,
                                                   int max_concurrency) {
    http::ClientOptions options;
    options.response_timeout = config_.request_timeout;
    options.max_connections_per_origin =
        std::max(options.max_connections_per_origin, static_cast<size_t>(max_concurrency));
    options.max_response_bytes = size_t{1} << 20;  // answers are empty or an ebXML envelope
    options.user_agent = "itk-router;spine";
    auto client = http::Client::create(ctx_.io, options, tls);
    if (!client.ok()) return client.status();
    return std::shared_ptr<http::Client>(std::move(*client));
  }

  // One client per TLS setting and connection cap, shared by deliveries.
  Result<std::shared_ptr<http::Client>> clientFor(const std::optional<http::ClientTlsConfig>& tls,
                                                  int max_concurrency) {
    std::string key = std::to_string(max_concurrency);
    if (tls) {
      key += "|" + tls->ca_file + "|" + tls->cert_file + "|" + tls->key_file + "|" +
             tls->server_name + "|" + (tls->verify_peer ? "v" : "-");
    }
    std::lock_guard lock(mu_);
    auto it = clients_.find(key);
    if (it != clients_.end()) return it->second;
    auto client = makeClient(tls, max_concurrency);
    if (!client.ok()) return client.status();
    clients_.emplace(key, *client);
    return *client;
  }

  SendResult classify(const std::string& url, const std::string& message_id,
                      const Result<http::Response>& r) const {
    if (!r.ok()) {
      switch (r.status().code()) {
        case Code::kUnavailable:
        case Code::kTimeout:
          // The receiver eliminates the duplicate if the first attempt did arrive (§7.3).
          return SendResult::retryable(url + ": " + r.status().message());
        default:
          return SendResult::permanent(url + ": " + r.status().message());
      }
    }
    const http::Response& response = *r;
    const std::string status = "HTTP " + std::to_string(response.status);
    if (response.status >= 200 && response.status < 300) {
      if (trim(response.body).empty()) return SendResult::delivered(url + ": " + status);
      // SyncReply style: the ack or the error in the body (§7.3).
      auto header = parseEbxml(response.body);
      if (!header.ok()) {
        return SendResult::delivered(url + ": " + status + " (a body that is not ebXML)");
      }
      switch (header->kind()) {
        case EbxmlHeader::Kind::kMessageError:
        case EbxmlHeader::Kind::kDeliveryFailure:
          return SendResult::permanent(url + ": " + status + " ebXML MessageError " +
                                       header->errorText());
        case EbxmlHeader::Kind::kAcknowledgment:
          if (!header->ref_to_message_id.empty() && header->ref_to_message_id != message_id) {
            log::warn("spine.sync_ack_mismatch",
                      {{"message_id", message_id}, {"ref_to", header->ref_to_message_id}});
          }
          return SendResult::delivered(url + ": " + status + " ebXML Acknowledgment");
        case EbxmlHeader::Kind::kMessage:
          return SendResult::delivered(url + ": " + status);
      }
    }
    std::string detail = url + ": " + status;
    if (auto header = parseEbxml(response.body); header.ok() && !header->errors.empty())
      detail += " ebXML MessageError " + header->errorText();
    if (response.status >= 500) return SendResult::retryable(detail);
    return SendResult::permanent(detail);
  }

  void awaitAck(const std::string& message_id, const std::string& tracking_id,
                const std::string& endpoint) {
    std::lock_guard lock(mu_);
    awaiting_[message_id] = {tracking_id, endpoint, Clock::now() + config_.ack_timeout};
    awaiting_gauge_.Set(static_cast<double>(awaiting_.size()));
  }

  // Forgets the message; returns what was known of it (or nothing).
  std::optional<AwaitingAck> settleAck(const std::string& message_id) {
    std::lock_guard lock(mu_);
    auto it = awaiting_.find(message_id);
    if (it == awaiting_.end()) return std::nullopt;
    AwaitingAck a = std::move(it->second);
    awaiting_.erase(it);
    awaiting_gauge_.Set(static_cast<double>(awaiting_.size()));
    return a;
  }

  void scheduleSweep() {
    auto period = std::clamp(config_.ack_timeout / 4, std::chrono::milliseconds(50),
                             std::chrono::milliseconds(5000));
    asio::post(sweep_timer_.get_executor(), [weak = weak_from_this(), period] {
      auto self = weak.lock();
      if (!self || self->stopped_) return;
      self->sweep_timer_.expires_after(period);
      self->sweep_timer_.async_wait([weak](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->stopped_) return;
        self->sweep();
        self->scheduleSweep();
      });
    });
  }

  // The ack never came. The router already counts the delivery as done; the receiving MHS (or
  // Spine) reports a real failure as a DeliveryFailure. This transport does not resend: logged.
  void sweep() {
    std::vector<std::pair<std::string, AwaitingAck>> expired;
    {
      std::lock_guard lock(mu_);
      auto now = Clock::now();
      for (auto it = awaiting_.begin(); it != awaiting_.end();) {
        if (it->second.deadline <= now) {
          expired.emplace_back(it->first, std::move(it->second));
          it = awaiting_.erase(it);
        } else {
          ++it;
        }
      }
      awaiting_gauge_.Set(static_cast<double>(awaiting_.size()));
    }
    for (const auto& [id, a] : expired) {
      ack_timeouts_.Increment();
      log::warn("spine.ack_timeout",
                {{"message_id", id},
                 {"tracking_id", a.tracking_id},
                 {"endpoint", a.endpoint},
                 {"timeout_ms", static_cast<long long>(config_.ack_timeout.count())}});
    }
  }

  // ---- inbound -------------------------------------------------------------------------------

  void count(std::string_view kind, std::string_view outcome) {
    inbound_.Add({{"kind", std::string(kind)}, {"outcome", std::string(outcome)}}).Increment();
  }

  void handle(http::Request&& request, http::Responder respond) {
    if (request.path() != config_.path) {
      count("unknown", "not_found");
      return respond(http::Response::text(404, "no Spine service at " + request.target + "\n"));
    }
    if (request.method != "POST") {
      count("unknown", "bad_request");
      http::Response r = http::Response::text(405, "the Spine MHS takes POST\n");
      r.headers.set("Allow", "POST");
      return respond(std::move(r));
    }
    auto soap_action = request.headers.get("SOAPAction");
    switch (soap_action ? routeOf(*soap_action) : Route::kOther) {
      case Route::kAck:
        return handleAck(std::move(request), std::move(respond));
      case Route::kTrunk:
        return handleTrunk(std::move(request), std::move(respond));
      case Route::kOther:
        break;
    }
    count("unknown", "bad_request");
    log::warn("spine.bad_request",
              {{"peer", request.peer}, {"soap_action", soap_action ? *soap_action : "(none)"}});
    respond(http::Response::text(400, "unknown SOAPAction\n"));
  }

  // The ebXML envelope of a request: the body, or the root part of a multipart body.
  static Result<EbxmlHeader> ebxmlOf(const http::Request& request) {
    auto content_type = request.headers.get("Content-Type");
    if (content_type && parseMultipartType(*content_type).ok()) {
      auto type = parseMultipartType(*content_type);
      auto parts = parseMultipart(request.body, type->boundary);
      if (!parts.ok()) return parts.status();
      for (const auto& p : *parts)
        if (type->start.empty() || p.content_id == type->start) return parseEbxml(p.body);
      return Status::invalid("no part has the start Content-Id");
    }
    return parseEbxml(request.body);
  }

  void handleAck(http::Request&& request, http::Responder respond) {
    auto header = ebxmlOf(request);
    if (!header.ok()) {
      // ebXML: no error is sent about an error or an ack; tell the HTTP peer.
      count("unknown", "unreadable");
      log::warn("spine.ack_unreadable",
                {{"peer", request.peer}, {"reason", header.status().message()}});
      return respond(http::Response::text(400, header.status().message() + "\n"));
    }
    const EbxmlHeader::Kind kind = header->kind();
    const std::string ref = header->ref_to_message_id;
    if (kind == EbxmlHeader::Kind::kAcknowledgment || kind == EbxmlHeader::Kind::kMessage) {
      auto awaited = settleAck(ref);
      count("acknowledgment", awaited ? "matched" : "unmatched");
      log::info("spine.ack_received", {{"ref_to_message_id", ref},
                                       {"from", header->from_party},
                                       {"matched", awaited.has_value()}});
      return respond(empty(200));
    }
    // MessageError / DeliveryFailure: a message we sent and the peer took was not delivered.
    auto awaited = settleAck(ref);
    DeliveryFailureReport report;
    report.transport = "spine";
    report.remote_id = ref;
    if (awaited) report.tracking_id = awaited->tracking_id;
    report.code = header->errors.empty() ? std::string(header->action) : header->errors[0].code;
    report.description = header->errorText();
    report.report_id = header->message_id;
    report.origin.transport = "spine";
    report.origin.peer = header->from_party;
    report.origin.authenticated_as = request.tls_client_subject;
    report.origin.transport_message_id = header->message_id;
    report.origin.attributes.emplace_back("spine.peer_address", request.peer);
    log::warn("spine.error_received", {{"ref_to_message_id", ref},
                                       {"from", header->from_party},
                                       {"kind", kindName(kind)},
                                       {"detail", report.description}});
    reportFailure(std::move(report), std::string(kindName(kind)), std::move(respond), 1);
  }

  void reportFailure(DeliveryFailureReport report, std::string kind, http::Responder respond,
                     int attempt) {
    DeliveryFailureReport copy = report;
    sink_->reportDeliveryFailure(std::move(copy), [self = shared_from_this(),
                                                   report = std::move(report),
                                                   kind = std::move(kind),
                                                   respond = std::move(respond),
                                                   attempt](Status s) mutable {
      if (s.ok()) {
        self->count(kind, "reported");
        return respond(empty(200));
      }
      if (attempt >= kReportAttempts || self->stopped_) {
        self->count(kind, "report_failed");
        log::error("spine.report_failed",
                   {{"ref_to_message_id", report.remote_id}, {"reason", s.toString()}});
        return respond(http::Response::text(503, s.message() + "\n"));
      }
      // E.g. the send's own callback has not been recorded yet: offer it again shortly.
      auto timer = std::make_shared<asio::steady_timer>(self->ctx_.io);
      timer->expires_after(kReportRetryDelay * (1 << (attempt - 1)));
      timer->async_wait([self, timer, report = std::move(report), kind = std::move(kind),
                         respond = std::move(respond), attempt](boost::system::error_code) mutable {
        self->reportFailure(std::move(report), std::move(kind), std::move(respond), attempt + 1);
      });
    });
  }

  // 500 with an ebXML MessageError (§7.3: errorCode 1000 for what cannot be read).
  http::Response messageError(const EbxmlHeader* about, const std::string& why) {
    ReplySpec reply;
    reply.from_party = config_.party_key;
    reply.to_party = about ? about->from_party : "";
    reply.cpa_id = about && !about->cpa_id.empty() ? about->cpa_id : config_.cpa_id;
    reply.conversation_id = about ? about->conversation_id : "";
    reply.message_id = newUuid();
    reply.timestamp = formatIsoSeconds(ctx_.clock.now());
    reply.ref_to_message_id = about ? about->message_id : "";
    EbxmlError e;
    e.code = std::string(kUnreadableErrorCode);
    e.severity = "Error";
    e.context = "urn:oasis:names:tc:ebxml-msg:service:errors";
    e.description = why;
    return xmlResponse(500, buildMessageError(reply, e));
  }

  void handleTrunk(http::Request&& request, http::Responder respond) {
    Origin origin;
    origin.transport = "spine";
    origin.peer = request.peer;
    auto content_type = request.headers.get("Content-Type");
    auto trunk = parseTrunkMessage(content_type ? *content_type : "", request.body);
    if (!trunk.ok()) {
      // The header may still be readable, to address the error.
      std::optional<EbxmlHeader> header;
      if (auto h = ebxmlOf(request); h.ok()) header = std::move(*h);
      count("message", "unreadable");
      log::warn("spine.unreadable", {{"peer", request.peer},
                                     {"message_id", header ? header->message_id : ""},
                                     {"reason", trunk.status().message()}});
      sink_->reportUnreadable(origin, trunk.status());
      return respond(messageError(header ? &*header : nullptr, trunk.status().message()));
    }
    const EbxmlHeader& eb = trunk->ebxml;
    auto refuse = [&](const std::string& why) {
      count("message", "unreadable");
      log::warn("spine.unreadable",
                {{"peer", request.peer}, {"message_id", eb.message_id}, {"reason", why}});
      sink_->reportUnreadable(origin,
                              Status::invalid(why).withToolkit(ToolkitCode::kInvalidMessage));
      respond(messageError(&eb, why));
    };
    if (eb.message_id.empty() || eb.from_party.empty())
      return refuse("the ebXML MessageHeader has no MessageId or From PartyId");
    if (eb.service != kItkService || eb.action != kTrunkAction)
      return refuse("not an ITK Trunk message: Service " + eb.service + ", Action " + eb.action);
    if (!trunk->hl7.empty()) {
      Status s = readHl7Asids(trunk->hl7, &trunk->sender_asid, &trunk->receiver_asid);
      if (!s.ok()) return refuse(s.message());
    }
    Result<Message> decoded = ctx_.decode
                                  ? ctx_.decode(std::make_shared<const std::string>(trunk->de))
                                  : Result<Message>(Status::internal("no decoder"));
    origin.transport_message_id = eb.message_id;
    if (!decoded.ok()) {
      count("message", "unreadable");
      log::warn("spine.unreadable", {{"peer", request.peer},
                                     {"message_id", eb.message_id},
                                     {"reason", decoded.status().toString()}});
      sink_->reportUnreadable(origin, decoded.status());
      return respond(messageError(
          &eb, "the Distribution Envelope cannot be read: " + decoded.status().toString()));
    }
    Message message = std::move(*decoded);
    origin.peer = eb.from_party;
    origin.authenticated_as =
        !request.tls_client_subject.empty() ? request.tls_client_subject : eb.from_party;
    origin.attributes.emplace_back("spine.from_party", eb.from_party);
    origin.attributes.emplace_back("spine.to_party", eb.to_party);
    origin.attributes.emplace_back("spine.cpa_id", eb.cpa_id);
    origin.attributes.emplace_back("spine.conversation_id", eb.conversation_id);
    if (!trunk->sender_asid.empty())
      origin.attributes.emplace_back("spine.from_asid", trunk->sender_asid);
    if (!trunk->receiver_asid.empty())
      origin.attributes.emplace_back("spine.to_asid", trunk->receiver_asid);
    origin.attributes.emplace_back("spine.peer_address", request.peer);
    message.origin = std::move(origin);
    message.received_at = ctx_.clock.now();
    const std::string tracking_id = message.header.tracking_id;
    sink_->accept(std::move(message), [self = shared_from_this(), eb, tracking_id,
                                       respond = std::move(respond)](AcceptOutcome o) {
      switch (o.kind) {
        case AcceptOutcome::Kind::kAccepted:
        case AcceptOutcome::Kind::kDuplicate: {
          const bool duplicate = o.kind == AcceptOutcome::Kind::kDuplicate;
          self->count("message", duplicate ? "duplicate" : "accepted");
          log::info("spine.received", {{"message_id", eb.message_id},
                                       {"from", eb.from_party},
                                       {"tracking_id", tracking_id},
                                       {"duplicate", duplicate}});
          respond(empty(200));
          // ITK2 §7.3: acknowledge after the 200, a duplicate too (ST re-acks duplicates).
          self->sendAck(eb);
          return;
        }
        case AcceptOutcome::Kind::kBusy: {
          self->count("message", "busy");
          http::Response r = http::Response::text(503, o.status.message() + "\n");
          r.headers.set("Retry-After", "5");
          respond(std::move(r));
          return;
        }
        case AcceptOutcome::Kind::kRejected:
          self->count("message", "rejected");
          log::warn("spine.refused",
                    {{"message_id", eb.message_id}, {"reason", o.status.toString()}});
          respond(self->messageError(&eb, o.status.toString()));
          return;
      }
    });
  }

  void sendAck(const EbxmlHeader& to) {
    auto url = config_.ack_urls.find(to.from_party);
    if (url == config_.ack_urls.end()) {
      acks_sent_.Add({{"outcome", "no_ack_url"}}).Increment();
      log::error("spine.no_ack_url", {{"party_key", to.from_party},
                                      {"ref_to_message_id", to.message_id},
                                      {"hint", "add it to transports.spine.ack_urls"}});
      return;
    }
    ReplySpec reply;
    reply.from_party = config_.party_key;
    reply.to_party = to.from_party;
    reply.cpa_id = to.cpa_id;
    reply.conversation_id = to.conversation_id;
    reply.message_id = newUuid();
    reply.timestamp = formatIsoSeconds(ctx_.clock.now());
    reply.ref_to_message_id = to.message_id;
    http::ClientRequest request;
    request.method = "POST";
    request.url = url->second;
    request.headers.set("Content-Type", kXmlContentType);
    request.headers.set("SOAPAction", "\"" + std::string(kAckSoapAction) + "\"");
    request.body = buildAcknowledgment(reply);
    const std::string ref = to.message_id;
    const std::string target = url->second;
    ack_client_->request(
        std::move(request), [self = shared_from_this(), ref, target](Result<http::Response> r) {
          const bool ok = r.ok() && r->status >= 200 && r->status < 300;
          self->acks_sent_.Add({{"outcome", ok ? "ok" : "failed"}}).Increment();
          if (ok) {
            log::debug("spine.ack_sent", {{"ref_to_message_id", ref}, {"url", target}});
          } else {
            // The sender resends the message (no ack came); the duplicate is acknowledged again.
            log::warn("spine.ack_failed", {{"ref_to_message_id", ref},
                                           {"url", target},
                                           {"reason", r.ok() ? "HTTP " + std::to_string(r->status)
                                                             : r.status().message()}});
          }
        });
  }

  const TransportContext& ctx_;
  const TransportConfig config_;
  asio::steady_timer sweep_timer_;
  prometheus::Family<prometheus::Counter>& inbound_;
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Family<prometheus::Counter>& acks_sent_;
  prometheus::Counter& ack_timeouts_;
  prometheus::Gauge& awaiting_gauge_;
  InboundSink* sink_ = nullptr;
  std::unique_ptr<http::Server> server_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::mutex mu_;  // clients_, awaiting_
  std::map<std::string, std::shared_ptr<http::Client>> clients_;
  std::shared_ptr<http::Client> ack_client_;
  std::map<std::string, AwaitingAck> awaiting_;
};

class SpineFactory final : public TransportFactory {
 public:
  std::string_view name() const override { return "spine"; }
  Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(
      const YAML::Node& node) const override {
    auto ep = spine::parseEndpoint(node);
    if (!ep.ok()) return ep.status();
    return std::shared_ptr<const EndpointConfig>(std::move(*ep));
  }
  Result<std::unique_ptr<Transport>> create(const YAML::Node& config,
                                            const TransportContext& context) const override {
    auto parsed = parseTransportConfig(config);
    if (!parsed.ok()) return parsed.status();
    auto impl = std::make_shared<SpineTransport>(context, std::move(*parsed));
    return std::unique_ptr<Transport>(
        std::make_unique<SharedTransport<SpineTransport>>(std::move(impl)));
  }
};

}  // namespace

std::unique_ptr<TransportFactory> makeSpineTransportFactory() {
  return std::make_unique<SpineFactory>();
}

uint16_t spineListenerPort(const Transport& transport) {
  const auto* handle = dynamic_cast<const SharedTransport<SpineTransport>*>(&transport);
  return handle ? handle->impl()->port() : 0;
}

}  // namespace itk::spine
