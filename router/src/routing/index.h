// RoutingIndex: the lookup structure behind RoutingTable (private to itk::routing).
//
// Every route gets a rank: its position in precedence order (routing.h), 0 the best. The index
// files each route under its address pattern:
//  - a token trie over the colon-separated tokens of address patterns. A node holds the routes
//    whose exact address ends there, the routes whose prefix is that node, and the globs whose
//    literal tokens (those before the first token with a wildcard) lead there, kept by the
//    literal start of their next token ("J82" for "urn:nhs-uk:addressing:ods:J82*");
//  - one bucket for routes with any address.
// Within a bucket routes are kept in rank order and split by exact service, so a lookup walks
// the address's tokens once, looks at a few short lists and stops at the first match of each.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "itk/routing.h"

namespace itk {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringViewHash, std::equal_to<>>;

// Which criterion of the precedence order separates two routes (routing.h).
enum class PrecedenceCriterion {
  kAddress,
  kService,
  kInteraction,
  kSender,
  kPriority,
  kDefinitionOrder,
};
// The first criterion on which `a` (defined at position `a_pos`) and `b` differ, and whether `a`
// wins on it.
struct PrecedenceVerdict {
  PrecedenceCriterion criterion;
  bool a_wins;
};
PrecedenceVerdict comparePrecedence(const Route& a, size_t a_pos, const Route& b, size_t b_pos);
// "address prefix \"urn:...\" (29 literal characters) is more specific than glob \"...\"" etc.
std::string describePrecedence(const Route& winner, size_t winner_pos, const Route& loser,
                               size_t loser_pos);

// Routes that can never win: each paired with a route that matches everything it matches
// (FieldMatch::covers on every field) and outranks it. Routes sharing a name (one route's match
// lists) are not compared with each other. Candidates come from the index, not from every pair;
// after `budget` pair checks the analysis stops at `stopped_at`.
struct ShadowAnalysis {
  std::vector<std::pair<const Route*, const Route*>> shadowed;  // (route, the one that wins)
  const Route* stopped_at = nullptr;
};
ShadowAnalysis findShadowedRoutes(const RoutingTable& table, uint64_t budget);

class RoutingIndex {
 public:
  // The most colon-separated tokens an address pattern may have (bounds the trie's depth).
  static constexpr size_t kMaxTokens = 64;

  // `routes` and `endpoints` must outlive the index and not move.
  RoutingIndex(const std::vector<Route>& routes, const std::vector<EndpointSpec>& endpoints);
  ~RoutingIndex();

  const Route* lookup(const RouteQuery& query) const;
  std::vector<const Route*> candidates(const RouteQuery& query) const;

  uint32_t rank(const Route& route) const { return rank_[position(route)]; }
  size_t position(const Route& route) const { return static_cast<size_t>(&route - routes_.data()); }
  const Route& byRank(uint32_t rank) const { return routes_[by_rank_[rank]]; }
  size_t size() const { return routes_.size(); }

  const Route* route(std::string_view name) const;
  const EndpointSpec* endpoint(std::string_view name) const;

  // Visits, in no particular order, lists of ranks (each sorted best first) that together hold
  // every route whose address pattern can cover `route`'s and whose service pattern is not
  // excluded from covering it. Used to find shadowed routes without comparing every pair.
  void visitPossibleCoverers(const Route& route,
                             const std::function<void(std::span<const uint32_t>)>& visit) const;

 private:
  struct Bucket;
  struct Node;

  const Route* bestIn(const Bucket& bucket, const RouteQuery& query, bool check_address,
                      uint32_t& best) const;
  void insert(uint32_t rank);
  static bool matchesOtherFields(const Route& route, const RouteQuery& query);

  const std::vector<Route>& routes_;
  std::vector<uint32_t> rank_;     // by definition position
  std::vector<uint32_t> by_rank_;  // rank -> definition position
  std::unique_ptr<Node> root_;
  std::unique_ptr<Bucket> any_address_;
  const std::vector<EndpointSpec>& endpoints_;
  StringMap<uint32_t> first_by_name_;  // route name -> definition position of its first route
  StringMap<uint32_t> endpoint_by_name_;
};

}  // namespace itk
