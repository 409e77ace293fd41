// Routing tables: which destination each (service, address) goes to. A table is an immutable
// snapshot; a reload builds a new one and swaps it, so lookups never wait for a reload.
// The table format administrators edit is documented in routing-rules/README.md.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "itk/message.h"
#include "itk/status.h"
#include "itk/transport.h"

namespace itk {

// How often and for how long a delivery is retried (pure data; see RetryPolicy in delivery).
struct RetrySpec {
  int max_attempts = 10;
  std::chrono::milliseconds initial_backoff{5000};
  std::chrono::milliseconds max_backoff{600000};
  double multiplier = 2.0;
  double jitter = 0.2;                           // +/- fraction of each delay
  std::chrono::seconds deadline{5 * 24 * 3600};  // MESH keeps undelivered messages 5 days
};

enum class RouteMode {
  kStoreAndForward,  // accept durably, answer the sender, deliver later (the default)
  kSyncProxy,        // request/response services: forward now and relay the response
};
// "store-and-forward" / "sync-proxy", as written in the table.
std::string_view routeModeName(RouteMode mode);

struct OrderingSpec {
  enum class Kind { kNone, kFifo } kind = Kind::kNone;
  // What makes a FIFO key: "sender" (sender address), "address", "service", "interaction", or
  // several of them joined by '+' ("sender+address+service"). See orderingKey().
  std::string key = "sender";
};

// A pattern on one header field.
//  - kExact:  the value equals the pattern (byte for byte; case matters).
//  - kGlob:   `*` matches any run of characters (colons included), `?` any one character.
//  - kPrefix: hierarchical prefix on the colon-separated tokens of an ITK address:
//             "urn:nhs-uk:addressing:ods:RHM" matches itself and "urn:nhs-uk:addressing:ods:RHM:
//             team1:A", but not "...:ods:RHMX". Works on any colon-separated value (services too).
//  - kAny:    everything, the empty value included (a field the route does not mention).
// Addresses are matched on their URI only: the address @type (ITK address, DTS mailbox, Spine
// ASID; spec/itk2.md §1.5) is not part of the match, and DTS mailboxes and ASIDs are plain
// strings without colons, so exact and glob patterns route them.
struct FieldMatch {
  enum class Kind { kAny, kExact, kGlob, kPrefix } kind = Kind::kAny;
  std::string pattern;

  static FieldMatch any() { return {}; }
  static FieldMatch exact(std::string pattern) { return {Kind::kExact, std::move(pattern)}; }
  // A glob without wildcards is exact; "*" is any.
  static FieldMatch glob(std::string pattern);
  static FieldMatch prefix(std::string pattern) { return {Kind::kPrefix, std::move(pattern)}; }

  bool matches(std::string_view value) const;
  // Higher is more specific. Exact beats everything; a prefix and a glob are ranked by how many
  // literal characters they pin down (a prefix wins a tie); any is 0. So a long glob such as
  // "urn:nhs-uk:addressing:ods:RHM:team?" beats a catch-all prefix "urn:nhs-uk:addressing".
  int specificity() const;
  // True when every value `other` matches is also matched by this pattern. Conservative: may
  // answer false for exotic glob pairs where containment holds (used for shadowing warnings).
  bool covers(const FieldMatch& other) const;
  // `exact "..."`, `prefix "..."`, `glob "..."` or `any`, for explain and warnings.
  std::string toString() const;

  friend bool operator==(const FieldMatch&, const FieldMatch&) = default;
};

// The wildcard and token-prefix primitives behind FieldMatch, exposed for tests and tools.
bool globMatch(std::string_view pattern, std::string_view value);
bool tokenPrefixMatch(std::string_view prefix, std::string_view value);

struct Route {
  // Not unique: a route whose match lists several values (`address: [A, B]`) becomes one Route
  // per value, all with the same name and settings. Deliveries, metrics and logs use the name.
  std::string name;
  FieldMatch service;
  FieldMatch address;
  FieldMatch sender;
  FieldMatch interaction;
  int priority = 0;  // breaks ties between equally specific matches; higher wins

  std::string endpoint;  // the named endpoint; empty for a reject route
  bool reject = false;
  std::string reject_reason;
  // The toolkit code of the infrastructure NACK a reject route answers with (spec/itk2.md §4.6):
  // 2200 by default, 3000 for "Access Denied", 1000 for "Invalid Message".
  ToolkitCode reject_code = ToolkitCode::kNotRetryable;

  RetrySpec retry;
  RouteMode mode = RouteMode::kStoreAndForward;
  OrderingSpec ordering;
  std::chrono::seconds time_to_live{600};
  std::chrono::milliseconds timeout{30000};

  std::string file;  // where it was defined, for explain and warnings
  int line = 0;
};

struct RouteQuery {
  std::string_view service;
  std::string_view address;
  std::string_view sender;
  std::string_view interaction;
};

class RoutingIndex;  // the lookup structure, private to the implementation

// Precedence between routes that both match a query, highest first:
//   1. address specificity, 2. service specificity, 3. interaction specificity,
//   4. sender specificity, 5. priority (higher wins), 6. definition order (earlier wins;
//   files in the order given, then line order).
// Only the patterns decide, never the query, so the order is fixed when the table is built.
class RoutingTable {
 public:
  // `routes` in definition order. Routes naming an endpoint that is not in `endpoints` are kept
  // (loadRoutingTables() refuses such tables; decide() refuses the address).
  RoutingTable(std::vector<Route> routes, std::vector<EndpointSpec> endpoints, std::string version,
               std::string checksum);
  ~RoutingTable();
  RoutingTable(const RoutingTable&) = delete;
  RoutingTable& operator=(const RoutingTable&) = delete;

