#include "store/commands.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>

#include "itk/store.h"

namespace itk {

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr const char* kMessagesUsage =
    "usage: itk-router messages show ID --store PATH\n"
    "  ID: a tracking id, or a transport message id (wsa:MessageID, MESH message id)\n";
constexpr const char* kAuditUsage =
    "usage: itk-router audit ID --store PATH\n"
    "  ID: a tracking id, or a transport message id (wsa:MessageID, MESH message id)\n";
constexpr const char* kDeadLettersUsage =
    "usage: itk-router dead-letters list [--route R] [--after ID] [--limit N] --store PATH\n"
    "       itk-router dead-letters replay DELIVERY_ID|--all [--route R] --store PATH\n";

// Positional words and --name value options (also --name=value); `flags` take no value.
struct Args {
  std::vector<std::string> words;
  std::map<std::string, std::string> options;
  std::string error;

  const std::string* option(const std::string& name) const {
    auto it = options.find(name);
    return it == options.end() ? nullptr : &it->second;
  }
};

Args parse(const std::vector<std::string>& args, const std::vector<std::string>& flags) {
  Args out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      out.words.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    if (auto eq = name.find('='); eq != std::string::npos) {
      out.options[name.substr(0, eq)] = name.substr(eq + 1);
    } else if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
      out.options[name] = "";
    } else if (i + 1 < args.size()) {
      out.options[name] = args[++i];
    } else {
      out.error = "option --" + name + " needs a value";
    }
  }
  return out;
}

Result<std::unique_ptr<Store>> openForTool(const Args& args) {
  const std::string* path = args.option("store");
  if (!path || path->empty()) return Status::invalid("--store PATH is required");
  StoreConfig config;
  config.backend = StoreBackend::kSqlite;
  config.path = *path;
  config.mode = StoreConfig::Mode::kTool;
  config.group_commit_max_wait = std::chrono::microseconds(0);
  return openStore(config);
}

std::string actor() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user && *user ? user : "unknown");
}

std::string when(TimePoint t) {
  return formatIsoMillis(t);
}

// A field of a tab-separated line: tabs and line breaks (a peer's error text may hold them)
// become spaces, so each event stays on one line.
std::string field(std::string text) {
  for (char& c : text)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return text;
}

bool parseId(const std::string& text, int64_t* out) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v <= 0) return false;
  *out = v;
  return true;
}

void printMessage(Store& store, int64_t id, std::ostream& out) {
  auto header = store.loadHeader(id);
  if (!header.ok()) {
    out << "message " << id << ": " << header.status().toString() << "\n";
    return;
  }
  const Message& m = **header;
  const MessageHeader& h = m.header;
  out << "message " << id << "\n";
  out << "  tracking id:     " << h.tracking_id << "\n";
  out << "  kind:            " << kindName(h.kind) << " (" << formatName(h.format) << ")\n";
  if (!h.acknowledged_tracking_id.empty())
    out << "  acknowledges:    " << h.acknowledged_tracking_id
        << (h.ack_positive ? " (positive)" : " (negative)") << "\n";
  out << "  service:         " << h.service << "\n";
  out << "  interaction:     " << h.interaction << "\n";
  out << "  sender:          " << h.sender_address << "\n";
  out << "  addresses:       ";
  for (size_t i = 0; i < h.addresses.size(); ++i) out << (i ? ", " : "") << h.addresses[i];
  out << "\n";
  out << "  audit identity:  " << h.audit_identity << "\n";
  out << "  acks requested:  "
      << (h.infack_requested && h.busack_requested ? "infrastructure, business"
          : h.infack_requested                     ? "infrastructure"
          : h.busack_requested                     ? "business"
                                                   : "none")
      << "\n";
  out << "  received:        " << when(m.received_at) << " via " << m.origin.transport;
  if (!m.origin.peer.empty()) out << " from " << m.origin.peer;
  if (!m.origin.authenticated_as.empty()) out << " as " << m.origin.authenticated_as;
  out << "\n";
  if (!m.origin.transport_message_id.empty())
    out << "  transport id:    " << m.origin.transport_message_id << "\n";
  auto full = store.loadMessage(id);
  out << "  body:            "
      << (full.ok() ? std::to_string((*full)->body->size()) + " bytes" : full.status().message())
      << "\n";

  out << "deliveries\n";
  auto deliveries = store.deliveriesOf(id);
  if (!deliveries.ok()) {
    out << "  " << deliveries.status().toString() << "\n";
  } else {
    for (const DeliveryTask& d : *deliveries) {
      out << "  #" << d.delivery_id << " " << d.address << " -> route "
          << (d.route.empty() ? "(none)" : d.route) << ", endpoint "
          << (d.endpoint.empty() ? "(none)" : d.endpoint) << ": " << deliveryStateName(d.state)
          << ", " << d.attempts << " attempt(s)";
      if (d.state == DeliveryState::kDeadLetter) {
        out << ", " << deadLetterCauseName(d.cause)
            << (d.sender_notified ? ", sender told" : ", sender not told yet");
      }
      out << "\n";
      if (d.state == DeliveryState::kPending)
        out << "      next attempt:  " << when(d.next_attempt_at) << "\n";
      if (d.state != DeliveryState::kDelivered && d.state != DeliveryState::kDeadLetter)
        out << "      deadline:      " << when(d.deadline) << "\n";
      if (!d.last_error.empty()) out << "      last error:    " << d.last_error << "\n";
      if (!d.remote_id.empty()) out << "      remote id:     " << d.remote_id << "\n";
      if (!d.ordering_key.empty()) out << "      fifo key:      " << d.ordering_key << "\n";
      out << "      updated:       " << when(d.updated_at) << "\n";
    }
  }

  auto acks = store.acksOf(id);
  if (acks.ok() && !acks->empty()) {
    out << "acknowledgements\n";
    for (const PendingAck& a : *acks) {
      out << "  " << ackKindName(a.kind) << " from " << a.address << ": ";
      switch (a.state) {
        case PendingAckState::kOpen:
          out << "expected by " << when(a.expected_by);
          break;
        case PendingAckState::kResolved:
          out << (a.positive ? "acked" : "NACKED") << " at " << when(a.resolved_at) << " (message "
              << a.ack_message_id << ")";
          break;
        case PendingAckState::kExpired:
          out << "timed out at " << when(a.expected_by);
          break;
        case PendingAckState::kEarly:
          out << "arrived early";
          break;
      }
      out << "\n";
    }
  }
}

