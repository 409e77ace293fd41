// RoutingTableReloader: publish only valid tables, keep the running one otherwise, notice file
// changes, and never block readers.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "itk/routing/reloader.h"
#include "routing_test_support.h"

namespace itk {
namespace {

using test::TempDir;

constexpr const char* kSend = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";
constexpr const char* kRhm = "urn:nhs-uk:addressing:ods:RHM";

// A table sending every address to endpoint `to`.
std::string tableTo(const std::string& to, const std::string& version) {
  return "version: '" + version +
         "'\nendpoints:\n  old: {transport: loopback}\n"
         "  new: {transport: loopback}\nroutes:\n  - name: all\n    endpoint: " +
         to + "\n";
}

std::string endpointFor(const RoutingTableHolder& holder, const char* address = kRhm) {
  RoutingTablePtr t = holder.current();
  if (!t) return "<no table>";
  const Route* r = t->lookup(RouteQuery{kSend, address, "", ""});
  return r ? r->endpoint : "<no route>";
}

// Collects the reloader's outcomes so a test can wait for one (no fixed sleeps).

std::function<bool(const ReloadOutcome&)> loaded(std::string version) {
  return [version](const ReloadOutcome& o) {
    return o.kind == ReloadOutcome::Kind::kLoaded && o.table->version() == version;
  };
}
bool failed(const ReloadOutcome& o) { return o.kind == ReloadOutcome::Kind::kFailed; }

class OutcomeLog {
 public:
  std::function<void(const ReloadOutcome&)> callback() {
    return [this](const ReloadOutcome& o) {
      std::lock_guard lock(mu_);
      outcomes_.push_back(o);
      cv_.notify_all();
    };
  }
  // Waits (at most 20 s: a generous bound for a loaded CI machine) for outcome number n (1-based).
  ReloadOutcome waitFor(size_t n) {
    std::unique_lock lock(mu_);
    bool arrived =
        cv_.wait_for(lock, std::chrono::seconds(20), [&] { return outcomes_.size() >= n; });
    EXPECT_TRUE(arrived) << "reload outcome " << n << " never came";
    return arrived ? outcomes_[n - 1] : ReloadOutcome{};
  }
  // Waits (at most 20 s) for the next outcome, after those already waited for, that `want`
  // accepts. The watcher may report a state the test did not aim at (a file caught between an
  // editor's truncate and write is refused), so watcher tests wait for what they expect.
  ReloadOutcome waitUntil(const std::function<bool(const ReloadOutcome&)>& want) {
    std::unique_lock lock(mu_);
    ReloadOutcome found;
    bool arrived = cv_.wait_for(lock, std::chrono::seconds(20), [&] {
      while (next_ < outcomes_.size()) {
        if (want(outcomes_[next_++])) {
          found = outcomes_[next_ - 1];
          return true;
        }
      }
      return false;
    });
    EXPECT_TRUE(arrived) << "the expected reload outcome never came";
    return found;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return outcomes_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_ = 0;  // waitUntil() has looked at outcomes before this one
  std::vector<ReloadOutcome> outcomes_;
};

class ReloaderTest : public ::testing::Test {
 protected:
  ReloaderTest() { test::registerFakeTransports(transports_); }

  ReloaderOptions options(std::vector<std::string> files) {
    ReloaderOptions o;
    o.files = std::move(files);
    o.poll_interval = std::chrono::milliseconds(5);
    o.on_reload = log_.callback();
    return o;
  }

