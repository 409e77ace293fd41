// LiveMetrics: the metrics read at scrape time rather than counted as events — queue depth,
// oldest queued age and dead letters per route (Store::statistics()), store health, the routing
// table running, each transport's readiness, and counters other parts keep as atomics. It is a
// prometheus::Collectable that the admin listener collects beside the registry.
//
// A slow store must not stall a scrape: statistics() runs on a sampler thread of its own, one
// query at a time; a scrape asks for a fresh sample and waits at most `store_wait` for it, then
// serves the latest sample it has (itk_store_statistics_age_seconds says how old it is).
#pragma once

#include <prometheus/collectable.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "itk/clock.h"
#include "itk/routing.h"
#include "itk/store.h"

namespace itk {

// Where the values come from (each may be left empty: its metrics are then left out).
struct LiveSources {
  // Store::statistics() (queue gauges; run on the sampler thread) and Store::health().
  std::function<Result<StoreStatistics>()> statistics;
  std::function<Status()> store_health;
  const RoutingTableHolder* routing = nullptr;  // itk_routing_table_version; may be null
  // Each configured transport type and whether it is ready now (Transport::ready()).
  std::function<std::vector<std::pair<std::string, bool>>()> transports;
  // Acknowledgements that matched no expectation (AckTracker::Counters::unmatched).
  std::function<uint64_t()> acks_unmatched;
};

struct LiveMetricsOptions {
  // How long a scrape waits for a fresh Store::statistics() before serving the previous one.
  std::chrono::milliseconds store_wait{1000};
};

class LiveMetrics final : public prometheus::Collectable {
 public:
  // What `sources` point to outlives this object. `clock` is the router's (queued ages are
  // measured on it, as the store's timestamps are). Starts the sampler thread when there are
  // statistics to sample.
  LiveMetrics(LiveSources sources, const Clock& clock, LiveMetricsOptions options = {});
  // Stops the sampler, waiting for a statistics() call under way.
  ~LiveMetrics() override;
  LiveMetrics(const LiveMetrics&) = delete;
  LiveMetrics& operator=(const LiveMetrics&) = delete;

  // Called by the scraping thread; may block up to options.store_wait. Thread-safe.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Sample {
    StoreStatistics stats;
    std::chrono::steady_clock::time_point taken;
  };

  void sampleLoop();
  // The latest sample after asking for a fresh one (nullopt before the first one succeeds).
  std::optional<Sample> sample() const;

  const LiveSources sources_;
  const Clock& clock_;
  const LiveMetricsOptions options_;

  mutable std::mutex mu_;
  mutable std::condition_variable wanted_;  // the sampler waits for a request
  mutable std::condition_variable done_;    // scrapes wait for the sample they asked for
  mutable uint64_t requested_ = 0;
  uint64_t completed_ = 0;
  uint64_t failures_ = 0;
  bool stopping_ = false;
  std::optional<Sample> latest_;
  std::thread sampler_;
};

}  // namespace itk
