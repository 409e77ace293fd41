#include "itk/routing/commands.h"

#include <cstdio>
#include <ostream>

#include "itk/duration.h"
#include "itk/routing.h"
#include "routing/index.h"

namespace itk {
namespace {

constexpr int kOk = 0;
constexpr int kInvalidTable = 1;
constexpr int kUsage = 2;
constexpr size_t kNearMissesShown = 5;

void printDiagnostics(const TableLoadResult& r, std::ostream& err) {
  for (const auto& d : r.errors) err << d.toString() << "\n";
  for (const auto& d : r.warnings) err << d.toString() << "\n";
}

std::string orNone(const std::string& s) {
  return s.empty() ? "(none)" : s;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string describeSettings(const Route& r) {
  std::string out = std::string(routeModeName(r.mode));
  const RetrySpec& t = r.retry;
  out += ", retry " + std::to_string(t.max_attempts) + " attempts, backoff " +
         formatDuration(t.initial_backoff) + " to " + formatDuration(t.max_backoff) + " x" +
         number(t.multiplier) + " +/-" + number(t.jitter * 100) + "%, deadline " +
         formatDuration(t.deadline) + ", ordering " +
         (r.ordering.kind == OrderingSpec::Kind::kFifo ? "fifo by " + r.ordering.key : "none") +
         ", time to live " + formatDuration(r.time_to_live) + ", timeout " +
         formatDuration(r.timeout);
  return out;
}

std::string destination(const RoutingTable& table, const Route& r) {
  if (r.reject) {
    return "reject (NACK " + std::to_string(static_cast<int>(r.reject_code)) + " \"" +
           r.reject_reason + "\")";
  }
  const EndpointSpec* e = table.endpoint(r.endpoint);
  return "endpoint " + r.endpoint + (e ? " (" + e->transport + ")" : " (missing)");
}

std::string describeMatch(const Route& r) {
  return "address " + r.address.toString() + ", service " + r.service.toString() +
         ", interaction " + r.interaction.toString() + ", sender " + r.sender.toString() +
         ", priority " + std::to_string(r.priority);
}

// Why a route whose address matches was not a candidate: its first field that does not match.
std::string mismatch(const Route& r, const RouteQuery& q) {
  auto say = [](const char* field, const FieldMatch& m, std::string_view value) {
    return std::string(field) + " " + m.toString() + " does not match " +
           (value.empty() ? std::string("(none)") : std::string("\"").append(value) + "\"");
  };
  if (!r.service.matches(q.service)) return say("service", r.service, q.service);
  if (!r.interaction.matches(q.interaction)) {
    return say("interaction", r.interaction, q.interaction);
  }
  return say("sender", r.sender, q.sender);
}

void explainAddress(const RoutingTable& table, const MessageHeader& h, const std::string& address,
                    std::ostream& out) {
  RouteQuery q{h.service, address, h.sender_address, h.interaction};
  const RoutingIndex& index = table.index();
  out << "\naddress " << address << "\n";
  std::vector<const Route*> candidates = table.candidates(q);
  if (candidates.empty()) {
    out << "  no route matches: the sender gets an infrastructure NACK, toolkit code 2200 "
           "\"route not found\"\n";
    size_t shown = 0;
    for (const Route& r : table.routes()) {
      if (!r.address.matches(address)) continue;
      if (shown++ == 0) out << "  routes for this address that do not match the message:\n";
      if (shown > kNearMissesShown) {
        out << "    ...\n";
        break;
      }
      out << "    " << r.name << " (" << r.file << ":" << r.line << "): " << mismatch(r, q) << "\n";
    }
    return;
  }
  const Route& winner = *candidates.front();
  out << "  candidates, best first:\n";
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Route& r = *candidates[i];
    out << "  " << (i == 0 ? "* " : "  ") << i + 1 << ". " << r.name << " (" << r.file << ":"
        << r.line << ") -> " << destination(table, r) << "\n"
        << "       " << describeMatch(r) << "\n";
    if (i > 0) {
      out << "       loses to " << winner.name << ": "
          << describePrecedence(winner, index.position(winner), r, index.position(r)) << "\n";
    }
  }
  if (winner.reject) {
    out << "  decision: rejected by route " << winner.name << ": the sender gets an "
        << "infrastructure NACK, toolkit code " << static_cast<int>(winner.reject_code) << " \""
        << winner.reject_reason << "\"\n";
  } else {
    out << "  decision: route " << winner.name << " -> " << destination(table, winner) << "; "
        << describeSettings(winner) << "\n";
  }
}

struct ExplainArgs {
  std::vector<std::string> routes;
  MessageHeader header;
};

// Returns an error message, or empty when the arguments are complete.
std::string parseExplainArgs(const std::vector<std::string>& args, ExplainArgs& a) {
  bool have_service = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string& into) -> bool {
      if (i + 1 >= args.size() || args[i + 1].starts_with("--")) return false;
      into = args[++i];
      return true;
    };
    if (arg == "--routes") {
      while (i + 1 < args.size() && !args[i + 1].starts_with("--")) a.routes.push_back(args[++i]);
      if (a.routes.empty()) return "--routes needs at least one file";
    } else if (arg == "--service") {
      if (!value(a.header.service)) return "--service needs a value";
      have_service = true;
    } else if (arg == "--address") {
      std::string address;
      if (!value(address)) return "--address needs a value";
      a.header.addresses.push_back(address);
    } else if (arg == "--sender") {
      if (!value(a.header.sender_address)) return "--sender needs a value";
    } else if (arg == "--interaction") {
      if (!value(a.header.interaction)) return "--interaction needs a value";
    } else {
      return "unknown argument " + arg;
    }
  }
  if (a.routes.empty()) return "--routes FILE... is required";
  if (!have_service) return "--service is required";
  if (a.header.addresses.empty()) return "--address is required";
  return {};
}

