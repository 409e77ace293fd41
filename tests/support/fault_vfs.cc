#include "support/fault_vfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace itk::test {

namespace {

sqlite3_vfs* base() {
  static sqlite3_vfs* b = sqlite3_vfs_find(nullptr);  // the default (unix) VFS
  return b;
}

// Our file: the io methods below, then the base VFS's file (szOsFile bytes) right after it.
struct FaultFile {
  sqlite3_file head;
  FaultVfs* vfs;
  std::string* path;  // null for temporary files (not tracked)
  bool main_db;
  bool wal;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

FaultFile* ff(sqlite3_file* f) {
  return reinterpret_cast<FaultFile*>(f);
}

// True (and counted) when the injected fault hits this operation.
bool faultHits(FaultVfs& v, bool is_sync) {
  if (v.fault == FaultVfs::Fault::kNone) return false;
  bool kind = is_sync == (v.fault == FaultVfs::Fault::kSyncError);
  if (!kind) return false;
  if (v.fault_after > 0) {
    --v.fault_after;
    return false;
  }
  ++v.injected;
  return true;
}

int xClose(sqlite3_file* f) {
  FaultFile* p = ff(f);
  int rc = p->real()->pMethods ? p->real()->pMethods->xClose(p->real()) : SQLITE_OK;
  delete p->path;
  p->path = nullptr;
  return rc;
}

int xRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  FaultFile* p = ff(f);
  if (p->main_db) {
    std::lock_guard lock(p->vfs->mu);
    p->vfs->counts.main_bytes_read += n;
  }
  return p->real()->pMethods->xRead(p->real(), buf, n, off);
}

// Saves what [off, off+n) holds now so dropUnsyncedData() can put it back.
void remember(FaultFile* p, int64_t off, int64_t n) {
  if (!p->path) return;
  sqlite3_int64 size = 0;
  p->real()->pMethods->xFileSize(p->real(), &size);
  if (off >= size) {
    p->vfs->files[*p->path].undo.push_back({off, {}});
    return;
  }
  int64_t len = std::min<int64_t>(n, size - off);
  std::string old(static_cast<size_t>(len), '\0');
  p->real()->pMethods->xRead(p->real(), old.data(), static_cast<int>(len), off);
  p->vfs->files[*p->path].undo.push_back({off, std::move(old)});
}

int xWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  FaultFile* p = ff(f);
  FaultVfs& v = *p->vfs;
  std::lock_guard lock(v.mu);
  if (v.frozen) return SQLITE_OK;
  if (faultHits(v, false))
    return v.fault == FaultVfs::Fault::kDiskFull ? SQLITE_FULL : SQLITE_IOERR_WRITE;
  ++v.counts.writes;
  remember(p, off, n);
  return p->real()->pMethods->xWrite(p->real(), buf, n, off);
}

int xTruncate(sqlite3_file* f, sqlite3_int64 size) {
  FaultFile* p = ff(f);
  FaultVfs& v = *p->vfs;
  std::lock_guard lock(v.mu);
  if (v.frozen) return SQLITE_OK;
  if (faultHits(v, false)) return SQLITE_IOERR_TRUNCATE;
  sqlite3_int64 current = 0;
  p->real()->pMethods->xFileSize(p->real(), &current);
  if (current > size) remember(p, size, current - size);
  return p->real()->pMethods->xTruncate(p->real(), size);
}

int xSync(sqlite3_file* f, int flags) {
  FaultFile* p = ff(f);
  FaultVfs& v = *p->vfs;
  std::lock_guard lock(v.mu);
  if (v.frozen) return SQLITE_OK;
  if (faultHits(v, true)) return SQLITE_IOERR_FSYNC;
  int rc = p->real()->pMethods->xSync(p->real(), flags);
  if (rc != SQLITE_OK) return rc;
  ++v.counts.syncs;
  if (p->wal) ++v.counts.wal_syncs;
  if (p->path) {
    sqlite3_int64 size = 0;
    p->real()->pMethods->xFileSize(p->real(), &size);
    FaultVfs::FileState& s = v.files[*p->path];
    s.synced_size = size;
    s.undo.clear();
  }
  return SQLITE_OK;
}

int xFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return ff(f)->real()->pMethods->xFileSize(ff(f)->real(), size);
}
int xLock(sqlite3_file* f, int l) {
  return ff(f)->real()->pMethods->xLock(ff(f)->real(), l);
}
int xUnlock(sqlite3_file* f, int l) {
  return ff(f)->real()->pMethods->xUnlock(ff(f)->real(), l);
}
int xCheckReservedLock(sqlite3_file* f, int* out) {
  return ff(f)->real()->pMethods->xCheckReservedLock(ff(f)->real(), out);
}
int xFileControl(sqlite3_file* f, int op, void* arg) {
  return ff(f)->real()->pMethods->xFileControl(ff(f)->real(), op, arg);
}
int xSectorSize(sqlite3_file* f) {
  return ff(f)->real()->pMethods->xSectorSize(ff(f)->real());
}
int xDeviceCharacteristics(sqlite3_file* f) {
  return ff(f)->real()->pMethods->xDeviceCharacteristics(ff(f)->real());
}
int xShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** out) {
  return ff(f)->real()->pMethods->xShmMap(ff(f)->real(), pg, sz, extend, out);
}
int xShmLock(sqlite3_file* f, int off, int n, int flags) {
  return ff(f)->real()->pMethods->xShmLock(ff(f)->real(), off, n, flags);
}
void xShmBarrier(sqlite3_file* f) {
  ff(f)->real()->pMethods->xShmBarrier(ff(f)->real());
}
int xShmUnmap(sqlite3_file* f, int del) {
  return ff(f)->real()->pMethods->xShmUnmap(ff(f)->real(), del);
}
// No memory-mapped I/O: every read must go through xRead to be counted.
int xFetch(sqlite3_file*, sqlite3_int64, int, void** out) {
  *out = nullptr;
  return SQLITE_OK;
}
int xUnfetch(sqlite3_file*, sqlite3_int64, void*) {
  return SQLITE_OK;
}

const sqlite3_io_methods kMethods = {
    3,
    xClose,
    xRead,
    xWrite,
    xTruncate,
    xSync,
    xFileSize,
    xLock,
    xUnlock,
    xCheckReservedLock,
    xFileControl,
    xSectorSize,
    xDeviceCharacteristics,
    xShmMap,
    xShmLock,
    xShmBarrier,
    xShmUnmap,
    xFetch,
    xUnfetch,
};

int vOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* self = static_cast<FaultVfs*>(vfs->pAppData);
  FaultFile* p = ff(file);
  p->head.pMethods = nullptr;
  p->vfs = self;
  p->path = nullptr;
  p->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  p->wal = (flags & SQLITE_OPEN_WAL) != 0;
  int rc = base()->xOpen(base(), name, p->real(), flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  p->head.pMethods = &kMethods;
  if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL))) {
    p->path = new std::string(name);
    std::lock_guard lock(self->mu);
    if (!self->files.count(*p->path)) {
      // A file seen for the first time: what it holds now counts as synced.
      sqlite3_int64 size = 0;
      p->real()->pMethods->xFileSize(p->real(), &size);
      self->files[*p->path].synced_size = size;
    }
  }
  return SQLITE_OK;
}

int vDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  auto* self = static_cast<FaultVfs*>(vfs->pAppData);
  {
    std::lock_guard lock(self->mu);
    if (self->frozen) return SQLITE_OK;
    self->files.erase(name);
  }
  return base()->xDelete(base(), name, sync_dir);
}

int vAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
  return base()->xAccess(base(), name, flags, out);
}
int vFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return base()->xFullPathname(base(), name, n, out);
}
void* vDlOpen(sqlite3_vfs*, const char* name) {
  return base()->xDlOpen(base(), name);
}
void vDlError(sqlite3_vfs*, int n, char* msg) {
  base()->xDlError(base(), n, msg);
}
void (*vDlSym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return base()->xDlSym(base(), h, sym);
}
void vDlClose(sqlite3_vfs*, void* h) {
  base()->xDlClose(base(), h);
}
int vRandomness(sqlite3_vfs*, int n, char* out) {
  return base()->xRandomness(base(), n, out);
}
int vSleep(sqlite3_vfs*, int us) {
  return base()->xSleep(base(), us);
}
int vCurrentTime(sqlite3_vfs*, double* out) {
  return base()->xCurrentTime(base(), out);
}
int vGetLastError(sqlite3_vfs*, int n, char* out) {
  return base()->xGetLastError(base(), n, out);
}
int vCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return base()->xCurrentTimeInt64(base(), out);
}

}  // namespace

FaultVfs::FaultVfs() {
  vfs_.iVersion = 2;
  vfs_.szOsFile = static_cast<int>(sizeof(FaultFile)) + base()->szOsFile;
  vfs_.mxPathname = base()->mxPathname;
  vfs_.zName = kName;
  vfs_.pAppData = this;
  vfs_.xOpen = vOpen;
  vfs_.xDelete = vDelete;
  vfs_.xAccess = vAccess;
  vfs_.xFullPathname = vFullPathname;
  vfs_.xDlOpen = vDlOpen;
  vfs_.xDlError = vDlError;
  vfs_.xDlSym = vDlSym;
  vfs_.xDlClose = vDlClose;
  vfs_.xRandomness = vRandomness;
  vfs_.xSleep = vSleep;
  vfs_.xCurrentTime = vCurrentTime;
  vfs_.xGetLastError = vGetLastError;
  vfs_.xCurrentTimeInt64 = vCurrentTimeInt64;
  sqlite3_vfs_register(&vfs_, /*makeDflt=*/0);
}

FaultVfs& FaultVfs::instance() {
  static FaultVfs* v = new FaultVfs();  // registered for the whole process
  return *v;
}

void FaultVfs::injectAfter(int64_t n, Fault f) {
  std::lock_guard lock(mu);
  fault = f;
  fault_after = n;
}

void FaultVfs::clearFault() {
  std::lock_guard lock(mu);
  fault = Fault::kNone;
}

int64_t FaultVfs::injectedFailures() const {
  std::lock_guard lock(mu);
  return injected;
}

void FaultVfs::freeze() {
  std::lock_guard lock(mu);
  frozen = true;
}

void FaultVfs::dropUnsyncedData() {
  std::lock_guard lock(mu);
  for (auto& [path, state] : files) {
    int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0) continue;
    for (auto it = state.undo.rbegin(); it != state.undo.rend(); ++it) {
      if (!it->old_bytes.empty())
        (void)!::pwrite(fd, it->old_bytes.data(), it->old_bytes.size(), it->offset);
    }
    (void)!::ftruncate(fd, state.synced_size);
    ::close(fd);
    state.undo.clear();
    // The WAL index is shared memory: it does not survive a power loss.
    if (path.size() > 4 && path.compare(path.size() - 4, 4, "-wal") == 0)
      ::unlink((path.substr(0, path.size() - 4) + "-shm").c_str());
  }
  frozen = false;
  fault = Fault::kNone;
}

void FaultVfs::thaw() {
  std::lock_guard lock(mu);
  for (auto& [path, state] : files) state.undo.clear();
  frozen = false;
}

void FaultVfs::reset() {
  std::lock_guard lock(mu);
  files.clear();
  counts = {};
  fault = Fault::kNone;
  fault_after = 0;
  injected = 0;
  frozen = false;
}

FaultVfs::Counters FaultVfs::counters() const {
  std::lock_guard lock(mu);
  return counts;
}

}  // namespace itk::test
