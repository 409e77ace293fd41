// A minimal RoutingTable for tests of the Router while the real one (issue 5, itk::routing) is
// not in this tree: exact, prefix, glob (`*` only at the end) and any matches, the most specific
// address match winning. tests/CMakeLists.txt compiles it only when itk::routing does not exist.
#include <algorithm>

#include "itk/routing.h"

namespace itk {

class RoutingIndex {};

bool FieldMatch::matches(std::string_view value) const {
  switch (kind) {
    case Kind::kAny: return true;
    case Kind::kExact: return value == pattern;
    case Kind::kPrefix:
      return value == pattern ||
             (value.size() > pattern.size() && value.substr(0, pattern.size()) == pattern &&
              value[pattern.size()] == ':');
    case Kind::kGlob:
      return !pattern.empty() && pattern.back() == '*' &&
             value.substr(0, pattern.size() - 1) == std::string_view(pattern).substr(0, pattern.size() - 1);
  }
  return false;
}

int FieldMatch::specificity() const {
  switch (kind) {
    case Kind::kAny: return 0;
    case Kind::kExact: return 100000;
    default: return static_cast<int>(pattern.size());
  }
}

RoutingTable::RoutingTable(std::vector<Route> routes, std::vector<EndpointSpec> endpoints,
                           std::string version, std::string checksum)
    : routes_(std::move(routes)),
      endpoints_(std::move(endpoints)),
      version_(std::move(version)),
      checksum_(std::move(checksum)),
      index_(std::make_unique<RoutingIndex>()) {}

RoutingTable::~RoutingTable() = default;

std::vector<const Route*> RoutingTable::candidates(const RouteQuery& q) const {
  std::vector<const Route*> out;
  for (const Route& r : routes_) {
    if (r.service.matches(q.service) && r.address.matches(q.address) &&
        r.sender.matches(q.sender) && r.interaction.matches(q.interaction))
      out.push_back(&r);
  }
  std::stable_sort(out.begin(), out.end(), [](const Route* a, const Route* b) {
    return a->address.specificity() > b->address.specificity();
  });
  return out;
}

const Route* RoutingTable::lookup(const RouteQuery& q) const {
  auto c = candidates(q);
  return c.empty() ? nullptr : c.front();
}

const EndpointSpec* RoutingTable::endpoint(std::string_view name) const {
  for (const EndpointSpec& e : endpoints_)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace itk
