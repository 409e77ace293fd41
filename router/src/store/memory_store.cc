#include "store/memory_store.h"

#include <algorithm>
#include <set>

#include "store/store_rules.h"

namespace itk {

using store_rules::isFinal;

MemoryStore::MemoryStore(StoreConfig config) : config_(std::move(config)) {}

MemoryStore::~MemoryStore() = default;

void MemoryStore::failNextWrites(int n) {
  std::lock_guard lock(mu_);
  fail_writes_ = n;
}

Status MemoryStore::injectedFailure() {
  if (fail_writes_ <= 0) return {};
  --fail_writes_;
  return Status::storeError("injected write failure");
}

void MemoryStore::audit(TimePoint at, int64_t message_id, int64_t delivery_id,
                        std::string_view event, std::string detail, std::string actor) {
  AuditEvent e;
  e.id = next_audit_id_++;
  e.at = at;
  e.message_id = message_id;
  e.delivery_id = delivery_id;
  e.tracking_id = trackingIdOf(message_id);
  e.event = std::string(event);
  e.actor = std::move(actor);
  e.detail = std::move(detail);
  audit_.push_back(std::move(e));
}

const std::string& MemoryStore::trackingIdOf(int64_t message_id) const {
  static const std::string kNone;
  auto it = messages_.find(message_id);
  return it == messages_.end() ? kNone : it->second.message->header.tracking_id;
}

bool MemoryStore::keyActive(const std::string& key, int64_t except_id) const {
  for (const auto& [id, d] : deliveries_)
    if (id != except_id && d.ordering_key == key && !isFinal(d.state)) return true;
  return false;
}

void MemoryStore::promoteNext(const std::string& key) {
  if (key.empty()) return;
  DeliveryTask* next = nullptr;
  for (auto& [id, d] : deliveries_) {
    if (d.ordering_key != key) continue;
    if (d.state == DeliveryState::kPending || d.state == DeliveryState::kInFlight) return;
    if (d.state == DeliveryState::kWaiting && !next) next = &d;  // ids ascend: the oldest
  }
  if (next) next->state = DeliveryState::kPending;
}

void MemoryStore::updateFinished(int64_t message_id, TimePoint at) {
  for (const auto& [id, d] : deliveries_)
    if (d.message_id == message_id && !isFinal(d.state)) return;
  messages_[message_id].finished_at = at;
}

void MemoryStore::accept(AcceptRequest request, std::function<void(Result<AcceptResult>)> done) {
  Result<AcceptResult> result = Status::internal("unset");
  {
    std::lock_guard lock(mu_);
    Status failed = injectedFailure();
    const MessageHeader& h = request.message.header;
    const TimePoint now = request.message.received_at;
    auto key = std::make_pair(h.sender_address, h.tracking_id);
    auto found = request.deduplicate ? dedup_.find(key) : dedup_.end();
    if (!failed.ok()) {
      result = failed;
    } else if (found != dedup_.end() && found->second.expires_at > now) {
      audit(now, found->second.message_id, 0, audit_event::kDuplicate,
            store_rules::duplicateDetail(request.message));
      result = AcceptResult{found->second.message_id, true};
    } else {
      const int64_t id = next_message_id_++;
      std::string detail = store_rules::acceptedDetail(request);
      auto message = std::make_shared<Message>(std::move(request.message));
      message->id = id;
      messages_[id] = MessageRow{message, std::nullopt, false};
      for (NewDelivery& nd : request.deliveries) {
        DeliveryTask d;
        d.delivery_id = next_delivery_id_++;
        d.message_id = id;
        d.route = std::move(nd.route);
        d.endpoint = std::move(nd.endpoint);
        d.address = std::move(nd.address);
        d.ordering_key = std::move(nd.ordering_key);
        d.max_attempts = nd.max_attempts;
        d.deadline = nd.deadline;
        d.created_at = d.updated_at = now;
        d.next_attempt_at = nd.next_attempt_at;
        d.state = nd.initial_state;
        d.cause = nd.cause;
        d.last_error = std::move(nd.error);
        if (d.state == DeliveryState::kPending && !d.ordering_key.empty() &&
            keyActive(d.ordering_key, 0))
          d.state = DeliveryState::kWaiting;
        deliveries_[d.delivery_id] = std::move(d);
      }
      updateFinished(id, now);
      if (request.deduplicate) dedup_[key] = DedupEntry{id, now + config_.dedup_window};
      audit(now, id, 0, audit_event::kAccepted, std::move(detail));
      result = AcceptResult{id, false};
    }
  }
  callbacks_.post(
      [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

void MemoryStore::claimDue(ClaimRequest request, std::function<void(Result<ClaimResult>)> done) {
  ClaimResult out;
  {
    std::lock_guard lock(mu_);
    // Pending deliveries per endpoint, each list in (next attempt, id) order.
    std::map<std::string, std::vector<DeliveryTask*>> pending;
    for (auto& [id, d] : deliveries_)
      if (d.state == DeliveryState::kPending) pending[d.endpoint].push_back(&d);
    for (auto& [endpoint, list] : pending) {
      std::stable_sort(list.begin(), list.end(), [](const DeliveryTask* a, const DeliveryTask* b) {
        return a->next_attempt_at < b->next_attempt_at;
      });
    }
    // Round-robin: endpoints after the cursor first, then the rest.
    std::vector<std::string> order;
    for (auto it = pending.upper_bound(claim_cursor_); it != pending.end(); ++it)
      order.push_back(it->first);
    for (auto it = pending.begin(); it != pending.upper_bound(claim_cursor_); ++it)
      order.push_back(it->first);
    auto later = [&](TimePoint t) { out.next_due = out.next_due ? std::min(*out.next_due, t) : t; };
    for (const std::string& endpoint : order) {
      auto found = request.room.find(endpoint);
      size_t room = found == request.room.end() ? request.default_room : found->second;
      if (room == 0) continue;
      if (out.tasks.size() >= request.limit) {
        later(request.now);  // more may be due: the caller comes back when it has room
        break;
      }
      const auto& list = pending[endpoint];
      size_t i = 0;
      for (; i < list.size() && room > 0 && out.tasks.size() < request.limit; ++i) {
        if (list[i]->next_attempt_at > request.now) break;
        list[i]->state = DeliveryState::kInFlight;
        list[i]->updated_at = request.now;
        out.tasks.push_back(*list[i]);
        --room;
        claim_cursor_ = endpoint;
      }
      if (room > 0 && i < list.size()) later(list[i]->next_attempt_at);
    }
  }
  callbacks_.post([done = std::move(done), out = std::move(out)]() mutable {
    done(Result<ClaimResult>(std::move(out)));
  });
}

void MemoryStore::recordLateFailure(LateFailure failure, std::function<void(Status)> done) {
  Status status;
  {
    std::lock_guard lock(mu_);
    auto it = deliveries_.find(failure.delivery_id);
    status = injectedFailure();
    if (!status.ok()) {
    } else if (it == deliveries_.end() || it->second.state != DeliveryState::kDelivered) {
      status = Status::notFound("delivery " + std::to_string(failure.delivery_id) +
                                " is not delivered");
    } else {
      DeliveryTask& d = it->second;
      d.state = DeliveryState::kDeadLetter;
      d.cause = DeadLetterCause::kReportedFailure;
      d.last_error = failure.error;
      d.updated_at = failure.at;
      d.sender_notified = false;
      auto entry = store_rules::lateFailureAudit(failure, d.endpoint);
      audit(failure.at, d.message_id, d.delivery_id, entry.event, std::move(entry.detail));
    }
  }
  callbacks_.post([done = std::move(done), status] { done(status); });
}

void MemoryStore::recordAttempt(AttemptRecord record, std::function<void(Status)> done) {
  Status status;
  {
    std::lock_guard lock(mu_);
    auto it = deliveries_.find(record.delivery_id);
    status = injectedFailure();
    if (!status.ok()) {
    } else if (it == deliveries_.end() || it->second.state != DeliveryState::kInFlight) {
      status =
          Status::notFound("delivery " + std::to_string(record.delivery_id) + " is not in flight");
    } else {
      DeliveryTask& d = it->second;
      d.attempts += 1;
      d.updated_at = record.at;
      d.last_error = record.error;
      if (!record.remote_id.empty()) d.remote_id = record.remote_id;
      auto entry = store_rules::attemptAudit(record, d.attempts, d.endpoint, d.address);
      audit(record.at, d.message_id, d.delivery_id, entry.event, std::move(entry.detail));
      switch (record.next) {
        case AttemptRecord::Next::kDelivered:
          d.state = DeliveryState::kDelivered;
          break;
        case AttemptRecord::Next::kDeadLetter:
          d.state = DeliveryState::kDeadLetter;
          d.cause = record.cause;
          d.sender_notified = false;
          break;
        case AttemptRecord::Next::kRetry:
          d.state = DeliveryState::kPending;
          d.next_attempt_at = record.next_attempt_at;
          break;
      }
      for (const ExpectedAck& e : record.expect_acks) {
        PendingAck a;
        a.id = next_ack_id_++;
        a.message_id = d.message_id;
        a.delivery_id = d.delivery_id;
        a.tracking_id = trackingIdOf(d.message_id);
        a.kind = e.kind;
        a.address = d.address;
        a.created_at = record.at;
        a.expected_by = e.expected_by;
        // An ack that overtook this record resolves the expectation at once.
        for (auto early = acks_.begin(); early != acks_.end(); ++early) {
          const PendingAck& x = early->second;
          if (x.state != PendingAckState::kEarly || x.tracking_id != a.tracking_id ||
              !store_rules::earlyMatches(x.kind, a.kind))
            continue;
          a.state = PendingAckState::kResolved;
          a.resolved_at = x.resolved_at;
          a.ack_message_id = x.ack_message_id;
          a.positive = x.positive;
          acks_.erase(early);
          auto entry2 = store_rules::ackAudit(a);
          audit(record.at, a.message_id, a.delivery_id, entry2.event, std::move(entry2.detail));
          break;
        }
        acks_[a.id] = std::move(a);
      }
      if (isFinal(d.state)) {
        std::string key = d.ordering_key;
        int64_t message_id = d.message_id;
        promoteNext(key);
        updateFinished(message_id, record.at);
      }
    }
  }
  callbacks_.post([done = std::move(done), status = std::move(status)] { done(status); });
}

void MemoryStore::resolveAck(AckArrival arrival,
                             std::function<void(Result<std::optional<PendingAck>>)> done) {
  Result<std::optional<PendingAck>> result = std::optional<PendingAck>();
  {
    std::lock_guard lock(mu_);
    Status failed = injectedFailure();
    std::vector<AckKind> kinds = store_rules::kindsResolvedBy(arrival.kind);
    // Open expectations first, then expired ones (a late ack still closes its record); within
    // those, the one delivered to the ack's sender, then the oldest.
    PendingAck* best = nullptr;
    auto rank = [&](const PendingAck& a) {
      return (a.state == PendingAckState::kOpen ? 0 : 2) +
             (a.address == arrival.from_address ? 0 : 1);
    };
    for (auto& [id, a] : acks_) {
      if (a.tracking_id != arrival.acknowledged_tracking_id) continue;
      if (a.state != PendingAckState::kOpen && a.state != PendingAckState::kExpired) continue;
      if (std::find(kinds.begin(), kinds.end(), a.kind) == kinds.end()) continue;
      if (!best || rank(a) < rank(*best)) best = &a;
    }
    if (!failed.ok()) {
      result = failed;
    } else if (best) {
      best->state = PendingAckState::kResolved;
      best->resolved_at = arrival.at;
      best->ack_message_id = arrival.ack_message_id;
      best->positive = arrival.positive;
      auto entry = store_rules::ackAudit(*best);
      audit(arrival.at, best->message_id, best->delivery_id, entry.event, std::move(entry.detail));
      result = std::optional<PendingAck>(*best);
    } else {
      PendingAck early;
      early.id = next_ack_id_++;
      early.tracking_id = arrival.acknowledged_tracking_id;
      early.kind = store_rules::earlyKindOf(arrival.kind);
      early.address = arrival.from_address;
      early.created_at = early.resolved_at = arrival.at;
      early.state = PendingAckState::kEarly;
      early.ack_message_id = arrival.ack_message_id;
      early.positive = arrival.positive;
      acks_[early.id] = early;
      AuditEvent e;
      e.id = next_audit_id_++;
      e.at = arrival.at;
      e.message_id = arrival.ack_message_id;
      e.tracking_id = arrival.acknowledged_tracking_id;
      e.event = std::string(audit_event::kAckUnmatched);
      e.actor = "router";
      e.detail = store_rules::ackUnmatchedDetail(arrival);
      audit_.push_back(std::move(e));
    }
  }
  callbacks_.post(
      [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

void MemoryStore::markSenderNotified(int64_t delivery_id, TimePoint at,
                                     std::function<void(Status)> done) {
  Status status;
  {
    std::lock_guard lock(mu_);
    auto it = deliveries_.find(delivery_id);
    status = injectedFailure();
    if (!status.ok()) {
    } else if (it == deliveries_.end() || it->second.state != DeliveryState::kDeadLetter) {
      status =
          Status::notFound("delivery " + std::to_string(delivery_id) + " is not a dead letter");
    } else {
      it->second.sender_notified = true;
      audit(at, it->second.message_id, delivery_id, audit_event::kSenderNotified,
            "the sender was told the delivery to " + it->second.address + " failed");
    }
  }
  callbacks_.post([done = std::move(done), status = std::move(status)] { done(status); });
}

void MemoryStore::appendAudit(AuditEvent event, std::function<void(Status)> done) {
  Status status;
  {
    std::lock_guard lock(mu_);
    status = injectedFailure();
    if (status.ok()) {
      event.id = next_audit_id_++;
      audit_.push_back(std::move(event));
    }
  }
  callbacks_.post([done = std::move(done), status = std::move(status)] { done(status); });
}

Result<MessagePtr> MemoryStore::loadMessage(int64_t message_id) {
  std::lock_guard lock(mu_);
  auto it = messages_.find(message_id);
  if (it == messages_.end()) return Status::notFound("message " + std::to_string(message_id));
  if (it->second.body_pruned)
    return Status::storeError("the body of message " + std::to_string(message_id) + " was pruned");
  return MessagePtr(it->second.message);
}

Result<MessagePtr> MemoryStore::loadHeader(int64_t message_id) {
  std::lock_guard lock(mu_);
  auto it = messages_.find(message_id);
  if (it == messages_.end()) return Status::notFound("message " + std::to_string(message_id));
  auto copy = std::make_shared<Message>(*it->second.message);
  copy->body = nullptr;
  return MessagePtr(copy);
}

Result<std::vector<DeliveryTask>> MemoryStore::deliveriesOf(int64_t message_id) {
  std::lock_guard lock(mu_);
  std::vector<DeliveryTask> out;
  for (const auto& [id, d] : deliveries_)
    if (d.message_id == message_id) out.push_back(d);
  return out;
}

Result<std::vector<int64_t>> MemoryStore::findByTrackingId(const std::string& tracking_id) {
  std::lock_guard lock(mu_);
  std::vector<int64_t> out;
  for (const auto& [id, row] : messages_)
    if (row.message->header.tracking_id == tracking_id) out.push_back(id);
  return out;
}

Result<std::vector<int64_t>> MemoryStore::findByTransportId(const std::string& transport_id) {
  std::lock_guard lock(mu_);
  std::set<int64_t> ids;
  for (const auto& [id, row] : messages_)
    if (row.message->origin.transport_message_id == transport_id) ids.insert(id);
  for (const auto& [id, d] : deliveries_)
    if (!d.remote_id.empty() && d.remote_id == transport_id) ids.insert(d.message_id);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

Result<std::vector<AuditEvent>> MemoryStore::auditTrail(const std::string& tracking_id) {
  std::lock_guard lock(mu_);
  std::vector<AuditEvent> out;
  for (const AuditEvent& e : audit_)
    if (e.tracking_id == tracking_id) out.push_back(e);
  return out;
}

Result<std::vector<PendingAck>> MemoryStore::acksOf(int64_t message_id) {
  std::lock_guard lock(mu_);
  std::vector<PendingAck> out;
  for (const auto& [id, a] : acks_)
    if (a.message_id == message_id && a.state != PendingAckState::kEarly) out.push_back(a);
  return out;
}

Result<std::vector<DeadLetterEntry>> MemoryStore::listDeadLetters(const DeadLetterQuery& query) {
  std::lock_guard lock(mu_);
  std::vector<DeadLetterEntry> out;
  for (auto it = deliveries_.upper_bound(query.after_delivery_id);
       it != deliveries_.end() && out.size() < query.limit; ++it) {
    const DeliveryTask& d = it->second;
    if (d.state != DeliveryState::kDeadLetter) continue;
    if (!query.route.empty() && d.route != query.route) continue;
    const MessageHeader& h = messages_.at(d.message_id).message->header;
    out.push_back({d, h.tracking_id, h.service, h.sender_address});
  }
  return out;
}

Result<std::vector<DeliveryTask>> MemoryStore::unnotifiedDeadLetters(size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<DeliveryTask> out;
  for (const auto& [id, d] : deliveries_) {
    if (out.size() >= limit) break;
    if (d.state == DeliveryState::kDeadLetter && !d.sender_notified) out.push_back(d);
  }
  return out;
}

Result<std::optional<TimePoint>> MemoryStore::nextDue() {
  std::lock_guard lock(mu_);
  std::optional<TimePoint> best;
  for (const auto& [id, d] : deliveries_) {
    if (d.state != DeliveryState::kPending) continue;
    if (!best || d.next_attempt_at < *best) best = d.next_attempt_at;
  }
  return best;
}

Result<StoreStatistics> MemoryStore::statistics() {
  std::lock_guard lock(mu_);
  std::map<std::string, RouteQueueStats> routes;
  StoreStatistics out;
  for (const auto& [id, d] : deliveries_) {
    if (d.state == DeliveryState::kDelivered) continue;
    RouteQueueStats& r = routes[d.route];
    r.route = d.route;
    if (d.state == DeliveryState::kDeadLetter) {
      ++r.dead_letters;
      if (!d.sender_notified) ++out.dead_letters_unnotified;
      continue;
    }
    ++r.queued;
    if (d.state == DeliveryState::kInFlight) ++r.in_flight;
    if (!r.oldest_queued || d.created_at < *r.oldest_queued) r.oldest_queued = d.created_at;
  }
  for (auto& [name, r] : routes) out.routes.push_back(std::move(r));
  for (const auto& [id, a] : acks_) {
    if (a.state == PendingAckState::kOpen) ++out.acks_open;
    if (a.state == PendingAckState::kExpired) ++out.acks_expired;
  }
  return out;
}

Status MemoryStore::replayLocked(DeliveryTask& d, const ReplayOptions& options) {
  if (d.state != DeliveryState::kDeadLetter)
    return Status::notFound("delivery " + std::to_string(d.delivery_id) + " is not a dead letter");
  std::string refusal = store_rules::replayRefusal(d, messages_.at(d.message_id).body_pruned);
  if (!refusal.empty()) return Status::rejected(refusal);
  std::string detail = store_rules::replayedDetail(d);
  d.deadline = store_rules::replayDeadline(d, options);
  d.attempts = 0;
  d.next_attempt_at = d.updated_at = options.now;
  d.last_error.clear();
  d.cause = DeadLetterCause::kNone;
  d.sender_notified = false;
  d.state = !d.ordering_key.empty() && keyActive(d.ordering_key, d.delivery_id)
                ? DeliveryState::kWaiting
                : DeliveryState::kPending;
  messages_[d.message_id].finished_at.reset();
  audit(options.now, d.message_id, d.delivery_id, audit_event::kReplayed, std::move(detail),
        options.actor);
  return {};
}

Status MemoryStore::replayDeadLetter(int64_t delivery_id, const ReplayOptions& options) {
  std::lock_guard lock(mu_);
  Status failed = injectedFailure();
  if (!failed.ok()) return failed;
  auto it = deliveries_.find(delivery_id);
  if (it == deliveries_.end())
    return Status::notFound("delivery " + std::to_string(delivery_id) + " does not exist");
  return replayLocked(it->second, options);
}

Result<size_t> MemoryStore::replayAllDeadLetters(const ReplayOptions& options) {
  std::lock_guard lock(mu_);
  Status failed = injectedFailure();
  if (!failed.ok()) return failed;
  size_t n = 0;
  for (auto& [id, d] : deliveries_) {
    if (d.state != DeliveryState::kDeadLetter) continue;
    if (!options.route.empty() && d.route != options.route) continue;
    if (replayLocked(d, options).ok()) ++n;
  }
  return n;
}

Result<std::vector<PendingAck>> MemoryStore::expireAcks(TimePoint now, size_t limit) {
  std::lock_guard lock(mu_);
  Status failed = injectedFailure();
  if (!failed.ok()) return failed;
  std::vector<PendingAck> out;
  for (auto& [id, a] : acks_) {
    if (out.size() >= limit) break;
    if (a.state != PendingAckState::kOpen || a.expected_by >= now) continue;
    a.state = PendingAckState::kExpired;
    audit(now, a.message_id, a.delivery_id, audit_event::kAckTimeout,
          store_rules::ackTimeoutDetail(a));
    out.push_back(a);
  }
  return out;
}

Result<PruneStats> MemoryStore::prune(TimePoint now) {
  std::lock_guard lock(mu_);
  Status failed = injectedFailure();
  if (!failed.ok()) return failed;
  PruneStats stats;
  const TimePoint body_cutoff = now - config_.body_retention;
  const TimePoint audit_cutoff = now - config_.audit_retention;
  for (auto it = messages_.begin(); it != messages_.end();) {
    MessageRow& row = it->second;
    if (!row.finished_at) {
      ++it;
      continue;
    }
    if (*row.finished_at <= audit_cutoff) {
      const int64_t id = it->first;
      std::erase_if(deliveries_, [&](const auto& kv) { return kv.second.message_id == id; });
      stats.acks_deleted +=
          std::erase_if(acks_, [&](const auto& kv) { return kv.second.message_id == id; });
      it = messages_.erase(it);
      ++stats.messages_deleted;
      continue;
    }
    if (*row.finished_at <= body_cutoff && !row.body_pruned) {
      auto copy = std::make_shared<Message>(*row.message);
      copy->body = nullptr;
      row.message = copy;
      row.body_pruned = true;
      ++stats.bodies_pruned;
    }
    ++it;
  }
  stats.audit_deleted =
      std::erase_if(audit_, [&](const AuditEvent& e) { return e.at <= audit_cutoff; });
  stats.acks_deleted += std::erase_if(acks_, [&](const auto& kv) {
    return kv.second.state == PendingAckState::kEarly && kv.second.created_at <= audit_cutoff;
  });
  stats.dedup_keys_deleted =
      std::erase_if(dedup_, [&](const auto& kv) { return kv.second.expires_at <= now; });
  return stats;
}

Result<size_t> MemoryStore::recover(TimePoint now) {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (auto& [id, d] : deliveries_) {
    if (d.state != DeliveryState::kInFlight) continue;
    d.state = DeliveryState::kPending;
    d.updated_at = now;
    audit(now, d.message_id, id, audit_event::kRecovered,
          "in flight when the router stopped; back to pending");
    ++n;
  }
  return n;
}

Status MemoryStore::health() {
  return {};
}

}  // namespace itk
