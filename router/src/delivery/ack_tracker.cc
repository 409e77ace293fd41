#include "delivery/ack_tracker.h"

#include "itk/log.h"

namespace itk {

std::vector<ExpectedAck> expectedAcks(const MessageHeader& header, TimePoint now,
                                      const AckTimeouts& timeouts) {
  std::vector<ExpectedAck> out;
  if (header.kind != MessageKind::kBusiness) return out;
  if (header.infack_requested)
    out.push_back({AckKind::kInfrastructure, now + timeouts.infrastructure});
  if (header.busack_requested) out.push_back({AckKind::kBusiness, now + timeouts.business});
  return out;
}

AckTracker::AckTracker(Store& store, const Clock& clock, AckTrackerHooks hooks)
    : store_(store), clock_(clock), hooks_(std::move(hooks)) {}

void AckTracker::onAckAccepted(const MessagePtr& ack,
                               std::function<void(Result<std::optional<PendingAck>>)> done) {
  const MessageHeader& h = ack->header;
  if (h.kind == MessageKind::kBusiness || h.acknowledged_tracking_id.empty()) {
    if (done) done(std::optional<PendingAck>());
    return;
  }
  AckArrival arrival;
  arrival.acknowledged_tracking_id = h.acknowledged_tracking_id;
  arrival.kind = h.kind;
  arrival.from_address = h.sender_address;
  arrival.ack_message_id = ack->id;
  arrival.positive = h.ack_positive;
  arrival.at = clock_.now();
  store_.resolveAck(
      std::move(arrival),
      [this, tracking = h.tracking_id, acknowledged = h.acknowledged_tracking_id,
       done = std::move(done)](Result<std::optional<PendingAck>> r) {
        if (!r.ok()) {
          log::error("ack.correlate_failed", {{"tracking_id", tracking},
                                              {"acknowledged_tracking_id", acknowledged},
                                              {"error", r.status().toString()}});
        } else if (*r) {
          ++resolved_;
          const PendingAck& a = **r;
          log::info("ack.correlated",
                    {{"tracking_id", a.tracking_id},
                     {"kind", ackKindName(a.kind)},
                     {"positive", a.positive},
                     {"latency_ms",
                      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 a.resolved_at - a.created_at)
                                                 .count())}});
          if (hooks_.on_resolved) hooks_.on_resolved(a);
        } else {
          ++unmatched_;
          log::info("ack.unmatched",
                    {{"tracking_id", tracking}, {"acknowledged_tracking_id", acknowledged}});
        }
        if (done) done(std::move(r));
      });
}

Result<size_t> AckTracker::expireDue(size_t limit) {
  auto expired = store_.expireAcks(clock_.now(), limit);
  if (!expired.ok()) return expired.status();
  for (const PendingAck& a : *expired) {
    ++expired_;
    log::warn("ack.timeout", {{"tracking_id", a.tracking_id},
                              {"kind", ackKindName(a.kind)},
                              {"address", a.address},
                              {"expected_by", formatIsoSeconds(a.expected_by)}});
    if (hooks_.on_expired) hooks_.on_expired(a);
  }
  return expired->size();
}

AckTracker::Counters AckTracker::counters() const {
  return {resolved_.load(), unmatched_.load(), expired_.load()};
}

}  // namespace itk