  TempDir dir_;
  TransportRegistry transports_;
  RoutingTableHolder holder_;
  OutcomeLog log_;
};

TEST_F(ReloaderTest, reload_now_publishes_a_valid_table) {
  std::string file = dir_.write("hub.yaml", tableTo("old", "1"));
  RoutingTableReloader reloader(holder_, transports_, options({file}));
  EXPECT_EQ(holder_.current(), nullptr);
  ReloadOutcome o = reloader.reloadNow();
  EXPECT_EQ(o.kind, ReloadOutcome::Kind::kLoaded);
  EXPECT_EQ(o.table, holder_.current());
  EXPECT_EQ(endpointFor(holder_), "old");
  EXPECT_EQ(holder_.current()->version(), "1");
  EXPECT_EQ(reloader.reloadCount(), 1u);
  EXPECT_EQ(reloader.failedReloadCount(), 0u);
  EXPECT_EQ(log_.size(), 1u);
}

TEST_F(ReloaderTest, same_bytes_again_are_unchanged_and_not_republished) {
  std::string file = dir_.write("hub.yaml", tableTo("old", "1"));
  RoutingTableReloader reloader(holder_, transports_, options({file}));
  reloader.reloadNow();
  RoutingTablePtr first = holder_.current();
  ReloadOutcome o = reloader.reloadNow();
  EXPECT_EQ(o.kind, ReloadOutcome::Kind::kUnchanged);
  EXPECT_EQ(holder_.current(), first);
  EXPECT_EQ(reloader.reloadCount(), 1u);
}

TEST_F(ReloaderTest, a_bad_table_is_refused_and_the_running_table_stays) {
  std::string file = dir_.write("hub.yaml", tableTo("old", "1"));
  RoutingTableReloader reloader(holder_, transports_, options({file}));
  reloader.reloadNow();
  RoutingTablePtr running = holder_.current();

  dir_.write("hub.yaml", tableTo("nowhere", "2"));
  ReloadOutcome o = reloader.reloadNow();
  EXPECT_EQ(o.kind, ReloadOutcome::Kind::kFailed);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0].toString(), file + ":7: error: route 'all': unknown endpoint 'nowhere'");
  EXPECT_EQ(o.table, running);
  EXPECT_EQ(holder_.current(), running);
  EXPECT_EQ(endpointFor(holder_), "old");
  EXPECT_EQ(reloader.failedReloadCount(), 1u);

  // A missing file is refused the same way.
  std::filesystem::remove(file);
  o = reloader.reloadNow();
  EXPECT_EQ(o.kind, ReloadOutcome::Kind::kFailed);
  EXPECT_EQ(holder_.current(), running);
  EXPECT_EQ(reloader.failedReloadCount(), 2u);

