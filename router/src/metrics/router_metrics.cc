#include "metrics/router_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <set>

namespace itk {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

constexpr const char* kNoRoute = "(none)";
constexpr const char* kOtherService = "other";

std::string_view outcomeLabel(AcceptOutcome::Kind kind) {
  switch (kind) {
    case AcceptOutcome::Kind::kAccepted:
      return "accepted";
    case AcceptOutcome::Kind::kDuplicate:
      return "duplicate";
    case AcceptOutcome::Kind::kRejected:
      return "rejected";
    case AcceptOutcome::Kind::kBusy:
      return "busy";
  }
  return "unknown";
}

std::string_view attemptLabel(AttemptRecord::Next next) {
  switch (next) {
    case AttemptRecord::Next::kDelivered:
      return "delivered";
    case AttemptRecord::Next::kRetry:
      return "retry";
    case AttemptRecord::Next::kDeadLetter:
      return "dead_letter";
  }
  return "unknown";
}

template <class Rep, class Period>
double seconds(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration<double>(d).count();
}

// Delivered -> acknowledged and accepted -> delivered run from milliseconds (a hub next door) to
// days (a business ack waits for a person; a MESH recipient collects within 5 days).
const Histogram::BucketBoundaries& latencyBuckets() {
  static const Histogram::BucketBoundaries kBuckets{0.005, 0.01, 0.025, 0.05,  0.1,   0.25, 0.5,
                                                    1,     2.5,  5,     10,    30,    60,   300,
                                                    900,   3600, 14400, 86400, 432000};
  return kBuckets;
}

// A group commit takes well under a millisecond without fsync and a few with it; seconds mean
// the disk is in trouble.
const Histogram::BucketBoundaries& commitBuckets() {
  static const Histogram::BucketBoundaries kBuckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  return kBuckets;
}

// Writes per transaction, up to the largest configurable group (256 by default).
const Histogram::BucketBoundaries& groupBuckets() {
  static const Histogram::BucketBoundaries kBuckets{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  return kBuckets;
}

}  // namespace

std::string routeLabel(std::string_view route) {
  return route.empty() ? std::string(kNoRoute) : std::string(route);
}

struct RouterMetrics::Families {
  explicit Families(prometheus::Registry& r)
      : received(prometheus::BuildCounter()
                     .Name("itk_messages_received_total")
                     .Help("Messages handed to the router by an inbound transport, by what the "
                           "router answered (accepted, duplicate, rejected, busy)")
                     .Register(r)),
        unreadable(prometheus::BuildCounter()
                       .Name("itk_messages_unreadable_total")
                       .Help("Inbound input a transport could not read as an ITK message")
                       .Register(r)),
        deliveries(prometheus::BuildCounter()
                       .Name("itk_deliveries_total")
                       .Help("Delivery attempts by route and outcome (delivered, retry, "
                             "dead_letter), and addresses refused at accept time (rejected)")
                       .Register(r)),
        dead_letters(prometheus::BuildCounter()
                         .Name("itk_dead_letters_total")
                         .Help("New dead letters by route and cause")
                         .Register(r)),
        end_to_end(prometheus::BuildHistogram()
                       .Name("itk_end_to_end_latency_seconds")
                       .Help("From the message's durable acceptance to its delivery, by route")
                       .Register(r)),
        acks_expected(prometheus::BuildCounter()
                          .Name("itk_acks_expected_total")
                          .Help("Acknowledgements a delivered message asked for, by kind")
                          .Register(r)),
        acks_received(prometheus::BuildCounter()
                          .Name("itk_acks_received_total")
                          .Help("Acknowledgements that resolved an expectation, by kind and "
                                "result (positive, negative)")
                          .Register(r)),
        acks_timed_out(prometheus::BuildCounter()
                           .Name("itk_acks_timed_out_total")
                           .Help("Expected acknowledgements that did not arrive in time, by kind")
                           .Register(r)),
        ack_latency(prometheus::BuildHistogram()
                        .Name("itk_ack_latency_seconds")
                        .Help("From delivery to the acknowledgement that resolved it, by kind")
                        .Register(r)),
        commit_seconds(prometheus::BuildHistogram()
                           .Name("itk_store_commit_seconds")
                           .Help("Duration of one store transaction (a group commit, fsync "
                                 "included)")
                           .Register(r)
                           .Add({}, commitBuckets())),
        commit_group(prometheus::BuildHistogram()
                         .Name("itk_store_commit_group_size")
                         .Help("Writes committed together in one store transaction")
                         .Register(r)
                         .Add({}, groupBuckets())),
        commit_failures(prometheus::BuildCounter()
                            .Name("itk_store_commit_failures_total")
                            .Help("Store transactions rolled back on a store error (disk full, "
                                  "I/O error)")
                            .Register(r)
                            .Add({})),
        reloads(prometheus::BuildCounter()
                    .Name("itk_routing_reloads_total")
                    .Help("Routing-table reload attempts by outcome (loaded, unchanged, failed)")
                    .Register(r)),
        reload_failing(prometheus::BuildGauge()
                           .Name("itk_routing_reload_failing")
                           .Help("1 while the latest routing-table reload failed (the previous "
                                 "table keeps running), else 0")
                           .Register(r)
                           .Add({})) {
    // Series that alerts and dashboards divide by or compare with exist from the start, so
    // their expressions have data before the first event.
    for (const char* outcome : {"loaded", "unchanged", "failed"})
      reloads.Add({{"outcome", outcome}});
    for (const char* kind : {"infrastructure", "business"}) {
      acks_expected.Add({{"kind", kind}});
      acks_timed_out.Add({{"kind", kind}});
    }
  }

