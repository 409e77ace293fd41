// An in-memory Store for tests: the same contract as the durable backends (callbacks on a store
// thread, never inline) but nothing survives the process. Never used by the router binary.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "itk/store.h"

namespace itk {

class MemoryStore final : public Store {
 public:
  MemoryStore();
  ~MemoryStore() override;

  void accept(AcceptRequest request, std::function<void(Result<AcceptResult>)> done) override;
  Result<std::vector<DeliveryTask>> claimDue(TimePoint now, size_t limit) override;
  std::optional<TimePoint> nextDue() override;
  Result<MessagePtr> loadMessage(int64_t message_id) override;
  void recordAttempt(AttemptRecord record, std::function<void(Status)> done) override;
  Result<std::vector<DeliveryTask>> deliveriesOf(int64_t message_id) override;
  Result<std::vector<int64_t>> findByTrackingId(const std::string& tracking_id) override;

  // Test hook: the next `n` writes fail with a store error.
  void failNextWrites(int n);

 private:
  struct DeliveryRow {
    DeliveryTask task;
    TimePoint next_attempt_at;
  };
  void post(std::function<void()> fn);
  void run();

  std::mutex mu_;
  int64_t next_message_id_ = 1;
  int64_t next_delivery_id_ = 1;
  std::map<int64_t, MessagePtr> messages_;
  std::map<int64_t, DeliveryRow> deliveries_;
  std::map<std::pair<std::string, std::string>, int64_t> dedup_;  // (sender, tracking id)
  int fail_writes_ = 0;

  // Callbacks run on this thread, in submission order.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace itk