  dir_.write("hub.yaml", tableTo("new", "3"));
  o = reloader.reloadNow();
  EXPECT_EQ(o.kind, ReloadOutcome::Kind::kLoaded);
  EXPECT_EQ(endpointFor(holder_), "new");
}

TEST_F(ReloaderTest, watcher_loads_at_start_and_follows_file_changes) {
  std::string file = dir_.write("hub.yaml", tableTo("old", "1"));
  RoutingTableReloader reloader(holder_, transports_, options({file}));
  reloader.start();
  log_.waitUntil(loaded("1"));
  EXPECT_EQ(endpointFor(holder_), "old");

  // Rewritten in place, same size, same inode: only the bytes (and maybe the mtime) differ.
  dir_.write("hub.yaml", tableTo("new", "2"));
  log_.waitUntil(loaded("2"));
  EXPECT_EQ(endpointFor(holder_), "new");

  // A broken edit is refused and the running table stays.
  dir_.write("hub.yaml", "routes: [\n");
  ReloadOutcome o = log_.waitUntil(failed);
  EXPECT_EQ(o.table, holder_.current());
  EXPECT_EQ(endpointFor(holder_), "new");
  EXPECT_EQ(holder_.current()->version(), "2");

  // Fixing the file is picked up too.
  dir_.write("hub.yaml", tableTo("old", "4"));
  log_.waitUntil(loaded("4"));
  EXPECT_EQ(endpointFor(holder_), "old");
  reloader.stop();
  EXPECT_EQ(reloader.reloadCount(), 3u);  // a half-written file is refused, never loaded
  EXPECT_GE(reloader.failedReloadCount(), 1u);
}

TEST_F(ReloaderTest, editor_style_replace_by_rename_is_seen) {
  std::string file = dir_.write("hub.yaml", tableTo("old", "1"));
  RoutingTableReloader reloader(holder_, transports_, options({file}));
  reloader.start();
  log_.waitUntil(loaded("1"));
  std::string tmp = dir_.write("hub.yaml.tmp", tableTo("new", "2"));
  std::filesystem::rename(tmp, file);
  log_.waitUntil(loaded("2"));
  EXPECT_EQ(endpointFor(holder_), "new");
}

TEST_F(ReloaderTest, request_reload_forces_a_report) {
  std::string file = dir_.write("hub.yaml", tableTo("old", "1"));
  ReloaderOptions o = options({file});
  o.poll_interval = std::chrono::hours(1);  // only requests wake the watcher
  RoutingTableReloader reloader(holder_, transports_, std::move(o));
  reloader.start();
  EXPECT_EQ(log_.waitFor(1).kind, ReloadOutcome::Kind::kLoaded);
  reloader.requestReload();
  EXPECT_EQ(log_.waitFor(2).kind, ReloadOutcome::Kind::kUnchanged);
  dir_.write("hub.yaml", tableTo("new", "2"));
  reloader.requestReload();
  EXPECT_EQ(log_.waitFor(3).kind, ReloadOutcome::Kind::kLoaded);
  EXPECT_EQ(endpointFor(holder_), "new");
  reloader.stop();
  reloader.stop();  // idempotent
}

TEST_F(ReloaderTest, multiple_files_are_one_table) {
  std::string endpoints = dir_.write("endpoints.yaml", "endpoints: {e: {transport: loopback}}\n");
  std::string routes = dir_.write("routes.yaml", "routes:\n  - name: r\n    endpoint: e\n");
  RoutingTableReloader reloader(holder_, transports_, options({endpoints, routes}));
  EXPECT_EQ(reloader.reloadNow().kind, ReloadOutcome::Kind::kLoaded);
  EXPECT_EQ(endpointFor(holder_), "e");
}

// Readers never wait for reloads: lookups on several threads keep succeeding while tables are
// published as fast as the loader can build them, and each lookup sees one whole table.
TEST_F(ReloaderTest, lookups_run_during_reloads) {
  std::string file = dir_.write("hub.yaml", tableTo("old", "old-0"));
  RoutingTableReloader reloader(holder_, transports_, options({file}));
  ASSERT_EQ(reloader.reloadNow().kind, ReloadOutcome::Kind::kLoaded);

  std::atomic<bool> done{false};
  std::atomic<uint64_t> lookups{0};
  std::atomic<uint64_t> inconsistent{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!done.load(std::memory_order_relaxed)) {
        RoutingTablePtr t = holder_.current();
        const Route* r = t->lookup(RouteQuery{kSend, kRhm, "", ""});
        // Version "old-N" tables route to old, "new-N" to new: a torn read would mix them.
        if (r == nullptr || t->version().substr(0, r->endpoint.size()) != r->endpoint) {
          inconsistent.fetch_add(1);
        }
        lookups.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (int i = 1; i <= 40; ++i) {
    std::string to = i % 2 ? "new" : "old";
    dir_.write("hub.yaml", tableTo(to, to + "-" + std::to_string(i)));
    ASSERT_EQ(reloader.reloadNow().kind, ReloadOutcome::Kind::kLoaded);
  }
  uint64_t before_stop = lookups.load();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(inconsistent.load(), 0u);
  EXPECT_GT(before_stop, 0u);
  EXPECT_EQ(reloader.reloadCount(), 41u);
  EXPECT_EQ(holder_.current()->version(), "old-40");
}

TEST_F(ReloaderTest, in_flight_snapshots_survive_a_reload) {
  std::string file = dir_.write("hub.yaml", tableTo("old", "1"));
  RoutingTableReloader reloader(holder_, transports_, options({file}));
  reloader.reloadNow();
  RoutingTablePtr in_flight = holder_.current();  // what a message being routed holds
  const Route* route = in_flight->lookup(RouteQuery{kSend, kRhm, "", ""});
  dir_.write("hub.yaml", tableTo("new", "2"));
  reloader.reloadNow();
  EXPECT_EQ(endpointFor(holder_), "new");
  EXPECT_EQ(route->endpoint, "old");  // still valid: the snapshot keeps its table alive
  EXPECT_NE(in_flight->endpoint("old"), nullptr);
}

}  // namespace
}  // namespace itk
