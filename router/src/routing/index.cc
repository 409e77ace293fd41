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

// Where a glob is filed: the tokens every value it matches begins with (those wholly before its
// first wildcard), and the literal start of the next token ("J82" for "...:ods:J82*"; empty when
// the wildcard starts the token).
struct GlobAnchor {
  std::vector<std::string_view> tokens;
  std::string_view partial;
};
GlobAnchor globAnchor(std::string_view glob) {
  std::string_view head = glob.substr(0, std::min(glob.find_first_of("*?"), glob.size()));
  size_t colon = head.rfind(':');
  if (colon == std::string_view::npos) return {{}, head};
  return {splitTokens(head.substr(0, colon)), head.substr(colon + 1)};
}

auto precedenceKey(const Route& r) {
  return std::make_tuple(r.address.specificity(), r.service.specificity(),
                         r.interaction.specificity(), r.sender.specificity(), r.priority);
}

std::string where(const Route& r) {
  return r.file + ":" + std::to_string(r.line);
}

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
    case PrecedenceCriterion::kAddress:
      return field("address", winner.address, loser.address);
    case PrecedenceCriterion::kService:
      return field("service", winner.service, loser.service);
    case PrecedenceCriterion::kInteraction:
      return field("interaction", winner.interaction, loser.interaction);
    case PrecedenceCriterion::kSender:
      return field("sender", winner.sender, loser.sender);
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
  uint32_t best_rank = kNoRank;                 // lets a lookup skip a bucket that cannot win

  void add(uint32_t rank, const Route& route) {
    best_rank = std::min(best_rank, rank);
    if (route.service.kind == FieldMatch::Kind::kExact) {
      by_service[route.service.pattern].push_back(rank);
    } else {
      other.push_back(rank);
    }
  }
};

struct RoutingIndex::Node {
  // Most nodes on a lookup's path have one child or a few (urn, nhs-uk, addressing, a trust's
  // departments): those are compared in a short list, cheaper than hashing the token. A node
  // with many children (ods: every organisation) also gets a hash index.
  static constexpr size_t kListedChildren = 8;
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> children;
  StringMap<Node*> child_index;  // empty until children outgrow the list
  Bucket exact;                  // routes whose exact address is this node's path
  Bucket prefix;                 // routes whose address prefix is this node's path
  // Address globs anchored here (see globAnchor): those whose next token starts with a wildcard,
  // and the others by the literal start of that token, so a lookup only checks the globs whose
  // literal text the address has.
  Bucket glob;
  StringMap<Bucket> glob_by_partial;
  size_t longest_partial = 0;
  uint32_t partial_best_rank = kNoRank;

  const Node* find(std::string_view token) const {
    if (child_index.empty()) {
      for (const auto& [t, node] : children) {
        if (t == token) return node.get();
      }
      return nullptr;
    }
    auto it = child_index.find(token);
    return it == child_index.end() ? nullptr : it->second;
  }

  Node* child(std::string_view token) {
    if (const Node* existing = find(token)) return const_cast<Node*>(existing);
    children.emplace_back(std::string(token), std::make_unique<Node>());
    if (children.size() > kListedChildren) {
      if (child_index.empty()) {
        for (const auto& [t, node] : children) child_index.emplace(t, node.get());
      } else {
        child_index.emplace(children.back().first, children.back().second.get());
      }
    }
    return children.back().second.get();
  }

