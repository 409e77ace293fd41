// SqliteStore specifics: group commit, recovery, bodies left on disk, retention that shrinks the
// file, the router's lock, tool mode beside a running router, bounded write queue.
#include "store/sqlite_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <mutex>
#include <vector>

#include "support/fault_vfs.h"
#include "support/manual_clock.h"
#include "support/process.h"
#include "support/store_builders.h"
#include "support/temp_dir.h"

namespace itk {
namespace {

using namespace std::chrono_literals;
using test::acceptNow;
using test::claimNow;
using test::FaultVfs;
using test::makeDelivery;
using test::makeMessage;
using test::makeRequest;
using test::outcome;
using test::recordNow;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FaultVfs::instance().reset();
    config_.path = dir_ / "router.db";
    config_.group_commit_max_wait = 0us;
  }

  std::unique_ptr<SqliteStore> open(const StoreConfig& config, bool through_fault_vfs = true) {
    auto s = SqliteStore::open(config, through_fault_vfs ? FaultVfs::kName : "");
    EXPECT_TRUE(s.ok()) << s.status().toString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Starts `n` accepts at once and waits for all of them. With `hold`, the writer is held while
  // they are queued, so they are all waiting when it starts: batching is then deterministic,
  // not a matter of timing.
  std::vector<Result<AcceptResult>> acceptMany(SqliteStore& store, int n, const std::string& prefix,
                                               const std::string& body = "<DE/>",
                                               bool hold = false) {
    std::vector<std::promise<Result<AcceptResult>>> promises(n);
    if (hold) store.holdWriter(true);
    for (int i = 0; i < n; ++i) {
      Message m = makeMessage(prefix + std::to_string(i), clock_.now(), "urn:s", body);
      store.accept(makeRequest(std::move(m), {makeDelivery(clock_.now())}),
                   [&promises, i](Result<AcceptResult> r) { promises[i].set_value(std::move(r)); });
    }
    if (hold) store.holdWriter(false);
    std::vector<Result<AcceptResult>> out;
    for (auto& p : promises) out.push_back(p.get_future().get());
    return out;
  }
  void acceptAllHeld(SqliteStore& store, int n, const std::string& prefix) {
    for (const auto& r : acceptMany(store, n, prefix, "<DE/>", /*hold=*/true))
      ASSERT_TRUE(r.ok()) << r.status().toString();
  }

  test::TempDir dir_;
  test::ManualClock clock_;
  StoreConfig config_;
};

TEST_F(SqliteStoreTest, GroupCommitPutsConcurrentWritesInOneTransaction) {
  auto store = open(config_);
  ASSERT_NE(store, nullptr);
  auto before = store->counters();
  int64_t syncs_before = FaultVfs::instance().counters().wal_syncs;
  acceptAllHeld(*store, 100, "G");
  auto after = store->counters();
  EXPECT_EQ(after.transactions - before.transactions, 1u);
  EXPECT_EQ(after.writes - before.writes, 100u);
  EXPECT_EQ(after.largest_batch, 100u);
  // One WAL fsync for the hundred (synchronous=FULL syncs once per commit).
  EXPECT_EQ(FaultVfs::instance().counters().wal_syncs - syncs_before, 1);
  EXPECT_GT(syncs_before, 0);  // the counter does count
}

TEST_F(SqliteStoreTest, BatchSizeBoundsAGroupAndBatchOfOneIsATransactionPerWrite) {
  config_.group_commit_max_batch = 10;
  auto store = open(config_);
  acceptAllHeld(*store, 35, "B");
  EXPECT_EQ(store->counters().transactions, 4u);  // 10 + 10 + 10 + 5
  EXPECT_EQ(store->counters().largest_batch, 10u);

  StoreConfig one = config_;
  one.path = dir_ / "one.db";
  one.group_commit_max_batch = 1;
  auto single = open(one);
  acceptAllHeld(*single, 20, "S");
  EXPECT_EQ(single->counters().transactions, 20u);
}

TEST_F(SqliteStoreTest, EveryTransactionIsReportedForMetrics) {
  std::mutex mu;
  std::vector<CommitReport> reports;
  config_.on_commit = [&](const CommitReport& r) {
    std::lock_guard lock(mu);
    reports.push_back(r);
  };
  auto store = open(config_);
  {
    std::lock_guard lock(mu);
    reports.clear();
  }
  acceptAllHeld(*store, 20, "M");
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(reports.size(), 1u);      // one group commit ...
    EXPECT_EQ(reports[0].writes, 20u);  // ... of the twenty writes queued together
    EXPECT_TRUE(reports[0].ok);
    EXPECT_GT(reports[0].duration.count(), 0);
    reports.clear();
  }
  FaultVfs::instance().injectAfter(0, FaultVfs::Fault::kDiskFull);
  EXPECT_FALSE(acceptNow(*store, makeRequest(makeMessage("M-full", clock_.now()), {})).ok());
  FaultVfs::instance().clearFault();
  std::lock_guard lock(mu);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].ok);  // the rolled-back transaction is reported too
}