  Family<Counter>& received;
  Family<Counter>& unreadable;
  Family<Counter>& deliveries;
  Family<Counter>& dead_letters;
  Family<Histogram>& end_to_end;
  Family<Counter>& acks_expected;
  Family<Counter>& acks_received;
  Family<Counter>& acks_timed_out;
  Family<Histogram>& ack_latency;
  Histogram& commit_seconds;
  Histogram& commit_group;
  Counter& commit_failures;
  Family<Counter>& reloads;
  Gauge& reload_failing;
};

struct RouterMetrics::ServiceNames {
  RoutingTablePtr table;  // held, so that its address cannot be reused by a newer table
  std::set<std::string, std::less<>> names;
};

RouterMetrics::RouterMetrics(prometheus::Registry& registry, const RoutingTableHolder& routing)
    : f_(std::make_unique<Families>(registry)), routing_(routing) {}

RouterMetrics::~RouterMetrics() = default;

std::string RouterMetrics::serviceLabel(std::string_view service) const {
  RoutingTablePtr table = routing_.current();
  std::shared_ptr<const ServiceNames> names;
  {
    std::lock_guard lock(services_mu_);
    if (!services_ || services_->table != table) {
      auto fresh = std::make_shared<ServiceNames>();
      fresh->table = table;
      if (table) {
        for (const Route& r : table->routes())
          if (r.service.kind == FieldMatch::Kind::kExact) fresh->names.insert(r.service.pattern);
      }
      services_ = std::move(fresh);
    }
    names = services_;
  }
  // A service no route names exactly (a glob, a prefix, a catch-all route, or nothing at all)
  // is "other": a peer must not be able to mint label values.
  return names->names.count(service) ? std::string(service) : std::string(kOtherService);
}

void RouterMetrics::received(std::string_view transport, std::string_view service,
                             AcceptOutcome::Kind outcome) {
  f_->received
      .Add({{"transport", std::string(transport)},
            {"service", serviceLabel(service)},
            {"outcome", std::string(outcomeLabel(outcome))}})
      .Increment();
}

void RouterMetrics::unreadable(std::string_view transport) {
  f_->unreadable.Add({{"transport", std::string(transport)}}).Increment();
}

void RouterMetrics::attempt(const DeliveryTask& task, const AttemptRecord& record) {
  const std::string route = routeLabel(task.route);
  f_->deliveries.Add({{"route", route}, {"outcome", std::string(attemptLabel(record.next))}})
      .Increment();
  if (record.next != AttemptRecord::Next::kDelivered) return;
  if (task.created_at != TimePoint{} && record.at >= task.created_at) {
    f_->end_to_end.Add({{"route", route}}, latencyBuckets())
        .Observe(seconds(record.at - task.created_at));
  }
  for (const ExpectedAck& e : record.expect_acks)
    f_->acks_expected.Add({{"kind", std::string(ackKindName(e.kind))}}).Increment();
}

void RouterMetrics::rejected(std::string_view route) {
  f_->deliveries.Add({{"route", routeLabel(route)}, {"outcome", "rejected"}}).Increment();
}

void RouterMetrics::deadLettered(const DeliveryTask& task) {
  f_->dead_letters
      .Add({{"route", routeLabel(task.route)},
            {"cause", std::string(deadLetterCauseName(task.cause))}})
      .Increment();
}

void RouterMetrics::ackResolved(const PendingAck& ack) {
  const std::string kind(ackKindName(ack.kind));
  f_->acks_received.Add({{"kind", kind}, {"result", ack.positive ? "positive" : "negative"}})
      .Increment();
  if (ack.resolved_at >= ack.created_at) {
    f_->ack_latency.Add({{"kind", kind}}, latencyBuckets())
        .Observe(seconds(ack.resolved_at - ack.created_at));
  }
}

void RouterMetrics::ackTimedOut(const PendingAck& ack) {
  f_->acks_timed_out.Add({{"kind", std::string(ackKindName(ack.kind))}}).Increment();
}

void RouterMetrics::commit(const CommitReport& report) {
  if (!report.ok) {
    f_->commit_failures.Increment();
    return;
  }
  f_->commit_seconds.Observe(seconds(report.duration));
  f_->commit_group.Observe(static_cast<double>(report.writes));
}

void RouterMetrics::reload(const ReloadOutcome& outcome) {
  f_->reloads.Add({{"outcome", std::string(reloadKindName(outcome.kind))}}).Increment();
  f_->reload_failing.Set(outcome.kind == ReloadOutcome::Kind::kFailed ? 1 : 0);
}

}  // namespace itk
