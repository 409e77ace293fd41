#include "itk/mesh/transport.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "itk/duration.h"
#include "itk/fhir/itk3.h"
#include "itk/fhir/response.h"
#include "itk/file_names.h"
#include "itk/log.h"

namespace itk::mesh {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Configuration

namespace {

std::string line(const YAML::Node& n) {
  return " (line " + std::to_string(n.Mark().line + 1) + ")";
}

Result<std::string> readSecret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool scalar(const YAML::Node& n, std::string* out) {
  if (!n.IsScalar()) return false;
  *out = n.Scalar();
  return true;
}

bool duration(const YAML::Node& n, std::chrono::milliseconds* out) {
  return n.IsScalar() && parseDuration(n.Scalar(), out);
}

bool size(const YAML::Node& n, size_t* out) {
  unsigned long long v = 0;
  if (!n.IsScalar() || !YAML::convert<unsigned long long>::decode(n, v)) return false;
  *out = static_cast<size_t>(v);
  return true;
}

bool boolean(const YAML::Node& n, bool* out) {
  return n.IsScalar() && YAML::convert<bool>::decode(n, *out);
}

// A mailbox id as MESH writes them: letters, digits, '_' and '-' (GPPROVIDER_... addresses too).
bool isMailboxId(std::string_view s) {
  if (s.empty() || s.size() > 100) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

Result<MailboxConfig> parseMailbox(const YAML::Node& node) {
  if (!node.IsMap()) return Status::invalid("a mailbox must be a mapping" + line(node));
  MailboxConfig m;
  std::string password_file;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    bool ok = true;
    if (key == "id")
      ok = scalar(v, &m.id);
    else if (key == "password")
      ok = scalar(v, &m.password);
    else if (key == "password_file")
      ok = scalar(v, &password_file);
    else if (key == "poll_interval")
      ok = duration(v, &m.poll_interval);
    else if (key == "chunk_size")
      ok = size(v, &m.chunk_size) && m.chunk_size > 0 && m.chunk_size < (size_t{100} << 20);
    else if (key == "download_concurrency")
      ok = v.IsScalar() && YAML::convert<int>::decode(v, m.download_concurrency) &&
           m.download_concurrency >= 1 && m.download_concurrency <= 64;
    else if (key == "workflows") {
      ok = v.IsSequence();
      for (const auto& w : v) ok = ok && w.IsScalar() && (m.workflows.push_back(w.Scalar()), true);
    } else if (key == "tls") {
      ok = v.IsMap();
      MailboxTls tls;
      for (const auto& t : v) {
        const std::string k = t.first.Scalar();
        if (k == "cert")
          ok = ok && scalar(t.second, &tls.cert_file);
        else if (k == "key")
          ok = ok && scalar(t.second, &tls.key_file);
        else if (k == "ca")
          ok = ok && scalar(t.second, &tls.ca_file);
        else if (k == "verify_peer")
          ok = ok && boolean(t.second, &tls.verify_peer);
        else if (k == "server_name")
          ok = ok && scalar(t.second, &tls.server_name);
        else
          return Status::invalid("unknown mailbox tls option '" + k + "'" + line(t.first));
      }
      m.tls = tls;
    } else {
      return Status::invalid("unknown mailbox option '" + key + "'" + line(kv.first));
    }
    if (!ok) return Status::invalid("bad value for mailbox option '" + key + "'" + line(kv.first));
  }
  if (!isMailboxId(m.id)) return Status::invalid("a mailbox needs an id" + line(node));
  if (!password_file.empty()) {
    auto secret = readSecret(password_file);
    if (!secret.ok()) return Status::invalid("mailbox " + m.id + ": " + secret.status().message());
    m.password = *secret;
  }
  if (m.password.empty())
    return Status::invalid("mailbox " + m.id + " needs a password or password_file");
  return m;
}

}  // namespace

const MailboxConfig* TransportConfig::mailbox(std::string_view id) const {
  for (const auto& m : mailboxes)
    if (m.id == id) return &m;
  return nullptr;
}

Result<TransportConfig> parseTransportConfig(const YAML::Node& node) {
  if (!node || !node.IsMap()) return Status::invalid("transports.mesh must be a mapping");
  TransportConfig c;
  std::string key_file;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    bool ok = true;
    if (key == "url")
      ok = scalar(v, &c.url);
    else if (key == "shared_key")
      ok = scalar(v, &c.shared_key);
    else if (key == "shared_key_file")
      ok = scalar(v, &key_file);
    else if (key == "handshake_interval")
      ok = duration(v, &c.handshake_interval);
    else if (key == "max_message_bytes")
      ok = size(v, &c.max_message_bytes);
    else if (key == "request_timeout")
      ok = duration(v, &c.request_timeout);
    else if (key == "auth_backoff")
      ok = duration(v, &c.auth_backoff);
    else if (key == "auth_backoff_max")
      ok = duration(v, &c.auth_backoff_max);
    else if (key == "ods_code")
      ok = scalar(v, &c.ods_code);
    else if (key == "organisation_name")
      ok = scalar(v, &c.organisation_name);
    else if (key == "respond_unreadable")
      ok = boolean(v, &c.respond_unreadable);
    else if (key == "mailboxes") {
      ok = v.IsSequence();
      for (const auto& m : v) {
        auto mb = parseMailbox(m);
        if (!mb.ok()) return mb.status();
        if (c.mailbox(mb->id)) return Status::invalid("mailbox " + mb->id + " is listed twice");
        c.mailboxes.push_back(std::move(*mb));
      }
    } else {
      return Status::invalid("unknown option '" + key + "'" + line(kv.first));
    }
    if (!ok) return Status::invalid("bad value for '" + key + "'" + line(kv.first));
  }
  if (!c.url.starts_with("https://") && !c.url.starts_with("http://")) {
    return Status::invalid("url must be the MESH environment's http(s) URL");
  }
  while (c.url.ends_with("/")) c.url.pop_back();
  if (!key_file.empty()) {
    auto secret = readSecret(key_file);
    if (!secret.ok()) return Status::invalid("shared_key_file: " + secret.status().message());
    c.shared_key = *secret;
  }
  if (c.shared_key.empty()) return Status::invalid("shared_key or shared_key_file is required");
  if (c.mailboxes.empty()) return Status::invalid("at least one mailbox is required");
  return c;
}

Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(const YAML::Node& node) {
  auto ep = std::make_shared<Endpoint>();
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    bool ok = true;
    if (key == "transport" || key == "max_concurrency" || key == "description" || key == "name") {
      continue;
    } else if (key == "mailbox")
      ok = scalar(v, &ep->mailbox) && isMailboxId(ep->mailbox);
    else if (key == "to")
      ok = scalar(v, &ep->to) && isMailboxId(ep->to);
    else if (key == "workflow")
      ok = scalar(v, &ep->workflow) && !ep->workflow.empty();
    else if (key == "subject")
      ok = scalar(v, &ep->subject);
    else if (key == "content_type")
      ok = scalar(v, &ep->content_type);
    else if (key == "compress")
      ok = boolean(v, &ep->compress);
    else if (key == "chunk_size")
      ok = size(v, &ep->chunk_size) && ep->chunk_size > 0 && ep->chunk_size < (size_t{100} << 20);
    else
      return Status::invalid("unknown mesh endpoint option '" + key + "'");
    if (!ok) return Status::invalid("bad value for mesh endpoint option '" + key + "'");
  }
  if (ep->mailbox.empty())
    return Status::invalid("a mesh endpoint needs `mailbox` (ours, to send from)");
  SendHeaders probe{ep->to.empty() ? "X" : ep->to,
                    ep->workflow.empty() ? "X" : ep->workflow,
                    ep->subject,
                    "",
                    "",
                    ep->content_type};
  if (Status s = validate(probe); !s.ok()) return Status::invalid("mesh endpoint: " + s.message());
  return std::shared_ptr<const EndpointConfig>(std::move(ep));
}