void printSummary(const RoutingTable& t, std::ostream& out) {
  out << "routing table: " << t.routes().size() << " routes, " << t.endpoints().size()
      << " endpoints, version " << orNone(t.version()) << ", checksum " << t.checksum() << "\n";
}

}  // namespace

int runCheckRoutesCommand(const std::vector<std::string>& args, const TransportRegistry& transports,
                          std::ostream& out, std::ostream& err) {
  bool strict = false;
  std::vector<std::string> files;
  for (const std::string& arg : args) {
    if (arg == "--strict") {
      strict = true;
    } else if (arg.starts_with("--")) {
      err << "check-routes: unknown option " << arg << "\n";
      files.clear();
      break;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    err << "usage: itk-router check-routes [--strict] FILE...\n"
           "  Validates routing-table files as one table; --strict fails on warnings too.\n";
    return kUsage;
  }
  TableLoadResult r = loadRoutingTables(files, transports);
  printDiagnostics(r, err);
  if (!r.table) {
    out << "routing table refused: " << r.errors.size() << " error(s), " << r.warnings.size()
        << " warning(s)\n";
    return kInvalidTable;
  }
  printSummary(*r.table, out);
  out << r.warnings.size() << " warning(s)\n";
  return strict && !r.warnings.empty() ? kInvalidTable : kOk;
}

int runExplainCommand(const std::vector<std::string>& args, const TransportRegistry& transports,
                      std::ostream& out, std::ostream& err) {
  ExplainArgs a;
  if (std::string problem = parseExplainArgs(args, a); !problem.empty()) {
    err << "explain: " << problem << "\n"
        << "usage: itk-router explain --routes FILE... --service S --address A [--address B ...]"
           " [--sender X] [--interaction I]\n";
    return kUsage;
  }
  TableLoadResult r = loadRoutingTables(a.routes, transports);
  if (!r.table) {
    printDiagnostics(r, err);
    return kInvalidTable;
  }
  const RoutingTable& table = *r.table;
  const MessageHeader& h = a.header;
  printSummary(table, out);
  out << "message: service " << h.service << ", interaction " << orNone(h.interaction)
      << ", sender " << orNone(h.sender_address) << "\n";
  for (const std::string& address : h.addresses) explainAddress(table, h, address, out);

  RoutingDecision decision = decide(table, h);
  out << "\nfan-out: " << decision.deliveries.size() << " delivery(ies), "
      << decision.refused.size() << " refused address(es)\n";
  for (const RoutedDelivery& d : decision.deliveries) {
    out << "  deliver via route " << d.route->name << " to endpoint " << d.endpoint->name << " ("
        << d.endpoint->transport << ") for";
    for (const std::string& address : d.addresses) out << " " << address;
    if (!d.ordering_key.empty()) out << "; FIFO key " << d.ordering_key;
    out << "\n";
  }
  for (const RefusedAddress& refused : decision.refused) {
    out << "  refuse " << refused.address << ": NACK "
        << static_cast<int>(refused.reason.toolkitCode()) << " \"" << refused.reason.message()
        << "\"\n";
  }
  if (decision.synchronous() && decision.deliveries.size() + decision.refused.size() > 1) {
    out << "  note: a sync-proxy route needs the request to resolve to exactly one route\n";
  }
  return kOk;
}

}  // namespace itk
