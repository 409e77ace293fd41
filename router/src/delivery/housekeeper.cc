#include "delivery/housekeeper.h"

#include "itk/log.h"

namespace itk {

Housekeeper::Housekeeper(Store& store, AckTracker& acks, const Clock& clock,
                         HousekeeperOptions options)
    : store_(store), acks_(acks), clock_(clock), options_(options) {}

Housekeeper::~Housekeeper() {
  stop();
}

void Housekeeper::start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      runOnce();
      lock.lock();
      cv_.wait_for(lock, options_.ack_check_interval, [&] { return stopping_; });
    }
  });
}

void Housekeeper::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Housekeeper::runOnce() {
  auto expired = acks_.expireDue();
  if (!expired.ok())
    log::error("housekeeping.ack_expiry_failed", {{"error", expired.status().toString()}});
  const TimePoint now = clock_.now();
  if (last_prune_ && now - *last_prune_ < options_.prune_interval) return;
  last_prune_ = now;
  auto pruned = store_.prune(now);
  if (!pruned.ok()) {
    log::error("housekeeping.prune_failed", {{"error", pruned.status().toString()}});
    return;
  }
  log::info("housekeeping.pruned",
            {{"bodies", static_cast<long long>(pruned->bodies_pruned)},
             {"messages", static_cast<long long>(pruned->messages_deleted)},
             {"audit_events", static_cast<long long>(pruned->audit_deleted)},
             {"dedup_keys", static_cast<long long>(pruned->dedup_keys_deleted)},
             {"bytes_reclaimed", static_cast<long long>(pruned->bytes_reclaimed)}});
}

}  // namespace itk