// ---------------------------------------------------------------------------------------------
// The transport

namespace {

// The ODS code in an identity such as "urn:nhs-uk:identity:ods:X26[:...]".
std::string odsOfIdentity(std::string_view identity) {
  size_t at = identity.find(":ods:");
  if (at == std::string_view::npos) return {};
  std::string_view rest = identity.substr(at + 5);
  return std::string(rest.substr(0, rest.find(':')));
}

class Mailbox;

class MeshTransport final : public Transport, public std::enable_shared_from_this<MeshTransport> {
 public:
  MeshTransport(std::shared_ptr<const TransportConfig> config, const TransportContext& ctx,
                std::vector<std::shared_ptr<Mailbox>> mailboxes)
      : config_(std::move(config)), ctx_(ctx), mailboxes_(std::move(mailboxes)) {}

  Status start(InboundSink& sink) override;
  void stopAccepting() override;
  bool ready() const override;
  void send(OutboundMessage message, const EndpointSpec& endpoint, SendCallback done) override;

 private:
  Mailbox* find(std::string_view id) const;

  std::shared_ptr<const TransportConfig> config_;
  const TransportContext& ctx_;
  std::vector<std::shared_ptr<Mailbox>> mailboxes_;
  std::atomic<bool> started_{false};
};

// One of the router's mailboxes: its client, its poller (on a strand) and its auth gate.
class Mailbox final : public std::enable_shared_from_this<Mailbox> {
 public:
  Mailbox(std::shared_ptr<const TransportConfig> tc, MailboxConfig config,
          const TransportContext& ctx, HttpExchange exchange)
      : tc_(std::move(tc)),
        config_(std::move(config)),
        ctx_(ctx),
        strand_(asio::make_strand(ctx.io)),
        poll_timer_(strand_),
        handshake_timer_(strand_),
        gate_(ctx.clock, tc_->auth_backoff, tc_->auth_backoff_max),
        authenticated_(prometheus::BuildGauge()
                           .Name("itk_mesh_mailbox_authenticated")
                           .Help("1 when the MESH mailbox's last request authenticated, 0 when "
                                 "MESH refused its credentials (not known yet: absent)")
                           .Register(ctx.metrics)) {
    ClientConfig cc;
    cc.base_url = tc_->url;
    cc.credentials = {config_.id, config_.password, tc_->shared_key};
    // Twice the ITK limit: larger DATA is still downloaded so it can be answered 20015; beyond
    // this it stays in the inbox and MESH tells the sender after 5 days (error 14).
    cc.max_message_bytes = tc_->max_message_bytes * 2;
    cc.timeout = tc_->request_timeout;
    asio::io_context& io = ctx.io;
    client_ = Client::create(
        cc, std::move(exchange), [&io](std::function<void()> f) { asio::post(io, std::move(f)); },
        ctx.clock);
    responder_.mailbox = config_.id;
    responder_.ods_code =
        tc_->ods_code.empty() ? odsOfIdentity(ctx.identity.audit_identity) : tc_->ods_code;
    responder_.organisation_name = tc_->organisation_name;
  }

