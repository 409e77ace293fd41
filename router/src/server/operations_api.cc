#include "server/operations_api.h"

#include <boost/json.hpp>

#include <charconv>
#include <map>

namespace itk {

namespace json = boost::json;

namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded, and '+' as a space in a query string (not in a path); nullopt on a broken escape.
std::optional<std::string> percentDecoded(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hexDigit(s[i + 1]), lo = hexDigit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The query string's parameters; nullopt when it cannot be read.
std::optional<std::map<std::string, std::string>> queryOf(const http::Request& r) {
  std::map<std::string, std::string> out;
  auto q = r.target.find('?');
  if (q == std::string::npos) return out;
  std::string_view rest = std::string_view(r.target).substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = percentDecoded(pair.substr(0, eq), true);
    auto value = percentDecoded(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out[*key] = *value;
  }
  return out;
}

bool positiveId(std::string_view text, int64_t* out) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) return false;
  *out = v;
  return true;
}

http::Response jsonResponse(int status, const json::value& v) {
  return http::Response::text(status, json::serialize(v) + "\n", "application/json");
}

http::Response problem(int status, std::string_view message) {
  return jsonResponse(status, json::object{{"error", message}});
}

json::object deadLetterJson(const DeadLetterEntry& e) {
  const DeliveryTask& d = e.task;
  return {{"delivery_id", d.delivery_id},
          {"message_id", d.message_id},
          {"died", formatIsoSeconds(d.updated_at)},
          {"route", d.route},
          {"endpoint", d.endpoint},
          {"address", d.address},
          {"cause", deadLetterCauseName(d.cause)},
          {"attempts", d.attempts},
          {"sender_notified", d.sender_notified},
          {"tracking_id", e.tracking_id},
          {"service", e.service},
          {"sender", e.sender_address},
          {"error", d.last_error}};
}

json::object deliveryJson(const DeliveryTask& d) {
  return {{"delivery_id", d.delivery_id},
          {"route", d.route},
          {"endpoint", d.endpoint},
          {"address", d.address},
          {"state", deliveryStateName(d.state)},
          {"attempts", d.attempts},
          {"next_attempt_at", formatIsoSeconds(d.next_attempt_at)},
          {"updated_at", formatIsoSeconds(d.updated_at)},
          {"remote_id", d.remote_id},
          {"error", d.last_error}};
}

}  // namespace

void RoutingHistory::record(TimePoint at, std::string outcome, const RoutingTable* running,
                            const std::vector<TableDiagnostic>& errors) {
  Entry e;
  e.at = at;
  e.outcome = std::move(outcome);
  if (running) {
    e.version = running->version();
    e.checksum = running->checksum();
    e.routes = running->routes().size();
  }
  for (const auto& d : errors) {
    if (e.errors.size() == 20) break;  // the first ones say enough
    e.errors.push_back(d.toString());
  }
  std::lock_guard lock(mu_);
  entries_.push_front(std::move(e));
  if (entries_.size() > keep_) entries_.pop_back();
}

std::vector<RoutingHistory::Entry> RoutingHistory::entries() const {
  std::lock_guard lock(mu_);
  return {entries_.begin(), entries_.end()};
}