void printAudit(Store& store, const std::string& tracking_id, std::ostream& out) {
  auto trail = store.auditTrail(tracking_id);
  if (!trail.ok()) {
    out << "audit: " << trail.status().toString() << "\n";
    return;
  }
  out << "audit (" << tracking_id << ")\n";
  for (const AuditEvent& e : *trail) {
    out << "  " << when(e.at) << "  " << e.event;
    if (e.delivery_id) out << " #" << e.delivery_id;
    out << "  [" << e.actor << "]  " << e.detail << "\n";
  }
}

}  // namespace

int runMessagesCommand(const std::vector<std::string>& raw, std::ostream& out, std::ostream& err) {
  Args args = parse(raw, {});
  if (!args.error.empty() || args.words.size() != 2 || args.words[0] != "show") {
    err << (args.error.empty() ? "" : args.error + "\n") << kMessagesUsage;
    return kUsage;
  }
  auto store = openForTool(args);
  if (!store.ok()) {
    err << "itk-router messages: " << store.status().message() << "\n";
    return store.status().code() == Code::kInvalid ? kUsage : kFailed;
  }
  const std::string& id = args.words[1];
  auto ids = (*store)->findByTrackingId(id);
  if (ids.ok() && ids->empty()) ids = (*store)->findByTransportId(id);
  if (!ids.ok()) {
    err << "itk-router messages: " << ids.status().toString() << "\n";
    return kFailed;
  }
  if (ids->empty()) {
    err << "no message with tracking id or transport id " << id << "\n";
    return kFailed;
  }
  std::vector<std::string> trails;
  for (int64_t message_id : *ids) {
    printMessage(**store, message_id, out);
    auto h = (*store)->loadHeader(message_id);
    if (h.ok() && std::find(trails.begin(), trails.end(), (*h)->header.tracking_id) == trails.end())
      trails.push_back((*h)->header.tracking_id);
  }
  for (const std::string& t : trails) printAudit(**store, t, out);
  return kOk;
}

int runAuditCommand(const std::vector<std::string>& raw, std::ostream& out, std::ostream& err) {
  Args args = parse(raw, {});
  if (!args.error.empty() || args.words.size() != 1) {
    err << (args.error.empty() ? "" : args.error + "\n") << kAuditUsage;
    return kUsage;
  }
  auto store = openForTool(args);
  if (!store.ok()) {
    err << "itk-router audit: " << store.status().message() << "\n";
    return store.status().code() == Code::kInvalid ? kUsage : kFailed;
  }
  const std::string& id = args.words[0];
  // The tracking ids to show: the id itself, else those of the messages a transport id names.
  std::vector<std::string> tracking_ids;
  auto trail = (*store)->auditTrail(id);
  if (!trail.ok()) {
    err << "itk-router audit: " << trail.status().toString() << "\n";
    return kFailed;
  }
  if (!trail->empty()) {
    tracking_ids.push_back(id);
  } else if (auto ids = (*store)->findByTransportId(id); ids.ok()) {
    for (int64_t message_id : *ids) {
      auto h = (*store)->loadHeader(message_id);
      if (h.ok() && std::find(tracking_ids.begin(), tracking_ids.end(), (*h)->header.tracking_id) ==
                        tracking_ids.end())
        tracking_ids.push_back((*h)->header.tracking_id);
    }
  }
  if (tracking_ids.empty()) {
    err << "no audit events for tracking id or transport id " << id << "\n";
    return kFailed;
  }
  out << "TIME\tEVENT\tTRACKING ID\tMESSAGE\tDELIVERY\tACTOR\tDETAIL\n";
  for (const std::string& t : tracking_ids) {
    auto events = t == id ? std::move(trail) : (*store)->auditTrail(t);
    if (!events.ok()) {
      err << "itk-router audit: " << events.status().toString() << "\n";
      return kFailed;
    }
    for (const AuditEvent& e : *events) {
      out << when(e.at) << "\t" << e.event << "\t" << field(e.tracking_id) << "\t"
          << (e.message_id ? std::to_string(e.message_id) : "-") << "\t"
          << (e.delivery_id ? std::to_string(e.delivery_id) : "-") << "\t" << field(e.actor) << "\t"
          << field(e.detail) << "\n";
    }
  }
  return kOk;
}

