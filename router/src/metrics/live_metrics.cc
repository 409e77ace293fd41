#include "metrics/live_metrics.h"

#include <prometheus/metric_family.h>

#include <map>

#include "itk/log.h"
#include "metrics/router_metrics.h"

namespace itk {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

double seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

LiveMetrics::LiveMetrics(LiveSources sources, const Clock& clock, LiveMetricsOptions options)
    : sources_(std::move(sources)), clock_(clock), options_(options) {
  if (sources_.statistics) sampler_ = std::thread([this] { sampleLoop(); });
}

LiveMetrics::~LiveMetrics() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wanted_.notify_all();
  done_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void LiveMetrics::sampleLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wanted_.wait(lock, [this] { return stopping_ || requested_ > completed_; });
    if (stopping_) return;
    const uint64_t serving = requested_;
    lock.unlock();
    // Outside the lock: scrapes that give up waiting keep being served the previous sample.
    Result<StoreStatistics> stats = sources_.statistics();
    const auto taken = std::chrono::steady_clock::now();
    if (!stats.ok()) log::warn("metrics.statistics_failed", {{"error", stats.status().toString()}});
    lock.lock();
    if (stats.ok()) {
      latest_ = Sample{std::move(*stats), taken};
    } else {
      ++failures_;
    }
    completed_ = serving;
    done_.notify_all();
  }
}

std::optional<LiveMetrics::Sample> LiveMetrics::sample() const {
  std::unique_lock lock(mu_);
  const uint64_t want = ++requested_;
  wanted_.notify_one();
  done_.wait_for(lock, options_.store_wait, [&] { return stopping_ || completed_ >= want; });
  return latest_;
}

std::vector<MetricFamily> LiveMetrics::Collect() const {
  std::vector<MetricFamily> out;

  // Every route of the running table has a series, so "no queue" reads 0 rather than no data.
  std::map<std::string, RouteQueueStats> routes;
  RoutingTablePtr table = sources_.routing ? sources_.routing->current() : nullptr;
  if (table) {
    for (const Route& r : table->routes())
      if (!r.reject) routes[r.name].route = r.name;
  }

  if (sources_.store_health) {
    MetricFamily healthy =
        family("itk_store_healthy", "1 when the store takes writes (not failing, not full), else 0",
               MetricType::Gauge);
    add(healthy, {}, sources_.store_health().ok() ? 1 : 0);
    out.push_back(std::move(healthy));
  }

  if (sources_.statistics) {
    std::optional<Sample> s = sample();
    uint64_t failures;
    {
      std::lock_guard lock(mu_);
      failures = failures_;
    }
    MetricFamily fails = family("itk_store_statistics_failures_total",
                                "Queue statistics queries the store failed", MetricType::Counter);
    add(fails, {}, static_cast<double>(failures));
    out.push_back(std::move(fails));

    if (s) {
      for (const RouteQueueStats& r : s->stats.routes) routes[routeLabel(r.route)] = r;
      MetricFamily age =
          family("itk_store_statistics_age_seconds",
                 "How old the queue statistics served by this scrape are", MetricType::Gauge);
      add(age, {}, seconds(std::chrono::steady_clock::now() - s->taken));
      out.push_back(std::move(age));
      MetricFamily acks_open = family(
          "itk_acks_open", "Acknowledgements expected and not yet received", MetricType::Gauge);
      add(acks_open, {}, static_cast<double>(s->stats.acks_open));
      out.push_back(std::move(acks_open));
      MetricFamily untold =
          family("itk_dead_letters_unnotified",
                 "Dead letters whose sender has not been answered yet", MetricType::Gauge);
      add(untold, {}, static_cast<double>(s->stats.dead_letters_unnotified));
      out.push_back(std::move(untold));
    }

    // Without a sample (the store has not answered yet) the queue gauges are left out rather
    // than shown as empty queues.
    if (!s) routes.clear();
    MetricFamily depth = family("itk_queue_depth",
                                "Deliveries not yet finished (pending, waiting behind a FIFO key "
                                "or in flight), by route",
                                MetricType::Gauge);
    MetricFamily in_flight = family("itk_queue_in_flight",
                                    "Deliveries being attempted now, by route", MetricType::Gauge);
    MetricFamily oldest =
        family("itk_queue_oldest_age_seconds",
               "Age of the oldest unfinished delivery by route (0 when none)", MetricType::Gauge);
    MetricFamily dead = family("itk_dead_letters",
                               "Dead letters held in the store (until replayed or pruned), by "
                               "route",
                               MetricType::Gauge);
    const TimePoint now = clock_.now();
    for (const auto& [label, r] : routes) {
      std::vector<ClientMetric::Label> l{{"route", label}};
      add(depth, l, static_cast<double>(r.queued));
      add(in_flight, l, static_cast<double>(r.in_flight));
      double age_s = 0;
      if (r.oldest_queued && *r.oldest_queued < now) age_s = seconds(now - *r.oldest_queued);
      add(oldest, l, age_s);
      add(dead, l, static_cast<double>(r.dead_letters));
    }
    for (MetricFamily* f : {&depth, &in_flight, &oldest, &dead})
      if (!f->metric.empty()) out.push_back(std::move(*f));
  }

  if (table) {
    MetricFamily version = family("itk_routing_table_version",
                                  "The routing table running: always 1, with its version and "
                                  "checksum (SHA-256 of its files) as labels",
                                  MetricType::Gauge);
    add(version, {{"checksum", table->checksum()}, {"version", table->version()}}, 1);
    out.push_back(std::move(version));
    MetricFamily routes_n = family("itk_routing_table_routes",
                                   "Routes in the running routing table", MetricType::Gauge);
    add(routes_n, {}, static_cast<double>(table->routes().size()));
    out.push_back(std::move(routes_n));
  }

  if (sources_.transports) {
    MetricFamily up = family("itk_transport_up",
                             "1 when the transport is ready (listeners bound, pollers running), "
                             "else 0",
                             MetricType::Gauge);
    for (const auto& [name, ready] : sources_.transports())
      add(up, {{"transport", name}}, ready ? 1 : 0);
    out.push_back(std::move(up));
  }

  if (sources_.acks_unmatched) {
    MetricFamily unmatched =
        family("itk_acks_unmatched_total", "Acknowledgements that matched no open expectation",
               MetricType::Counter);
    add(unmatched, {}, static_cast<double>(sources_.acks_unmatched()));
    out.push_back(std::move(unmatched));
  }
  return out;
}

}  // namespace itk
