// The operators' part of the admin API: dead letters and a message's history over HTTP, for the
// people (and scripts) running the hub without shell access to its store.
//
//   GET  /admin/dead-letters[?route=R&after=ID&limit=N]   viewer    the dead letters, oldest first
//   POST /admin/dead-letters/replay/ID                    operator  one dead letter back to pending
//   POST /admin/dead-letters/replay/all[?route=R]         operator  every dead letter (of route R)
//   GET  /admin/messages/TRACKING_ID                      viewer    deliveries and IG audit trail
//   GET  /admin/routing/history                           viewer    the last routing-table loads
//
// Answers are JSON. A replay is audited with the token's name as actor and wakes the delivery
// engine at once. The same operations exist on the command line (itk-router dead-letters, audit).
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "itk/clock.h"
#include "itk/routing.h"
#include "itk/store.h"
#include "server/admin.h"

namespace itk {

// The routing tables the router loaded, and the reloads it refused, newest first: what changed
// when, for an operator asking why routing changed. Thread-safe.
class RoutingHistory {
 public:
  struct Entry {
    TimePoint at{};
    std::string outcome;  // loaded | unchanged | failed
    std::string version;  // of the table running after the attempt
    std::string checksum;
    size_t routes = 0;
    std::vector<std::string> errors;  // failed: file:line: problem
  };
  explicit RoutingHistory(size_t keep = 50) : keep_(keep) {}
  void record(TimePoint at, std::string outcome, const RoutingTable* running,
              const std::vector<TableDiagnostic>& errors);
  std::vector<Entry> entries() const;  // newest first

 private:
  const size_t keep_;
  mutable std::mutex mu_;
  std::deque<Entry> entries_;
};

// `wake` is called after a replay (the delivery engine's notify()).
void addOperationsApi(AdminService& admin, Store& store, const Clock& clock,
                      std::function<void()> wake, const RoutingHistory& history);

}  // namespace itk