int runDeadLettersCommand(const std::vector<std::string>& raw, std::ostream& out,
                          std::ostream& err) {
  return runDeadLettersCommand(raw, out, err, SystemClock::instance());
}

int runDeadLettersCommand(const std::vector<std::string>& raw, std::ostream& out, std::ostream& err,
                          const Clock& clock) {
  Args args = parse(raw, {"all"});
  bool list = !args.words.empty() && args.words[0] == "list" && args.words.size() == 1;
  bool replay_all = args.words.size() == 1 && args.words[0] == "replay" && args.option("all");
  bool replay_one = args.words.size() == 2 && args.words[0] == "replay" && !args.option("all");
  if (!args.error.empty() || !(list || replay_all || replay_one)) {
    err << (args.error.empty() ? "" : args.error + "\n") << kDeadLettersUsage;
    return kUsage;
  }
  int64_t delivery_id = 0;
  if (replay_one && !parseId(args.words[1], &delivery_id)) {
    err << "not a delivery id: " << args.words[1] << "\n" << kDeadLettersUsage;
    return kUsage;
  }
  DeadLetterQuery query;
  if (const std::string* route = args.option("route")) query.route = *route;
  if (const std::string* after = args.option("after")) {
    if (!parseId(*after, &query.after_delivery_id)) {
      err << "--after needs a delivery id\n";
      return kUsage;
    }
  }
  if (const std::string* limit = args.option("limit")) {
    int64_t n = 0;
    if (!parseId(*limit, &n)) {
      err << "--limit needs a positive number\n";
      return kUsage;
    }
    query.limit = static_cast<size_t>(n);
  }
  auto store = openForTool(args);
  if (!store.ok()) {
    err << "itk-router dead-letters: " << store.status().message() << "\n";
    return store.status().code() == Code::kInvalid ? kUsage : kFailed;
  }

  if (list) {
    auto dead = (*store)->listDeadLetters(query);
    if (!dead.ok()) {
      err << "itk-router dead-letters: " << dead.status().toString() << "\n";
      return kFailed;
    }
    out << "DELIVERY\tDIED\tROUTE\tENDPOINT\tCAUSE\tATTEMPTS\tSENDER TOLD\tTRACKING ID\tSENDER"
           "\tADDRESS\tERROR\n";
    for (const DeadLetterEntry& e : *dead) {
      const DeliveryTask& d = e.task;
      out << d.delivery_id << "\t" << when(d.updated_at) << "\t"
          << (d.route.empty() ? "-" : d.route) << "\t" << (d.endpoint.empty() ? "-" : d.endpoint)
          << "\t" << deadLetterCauseName(d.cause) << "\t" << d.attempts << "\t"
          << (d.sender_notified ? "yes" : "no") << "\t" << e.tracking_id << "\t" << e.sender_address
          << "\t" << d.address << "\t" << d.last_error << "\n";
    }
    if (dead->size() == query.limit)
      out << "(more may follow: --after " << dead->back().task.delivery_id << ")\n";
    return kOk;
  }

  ReplayOptions options;
  options.now = clock.now();
  options.actor = actor();
  options.route = query.route;
  if (replay_one) {
    Status s = (*store)->replayDeadLetter(delivery_id, options);
    if (!s.ok()) {
      err << "itk-router dead-letters: " << s.message() << "\n";
      return kFailed;
    }
    out << "replayed delivery " << delivery_id << "\n";
    return kOk;
  }
  auto n = (*store)->replayAllDeadLetters(options);
  if (!n.ok()) {
    err << "itk-router dead-letters: " << n.status().toString() << "\n";
    return kFailed;
  }
  out << "replayed " << *n << " dead letter(s)"
      << (query.route.empty() ? std::string() : " of route " + query.route) << "\n";
  return kOk;
}

}  // namespace itk
