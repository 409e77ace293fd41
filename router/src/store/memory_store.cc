#include "store/memory_store.h"

#include <algorithm>
#include <set>

namespace itk {

MemoryStore::MemoryStore() : worker_([this] { run(); }) {}

MemoryStore::~MemoryStore() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  worker_.join();
}

void MemoryStore::post(std::function<void()> fn) {
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(std::move(fn));
  }
  queue_cv_.notify_one();
}

void MemoryStore::run() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      fn = std::move(queue_.front());
      queue_.pop_front();
    }
    fn();
  }
}

void MemoryStore::failNextWrites(int n) {
  std::lock_guard lock(mu_);
  fail_writes_ = n;
}

void MemoryStore::accept(AcceptRequest request,
                         std::function<void(Result<AcceptResult>)> done) {
  Result<AcceptResult> result = Status::internal("unset");
  {
    std::lock_guard lock(mu_);
    if (fail_writes_ > 0) {
      --fail_writes_;
      result = Status::storeError("injected write failure");
    } else {
      const auto& h = request.message.header;
      auto key = std::make_pair(h.sender_address, h.tracking_id);
      auto found = dedup_.find(key);
      if (request.deduplicate && found != dedup_.end()) {
        result = AcceptResult{found->second, true};
      } else {
        int64_t id = next_message_id_++;
        auto message = std::make_shared<Message>(std::move(request.message));
        message->id = id;
        messages_[id] = message;
        if (request.deduplicate) dedup_[key] = id;
        for (auto& d : request.deliveries) {
          DeliveryRow row;
          row.task.delivery_id = next_delivery_id_++;
          row.task.message_id = id;
          row.task.route = d.route;
          row.task.endpoint = d.endpoint;
          row.task.address = d.address;
          row.task.ordering_key = d.ordering_key;
          row.task.max_attempts = d.max_attempts;
          row.task.deadline = d.deadline;
          row.task.created_at = message->received_at;
          row.next_attempt_at = d.next_attempt_at;
          row.task.state = d.initial_state;
          row.task.last_error = d.error;
          deliveries_[row.task.delivery_id] = std::move(row);
        }
        result = AcceptResult{id, false};
      }
    }
  }
  post([done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

Result<std::vector<DeliveryTask>> MemoryStore::claimDue(TimePoint now, size_t limit) {
  std::lock_guard lock(mu_);
  // FIFO keys blocked by an in-flight delivery or an earlier pending one.
  std::set<std::string> blocked;
  for (const auto& [id, row] : deliveries_) {
    if (!row.task.ordering_key.empty() && row.task.state == DeliveryState::kInFlight)
      blocked.insert(row.task.ordering_key);
  }
  std::vector<DeliveryRow*> due;
  for (auto& [id, row] : deliveries_) {  // ids ascend with acceptance order
    if (row.task.state != DeliveryState::kPending) continue;
    const std::string& key = row.task.ordering_key;
    if (!key.empty()) {
      if (blocked.count(key)) continue;
      blocked.insert(key);  // only the head of each key may go
    }
    if (row.next_attempt_at <= now) due.push_back(&row);
  }
  std::vector<DeliveryTask> out;
  for (DeliveryRow* row : due) {
    if (out.size() >= limit) break;
    row->task.state = DeliveryState::kInFlight;
    out.push_back(row->task);
  }
  return out;
}

std::optional<TimePoint> MemoryStore::nextDue() {
  std::lock_guard lock(mu_);
  std::optional<TimePoint> best;
  for (const auto& [id, row] : deliveries_) {
    if (row.task.state != DeliveryState::kPending) continue;
    if (!best || row.next_attempt_at < *best) best = row.next_attempt_at;
  }
  return best;
}

Result<MessagePtr> MemoryStore::loadMessage(int64_t message_id) {
  std::lock_guard lock(mu_);
  auto it = messages_.find(message_id);
  if (it == messages_.end()) return Status::notFound("message " + std::to_string(message_id));
  return it->second;
}

void MemoryStore::recordAttempt(AttemptRecord record, std::function<void(Status)> done) {
  Status status;
  {
    std::lock_guard lock(mu_);
    auto it = deliveries_.find(record.delivery_id);
    if (fail_writes_ > 0) {
      --fail_writes_;
      status = Status::storeError("injected write failure");
    } else if (it == deliveries_.end()) {
      status = Status::notFound("delivery " + std::to_string(record.delivery_id));
    } else {
      DeliveryRow& row = it->second;
      row.task.attempts += 1;
      row.task.last_error = record.error;
      switch (record.next) {
        case AttemptRecord::Next::kDelivered: row.task.state = DeliveryState::kDelivered; break;
        case AttemptRecord::Next::kDeadLetter: row.task.state = DeliveryState::kDeadLetter; break;
        case AttemptRecord::Next::kRetry:
          row.task.state = DeliveryState::kPending;
          row.next_attempt_at = record.next_attempt_at;
          break;
      }
    }
  }
  post([done = std::move(done), status = std::move(status)] { done(status); });
}

Result<std::vector<DeliveryTask>> MemoryStore::deliveriesOf(int64_t message_id) {
  std::lock_guard lock(mu_);
  std::vector<DeliveryTask> out;
  for (const auto& [id, row] : deliveries_)
    if (row.task.message_id == message_id) out.push_back(row.task);
  return out;
}

Result<std::vector<int64_t>> MemoryStore::findByTrackingId(const std::string& tracking_id) {
  std::lock_guard lock(mu_);
  std::vector<int64_t> out;
  for (const auto& [id, m] : messages_)
    if (m->header.tracking_id == tracking_id) out.push_back(id);
  return out;
}

}  // namespace itk
