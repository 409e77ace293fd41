// A long queue in a router store, written through the Store API: the store bench's restart test
// (store_bench.cc BM_Restart) and the end-to-end benchmark's 1,000,000-message backlog
// (queue_fill.cc, driven by e2e.py) share this generator.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "itk/store.h"
#include "store/sqlite_store.h"

namespace itk::bench {

// What the queued messages are routed by: route `gp-to-trust` to endpoint `trust-soap` (a
// routing table that replays the queue must define both).
inline constexpr const char* kQueueRoute = "gp-to-trust";
inline constexpr const char* kQueueEndpoint = "trust-soap";

// A SendDocument message from a GP to a trust as the SOAP listener would have accepted it, with
// one pending delivery on kQueueRoute.
inline AcceptRequest queuedRequest(const std::string& tracking_id,
                                   std::shared_ptr<const std::string> body, TimePoint now) {
  AcceptRequest r;
  Message& m = r.message;
  m.header.service = "urn:nhs-itk:services:201005:SendDocument-v1-0";
  m.header.interaction = "urn:nhs-itk:interaction:primaryRecipientDocument-v1-0";
  m.header.tracking_id = tracking_id;
  m.header.addresses = {"urn:nhs-uk:addressing:ods:RHM:team1"};
  m.header.sender_address = "urn:nhs-uk:addressing:ods:GP001";
  m.header.audit_identity = "urn:nhs-uk:identity:ods:GP001";
  m.header.infack_requested = true;
  m.origin.transport = "soap";
  m.origin.peer = "10.0.0.1:50000";
  m.origin.transport_message_id = "uuid:" + tracking_id;
  m.body = std::move(body);
  m.received_at = now;
  NewDelivery d;
  d.route = kQueueRoute;
  d.endpoint = kQueueEndpoint;
  d.address = m.header.addresses[0];
  d.next_attempt_at = now;
  d.deadline = now + std::chrono::hours(120);
  r.deliveries.push_back(std::move(d));
  return r;
}

// Message number `i` of the queue, accepted at `now`.
using QueueMessageMaker = std::function<AcceptRequest(size_t i, TimePoint now)>;

// Creates (replacing any old one) the store at `path` holding `queued` pending messages made by
// `make`, and leaves `in_flight` of them claimed, as if the router had been killed while sending.
// Four threads accept in `os` durability, batches of up to 2,048: about 15,000 messages/s here.
inline Status fillQueue(const std::filesystem::path& path, size_t queued,
                        const QueueMessageMaker& make, size_t in_flight = 256) {
  namespace fs = std::filesystem;
  for (const char* suffix : {"", "-wal", "-shm", "-router.lock"})
    fs::remove(path.string() + suffix);
  StoreConfig config;
  config.path = path.string();
  config.durability = Durability::kOs;
  config.group_commit_max_batch = 2048;
  config.max_queued_writes = 1u << 20;
  auto opened = SqliteStore::open(config);
  if (!opened.ok()) return opened.status();
  Store& store = **opened;
  const auto t0 = std::chrono::steady_clock::now();
  const size_t threads = 4, window = 4096;  // bounded in-flight accepts per thread
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      size_t outstanding = 0;
      std::mutex mu;
      std::condition_variable cv;
      TimePoint now = std::chrono::system_clock::now();
      for (size_t i = t; i < queued; i += threads) {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return outstanding < window; });
          ++outstanding;
        }
        store.accept(make(i, now), [&](Result<AcceptResult> r) {
          if (!r.ok()) failed = true;
          {
            std::lock_guard lock(mu);
            --outstanding;
          }
          cv.notify_one();
        });
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return outstanding == 0; });
    });
  }
  for (auto& w : workers) w.join();
  if (failed) return Status::storeError("generating the queue failed");
  if (in_flight > 0) {
    std::promise<Result<ClaimResult>> claimed;
    ClaimRequest claim;
    claim.now = std::chrono::system_clock::now();
    claim.limit = in_flight;
    claim.default_room = in_flight;
    store.claimDue(claim, [&](Result<ClaimResult> r) { claimed.set_value(std::move(r)); });
    auto c = claimed.get_future().get();
    if (!c.ok()) return c.status();
  }
  opened->reset();
  std::fprintf(stderr, "generated %zu queued messages in %.1f s, file %.0f MB\n", queued,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
               static_cast<double>(fs::file_size(path)) / 1e6);
  return {};
}

}  // namespace itk::bench
