// SqliteStore: the embedded durable Store. One database file in WAL mode; one writer thread
// owning the only writing connection does group commit (all writes queued while a transaction
// runs, up to a batch size or a maximum wait, go into the next one: one fsync for many), and
// read-only connections serve lookups concurrently. Bodies are BLOBs in their own table, read
// only when a delivery is attempted, never at recovery.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "itk/store.h"
#include "store/callback_thread.h"

struct sqlite3;

namespace itk {

namespace sqlite {
class Db;
}

class SqliteStore final : public Store {
 public:
  // Opens config.path per config.mode (StoreConfig::Mode): router mode creates the file and
  // schema when absent and takes an exclusive lock (a second router on the same file is
  // refused); tool mode needs an existing store and takes no lock. Recovery is not done here:
  // call recover() (openStore() does, in router mode). `vfs` names a registered SQLite VFS
  // (tests inject faults through one); empty for the default.
  static Result<std::unique_ptr<SqliteStore>> open(const StoreConfig& config, std::string vfs = {});
  // Finishes the queued writes (their callbacks run), then closes.
  ~SqliteStore() override;

  void accept(AcceptRequest request, std::function<void(Result<AcceptResult>)> done) override;
  void claimDue(ClaimRequest request, std::function<void(Result<ClaimResult>)> done) override;
  void recordAttempt(AttemptRecord record, std::function<void(Status)> done) override;
  void recordLateFailure(LateFailure failure, std::function<void(Status)> done) override;
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

  // What the writer has done, for tests and metrics (itk_store_commit_seconds and friends).
  struct Counters {
    uint64_t transactions = 0;         // committed transactions (one fsync each in fsync mode)
    uint64_t writes = 0;               // writes committed in them
    uint64_t failed_transactions = 0;  // rolled back on a store error
    uint64_t largest_batch = 0;
  };
  Counters counters() const;

  // Test hook: while held, the writer starts no transaction and writes queue up, so a test can
  // see them committed as one group without relying on timing.
  void holdWriter(bool hold);

 private:
  struct Job {
    // Runs inside the group's transaction. A store error aborts (rolls back) the whole group;
    // any other outcome is the job's own result and must have written nothing.
    std::function<Status(sqlite::Db&)> apply;
    // Runs on the writer thread once the group committed (ok) or failed; must be quick.
    std::function<void(const Status&)> complete;
    bool alone = false;  // runs by itself outside a transaction (checkpoint)
    std::chrono::steady_clock::time_point enqueued{};
  };

  explicit SqliteStore(StoreConfig config, std::string vfs);
  Status init();
  // WAL checkpoints run on their own connection and thread, off the commit path.
  static int walHook(void* self, sqlite3* db, const char* name, int pages);
  void checkpointLoop();
  bool enqueue(Job job, Status* refusal);
  void writerLoop();
  void runGroup(std::vector<Job>& group);

  // A job running `apply` in its group; `deliver` gets its result, or the group's failure, on
  // the writer thread.
  template <class R>
  static Job makeJob(std::function<R(sqlite::Db&)> apply, std::function<void(R)> deliver,
                     bool alone);
  // Queue `apply` for the writer; `done` gets its result (or the group's failure) on the
  // callback thread.
  template <class R>
  void submit(std::function<R(sqlite::Db&)> apply, std::function<void(R)> done, bool alone = false);
  // The same, waiting for the result on the calling thread (never on the callback thread, so a
  // store callback may call it).
  template <class R>
  R call(std::function<R(sqlite::Db&)> apply, bool alone = false);

  // A read-only connection from the pool for the duration of `fn(db)`.
  template <class F>
  auto read(F&& fn) -> decltype(fn(std::declval<sqlite::Db&>()));
  Result<std::unique_ptr<sqlite::Db>> openReader();

  // Writer-thread operations (inside a transaction).
  Result<AcceptResult> applyAccept(sqlite::Db& db, const AcceptRequest& request);
  Result<ClaimResult> applyClaim(sqlite::Db& db, const ClaimRequest& request);
  Status applyAttempt(sqlite::Db& db, const AttemptRecord& record);
  Result<std::optional<PendingAck>> applyResolveAck(sqlite::Db& db, const AckArrival& arrival);
  Status applyReplay(sqlite::Db& db, int64_t delivery_id, const ReplayOptions& options);
  Result<int64_t> pruneChunk(sqlite::Db& db, const char* select_sql, TimePoint cutoff,
                             TimePoint now, bool whole_message);

  const StoreConfig config_;
  const std::string vfs_;
  int lock_fd_ = -1;
  std::unique_ptr<sqlite::Db> writer_db_;  // writer thread only (after init)
  std::string claim_cursor_;               // writer thread only: round-robin over endpoints

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool hold_ = false;
  Counters counters_;  // guarded by queue_mu_
  Status last_write_;  // guarded by queue_mu_: the last group's outcome (health)

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<sqlite::Db>> idle_readers_;
  size_t open_readers_ = 0;

  // Background checkpointing (router mode).
  std::unique_ptr<sqlite::Db> checkpoint_db_;
  // One checkpoint at a time (background, the writer's at the WAL's hard limit, retention's):
  // SQLite answers a second one SQLITE_BUSY and skips it.
  std::mutex checkpoint_run_mu_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stopping_ = false;
  std::thread checkpointer_;

  CallbackThread callbacks_;
  std::thread writer_;
};

}  // namespace itk
