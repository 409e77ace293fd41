// Fault injection for the SQLite store, after LevelDB's fault_injection_test: run a workload,
// make the disk fail (write errors, a full disk, failed fsyncs) or the power go out (everything
// not synced is forgotten), reopen, and check that nothing the store acknowledged is lost, that
// the file is intact and that the store never crashed and recovers once the disk is healthy.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "store/sqlite_store.h"
#include "support/fault_vfs.h"
#include "support/manual_clock.h"
#include "support/store_builders.h"
#include "support/temp_dir.h"

namespace itk {
namespace {

using namespace std::chrono_literals;
using test::FaultVfs;
using test::makeDelivery;
using test::makeMessage;
using test::makeRequest;

// Bodies of a few KB, so the WAL grows and background checkpoints run during the workload.
std::string bodyOf(const std::string& tracking_id) {
  return "<DE>" + tracking_id + "</DE>" + std::string(3000, ' ');
}

// What the store said it has kept, as seen before the lights went out.
class Ledger {
 public:
  void accepted(const std::string& tracking_id) {
    {
      std::lock_guard lock(mu_);
      if (!frozen_) accepted_.insert(tracking_id);
    }
    cv_.notify_all();
  }
  // Waits until `n` more accepts were acknowledged.
  void waitForMore(size_t n) {
    std::unique_lock lock(mu_);
    size_t target = accepted_.size() + n;
    cv_.wait(lock, [&] { return accepted_.size() >= target; });
  }
  void delivered(int64_t delivery_id) {
    std::lock_guard lock(mu_);
    if (!frozen_) delivered_.insert(delivery_id);
  }
  // Stops counting and powers the disk off in one step: a success reported after this may rest
  // on a sync that was dropped, so it does not count.
  void powerOff() {
    std::lock_guard lock(mu_);
    frozen_ = true;
    FaultVfs::instance().freeze();
  }
  void powerOn() {
    std::lock_guard lock(mu_);
    frozen_ = false;
  }
  std::set<std::string> acceptedIds() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::set<int64_t> deliveredIds() const {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  size_t acceptedCount() const {
    std::lock_guard lock(mu_);
    return accepted_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool frozen_ = false;
  std::set<std::string> accepted_;
  std::set<int64_t> delivered_;
};

class FaultInjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FaultVfs::instance().reset();
    config_.path = dir_ / "faults.db";
    config_.group_commit_max_wait = 200us;
    config_.group_commit_max_batch = 16;
    config_.checkpoint_pages = 32;  // checkpoints run (and get cut by the power loss) too
  }

  std::unique_ptr<SqliteStore> open() {
    auto s = SqliteStore::open(config_, FaultVfs::kName);
    EXPECT_TRUE(s.ok()) << s.status().toString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE((*s)->recover(clock_.now()).ok());
    return std::move(*s);
  }

