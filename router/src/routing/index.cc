#include "routing/index.h"

#include <algorithm>
#include <array>
#include <limits>
#include <numeric>
#include <tuple>

namespace itk {
namespace {

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();

std::vector<std::string_view> splitTokens(std::string_view text) {
  std::vector<std::string_view> tokens;
  while (true) {
    size_t colon = text.find(':');
    tokens.push_back(text.substr(0, colon));
    if (colon == std::string_view::npos) return tokens;
    text.remove_prefix(colon + 1);
  }
}

// The tokens a glob's matches all begin with: those wholly before its first wildcard.
std::vector<std::string_view> globAnchorTokens(std::string_view glob) {
  std::string_view head = glob.substr(0, std::min(glob.find_first_of("*?"), glob.size()));
  size_t colon = head.rfind(':');
  if (colon == std::string_view::npos) return {};
  return splitTokens(head.substr(0, colon));
}

auto precedenceKey(const Route& r) {
  return std::make_tuple(r.address.specificity(), r.service.specificity(),
                         r.interaction.specificity(), r.sender.specificity(), r.priority);
}

std::string where(const Route& r) { return r.file + ":" + std::to_string(r.line); }

}  // namespace

PrecedenceVerdict comparePrecedence(const Route& a, size_t a_pos, const Route& b, size_t b_pos) {
  const std::array<std::pair<int, int>, 5> keys = {{
      {a.address.specificity(), b.address.specificity()},
      {a.service.specificity(), b.service.specificity()},
      {a.interaction.specificity(), b.interaction.specificity()},
      {a.sender.specificity(), b.sender.specificity()},
      {a.priority, b.priority},
  }};
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].first != keys[i].second) {
      return {static_cast<PrecedenceCriterion>(i), keys[i].first > keys[i].second};
    }
  }
  return {PrecedenceCriterion::kDefinitionOrder, a_pos < b_pos};
}

std::string describePrecedence(const Route& winner, size_t winner_pos, const Route& loser,
                               size_t loser_pos) {
  PrecedenceVerdict v = comparePrecedence(winner, winner_pos, loser, loser_pos);
  auto field = [&](const char* name, const FieldMatch& w, const FieldMatch& l) {
    return std::string(name) + " " + w.toString() + " is more specific than " + l.toString();
  };
  switch (v.criterion) {
    case PrecedenceCriterion::kAddress: return field("address", winner.address, loser.address);
    case PrecedenceCriterion::kService: return field("service", winner.service, loser.service);
    case PrecedenceCriterion::kInteraction:
      return field("interaction", winner.interaction, loser.interaction);
    case PrecedenceCriterion::kSender: return field("sender", winner.sender, loser.sender);
    case PrecedenceCriterion::kPriority:
      return "equally specific; priority " + std::to_string(winner.priority) + " beats " +
             std::to_string(loser.priority);
    case PrecedenceCriterion::kDefinitionOrder:
      return "equally specific with the same priority; defined first (" + where(winner) + ")";
  }
  return {};
}

struct RoutingIndex::Bucket {
  StringMap<std::vector<uint32_t>> by_service;  // routes with an exact service, by that service
  std::vector<uint32_t> other;                  // routes with any other service pattern

  void add(uint32_t rank, const Route& route) {
    if (route.service.kind == FieldMatch::Kind::kExact) {
      by_service[route.service.pattern].push_back(rank);
    } else {
      other.push_back(rank);
    }
  }
};

struct RoutingIndex::Node {
  StringMap<std::unique_ptr<Node>> children;
  Bucket exact;   // routes whose exact address is this node's path
  Bucket prefix;  // routes whose address prefix is this node's path
  Bucket glob;    // address globs anchored here (see globAnchorTokens)

  Node* child(std::string_view token) {
    auto it = children.find(token);
    if (it == children.end()) {
      it = children.emplace(std::string(token), std::make_unique<Node>()).first;
    }
    return it->second.get();
  }
};

RoutingIndex::RoutingIndex(const std::vector<Route>& routes,
                           const std::vector<EndpointSpec>& endpoints)
    : routes_(routes),
      rank_(routes.size()),
      by_rank_(routes.size()),
      root_(std::make_unique<Node>()),
      any_address_(std::make_unique<Bucket>()),
      endpoints_(endpoints) {
  std::iota(by_rank_.begin(), by_rank_.end(), 0u);
  std::stable_sort(by_rank_.begin(), by_rank_.end(), [&](uint32_t a, uint32_t b) {
    return precedenceKey(routes_[a]) > precedenceKey(routes_[b]);  // stable: definition order
  });
  for (uint32_t r = 0; r < by_rank_.size(); ++r) rank_[by_rank_[r]] = r;
  // Inserting in rank order leaves every bucket's lists sorted best first.
  for (uint32_t r = 0; r < by_rank_.size(); ++r) insert(r);
  for (uint32_t pos = 0; pos < routes_.size(); ++pos) {
    first_by_name_.try_emplace(routes_[pos].name, pos);
  }
  for (uint32_t i = 0; i < endpoints_.size(); ++i) {
    endpoint_by_name_.try_emplace(endpoints_[i].name, i);
  }
}

RoutingIndex::~RoutingIndex() = default;