void addOperationsApi(AdminService& admin, Store& store, const Clock& clock,
                      std::function<void()> wake, const RoutingHistory& history) {
  admin.addRoute({"GET", "/admin/routing/history", AdminRole::kViewer,
                  [&history](const http::Request&, std::string_view, const std::string&,
                             http::Responder respond) {
                    json::array items;
                    for (const auto& e : history.entries()) {
                      json::array errors;
                      for (const auto& x : e.errors) errors.emplace_back(x);
                      items.push_back(json::object{{"at", formatIsoMillis(e.at)},
                                                   {"outcome", e.outcome},
                                                   {"version", e.version},
                                                   {"checksum", e.checksum},
                                                   {"routes", e.routes},
                                                   {"errors", std::move(errors)}});
                    }
                    respond(jsonResponse(200, json::object{{"history", std::move(items)}}));
                  }});

  admin.addRoute({"GET", "/admin/dead-letters", AdminRole::kViewer,
                  [&store](const http::Request& r, std::string_view, const std::string&,
                           http::Responder respond) {
                    auto q = queryOf(r);
                    if (!q) return respond(problem(400, "the query string cannot be read"));
                    DeadLetterQuery query;
                    for (const auto& [k, v] : *q) {
                      int64_t n = 0;
                      if (k == "route") {
                        query.route = v;
                      } else if (k == "after" && (v == "0" || positiveId(v, &n))) {
                        query.after_delivery_id = n;
                      } else if (k == "limit" && positiveId(v, &n) && n <= 1000) {
                        query.limit = static_cast<size_t>(n);
                      } else {
                        return respond(
                            problem(400, "unknown or bad parameter '" + k +
                                             "' (route=R, after=DELIVERY_ID, limit=1..1000)"));
                      }
                    }
                    auto dead = store.listDeadLetters(query);
                    if (!dead.ok()) return respond(problem(503, dead.status().toString()));
                    json::array items;
                    for (const auto& e : *dead) items.push_back(deadLetterJson(e));
                    json::object body{{"dead_letters", std::move(items)}};
                    // Paging: ask again with after=<this> for the next page.
                    if (!dead->empty() && dead->size() == query.limit)
                      body["next_after"] = dead->back().task.delivery_id;
                    respond(jsonResponse(200, body));
                  }});

  admin.addRoute(
      {"POST", "/admin/dead-letters/replay/", AdminRole::kOperator,
       [&store, &clock, wake](const http::Request& r, std::string_view argument,
                              const std::string& caller, http::Responder respond) {
         auto q = queryOf(r);
         if (!q) return respond(problem(400, "the query string cannot be read"));
         ReplayOptions options;
         options.now = clock.now();
         options.actor = "admin:" + caller;
         if (auto it = q->find("route"); it != q->end()) options.route = it->second;
         if (argument == "all") {
           auto n = store.replayAllDeadLetters(options);
           if (!n.ok()) return respond(problem(503, n.status().toString()));
           if (wake) wake();
           return respond(jsonResponse(200, json::object{{"replayed", *n}}));
         }
         int64_t id = 0;
         if (!positiveId(argument, &id) || !q->empty())
           return respond(problem(400, "replay/DELIVERY_ID or replay/all[?route=R]"));
         Status s = store.replayDeadLetter(id, options);
         if (!s.ok()) {
           int status = s.code() == Code::kNotFound ? 404 : s.code() == Code::kRejected ? 409 : 503;
           return respond(problem(status, s.message()));
         }
         if (wake) wake();
         respond(jsonResponse(200, json::object{{"replayed", 1}, {"delivery_id", id}}));
       }});

  admin.addRoute(
      {"GET", "/admin/messages/", AdminRole::kViewer,
       [&store](const http::Request&, std::string_view argument, const std::string&,
                http::Responder respond) {
         auto tracking = percentDecoded(argument, false);
         if (!tracking || tracking->empty()) return respond(problem(400, "messages/TRACKING_ID"));
         auto ids = store.findByTrackingId(*tracking);
         if (!ids.ok()) return respond(problem(503, ids.status().toString()));
         if (ids->empty()) return respond(problem(404, "no message with tracking id " + *tracking));
         json::array messages;
         for (int64_t id : *ids) {
           auto header = store.loadHeader(id);
           auto deliveries = store.deliveriesOf(id);
           if (!header.ok() || !deliveries.ok()) {
             return respond(
                 problem(503, (header.ok() ? deliveries.status() : header.status()).toString()));
           }
           const Message& m = **header;
           json::array ds;
           for (const auto& d : *deliveries) ds.push_back(deliveryJson(d));
           messages.push_back(json::object{{"message_id", id},
                                           {"service", m.header.service},
                                           {"sender", m.header.sender_address},
                                           {"received_at", formatIsoSeconds(m.received_at)},
                                           {"transport", m.origin.transport},
                                           {"peer", m.origin.peer},
                                           {"deliveries", std::move(ds)}});
         }
         auto trail = store.auditTrail(*tracking);
         if (!trail.ok()) return respond(problem(503, trail.status().toString()));
         json::array audit;
         for (const AuditEvent& e : *trail) {
           audit.push_back(json::object{{"at", formatIsoMillis(e.at)},
                                        {"event", e.event},
                                        {"message_id", e.message_id},
                                        {"delivery_id", e.delivery_id},
                                        {"actor", e.actor},
                                        {"detail", e.detail}});
         }
         respond(jsonResponse(200, json::object{{"tracking_id", *tracking},
                                                {"messages", std::move(messages)},
                                                {"audit", std::move(audit)}}));
       }});
}

}  // namespace itk
