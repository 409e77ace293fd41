// AckTracker: acknowledgement bookkeeping (DESIGN.md §1). When a delivered message asked for an
// infrastructure or business acknowledgement, the delivery engine records the expectation with
// the delivery (expectedAcks() below, same transaction). When an ack arrives — an InfAck/InfNack,
// BusAck/BusNack or ITK3 response, accepted and routed back to the sender like any message — the
// Router hands it here and the store correlates it by the tracking id it acknowledges. An
// expectation that times out is counted and audited, and nothing is resent (no duplicate floods
// on ack timeout: users.md #7).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "itk/clock.h"
#include "itk/message.h"
#include "itk/store.h"

namespace itk {

struct AckTimeouts {
  std::chrono::seconds infrastructure{3600};     // an infack is automatic: an hour is generous
  std::chrono::seconds business{5 * 24 * 3600};  // a busack waits for a person or a system
};

// The acks a delivered message asked for, due by now + their timeout. Acknowledgements never ask
// for acknowledgements (ITK2 §3.1: never infack an infack), so they expect nothing.
std::vector<ExpectedAck> expectedAcks(const MessageHeader& header, TimePoint now,
                                      const AckTimeouts& timeouts);

struct AckTrackerHooks {
  // An expectation was resolved (latency = resolved_at - created_at). On a store thread.
  std::function<void(const PendingAck&)> on_resolved;
  // An expectation timed out. On the thread that called expireDue().
  std::function<void(const PendingAck&)> on_expired;
};

class AckTracker {
 public:
  // `store` and `clock` outlive the tracker.
  AckTracker(Store& store, const Clock& clock, AckTrackerHooks hooks = {});

  // `ack` (an accepted acknowledgement, not a duplicate) is correlated with what was expected.
  // Returns at once; `done` (optional) runs on a store thread with the resolved expectation, or
  // nullopt when none was open (the store keeps it to resolve an expectation recorded later).
  // Thread-safe. Business messages are ignored.
  void onAckAccepted(const MessagePtr& ack,
                     std::function<void(Result<std::optional<PendingAck>>)> done = nullptr);

  // Expectations past their time become expired (audited by the store); returns how many.
  // Synchronous; thread-safe.
  Result<size_t> expireDue(size_t limit = 1000);

  struct Counters {
    uint64_t resolved = 0;
    uint64_t unmatched = 0;
    uint64_t expired = 0;
  };
  Counters counters() const;

 private:
  Store& store_;
  const Clock& clock_;
  AckTrackerHooks hooks_;
  std::atomic<uint64_t> resolved_{0};
  std::atomic<uint64_t> unmatched_{0};
  std::atomic<uint64_t> expired_{0};
};

}  // namespace itk