  // Calls `f` with each glob bucket whose partial token is a prefix of `token`.
  // `below`: only buckets that may hold a route ranked better than this are of interest.
  template <class F>
  void forEachPartialBucket(std::string_view token, uint32_t below, F&& f) const {
    if (partial_best_rank >= below) return;
    size_t longest = std::min(token.size(), longest_partial);
    for (size_t len = 1; len <= longest; ++len) {
      auto it = glob_by_partial.find(token.substr(0, len));
      if (it != glob_by_partial.end()) f(it->second);
    }
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
  const bool glob = address.kind == FieldMatch::Kind::kGlob;
  GlobAnchor anchor =
      glob ? globAnchor(address.pattern) : GlobAnchor{splitTokens(address.pattern), {}};
  Node* node = root_.get();
  size_t depth = std::min(anchor.tokens.size(), kMaxTokens);
  for (size_t i = 0; i < depth; ++i) node = node->child(anchor.tokens[i]);
  if (depth < anchor.tokens.size()) {
    // Deeper than the loader allows (a table built directly): filed at the depth limit in the
    // bucket that checks the whole pattern, so lookups stay bounded and still find it.
    node->glob.add(rank, route);
  } else if (glob && !anchor.partial.empty()) {
    node->glob_by_partial[std::string(anchor.partial)].add(rank, route);
    node->longest_partial = std::max(node->longest_partial, anchor.partial.size());
    node->partial_best_rank = std::min(node->partial_best_rank, rank);
  } else if (glob) {
    node->glob.add(rank, route);
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

const Route* RoutingIndex::bestIn(const Bucket& bucket, const RouteQuery& query, bool check_address,
                                  uint32_t& best) const {
  if (bucket.best_rank >= best) return nullptr;  // nothing here can beat what was found
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
  // Walk the address's tokens down the trie, remembering the nodes passed and, for each, the
  // address's next token (the one looked up below it).
  std::array<const Node*, kMaxTokens + 1> path;
  std::array<std::string_view, kMaxTokens + 1> next;
  size_t depth = 0;
  path[0] = root_.get();
  bool whole = false;  // the walk consumed every token: path[depth] is the address itself
  std::string_view rest = query.address;
  while (true) {
    size_t colon = rest.find(':');
    next[depth] = rest.substr(0, colon);
    if (depth == kMaxTokens) break;
    const Node* child = path[depth]->find(next[depth]);
    if (child == nullptr) break;
    path[++depth] = child;
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
  for (size_t d = 0; d <= depth; ++d) {
    bestIn(path[d]->glob, query, true, best);
    if (d < depth || !whole) {
      path[d]->forEachPartialBucket(next[d], best,
                                    [&](const Bucket& b) { bestIn(b, query, true, best); });
    }
  }
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
    // The trie path of the route's own pattern, and the text after each node that a covering
    // glob's partial token must be a prefix of.
    const bool glob = address.kind == FieldMatch::Kind::kGlob;
    GlobAnchor own =
        glob ? globAnchor(address.pattern) : GlobAnchor{splitTokens(address.pattern), {}};
    const Node* node = root_.get();
    for (size_t depth = 0;; ++depth) {
      visitBucket(node->prefix);
      visitBucket(node->glob);
      std::string_view after = depth < own.tokens.size() ? own.tokens[depth] : own.partial;
      node->forEachPartialBucket(after, kNoRank, visitBucket);
      if (depth == own.tokens.size()) {
        if (address.kind == FieldMatch::Kind::kExact) visitBucket(node->exact);
        break;
      }
      node = node->find(own.tokens[depth]);
      if (node == nullptr) break;
    }
  }
  visitBucket(*any_address_);
}

ShadowAnalysis findShadowedRoutes(const RoutingTable& table, uint64_t budget) {
  ShadowAnalysis out;
  const RoutingIndex& index = table.index();
  uint64_t checks = 0;
  for (const Route& route : table.routes()) {
    const uint32_t rank = index.rank(route);
    uint32_t shadower = rank;
    index.visitPossibleCoverers(route, [&](std::span<const uint32_t> ranks) {
      for (uint32_t r : ranks) {
        if (r >= shadower) return;  // sorted best first; only better shadowers are of interest
        if (++checks > budget) return;
        const Route& other = index.byRank(r);
        if (other.name == route.name) continue;
        if (other.address.covers(route.address) && other.service.covers(route.service) &&
            other.interaction.covers(route.interaction) && other.sender.covers(route.sender)) {
          shadower = r;
          return;
        }
      }
    });
    if (checks > budget) {
      out.stopped_at = &route;
      return out;
    }
    if (shadower != rank) out.shadowed.emplace_back(&route, &index.byRank(shadower));
  }
  return out;
}

}  // namespace itk
