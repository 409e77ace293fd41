#include "itk/routing/reloader.h"

#include <sys/stat.h>

#include <optional>
#include <utility>

#include "itk/log.h"
#include "routing/files.h"

namespace itk {
namespace {

// A file whose mtime is this close to (or after) our last look may have been written again
// within the same timestamp tick (1 s or 2 s on some file systems): read it again to be sure.
constexpr std::chrono::seconds kRacyWindow{2};

void logOutcome(const ReloadOutcome& o, const std::vector<std::string>& files) {
  switch (o.kind) {
    case ReloadOutcome::Kind::kLoaded:
      for (const auto& w : o.warnings)
        log::warn("routing.table_warning", {{"diagnostic", w.toString()}});
      log::info("routing.reloaded", {{"version", o.table->version()},
                                     {"checksum", o.table->checksum()},
                                     {"routes", o.table->routes().size()},
                                     {"endpoints", o.table->endpoints().size()},
                                     {"warnings", o.warnings.size()}});
      return;
    case ReloadOutcome::Kind::kUnchanged:
      log::info("routing.unchanged", {{"version", o.table ? o.table->version() : ""},
                                      {"checksum", o.table ? o.table->checksum() : ""}});
      return;
    case ReloadOutcome::Kind::kFailed:
      for (const auto& e : o.errors)
        log::error("routing.table_error", {{"diagnostic", e.toString()}});
      log::error("routing.reload_failed",
                 {{"errors", o.errors.size()},
                  {"files", files.size()},
                  {"running_version", o.table ? o.table->version() : ""},
                  {"running_checksum", o.table ? o.table->checksum() : "none"}});
      return;
  }
}

}  // namespace

std::string_view reloadKindName(ReloadOutcome::Kind kind) {
  switch (kind) {
    case ReloadOutcome::Kind::kLoaded:
      return "loaded";
    case ReloadOutcome::Kind::kUnchanged:
      return "unchanged";
    case ReloadOutcome::Kind::kFailed:
      return "failed";
  }
  return "unknown";
}

RoutingTableReloader::RoutingTableReloader(RoutingTableHolder& holder,
                                           const TransportRegistry& transports,
                                           ReloaderOptions options)
    : holder_(holder), transports_(transports), options_(std::move(options)) {}

RoutingTableReloader::~RoutingTableReloader() {
  stop();
}

std::vector<RoutingTableReloader::Fingerprint> RoutingTableReloader::fingerprints() const {
  std::vector<Fingerprint> out;
  out.reserve(options_.files.size());
  for (const std::string& file : options_.files) {
    Fingerprint f;
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0) {
      f.exists = true;
      f.size = st.st_size;
      f.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
      f.inode = st.st_ino;
      f.device = st.st_dev;
    }
    out.push_back(f);
  }
  return out;
}

ReloadOutcome RoutingTableReloader::reloadNow() {
  return attempt(/*forced=*/true);
}

ReloadOutcome RoutingTableReloader::attempt(bool forced) {
  std::lock_guard lock(reload_mu_);
  ReloadOutcome outcome;
  outcome.kind = ReloadOutcome::Kind::kUnchanged;  // "nothing to do" until proven otherwise

  // Cheap check first: unchanged stat data and no racy timestamp means unchanged bytes.
  std::vector<Fingerprint> now = fingerprints();
  const auto look = std::chrono::system_clock::now();
  const int64_t racy_after_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    (last_look_ - kRacyWindow).time_since_epoch())
                                    .count();
  bool racy = false;
  for (const Fingerprint& f : now) racy = racy || (f.exists && f.mtime_ns >= racy_after_ns);
  const bool first_look = !looked_;
  const bool stat_changed = !first_look && now != last_fingerprints_;
  last_fingerprints_ = now;
  last_look_ = look;
  looked_ = true;
  outcome.table = holder_.current();
  if (!forced) {
    if (stat_changed) {
      // A file is being written (or was just replaced): wait until it holds still for one
      // interval, so an editor's half-written file is never loaded.
      change_pending_ = true;
      return outcome;
    }
    if (!first_look && !change_pending_ && !racy) return outcome;
  }
  change_pending_ = false;

  std::vector<RoutingSource> sources;
  for (const std::string& file : options_.files) {
    auto bytes = routing_files::readFile(file);
    if (!bytes.ok()) {
      outcome.errors.push_back(
          {TableDiagnostic::Severity::kError, file, 0, bytes.status().message()});
      continue;
    }
    sources.push_back({file, std::move(*bytes)});
  }
  if (options_.files.empty()) {
    outcome.errors.push_back(
        {TableDiagnostic::Severity::kError, "", 0, "no routing-table files are configured"});
  }
  std::string checksum = outcome.errors.empty() ? routing_files::sha256Hex(sources) : "";
  // The watcher reports a state once: the same bytes (or the same unreadable files) again are
  // not news. A forced reload always reports.
  if (!forced && last_checksum_ == checksum) return outcome;
  last_checksum_ = checksum;

  if (outcome.errors.empty() && outcome.table && outcome.table->checksum() == checksum) {
    if (!forced) return outcome;  // someone already published these bytes
  } else if (outcome.errors.empty()) {
    TableLoadResult loaded = loadRoutingSources(sources, transports_);
    outcome.errors = std::move(loaded.errors);
    outcome.warnings = std::move(loaded.warnings);
    if (loaded.table) {
      holder_.publish(loaded.table);
      outcome.table = std::move(loaded.table);
      outcome.kind = ReloadOutcome::Kind::kLoaded;
      reloads_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!outcome.errors.empty()) {
    outcome.kind = ReloadOutcome::Kind::kFailed;
    failures_.fetch_add(1, std::memory_order_relaxed);
  }
  logOutcome(outcome, options_.files);
  if (options_.on_reload) options_.on_reload(outcome);
  return outcome;
}

void RoutingTableReloader::requestReload() {
  {
    std::lock_guard lock(watch_mu_);
    requested_ = true;
  }
  watch_cv_.notify_all();
}

void RoutingTableReloader::start() {
  std::lock_guard lock(watch_mu_);
  if (watcher_.joinable()) return;
  stopping_ = false;
  watcher_ = std::thread([this] { watch(); });
}

void RoutingTableReloader::stop() {
  std::thread watcher;
  {
    std::lock_guard lock(watch_mu_);
    stopping_ = true;
    watcher = std::move(watcher_);
  }
  watch_cv_.notify_all();
  if (watcher.joinable()) watcher.join();
}

void RoutingTableReloader::watch() {
  bool forced = false;
  std::unique_lock lock(watch_mu_);
  while (!stopping_) {
    lock.unlock();
    attempt(forced);
    lock.lock();
    watch_cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_ || requested_; });
    forced = std::exchange(requested_, false);
  }
}

}  // namespace itk