  const std::string& id() const { return config_.id; }
  const MailboxConfig& config() const { return config_; }
  Client& client() { return *client_; }
  MailboxGate& gate() { return gate_; }
  bool polling() const { return polling_; }

  void start(InboundSink& sink) {
    sink_ = &sink;
    accepting_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->handshake(); });
    if (config_.poll_interval.count() > 0) {
      polling_ = true;
      asio::post(strand_, [self = shared_from_this()] { self->poll(); });
    }
  }

  void stop() {
    accepting_ = false;
    asio::post(strand_, [self = shared_from_this()] {
      self->poll_timer_.cancel();
      self->handshake_timer_.cancel();
    });
  }

  // Records the outcome of a request for the auth gate; logs loudly when the mailbox closes.
  void noteAuth(const Status& s) {
    if (isAuthFailure(s)) {
      authenticated_.Add({{"mailbox", config_.id}}).Set(0);
      if (gate_.failed()) {
        log::error("mesh.auth_failure", {{"mailbox", config_.id},
                                         {"error", s.message()},
                                         {"reopens_at", formatIsoSeconds(gate_.reopensAt())}});
      }
    } else if (s.ok()) {
      authenticated_.Add({{"mailbox", config_.id}}).Set(1);
      gate_.succeeded();
    }
  }

 private:
  // §3.6: handshake on start and once a day.
  void handshake() {
    if (!accepting_) return;
    client_->handshake([self = shared_from_this()](Status s) {
      asio::post(self->strand_, [self, s] {
        self->noteAuth(s);
        if (s.ok())
          log::info("mesh.handshake", {{"mailbox", self->config_.id}});
        else
          log::warn("mesh.handshake_failed",
                    {{"mailbox", self->config_.id}, {"error", s.toString()}});
        self->handshake_timer_.expires_after(self->tc_->handshake_interval);
        self->handshake_timer_.async_wait([self](const boost::system::error_code& ec) {
          if (!ec) self->handshake();
        });
      });
    });
  }

  void schedulePoll(std::chrono::milliseconds after) {
    if (!accepting_) return;
    poll_timer_.expires_after(after);
    poll_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->poll();
    });
  }

  void poll() {
    if (!accepting_) return;
    if (!gate_.open()) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(gate_.reopensAt() -
                                                                        ctx_.clock.now());
      return schedulePoll(std::max(wait, std::chrono::milliseconds(1000)));
    }
    filter_ = 0;
    listNext();
  }

  // One list per workflow filter (or one unfiltered), each processed before the next.
  void listNext() {
    std::string filter = config_.workflows.empty() ? std::string() : config_.workflows[filter_];
    client_->listInbox(filter, {}, [self = shared_from_this()](Result<InboxPage> page) {
      asio::post(self->strand_,
                 [self, page = std::move(page)]() mutable { self->onList(std::move(page)); });
    });
  }

  void onList(Result<InboxPage> page) {
    noteAuth(page.status());
    if (!page.ok()) {
      log::warn("mesh.poll_failed", {{"mailbox", config_.id}, {"error", page.status().toString()}});
      return schedulePoll(config_.poll_interval);
    }
    // §3.6: a full page of 500 means more are waiting: poll again as soon as these are done.
    full_page_ = full_page_ || page->message_ids.size() >= 500;
    pending_ = std::move(page->message_ids);
    next_ = 0;
    processNext();
  }

  // Keeps up to download_concurrency messages of the listed page in flight; once the page is
  // done, lists the next workflow filter or schedules the next poll.
  void processNext() {
    if (!accepting_) return;
    while (next_ < pending_.size() && in_flight_ < config_.download_concurrency) {
      ++in_flight_;
      process(pending_[next_++]);
    }
    if (in_flight_ > 0 || next_ < pending_.size()) return;
    if (++filter_ < config_.workflows.size()) return listNext();
    bool again = full_page_;
    full_page_ = false;
    schedulePoll(again ? std::chrono::milliseconds(0) : config_.poll_interval);
  }

  // Called on the strand when one message is settled (acknowledged, left, or failed).
  void settled() {
    asio::post(strand_, [self = shared_from_this()] {
      --self->in_flight_;
      self->processNext();
    });
  }

  void process(const std::string& id) {
    client_->download(id, [self = shared_from_this(), id](Result<DownloadedMessage> m) {
      self->noteAuth(m.status());
      if (!m.ok()) {
        log::warn(
            "mesh.download_failed",
            {{"mailbox", self->config_.id}, {"message_id", id}, {"error", m.status().toString()}});
        return self->settled();
      }
      if (auto report = reportOf(m->headers)) return self->onReport(id, *report, m->headers);
      self->onData(id, std::move(*m));
    });
  }

  Origin originOf(const std::string& id, const ReceivedHeaders& h) const {
    Origin o;
    o.transport = "mesh";
    o.peer = h.from;
    o.authenticated_as = config_.id;
    o.transport_message_id = id;
    o.attributes = {{std::string(itk3::kAttrMeshFrom), h.from},
                    {std::string(itk3::kAttrMeshTo), config_.id},
                    {std::string(itk3::kAttrMeshWorkflow), h.workflow_id},
                    {"mesh.local_id", h.local_id},
                    {"mesh.subject", h.subject},
                    {"mesh.file_name", h.file_name}};
    return o;
  }

  void onReport(const std::string& id, const Report& r, const ReceivedHeaders& h) {
    DeliveryFailureReport report;
    report.transport = "mesh";
    report.remote_id = r.linked_message_id;
    report.tracking_id = r.local_id;
    report.code = r.status_code;
    report.description = r.status_description;
    report.report_id = id;
    report.origin = originOf(id, h);
    log::warn("mesh.report", {{"mailbox", config_.id},
                              {"report_id", id},
                              {"linked_message_id", r.linked_message_id},
                              {"local_id", r.local_id},
                              {"code", r.status_code},
                              {"description", r.status_description}});
    sink_->reportDeliveryFailure(std::move(report), [self = shared_from_this(), id](Status s) {
      if (!s.ok()) {
        // Kept in the inbox: offered again at the next poll.
        log::warn("mesh.report_not_taken",
                  {{"mailbox", self->config_.id}, {"report_id", id}, {"error", s.toString()}});
        return self->settled();
      }
      self->acknowledge(id);
    });
  }

  void onData(const std::string& id, DownloadedMessage m) {
    auto bytes = std::make_shared<const std::string>(std::move(m.data));
    Origin origin = originOf(id, m.headers);
    if (bytes->size() > tc_->max_message_bytes) {
      // The header still says who to answer, if it can be read: the reader fills `too_large`
      // only when it fails, so a Bundle that reads whole is described here.
      itk3::ReadFailure too_large;
      itk3::ReadOptions options;
      options.limits.max_bytes = bytes->size();
      auto whole = itk3::readMessageBundle(*bytes, options, &too_large);
      if (whole.ok()) {
        const itk3::MessageHeaderResource& h = whole->header;
        too_large.header_complete = true;
        too_large.header_id = h.id;
        too_large.source_endpoint = h.source_endpoint;
        too_large.sender_reference = h.handling.sender_reference;
        too_large.inf_ack_requested = h.handling.inf_ack_requested;
        too_large.bus_ack_requested = h.handling.bus_ack_requested;
        too_large.is_response = whole->isResponse();
      }
      too_large.status =
          Status::invalid("the message is " + std::to_string(bytes->size()) +
                          " bytes; the limit is " + std::to_string(tc_->max_message_bytes))
              .withToolkit(ToolkitCode::kInvalidMessage, "20015");
      return refuse(id, bytes, origin, too_large, itk3::looksLikeBundle(*bytes));
    }
    Result<Message> decoded = Status::internal("unread");
    itk3::ReadFailure failure;
    const bool itk3 = itk3::looksLikeBundle(*bytes);
    if (itk3) {
      auto bundle = itk3::readMessageBundle(*bytes, {}, &failure);
      if (bundle.ok()) {
        Message msg;
        msg.header = itk3::toMessageHeader(*bundle);
        msg.body = bytes;
        // ITK3 §1.2 (GPPROVIDER routing): no receiver in the header means the recipient is the
        // mailbox it was sent to.
        if (msg.header.kind == MessageKind::kBusiness && msg.header.addresses.empty()) {
          msg.header.addresses.push_back(config_.id);
        }
        decoded = std::move(msg);
      } else {
        decoded = bundle.status();
      }
    } else if (ctx_.decode) {
      decoded = ctx_.decode(bytes);
      failure.status = decoded.status();
    } else {
      decoded = Status::internal("no decoder for non-ITK3 MESH data");
      failure.status = decoded.status();
    }
    if (!decoded.ok())
      return refuse(id, bytes, origin, failure, itk3 || !looksLikeEnvelope(*bytes));
    Message message = std::move(*decoded);
    message.origin = std::move(origin);
    message.received_at = ctx_.clock.now();
    const std::string tracking = message.header.tracking_id;
    sink_->accept(
        std::move(message), [self = shared_from_this(), id, bytes, tracking](AcceptOutcome o) {
          switch (o.kind) {
            case AcceptOutcome::Kind::kAccepted:
            case AcceptOutcome::Kind::kDuplicate:
              // Durable now (or already): only now may MESH forget it.
              return self->acknowledge(id);
            case AcceptOutcome::Kind::kBusy:
              log::warn("mesh.router_busy", {{"mailbox", self->config_.id}, {"message_id", id}});
              return self->settled();  // left in the inbox for the next poll
            case AcceptOutcome::Kind::kRejected:
              log::warn("mesh.rejected", {{"mailbox", self->config_.id},
                                          {"message_id", id},
                                          {"tracking_id", tracking},
                                          {"error", o.status.toString()}});
              self->quarantine(id, *bytes, o.status);
              return self->acknowledge(id);
          }
        });
  }

  static bool looksLikeEnvelope(std::string_view bytes) {
    return bytes.substr(0, 4096).find("DistributionEnvelope") != std::string_view::npos;
  }

  // Input that cannot be taken: kept on disk, reported, answered when ITK3, then acknowledged.
  void refuse(const std::string& id, const std::shared_ptr<const std::string>& bytes,
              const Origin& origin, const itk3::ReadFailure& failure, bool answer_itk3) {
    sink_->reportUnreadable(origin, failure.status);
    quarantine(id, *bytes, failure.status);
    const std::string* workflow = origin.attribute(itk3::kAttrMeshWorkflow);
    itk3::ResponseContext rc;
    rc.is_response = failure.is_response || (workflow && itk3::isAckWorkflow(*workflow));
    rc.inf_ack_requested = failure.inf_ack_requested;
    rc.bus_ack_requested = failure.bus_ack_requested;
    std::string code = failure.status.vocabularyCode();
    if (!itk3::findResponseCode(code)) code = "10009";
    itk3::ResponseDecision d = itk3::decideResponse(rc, code);
    if (!tc_->respond_unreadable || !answer_itk3 || d != itk3::ResponseDecision::kSend) {
      log::info("mesh.unreadable_not_answered",
                {{"mailbox", config_.id},
                 {"message_id", id},
                 {"reason", answer_itk3 ? std::string(itk3::decisionName(d)) : "not ITK3"}});
      return acknowledge(id);
    }
    itk3::ReadFailure answered = failure;
    answered.status = Status(failure.status).withToolkit(ToolkitCode::kInvalidMessage, code);
    auto response = itk3::respondToUnreadable(answered, origin, responder_, ctx_.clock.now());
    if (!response.ok()) {
      log::error("mesh.response_failed",
                 {{"mailbox", config_.id}, {"error", response.status().toString()}});
      return acknowledge(id);
    }
    log::info("mesh.responding",
              {{"mailbox", config_.id},
               {"message_id", id},
               {"code", code},
               {"to", response->header.addresses.empty() ? "" : response->header.addresses[0]}});
    sink_->accept(std::move(*response), [self = shared_from_this(), id](AcceptOutcome o) {
      if (o.kind == AcceptOutcome::Kind::kBusy) return self->settled();  // try again next poll
      if (o.kind == AcceptOutcome::Kind::kRejected) {
        log::error("mesh.response_rejected",
                   {{"mailbox", self->config_.id}, {"error", o.status.toString()}});
      }
      self->acknowledge(id);
    });
  }

  void quarantine(const std::string& id, const std::string& bytes, const Status& why) {
    if (ctx_.data_dir.empty()) return;
    fs::path dir = fs::path(ctx_.data_dir) / "mesh" / "rejected";
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::string name = safeFileName(config_.id) + "-" + safeFileName(id);
    std::ofstream(dir / (name + ".dat"), std::ios::binary) << bytes;
    std::ofstream(dir / (name + ".reason")) << why.toString() << "\n";
  }

  void acknowledge(const std::string& id) {
    client_->acknowledge(id, [self = shared_from_this(), id](Status s) {
      self->noteAuth(s);
      if (!s.ok()) {
        // Not fatal: MESH offers it again and the router's de-duplication absorbs it.
        log::warn("mesh.acknowledge_failed",
                  {{"mailbox", self->config_.id}, {"message_id", id}, {"error", s.toString()}});
      }
      self->settled();
    });
  }

  std::shared_ptr<const TransportConfig> tc_;
  MailboxConfig config_;
  const TransportContext& ctx_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer poll_timer_;
  asio::steady_timer handshake_timer_;
  MailboxGate gate_;
  prometheus::Family<prometheus::Gauge>& authenticated_;  // itk_mesh_mailbox_authenticated
  std::shared_ptr<Client> client_;
  itk3::Responder responder_;
  InboundSink* sink_ = nullptr;
  std::atomic<bool> accepting_{false};
  std::atomic<bool> polling_{false};
  // Strand only.
  std::vector<std::string> pending_;
  size_t next_ = 0;
  int in_flight_ = 0;  // messages of pending_ taken and not yet settled
  size_t filter_ = 0;
  bool full_page_ = false;
};