void RoutingIndex::insert(uint32_t rank) {
  const Route& route = byRank(rank);
  const FieldMatch& address = route.address;
  if (address.kind == FieldMatch::Kind::kAny) {
    any_address_->add(rank, route);
    return;
  }
  std::vector<std::string_view> tokens = address.kind == FieldMatch::Kind::kGlob
                                             ? globAnchorTokens(address.pattern)
                                             : splitTokens(address.pattern);
  // The loader refuses deeper patterns; a table built directly keeps lookups bounded anyway by
  // filing the route at the depth limit, where only a linear check can find it.
  Node* node = root_.get();
  size_t depth = std::min(tokens.size(), kMaxTokens);
  bool truncated = depth < tokens.size();
  for (size_t i = 0; i < depth; ++i) node = node->child(tokens[i]);
  if (truncated || address.kind == FieldMatch::Kind::kGlob) {
    node->glob.add(rank, route);  // the glob bucket checks the whole pattern
  } else if (address.kind == FieldMatch::Kind::kExact) {
    node->exact.add(rank, route);
  } else {
    node->prefix.add(rank, route);
  }
}

bool RoutingIndex::matchesOtherFields(const Route& route, const RouteQuery& query) {
  return route.service.matches(query.service) && route.interaction.matches(query.interaction) &&
         route.sender.matches(query.sender);
}

const Route* RoutingIndex::bestIn(const Bucket& bucket, const RouteQuery& query,
                                  bool check_address, uint32_t& best) const {
  const Route* found = nullptr;
  auto scan = [&](const std::vector<uint32_t>& ranks) {
    for (uint32_t r : ranks) {
      if (r >= best) return;  // sorted: nothing further in this list can win
      const Route& route = byRank(r);
      if (check_address && !route.address.matches(query.address)) continue;
      if (!matchesOtherFields(route, query)) continue;
      best = r;
      found = &route;
      return;
    }
  };
  if (!bucket.by_service.empty()) {
    auto it = bucket.by_service.find(query.service);
    if (it != bucket.by_service.end()) scan(it->second);
  }
  scan(bucket.other);
  return found;
}

const Route* RoutingIndex::lookup(const RouteQuery& query) const {
  // Walk the address's tokens down the trie, remembering the nodes passed.
  std::array<const Node*, kMaxTokens + 1> path;
  size_t depth = 0;
  path[0] = root_.get();
  bool whole = false;  // the walk consumed every token: path[depth] is the address itself
  std::string_view rest = query.address;
  while (depth < kMaxTokens) {
    size_t colon = rest.find(':');
    auto it = path[depth]->children.find(rest.substr(0, colon));
    if (it == path[depth]->children.end()) break;
    path[++depth] = it->second.get();
    if (colon == std::string_view::npos) {
      whole = true;
      break;
    }
    rest.remove_prefix(colon + 1);
  }

  uint32_t best = kNoRank;
  // An exact address outranks every other address pattern.
  if (whole && bestIn(path[depth]->exact, query, false, best)) return &byRank(best);
  // A deeper prefix is longer, so the first one found from the bottom beats the rest.
  for (size_t d = depth + 1; d-- > 0;) {
    if (bestIn(path[d]->prefix, query, false, best)) break;
  }
  // Globs may still beat that prefix when they pin down more characters.
  for (size_t d = 0; d <= depth; ++d) bestIn(path[d]->glob, query, true, best);
  bestIn(*any_address_, query, false, best);
  return best == kNoRank ? nullptr : &byRank(best);
}

std::vector<const Route*> RoutingIndex::candidates(const RouteQuery& query) const {
  std::vector<const Route*> out;
  for (uint32_t pos : by_rank_) {
    const Route& route = routes_[pos];
    if (route.address.matches(query.address) && matchesOtherFields(route, query)) {
      out.push_back(&route);
    }
  }
  return out;
}

const Route* RoutingIndex::route(std::string_view name) const {
  auto it = first_by_name_.find(name);
  return it == first_by_name_.end() ? nullptr : &routes_[it->second];
}

const EndpointSpec* RoutingIndex::endpoint(std::string_view name) const {
  auto it = endpoint_by_name_.find(name);
  return it == endpoint_by_name_.end() ? nullptr : &endpoints_[it->second];
}

void RoutingIndex::visitPossibleCoverers(
    const Route& route, const std::function<void(std::span<const uint32_t>)>& visit) const {
  auto visitBucket = [&](const Bucket& bucket) {
    // A route with an exact service is only covered by a route with the same exact service or
    // a non-exact one; a route with any other service pattern only by non-exact ones.
    if (route.service.kind == FieldMatch::Kind::kExact) {
      auto it = bucket.by_service.find(route.service.pattern);
      if (it != bucket.by_service.end()) visit(it->second);
    }
    visit(bucket.other);
  };
  const FieldMatch& address = route.address;
  if (address.kind != FieldMatch::Kind::kAny) {
    std::vector<std::string_view> tokens = address.kind == FieldMatch::Kind::kGlob
                                               ? globAnchorTokens(address.pattern)
                                               : splitTokens(address.pattern);
    const Node* node = root_.get();
    size_t depth = 0;
    while (true) {
      visitBucket(node->prefix);
      visitBucket(node->glob);
      if (depth == tokens.size()) {
        if (address.kind == FieldMatch::Kind::kExact) visitBucket(node->exact);
        break;
      }
      auto it = node->children.find(tokens[depth++]);
      if (it == node->children.end()) break;
      node = it->second.get();
    }
  }
  visitBucket(*any_address_);
}

}  // namespace itk
