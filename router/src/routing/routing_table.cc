// RoutingTable, fan-out (decide) and the small value helpers of routing.h.
#include <unordered_map>
#include <unordered_set>

#include "itk/routing.h"
#include "routing/index.h"

namespace itk {

std::string_view routeModeName(RouteMode mode) {
  switch (mode) {
    case RouteMode::kStoreAndForward:
      return "store-and-forward";
    case RouteMode::kSyncProxy:
      return "sync-proxy";
  }
  return "unknown";
}

std::string TableDiagnostic::toString() const {
  std::string out = file;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
  }
  out += severity == Severity::kError ? ": error: " : ": warning: ";
  out += message;
  return out;
}

RoutingTable::RoutingTable(std::vector<Route> routes, std::vector<EndpointSpec> endpoints,
                           std::string version, std::string checksum)
    : routes_(std::move(routes)),
      endpoints_(std::move(endpoints)),
      version_(std::move(version)),
      checksum_(std::move(checksum)),
      index_(std::make_unique<RoutingIndex>(routes_, endpoints_)) {}

RoutingTable::~RoutingTable() = default;

const Route* RoutingTable::lookup(const RouteQuery& query) const {
  return index_->lookup(query);
}

std::vector<const Route*> RoutingTable::candidates(const RouteQuery& query) const {
  return index_->candidates(query);
}

const EndpointSpec* RoutingTable::endpoint(std::string_view name) const {
  return index_->endpoint(name);
}

const Route* RoutingTable::route(std::string_view name) const {
  return index_->route(name);
}

bool RoutingTable::outranks(const Route& a, const Route& b) const {
  return index_->rank(a) < index_->rank(b);
}

bool RoutingDecision::synchronous() const {
  for (const RoutedDelivery& d : deliveries) {
    if (d.route->mode == RouteMode::kSyncProxy) return true;
  }
  return false;
}

std::string orderingKey(const Route& route, const MessageHeader& header, std::string_view address) {
  if (route.ordering.kind != OrderingSpec::Kind::kFifo) return {};
  std::string key = route.name;
  std::string_view parts = route.ordering.key;
  while (true) {
    size_t plus = parts.find('+');
    std::string_view part = parts.substr(0, plus);
    key += '|';
    if (part == "address") {
      key += address;
    } else if (part == "service") {
      key += header.service;
    } else if (part == "interaction") {
      key += header.interaction;
    } else {
      key += header.sender_address;  // "sender", the default
    }
    if (plus == std::string_view::npos) break;
    parts.remove_prefix(plus + 1);
  }
  return key;
}

RoutingDecision decide(const RoutingTable& table, const MessageHeader& header) {
  RoutingDecision decision;
  if (header.addresses.empty()) {
    // ITK2 requires at least one address (spec/itk2.md §1.2); never drop such a message quietly.
    decision.refused.push_back({"", nullptr,
                                Status::invalid("the message has no address to route on")
                                    .withToolkit(ToolkitCode::kInvalidMessage)});
    return decision;
  }
  std::unordered_set<std::string_view> seen_address;
  // (route name, endpoint name) -> index into deliveries.
  std::unordered_map<std::string, size_t> by_destination;
  for (const std::string& address : header.addresses) {
    if (!seen_address.insert(address).second) continue;  // listed twice: one answer
    const Route* route = table.lookup(
        RouteQuery{header.service, address, header.sender_address, header.interaction});
    if (route == nullptr) {
      // OITK ITKSimpleDOSImpl: no route raises 2200 "Route not found".
      decision.refused.push_back(
          {address, nullptr,
           Status::unknownAddress("route not found for service '" + header.service +
                                  "' and address '" + address + "'")
               .withToolkit(ToolkitCode::kNotRetryable)});
      continue;
    }
    if (route->reject) {
      std::string reason =
          route->reject_reason.empty() ? "rejected by route " + route->name : route->reject_reason;
      decision.refused.push_back(
          {address, route, Status::rejected(std::move(reason)).withToolkit(route->reject_code)});
      continue;
    }
    const EndpointSpec* endpoint = table.endpoint(route->endpoint);
    if (endpoint == nullptr) {
      // Only a table built without loadRoutingTables() can get here.
      decision.refused.push_back(
          {address, route,
           Status::internal("route " + route->name + " names endpoint '" + route->endpoint +
                            "', which is not in the routing table")
               .withToolkit(ToolkitCode::kNotRetryable)});
      continue;
    }
    std::string destination = route->name;
    destination += '\0';
    destination += endpoint->name;
    auto [it, added] = by_destination.try_emplace(std::move(destination), 0);
    if (!added) {
      decision.deliveries[it->second].addresses.push_back(address);
      continue;
    }
    it->second = decision.deliveries.size();
    decision.deliveries.push_back(
        {route, endpoint, {address}, orderingKey(*route, header, address)});
  }
  return decision;
}

}  // namespace itk
