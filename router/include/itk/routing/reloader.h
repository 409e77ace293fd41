// RoutingTableReloader: loads the routing-table files, publishes a new table only when it is
// valid, and keeps the running table otherwise. Reloads on file change (a polling thread of its
// own: no event loop needed), on reloadNow() (SIGHUP, the admin API) and on requestReload().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "itk/routing.h"

namespace itk {

struct ReloadOutcome {
  enum class Kind {
    kLoaded,     // a new table was published
    kUnchanged,  // the files hold the running table (same checksum): nothing published
    kFailed,     // the files are unreadable or invalid: the running table stays
  };
  Kind kind = Kind::kFailed;
  std::vector<TableDiagnostic> errors;    // kFailed: why, with file and line
  std::vector<TableDiagnostic> warnings;  // of the table that was read
  RoutingTablePtr table;                  // the table current after the attempt (may be null)
};
std::string_view reloadKindName(ReloadOutcome::Kind kind);

struct ReloaderOptions {
  std::vector<std::string> files;  // loaded as one table, in this order
  // How often the watcher looks at the files. Each look is a stat() per file. When a file's
  // size, mtime or inode changed, the watcher waits for one more look with the same data (so a
  // half-written file is not loaded), then reads and hashes the bytes and reloads if they
  // differ. A file whose mtime is too recent to tell two writes in one timestamp tick apart is
  // read again at each look until it is older.
  std::chrono::milliseconds poll_interval{2000};
  // Called after every attempt that did something (loaded, unchanged on request, failed), on
  // the thread that made it, with the reload lock held: it must not call back into the reloader.
  std::function<void(const ReloadOutcome&)> on_reload;
};

class RoutingTableReloader {
 public:
  // `holder` and `transports` must outlive the reloader. Nothing is loaded until reloadNow() or
  // start().
  RoutingTableReloader(RoutingTableHolder& holder, const TransportRegistry& transports,
                       ReloaderOptions options);
  ~RoutingTableReloader();  // stops the watcher
  RoutingTableReloader(const RoutingTableReloader&) = delete;
  RoutingTableReloader& operator=(const RoutingTableReloader&) = delete;

  // Reads, validates and (when valid and different from the running table) publishes the files
  // now, on the calling thread; logs the outcome. Thread-safe: attempts are serialised. Not for
  // a signal handler: from SIGHUP, call it from the thread that handles the signal.
  ReloadOutcome reloadNow();
  // Asks the watcher thread to reload now (returns at once). Thread-safe. Without start() it
  // does nothing.
  void requestReload();

  // Starts the watcher thread. The first look at the files loads them if they differ from the
  // running table. Idempotent.
  void start();
  // Stops and joins the watcher thread; an attempt under way finishes first. Idempotent.
  void stop();

  uint64_t reloadCount() const { return reloads_.load(std::memory_order_relaxed); }
  uint64_t failedReloadCount() const { return failures_.load(std::memory_order_relaxed); }

 private:
  struct Fingerprint {
    bool exists = false;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    uint64_t inode = 0;
    uint64_t device = 0;
    friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
  };

  // One look at the files; `forced` reloads and reports even when nothing seems changed.
  ReloadOutcome attempt(bool forced);
  std::vector<Fingerprint> fingerprints() const;
  void watch();

  RoutingTableHolder& holder_;
  const TransportRegistry& transports_;
  const ReloaderOptions options_;

  std::mutex reload_mu_;  // serialises attempts; guards the fields below
  std::vector<Fingerprint> last_fingerprints_;
  std::chrono::system_clock::time_point last_look_{};
  // Of the bytes last attempted, valid or not ("" when a file could not be read).
  std::optional<std::string> last_checksum_;
  bool looked_ = false;
  bool change_pending_ = false;  // stat data changed at the last look: load once it holds still

  std::mutex watch_mu_;  // guards the watcher's control flags
  std::condition_variable watch_cv_;
  bool stopping_ = false;
  bool requested_ = false;
  std::thread watcher_;

  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> failures_{0};
};

}  // namespace itk
