// Routing tables: which destination each (service, address) goes to. A table is an immutable
// snapshot; a reload builds a new one and swaps it, so lookups never wait for a reload.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "itk/status.h"
#include "itk/transport.h"

namespace itk {

// How often and for how long a delivery is retried (pure data; see RetryPolicy in delivery).
struct RetrySpec {
  int max_attempts = 10;
  std::chrono::milliseconds initial_backoff{5000};
  std::chrono::milliseconds max_backoff{600000};
  double multiplier = 2.0;
  double jitter = 0.2;                            // +/- fraction of each delay
  std::chrono::seconds deadline{5 * 24 * 3600};   // MESH keeps undelivered messages 5 days
};

enum class RouteMode {
  kStoreAndForward,  // accept durably, answer the sender, deliver later (the default)
  kSyncProxy,        // request/response services: forward now and relay the response
};

struct OrderingSpec {
  enum class Kind { kNone, kFifo } kind = Kind::kNone;
  // What makes a FIFO key: "sender" (sender address), "address", "service".
  std::string key = "sender";
};

// A pattern on one header field: exact text, a glob (* and ?), or a hierarchical prefix on the
// colon-separated tokens of an ITK address ("urn:nhs-uk:addressing:ods:RHM" matches
// "urn:nhs-uk:addressing:ods:RHM:team1:A" but not "...:ods:RHMX").
struct FieldMatch {
  enum class Kind { kAny, kExact, kGlob, kPrefix } kind = Kind::kAny;
  std::string pattern;

  bool matches(std::string_view value) const;
  // Higher is more specific: exact > prefix (longer first) > glob (more literal chars) > any.
  int specificity() const;
};

struct Route {
  std::string name;
  FieldMatch service;
  FieldMatch address;
  FieldMatch sender;
  FieldMatch interaction;
  int priority = 0;  // breaks ties between equally specific matches; higher wins

  std::string endpoint;  // the named endpoint; empty for a reject route
  bool reject = false;
  std::string reject_reason;

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

class RoutingTable {
 public:
  RoutingTable(std::vector<Route> routes, std::vector<EndpointSpec> endpoints,
               std::string version, std::string checksum);
  ~RoutingTable();
  RoutingTable(const RoutingTable&) = delete;
  RoutingTable& operator=(const RoutingTable&) = delete;

  // The winning route for one address, or nullptr when nothing matches. Thread-safe.
  const Route* lookup(const RouteQuery& query) const;
  // Every route that matches, best first (for `itk-router explain`).
  std::vector<const Route*> candidates(const RouteQuery& query) const;
  const EndpointSpec* endpoint(std::string_view name) const;

  const std::vector<Route>& routes() const { return routes_; }
  const std::vector<EndpointSpec>& endpoints() const { return endpoints_; }
  const std::string& version() const { return version_; }
  const std::string& checksum() const { return checksum_; }

 private:
  std::vector<Route> routes_;
  std::vector<EndpointSpec> endpoints_;
  std::string version_;
  std::string checksum_;
  std::unique_ptr<RoutingIndex> index_;
};

using RoutingTablePtr = std::shared_ptr<const RoutingTable>;

// Holds the current table. Readers take a snapshot; a reload publishes a new one.
class RoutingTableHolder {
 public:
  RoutingTablePtr current() const { return table_.load(std::memory_order_acquire); }
  void publish(RoutingTablePtr table) { table_.store(std::move(table), std::memory_order_release); }

 private:
  std::atomic<RoutingTablePtr> table_;
};

// A problem found while loading a table: file, line and what is wrong.
struct TableDiagnostic {
  enum class Severity { kWarning, kError } severity = Severity::kError;
  std::string file;
  int line = 0;
  std::string message;
  std::string toString() const;  // "file:line: error: message"
};

struct LoadedTable {
  RoutingTablePtr table;
  std::vector<TableDiagnostic> warnings;
};

// Loads and validates routing-table files as one table (endpoints and routes may be split
// across files). Endpoint parameters are parsed by the named transport's factory. On any error
// returns the diagnostics (all of them, not just the first) and no table.
struct TableLoadResult {
  std::shared_ptr<const RoutingTable> table;  // null when errors is non-empty
  std::vector<TableDiagnostic> errors;
  std::vector<TableDiagnostic> warnings;
};
TableLoadResult loadRoutingTables(const std::vector<std::string>& files,
                                  const TransportRegistry& transports);

}  // namespace itk