TEST_F(SqliteStoreTest, OsDurabilityDoesNotSyncEveryCommit) {
  config_.durability = Durability::kOs;
  auto store = open(config_);
  int64_t before = FaultVfs::instance().counters().wal_syncs;
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(
        acceptNow(*store, makeRequest(makeMessage("O" + std::to_string(i), clock_.now()), {}))
            .ok());
  // synchronous=NORMAL in WAL mode syncs only at checkpoints, which 20 small commits do not reach.
  EXPECT_EQ(FaultVfs::instance().counters().wal_syncs - before, 0);
}

// Checkpoints run off the commit path: past checkpoint_pages the background checkpointer copies
// the WAL into the database file while the store stays open (it used to copy nothing: its
// connection had never read the database, so SQLite did not treat it as a WAL connection).
TEST_F(SqliteStoreTest, TheBackgroundCheckpointerCopiesTheWalIntoTheDatabase) {
  config_.checkpoint_pages = 32;  // the hard limit, where the writer checkpoints itself, is 512
  auto store = open(config_);
  ASSERT_NE(store, nullptr);
  const auto before = std::filesystem::file_size(config_.path);
  // 60 bodies of 4 KB in one commit: ~130 WAL pages, past the threshold, short of the limit.
  for (const auto& r : acceptMany(*store, 60, "C", std::string(4096, 'x'), /*hold=*/true))
    ASSERT_TRUE(r.ok()) << r.status().toString();
  auto copied = [&] { return std::filesystem::file_size(config_.path) >= before + 60 * 4096; };
  EXPECT_TRUE(test::eventually(copied))
      << "database file " << std::filesystem::file_size(config_.path) << " bytes, was " << before;
}

TEST_F(SqliteStoreTest, ReopeningRecoversInFlightDeliveries) {
  int64_t id = 0;
  {
    auto store = open(config_);
    auto r = acceptNow(*store,
                       makeRequest(makeMessage("R-1", clock_.now()), {makeDelivery(clock_.now())}));
    id = r->message_id;
    ASSERT_EQ(claimNow(*store, clock_.now())->tasks.size(), 1u);
  }  // the router stops (or dies) with the delivery in flight
  config_.mode = StoreConfig::Mode::kRouter;
  auto reopened = openStore(config_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString();
  auto deliveries = (*reopened)->deliveriesOf(id);
  ASSERT_EQ(deliveries->size(), 1u);
  EXPECT_EQ(deliveries->front().state, DeliveryState::kPending);
  EXPECT_EQ(claimNow(**reopened, clock_.now())->tasks.size(), 1u);
}

TEST_F(SqliteStoreTest, RecoveryAndClaimingLeaveBodiesOnDisk) {
  const std::string body(64 * 1024, 'x');
  const int n = 200;  // 12.5 MB of bodies
  {
    auto store = open(config_);
    auto results = acceptMany(*store, n, "BODY-", body);
    for (const auto& r : results) ASSERT_TRUE(r.ok());
    ASSERT_EQ(claimNow(*store, clock_.now(), 10)->tasks.size(), 10u);
  }  // closed: the last connection checkpoints the WAL into the database file
  int64_t read_before = FaultVfs::instance().counters().main_bytes_read;
  auto store = open(config_);
  ASSERT_TRUE(store->recover(clock_.now()).ok());
  auto claimed = claimNow(*store, clock_.now(), 64);
  ASSERT_EQ(claimed->tasks.size(), 64u);
  ASSERT_TRUE(store->statistics().ok());
  ASSERT_TRUE(store->nextDue().ok());
  int64_t read = FaultVfs::instance().counters().main_bytes_read - read_before;
  RecordProperty("main_bytes_read", std::to_string(read));
  // Indexes and headers only: well under a tenth of the bodies' 12.5 MB.
  EXPECT_LT(read, static_cast<int64_t>(body.size()) * n / 10) << read << " bytes read";
  // A body is read when its delivery is attempted.
  auto m = store->loadMessage(claimed->tasks[0].message_id);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->body->size(), body.size());
}