  // The winning route for one address, or nullptr when nothing matches. Thread-safe, lock-free,
  // allocation-free; the result lives as long as the table.
  const Route* lookup(const RouteQuery& query) const;
  // Every route that matches, best first (for `itk-router explain`). Linear in the table size.
  std::vector<const Route*> candidates(const RouteQuery& query) const;
  const EndpointSpec* endpoint(std::string_view name) const;
  // The first route with this name (all routes sharing a name share their settings).
  const Route* route(std::string_view name) const;
  // True when `a` takes precedence over `b` (both routes of this table).
  bool outranks(const Route& a, const Route& b) const;

  const std::vector<Route>& routes() const { return routes_; }
  const std::vector<EndpointSpec>& endpoints() const { return endpoints_; }
  const std::string& version() const { return version_; }
  const std::string& checksum() const { return checksum_; }
  const RoutingIndex& index() const { return *index_; }

 private:
  std::vector<Route> routes_;
  std::vector<EndpointSpec> endpoints_;
  std::string version_;
  std::string checksum_;
  std::unique_ptr<RoutingIndex> index_;
};

using RoutingTablePtr = std::shared_ptr<const RoutingTable>;

// Holds the current table. Readers take a snapshot; a reload publishes a new one. Readers never
// wait for a reload: publish() only swaps a pointer, and the table was built before it.
// Null until the first publish().
class RoutingTableHolder {
 public:
  RoutingTablePtr current() const { return table_.load(std::memory_order_acquire); }
  void publish(RoutingTablePtr table) { table_.store(std::move(table), std::memory_order_release); }

 private:
  std::atomic<RoutingTablePtr> table_;
};

// ---- Fan-out: where one message goes -----------------------------------------------------------

// One delivery: a route and its endpoint, for one or more entries of the address list.
struct RoutedDelivery {
  const Route* route = nullptr;            // owned by the table
  const EndpointSpec* endpoint = nullptr;  // owned by the table
  // The address-list entries this delivery serves, in list order (never empty). Addresses that
  // resolve to the same route and endpoint share one delivery: the DE goes unchanged.
  std::vector<std::string> addresses;
  // Empty unless the route orders FIFO (see orderingKey()); an "address" key uses the first of
  // `addresses`.
  std::string ordering_key;
};

// An address that is not delivered, and the answer its sender gets.
struct RefusedAddress {
  std::string address;
  const Route* route = nullptr;  // the reject route; nullptr when no route matched
  // kRejected with the route's reason and toolkit code, or kUnknownAddress "route not found ..."
  // with 2200 (OITK ITKSimpleDOSImpl: "Route not found"), or kInvalid 1000 for an empty list.
  Status reason;
};

struct RoutingDecision {
  std::vector<RoutedDelivery> deliveries;  // in the order of their first address
  std::vector<RefusedAddress> refused;     // in address-list order
  // True when a delivery's route is a synchronous proxy (the caller then needs exactly one).
  bool synchronous() const;
};

// Fan-out for one message: looks every address of the list up with the message's service,
// interaction and sender, and groups them into deliveries. Every distinct address ends up in
// exactly one delivery or one refusal; an empty list gives one refusal (address ""), so nothing
// is ever silently dropped. Acknowledgements (InfAck, BusAck, ITK3 responses) route the same way
// on their address list, the original sender (spec/itk2.md §2). ITK3 messages too: their
// recipient is the address, the MessageDefinition the service and the event code the
// interaction. Pure; the result points into `table`, which must outlive it.
RoutingDecision decide(const RoutingTable& table, const MessageHeader& header);

// The FIFO key of a delivery on `route` for `address`: empty when the route does not order,
// else "<route name>|<value>[|<value>...]" with one value per key part. Keys are per route, so
// FIFO on one route never holds back another route's deliveries.
std::string orderingKey(const Route& route, const MessageHeader& header, std::string_view address);

// ---- Loading ----------------------------------------------------------------------------------

// A problem found while loading a table: file, line and what is wrong.
struct TableDiagnostic {
  enum class Severity { kWarning, kError } severity = Severity::kError;
  std::string file;
  int line = 0;  // 1-based; 0 when the problem is not on a line (a file that cannot be read)
  std::string message;
  std::string toString() const;  // "file:line: error: message"
};

// Loads and validates routing-table files as one table (endpoints and routes may be split
// across files). Endpoint parameters are parsed by the named transport's factory, which gets
// the endpoint's mapping without the keys common to every endpoint (`transport`,
// `max_concurrency`, `description`). On any error returns the diagnostics (all of them, not just
// the first) and no table. The checksum is the SHA-256 (lower-case hex) of the files' bytes in the
// given order, so for one file it equals `sha256sum FILE`.
struct TableLoadResult {
  std::shared_ptr<const RoutingTable> table;  // null when errors is non-empty
  std::vector<TableDiagnostic> errors;
  std::vector<TableDiagnostic> warnings;
};
TableLoadResult loadRoutingTables(const std::vector<std::string>& files,
                                  const TransportRegistry& transports);

// The same from bytes already read (the reloader, the admin API, tests).
struct RoutingSource {
  std::string file;   // the name diagnostics use
  std::string bytes;  // the YAML text
};
TableLoadResult loadRoutingSources(const std::vector<RoutingSource>& sources,
                                   const TransportRegistry& transports);

}  // namespace itk
