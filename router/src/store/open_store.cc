// openStore(): the store named by the configuration.
#include "itk/log.h"
#include "itk/store.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"

namespace itk {

bool parseStoreBackend(std::string_view text, StoreBackend* out) {
  if (text == "sqlite") {
    *out = StoreBackend::kSqlite;
  } else if (text == "postgres" || text == "postgresql") {
    *out = StoreBackend::kPostgres;
  } else if (text == "memory") {
    *out = StoreBackend::kMemory;
  } else {
    return false;
  }
  return true;
}

bool parseDurability(std::string_view text, Durability* out) {
  if (text == "fsync") {
    *out = Durability::kFsync;
  } else if (text == "os") {
    *out = Durability::kOs;
  } else {
    return false;
  }
  return true;
}

Result<std::unique_ptr<Store>> openStore(const StoreConfig& config) {
  std::unique_ptr<Store> store;
  switch (config.backend) {
    case StoreBackend::kMemory:
      store = std::make_unique<MemoryStore>(config);
      break;
    case StoreBackend::kSqlite: {
      auto opened = SqliteStore::open(config);
      if (!opened.ok()) return opened.status();
      store = std::move(*opened);
      break;
    }
    case StoreBackend::kPostgres:
      return Status::unavailable(
          "the PostgreSQL store backend is not built yet; use backend: sqlite");
  }
  if (config.mode == StoreConfig::Mode::kRouter) {
    // Deliveries a previous process had in flight go back to pending before anything claims.
    auto recovered = store->recover(SystemClock::instance().now());
    if (!recovered.ok()) return recovered.status();
    if (*recovered > 0)
      log::warn("store.recovered", {{"in_flight", static_cast<unsigned long>(*recovered)}});
  }
  return store;
}

}  // namespace itk