Status MeshTransport::start(InboundSink& sink) {
  for (auto& m : mailboxes_) m->start(sink);
  started_ = true;
  return Status();
}

void MeshTransport::stopAccepting() {
  started_ = false;
  for (auto& m : mailboxes_) m->stop();
}

// Ready once the pollers run. A mailbox refusing authentication does not make the router unready
// (it still accepts on other transports); it is logged and its gate is visible in the logs.
bool MeshTransport::ready() const {
  return started_;
}

Mailbox* MeshTransport::find(std::string_view id) const {
  for (const auto& m : mailboxes_)
    if (m->id() == id) return m.get();
  return nullptr;
}

void MeshTransport::send(OutboundMessage out, const EndpointSpec& endpoint, SendCallback done) {
  auto fail = [this, &done](SendResult r) {
    asio::post(ctx_.io,
               [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  };
  const Endpoint* ep = endpoint.as<Endpoint>();
  if (!ep)
    return fail(SendResult::permanent("endpoint " + endpoint.name + " is not a mesh endpoint"));
  Mailbox* mailbox = find(ep->mailbox);
  if (!mailbox) {
    return fail(SendResult::permanent("mesh endpoint " + endpoint.name + " sends from mailbox " +
                                      ep->mailbox + ", which transports.mesh does not configure"));
  }
  if (!mailbox->gate().open()) {
    return fail(SendResult::retryable("MESH authentication failure: mailbox " + ep->mailbox +
                                      " is closed until " +
                                      formatIsoSeconds(mailbox->gate().reopensAt())));
  }
  const Message& m = *out.message;
  SendRequest r;
  r.headers.to = ep->to.empty() ? out.address : ep->to;
  if (!isMailboxId(r.headers.to)) {
    return fail(SendResult::permanent("the address '" + r.headers.to +
                                      "' is not a MESH mailbox id; give the endpoint a `to`"));
  }
  r.headers.workflow_id = ep->workflow;
  if (r.headers.workflow_id.empty()) {
    if (const std::string* w = m.origin.attribute(itk3::kAttrMeshReplyWorkflow))
      r.headers.workflow_id = *w;
  }
  if (r.headers.workflow_id.empty()) {
    return fail(SendResult::permanent("mesh endpoint " + endpoint.name +
                                      " has no workflow and the message names no reply workflow"));
  }
  r.headers.subject = ep->subject;
  r.headers.local_id = m.header.tracking_id;  // ITK2 tracking id / ITK3 MessageHeader.id
  r.headers.file_name = safeFileName(m.header.tracking_id) + ".xml";
  r.headers.content_type = !ep->content_type.empty()                 ? ep->content_type
                           : m.header.format == MessageFormat::kItk3 ? "application/fhir+xml"
                                                                     : "application/xml";
  r.data = m.body;
  r.chunk_size = ep->chunk_size ? ep->chunk_size : mailbox->config().chunk_size;
  r.compress = ep->compress;
  auto keep = shared_from_this();
  std::string mailbox_id = ep->mailbox;
  std::string tracking = m.header.tracking_id;
  mailbox->client().send(std::move(r), [keep, mailbox, mailbox_id, tracking,
                                        done = std::move(done)](Result<std::string> id) {
    Status s = id.status();
    mailbox->noteAuth(s);
    SendResult result = toSendResult(s, id.ok() ? *id : std::string());
    log::info("mesh.sent", {{"mailbox", mailbox_id},
                            {"tracking_id", tracking},
                            {"outcome", outcomeName(result.outcome)},
                            {"message_id", result.remote_id},
                            {"detail", result.detail}});
    done(std::move(result));
  });
}

class MeshFactory final : public TransportFactory {
 public:
  explicit MeshFactory(ExchangeFactory exchanges) : exchanges_(std::move(exchanges)) {}
  std::string_view name() const override { return "mesh"; }

  Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(
      const YAML::Node& node) const override {
    return mesh::parseEndpoint(node);
  }

  Result<std::unique_ptr<Transport>> create(const YAML::Node& node,
                                            const TransportContext& ctx) const override {
    auto config = parseTransportConfig(node);
    if (!config.ok()) return config.status();
    auto holder = std::make_shared<const TransportConfig>(std::move(*config));
    std::vector<std::shared_ptr<Mailbox>> mailboxes;
    for (const auto& mc : holder->mailboxes) {
      auto exchange = exchanges_(*holder, mc, ctx.io);
      if (!exchange.ok())
        return Status::invalid("mailbox " + mc.id + ": " + exchange.status().message());
      mailboxes.push_back(std::make_shared<Mailbox>(holder, mc, ctx, std::move(*exchange)));
    }
    auto impl = std::make_shared<MeshTransport>(holder, ctx, std::move(mailboxes));
    return std::unique_ptr<Transport>(
        std::make_unique<SharedTransport<MeshTransport>>(std::move(impl)));
  }

 private:
  ExchangeFactory exchanges_;
};

}  // namespace

std::unique_ptr<TransportFactory> makeMeshTransportFactory(ExchangeFactory exchanges) {
  return std::make_unique<MeshFactory>(std::move(exchanges));
}

}  // namespace itk::mesh
