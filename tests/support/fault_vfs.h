// FaultVfs: a SQLite VFS shim over the default one, after LevelDB's FaultInjectionTestEnv. It
// counts what SQLite does to its files (syncs, bytes read), makes writes or syncs fail after N of
// them (an I/O error, or SQLITE_FULL for a full disk), and simulates a power loss: it remembers
// what each file held at its last sync, and dropUnsyncedData() puts every file back to that, so a
// store reopened afterwards sees exactly what a machine that lost power would have kept.
//
// Registered once per process under kName (not as the default VFS); a store opens through it
// with SqliteStore::open(config, FaultVfs::kName). Thread-safe.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace itk::test {

class FaultVfs {
 public:
  static constexpr const char* kName = "itk-fault";

  enum class Fault {
    kNone,
    kWriteError,  // xWrite returns SQLITE_IOERR_WRITE
    kDiskFull,    // xWrite returns SQLITE_FULL
    kSyncError,   // xSync returns SQLITE_IOERR_FSYNC
  };

  // The process-wide instance, registered on first use.
  static FaultVfs& instance();

  // After `n` more operations of the fault's kind (writes for kWriteError/kDiskFull, syncs for
  // kSyncError) succeed, every further one fails until clearFault().
  void injectAfter(int64_t n, Fault fault);
  void clearFault();
  // How many operations failed because of the injected fault.
  int64_t injectedFailures() const;

  // Power loss, step 1: from now on writes, truncates, syncs and deletes are silently dropped
  // (reported as done), as if the machine had stopped. Close the store after this.
  void freeze();
  // Step 2: every tracked file goes back to what it held at its last sync (files never synced
  // become empty), the shared-memory index is removed, and the VFS works normally again.
  void dropUnsyncedData();
  // A process crash instead: what was written stays (it is in the OS page cache); the VFS works
  // normally again.
  void thaw();

  // Forgets tracked files, counters and faults (start of a test).
  void reset();

  struct Counters {
    int64_t syncs = 0;            // xSync calls that reached the disk
    int64_t wal_syncs = 0;        // of which on a -wal file
    int64_t main_bytes_read = 0;  // bytes read from main database files
    int64_t writes = 0;
  };
  Counters counters() const;

  // --- Used by the VFS callbacks (public for the C shims) ---
  struct FileState {
    int64_t synced_size = 0;
    struct Undo {
      int64_t offset;
      std::string old_bytes;
    };
    std::vector<Undo> undo;  // since the last sync, oldest first
  };
  mutable std::mutex mu;
  std::map<std::string, FileState> files;  // by path
  Counters counts;
  Fault fault = Fault::kNone;
  int64_t fault_after = 0;
  int64_t injected = 0;
  bool frozen = false;

 private:
  FaultVfs();
  sqlite3_vfs vfs_{};
};

}  // namespace itk::test
