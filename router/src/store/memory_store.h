// An in-memory Store for tests: the same contract as the durable backends (callbacks on a store
// thread, never inline; the same FIFO, de-duplication, ack and dead-letter rules) but nothing
// survives the process. Selected by StoreConfig backend "memory"; never for production.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "itk/store.h"
#include "store/callback_thread.h"

namespace itk {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(StoreConfig config = {});
  ~MemoryStore() override;

  void accept(AcceptRequest request, std::function<void(Result<AcceptResult>)> done) override;
  void claimDue(ClaimRequest request, std::function<void(Result<ClaimResult>)> done) override;
  void recordAttempt(AttemptRecord record, std::function<void(Status)> done) override;
  void resolveAck(AckArrival arrival,
                  std::function<void(Result<std::optional<PendingAck>>)> done) override;
  void markSenderNotified(int64_t delivery_id, TimePoint at,
                          std::function<void(Status)> done) override;
  void appendAudit(AuditEvent event, std::function<void(Status)> done) override;

  Result<MessagePtr> loadMessage(int64_t message_id) override;
  Result<MessagePtr> loadHeader(int64_t message_id) override;
  Result<std::vector<DeliveryTask>> deliveriesOf(int64_t message_id) override;
  Result<std::vector<int64_t>> findByTrackingId(const std::string& tracking_id) override;
  Result<std::vector<int64_t>> findByTransportId(const std::string& id) override;
  Result<std::vector<AuditEvent>> auditTrail(const std::string& tracking_id) override;
  Result<std::vector<PendingAck>> acksOf(int64_t message_id) override;
  Result<std::vector<DeadLetterEntry>> listDeadLetters(const DeadLetterQuery& query) override;
  Result<std::vector<DeliveryTask>> unnotifiedDeadLetters(size_t limit) override;
  Result<std::optional<TimePoint>> nextDue() override;
  Result<StoreStatistics> statistics() override;

  Status replayDeadLetter(int64_t delivery_id, const ReplayOptions& options) override;
  Result<size_t> replayAllDeadLetters(const ReplayOptions& options) override;
  Result<std::vector<PendingAck>> expireAcks(TimePoint now, size_t limit) override;
  Result<PruneStats> prune(TimePoint now) override;
  Result<size_t> recover(TimePoint now) override;
  Status health() override;

  // Test hook: the next `n` writes fail with a store error (and write nothing).
  void failNextWrites(int n);

 private:
  struct MessageRow {
    std::shared_ptr<Message> message;  // body reset to null once pruned
    std::optional<TimePoint> finished_at;
    bool body_pruned = false;
  };
  struct DedupEntry {
    int64_t message_id = 0;
    TimePoint expires_at{};
  };

  // Everything below runs with mu_ held.
  Status injectedFailure();
  void audit(TimePoint at, int64_t message_id, int64_t delivery_id, std::string_view event,
             std::string detail, std::string actor = "router");
  bool keyActive(const std::string& key, int64_t except_id) const;
  void promoteNext(const std::string& key);
  void updateFinished(int64_t message_id, TimePoint at);
  Status replayLocked(DeliveryTask& d, const ReplayOptions& options);
  const std::string& trackingIdOf(int64_t message_id) const;

  const StoreConfig config_;
  std::mutex mu_;
  int64_t next_message_id_ = 1;
  int64_t next_delivery_id_ = 1;
  int64_t next_ack_id_ = 1;
  int64_t next_audit_id_ = 1;
  std::map<int64_t, MessageRow> messages_;
  std::map<int64_t, DeliveryTask> deliveries_;
  std::map<std::pair<std::string, std::string>, DedupEntry> dedup_;  // (sender, tracking id)
  std::map<int64_t, PendingAck> acks_;
  std::vector<AuditEvent> audit_;
  std::string claim_cursor_;  // the endpoint claimed from last (round-robin)
  int fail_writes_ = 0;

  CallbackThread callbacks_;  // last: joined first, while the state above is still alive
};

}  // namespace itk