TEST_F(SqliteStoreTest, RetentionGivesTheSpaceBackToTheFileSystem) {
  config_.body_retention = 1h;
  auto store = open(config_);
  const std::string body(32 * 1024, 'b');
  auto results = acceptMany(*store, 300, "P-", body);  // ~9.4 MB
  for (int round = 0; round < 10; ++round) {
    auto c = claimNow(*store, clock_.now(), 64);
    for (const auto& t : c->tasks)
      ASSERT_TRUE(
          recordNow(*store, outcome(t.delivery_id, AttemptRecord::Next::kDelivered, clock_.now()))
              .ok());
  }
  ASSERT_TRUE(store->prune(clock_.now()).ok());  // checkpoints: the file holds everything
  auto size_before = std::filesystem::file_size(config_.path);
  ASSERT_GT(size_before, 300u * body.size());
  clock_.advance(2h);
  auto p = store->prune(clock_.now());
  ASSERT_TRUE(p.ok()) << p.status().toString();
  EXPECT_EQ(p->bodies_pruned, 300);
  EXPECT_GT(p->bytes_reclaimed, static_cast<int64_t>(250 * body.size()));
  auto size_after = std::filesystem::file_size(config_.path);
  RecordProperty("file_bytes", std::to_string(size_before) + " -> " + std::to_string(size_after));
  EXPECT_LT(size_after, size_before / 5) << size_before << " -> " << size_after;
}

TEST_F(SqliteStoreTest, ASecondRouterOnTheSameStoreIsRefused) {
  auto first = open(config_);
  auto second = SqliteStore::open(config_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  first.reset();
  EXPECT_TRUE(SqliteStore::open(config_).ok());  // the lock goes with the process holding it
}

TEST_F(SqliteStoreTest, ToolModeNeedsAnExistingStore) {
  StoreConfig tool = config_;
  tool.mode = StoreConfig::Mode::kTool;
  EXPECT_FALSE(SqliteStore::open(tool).ok());
  EXPECT_FALSE(std::filesystem::exists(config_.path));  // and does not create one
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(config_.path.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto other = SqliteStore::open(tool);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("not an itk-router store"), std::string::npos);
}

TEST_F(SqliteStoreTest, ToolModeWorksBesideARunningRouter) {
  auto router = open(config_);
  auto r = acceptNow(*router,
                     makeRequest(makeMessage("CLI-1", clock_.now()), {makeDelivery(clock_.now())}));
  auto c = claimNow(*router, clock_.now());
  ASSERT_TRUE(recordNow(*router, outcome(c->tasks[0].delivery_id, AttemptRecord::Next::kDeadLetter,
                                         clock_.now(), "x"))
                  .ok());
  StoreConfig tool = config_;
  tool.mode = StoreConfig::Mode::kTool;
  auto cli = SqliteStore::open(tool);
  ASSERT_TRUE(cli.ok()) << cli.status().toString();
  auto dead = (*cli)->listDeadLetters({});
  ASSERT_EQ(dead->size(), 1u);
  ReplayOptions replay;
  replay.now = clock_.now();
  replay.actor = "cli:test";
  ASSERT_TRUE((*cli)->replayDeadLetter(dead->front().task.delivery_id, replay).ok());
  cli->reset();
  // The router sees the replay on its next claim (its engine polls every idle_poll).
  auto again = claimNow(*router, clock_.now());
  ASSERT_EQ(again->tasks.size(), 1u);
  EXPECT_EQ(again->tasks[0].message_id, r->message_id);
}

TEST_F(SqliteStoreTest, AFullWriteQueueIsRefusedNotGrown) {
  config_.max_queued_writes = 5;
  auto store = open(config_);
  store->holdWriter(true);
  std::vector<std::promise<Result<AcceptResult>>> promises(6);
  for (int i = 0; i < 6; ++i) {
    store->accept(makeRequest(makeMessage("Q" + std::to_string(i), clock_.now()), {}),
                  [&promises, i](Result<AcceptResult> r) { promises[i].set_value(std::move(r)); });
  }
  auto refused = promises[5].get_future().get();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_EQ(store->health().code(), Code::kUnavailable);
  store->holdWriter(false);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(promises[i].get_future().get().ok());
  EXPECT_TRUE(store->health().ok());
}

TEST_F(SqliteStoreTest, AStoreOfAnotherSchemaVersionIsRefused) {
  { open(config_); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(config_.path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "UPDATE store_meta SET value = '99' WHERE name = 'schema_version'", nullptr,
               nullptr, nullptr);
  sqlite3_close(db);
  auto s = SqliteStore::open(config_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("version 99"), std::string::npos);
}

TEST_F(SqliteStoreTest, ConfigurationNamesParse) {
  StoreBackend b;
  EXPECT_TRUE(parseStoreBackend("sqlite", &b));
  EXPECT_EQ(b, StoreBackend::kSqlite);
  EXPECT_TRUE(parseStoreBackend("postgres", &b));
  EXPECT_EQ(b, StoreBackend::kPostgres);
  EXPECT_FALSE(parseStoreBackend("mysql", &b));
  Durability d;
  EXPECT_TRUE(parseDurability("os", &d));
  EXPECT_EQ(d, Durability::kOs);
  EXPECT_FALSE(parseDurability("sometimes", &d));
  StoreConfig memory;
  memory.backend = StoreBackend::kMemory;
  EXPECT_TRUE(openStore(memory).ok());
}

}  // namespace
}  // namespace itk