  // SQLite's own consistency check of the file, through a plain connection.
  std::string integrity() {
    sqlite3* db = nullptr;
    std::string result = "cannot open";
    if (sqlite3_open_v2(config_.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_exec(
          db, "PRAGMA integrity_check",
          [](void* out, int, char** v, char**) {
            *static_cast<std::string*>(out) = v[0] ? v[0] : "";
            return 0;
          },
          &result, nullptr);
    }
    sqlite3_close(db);
    return result;
  }

  // Every message the ledger says was accepted is in the store with its delivery, and every
  // delivery it says was recorded delivered is delivered.
  void expectNothingLost(Store& store, const Ledger& ledger) {
    for (const std::string& tracking_id : ledger.acceptedIds()) {
      auto ids = store.findByTrackingId(tracking_id);
      ASSERT_TRUE(ids.ok()) << ids.status().toString();
      ASSERT_EQ(ids->size(), 1u) << tracking_id << " was acknowledged and is gone";
      auto m = store.loadMessage(ids->front());
      ASSERT_TRUE(m.ok()) << m.status().toString();
      EXPECT_EQ(*(*m)->body, bodyOf(tracking_id));
      EXPECT_EQ(store.deliveriesOf(ids->front())->size(), 1u);
    }
    for (int64_t delivery_id : ledger.deliveredIds()) {
      EXPECT_EQ(deliveryState(delivery_id), static_cast<int>(DeliveryState::kDelivered))
          << "delivery " << delivery_id << " was recorded delivered";
    }
  }

  // A delivery's state read straight from the file (the Store looks deliveries up by message).
  int deliveryState(int64_t delivery_id) {
    sqlite3* db = nullptr;
    int state = -1;
    if (sqlite3_open_v2(config_.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      std::string sql = "SELECT state FROM deliveries WHERE id = " + std::to_string(delivery_id);
      sqlite3_exec(
          db, sql.c_str(),
          [](void* out, int, char** v, char**) {
            *static_cast<int*>(out) = std::atoi(v[0]);
            return 0;
          },
          &state, nullptr);
    }
    sqlite3_close(db);
    return state;
  }

  test::TempDir dir_;
  test::ManualClock clock_;
  StoreConfig config_;
};

// Concurrent senders and a delivery worker run against the store until `stop`.
class Workload {
 public:
  Workload(Store& store, Ledger& ledger, const Clock& clock, int round)
      : store_(store), ledger_(ledger), clock_(clock), round_(round) {
    for (int t = 0; t < 4; ++t) threads_.emplace_back([this, t] { send(t); });
    threads_.emplace_back([this] { deliver(); });
  }
  ~Workload() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  size_t failures() const { return failures_; }

 private:
  void send(int thread) {
    for (int i = 0; !stop_; ++i) {
      std::string id =
          "R" + std::to_string(round_) + "-T" + std::to_string(thread) + "-" + std::to_string(i);
      std::promise<Result<AcceptResult>> p;
      store_.accept(makeRequest(makeMessage(id, clock_.now(), "urn:s", bodyOf(id)),
                                {makeDelivery(clock_.now())}),
                    [&p](Result<AcceptResult> r) { p.set_value(std::move(r)); });
      auto r = p.get_future().get();
      if (r.ok()) {
        ledger_.accepted(id);
      } else {
        // A failing disk must show as a store error (the router answers busy), never a crash.
        EXPECT_TRUE(r.status().code() == Code::kStoreError ||
                    r.status().code() == Code::kUnavailable)
            << r.status().toString();
        ++failures_;
      }
    }
  }
  void deliver() {
    while (!stop_) {
      auto c = test::claimNow(store_, clock_.now(), 8);
      if (!c.ok()) continue;
      for (const DeliveryTask& t : c->tasks) {
        AttemptRecord rec;
        rec.delivery_id = t.delivery_id;
        rec.next = AttemptRecord::Next::kDelivered;
        rec.at = clock_.now();
        if (test::recordNow(store_, rec).ok()) ledger_.delivered(t.delivery_id);
      }
    }
  }

  Store& store_;
  Ledger& ledger_;
  const Clock& clock_;
  int round_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> failures_{0};
  std::vector<std::thread> threads_;
};

TEST_F(FaultInjectionTest, PowerLossLosesNothingThatWasAcknowledged) {
  Ledger ledger;
  std::mt19937 rng(20260101);
  for (int round = 0; round < 6; ++round) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    if (round > 0) expectNothingLost(*store, ledger);
    {
      Workload load(*store, ledger, clock_, round);
      ledger.waitForMore(20 + rng() % 200);
      ledger.powerOff();  // mid-flight: groups are being written and synced right now
      load.stop();
    }
    store.reset();  // closing writes nothing: the disk is off
    FaultVfs::instance().dropUnsyncedData();
    ledger.powerOn();
    EXPECT_EQ(integrity(), "ok") << "round " << round;
  }
  auto store = open();
  expectNothingLost(*store, ledger);
  EXPECT_GT(ledger.acceptedCount(), 100u);
}

TEST_F(FaultInjectionTest, OsDurabilitySurvivesAProcessCrash) {
  // "os": commits are not synced, so a power loss may lose the last ones, but a process that
  // dies (SIGKILL) loses nothing it acknowledged: the writes are in the OS page cache.
  config_.durability = Durability::kOs;
  Ledger ledger;
  for (int round = 0; round < 3; ++round) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    {
      Workload load(*store, ledger, clock_, round);
      ledger.waitForMore(100);
      ledger.powerOff();  // the process stops writing here
      load.stop();
    }
    store.reset();
    FaultVfs::instance().thaw();
    ledger.powerOn();
    EXPECT_EQ(integrity(), "ok");
  }
  auto store = open();
  expectNothingLost(*store, ledger);
}

TEST_F(FaultInjectionTest, FailingDiskIsReportedNeverCrashesAndLosesNothing) {
  const FaultVfs::Fault faults[] = {FaultVfs::Fault::kWriteError, FaultVfs::Fault::kDiskFull,
                                    FaultVfs::Fault::kSyncError};
  for (FaultVfs::Fault fault : faults) {
    // Like Beast's fail count: let the disk fail at the 0th, 1st, 2nd, ... operation in turn.
    for (int64_t after : {0, 1, 2, 3, 5, 8, 13, 21, 34}) {
      SCOPED_TRACE(::testing::Message()
                   << "fault " << static_cast<int>(fault) << " after " << after);
      FaultVfs::instance().reset();
      test::TempDir dir;
      config_.path = dir / "faults.db";
      Ledger ledger;
      auto store = open();
      ASSERT_NE(store, nullptr);
      std::string prefix =
          "F" + std::to_string(static_cast<int>(fault)) + "-" + std::to_string(after) + "-";
      auto acceptOne = [&](int i) {
        std::string id = prefix + std::to_string(i);
        auto r =
            test::acceptNow(*store, makeRequest(makeMessage(id, clock_.now(), "urn:s", bodyOf(id)),
                                                {makeDelivery(clock_.now())}));
        if (r.ok()) ledger.accepted(id);
        return r;
      };
      for (int i = 0; i < 10; ++i) ASSERT_TRUE(acceptOne(i).ok());
      FaultVfs::instance().injectAfter(after, fault);
      int failed = 0;
      for (int i = 10; i < 60; ++i) {
        auto r = acceptOne(i);
        if (r.ok()) continue;
        ++failed;
        EXPECT_EQ(r.status().code(), Code::kStoreError) << r.status().toString();
      }
      EXPECT_GT(failed, 0);
      EXPECT_FALSE(store->health().ok());  // /readyz says so while the disk fails
      // The disk is healthy again (space freed): the store takes writes again by itself.
      FaultVfs::instance().clearFault();
      for (int i = 60; i < 65; ++i) {
        auto r = acceptOne(i);
        EXPECT_TRUE(r.ok()) << r.status().toString();
      }
      EXPECT_TRUE(store->health().ok());
      expectNothingLost(*store, ledger);
      // And a power loss afterwards still keeps everything acknowledged.
      ledger.powerOff();
      store.reset();
      FaultVfs::instance().dropUnsyncedData();
      EXPECT_EQ(integrity(), "ok");
      store = open();
      ASSERT_NE(store, nullptr);
      expectNothingLost(*store, ledger);
    }
  }
}

}  // namespace
}  // namespace itk
