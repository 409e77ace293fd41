// Store benchmarks (docs/PERFORMANCE.md, "Store"):
//
//  BM_Accept/<durability>/<group|txn_per_message>: accepted messages per second with many
//    concurrent senders, each waiting for its commit before sending again (as a SOAP sender
//    waits for its answer). Group commit against one transaction per message (max_batch 1) in
//    the same run and durability mode; run with --benchmark_enable_random_interleaving so the
//    repetitions of the two alternate, and compare the medians.
//
//  BM_Restart: a store holding ITK_BENCH_QUEUED (default 1,000,000) queued messages is reopened
//    by a fresh process (this binary, re-executed with --restart-probe) that opens the store,
//    recovers in-flight deliveries, reads the queue statistics and claims a first batch: the
//    router is ready. Reports that process's time to ready and its resident memory (VmRSS,
//    VmHWM). The queue is generated once per run through the Store API.
//
// Environment: ITK_BENCH_DIR (default /tmp) holds the database files; ITK_BENCH_QUEUED and
// ITK_BENCH_BODY_BYTES (default 2048) size the restart test; ITK_BENCH_SENDERS (default 32).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "itk/log.h"
#include "itk/store.h"
#include "queue_fill.h"
#include "store/sqlite_store.h"

namespace itk {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

size_t envSize(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

std::string benchDir() {
  const char* v = std::getenv("ITK_BENCH_DIR");
  return v && *v ? v : "/tmp";
}

std::shared_ptr<const std::string> bodyOf(size_t bytes) {
  return std::make_shared<const std::string>(bytes, 'x');
}

// The 5.8 KB SOAP+DE message of DESIGN.md §3.
const std::shared_ptr<const std::string> kBody = bodyOf(5800);

// ---- Accept throughput: group commit vs one transaction per message ----

struct AcceptRun {
  fs::path dir;
  std::unique_ptr<Store> store;
  std::atomic<uint64_t> counter{0};
};
AcceptRun* g_run = nullptr;

void BM_Accept(benchmark::State& state) {
  const Durability durability = state.range(0) == 0 ? Durability::kFsync : Durability::kOs;
  const bool group = state.range(1) == 1;
  if (state.thread_index() == 0) {
    g_run = new AcceptRun;
    g_run->dir = fs::path(benchDir()) / ("itk-store-bench-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(Clock::now().time_since_epoch().count()));
    fs::create_directories(g_run->dir);
    StoreConfig config;
    config.path = (g_run->dir / "bench.db").string();
    config.durability = durability;
    config.group_commit_max_batch = group ? 256 : 1;
    config.max_queued_writes = 100000;
    auto s = SqliteStore::open(config);
    if (!s.ok()) {
      state.SkipWithError(s.status().toString().c_str());
      return;
    }
    g_run->store = std::move(*s);
  }
  const std::string prefix = "T" + std::to_string(state.thread_index()) + "-";
  uint64_t n = 0;
  for (auto _ : state) {
    if (!g_run->store) break;
    std::promise<bool> done;
    auto id = prefix + std::to_string(g_run->counter++);
    g_run->store->accept(bench::queuedRequest(id, kBody, std::chrono::system_clock::now()),
                         [&done](Result<AcceptResult> r) { done.set_value(r.ok()); });
    if (!done.get_future().get()) {
      state.SkipWithError("accept failed");
      break;
    }
    ++n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  if (state.thread_index() == 0) {
    if (g_run->store) {
      auto* sqlite = static_cast<SqliteStore*>(g_run->store.get());
      auto c = sqlite->counters();
      state.counters["writes_per_txn"] =
          c.transactions ? static_cast<double>(c.writes) / static_cast<double>(c.transactions) : 0;
    }
    g_run->store.reset();
    std::error_code ec;
    fs::remove_all(g_run->dir, ec);
    delete g_run;
    g_run = nullptr;
  }
}

void acceptArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"durability_os", "group"});
  for (int durability : {0, 1})
    for (int group : {1, 0}) b->Args({durability, group});
  b->Threads(static_cast<int>(envSize("ITK_BENCH_SENDERS", 32)));
  b->UseRealTime();
  b->MinTime(2.0);
}
BENCHMARK(BM_Accept)->Apply(acceptArgs);

// ---- Restart with a long queue ----

std::string g_self;                 // this binary, for the probe
std::vector<fs::path> g_generated;  // removed at exit (they are large)

fs::path queuedStorePath(size_t queued, size_t body_bytes) {
  return fs::path(benchDir()) / ("itk-store-bench-queued-" + std::to_string(queued) + "-" +
                                 std::to_string(body_bytes) + ".db");
}

// Fills a store with `queued` pending messages (once per process), some in flight as if the
// router had been killed while sending.
Status generateQueue(const fs::path& path, size_t queued, size_t body_bytes) {
  static bool done = false;
  if (done) return {};
  const auto body = bodyOf(body_bytes);
  Status s = bench::fillQueue(path, queued, [&body](size_t i, TimePoint now) {
    return bench::queuedRequest("Q-" + std::to_string(i), body, now);
  });
  if (!s.ok()) return s;
  done = true;
  g_generated.push_back(path);
  return {};
}

long statusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0)
      return std::strtol(line.c_str() + std::strlen(field), nullptr, 10);
  }
  return -1;
}

// The probe process: open as the router does, recover, read statistics, claim a first batch.
int restartProbe(const std::string& path) {
  const auto t0 = Clock::now();
  StoreConfig config;
  config.path = path;
  auto store = openStore(config);  // router mode: lock, recover in-flight
  if (!store.ok()) {
    std::fprintf(stderr, "probe: %s\n", store.status().toString().c_str());
    return 1;
  }
  const double open_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  auto stats = (*store)->statistics();
  std::promise<size_t> claimed;
  ClaimRequest claim;
  claim.now = std::chrono::system_clock::now();
  claim.limit = 64;
  claim.default_room = 64;
  (*store)->claimDue(
      claim, [&](Result<ClaimResult> r) { claimed.set_value(r.ok() ? r->tasks.size() : 0); });
  size_t n = claimed.get_future().get();
  Status health = (*store)->health();
  const double ready_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  int64_t queued = stats.ok() && !stats->routes.empty() ? stats->routes[0].queued : -1;
  std::printf("%.3f %.3f %ld %ld %lld %zu %d\n", open_ms, ready_ms, statusKb("VmRSS:"),
              statusKb("VmHWM:"), static_cast<long long>(queued), n, health.ok() ? 1 : 0);
  return 0;
}

void BM_Restart(benchmark::State& state) {
  const size_t queued = envSize("ITK_BENCH_QUEUED", 1000000);
  const size_t body_bytes = envSize("ITK_BENCH_BODY_BYTES", 2048);
  const fs::path path = queuedStorePath(queued, body_bytes);
  Status generated = generateQueue(path, queued, body_bytes);
  if (!generated.ok()) {
    state.SkipWithError(generated.toString().c_str());
    return;
  }
  double open_ms = 0, ready_ms = 0;
  long rss = 0, hwm = 0;
  long long seen = 0;
  size_t claimed = 0;
  int healthy = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    std::string cmd = "'" + g_self + "' --restart-probe='" + path.string() + "'";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p || std::fscanf(p, "%lf %lf %ld %ld %lld %zu %d", &open_ms, &ready_ms, &rss, &hwm, &seen,
                          &claimed, &healthy) != 7) {
      if (p) ::pclose(p);
      state.SkipWithError("the restart probe failed");
      return;
    }
    ::pclose(p);
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  state.counters["queued"] = static_cast<double>(seen);
  state.counters["open_ms"] = open_ms;
  state.counters["ready_ms"] = ready_ms;
  state.counters["rss_MB"] = static_cast<double>(rss) / 1024.0;
  state.counters["hwm_MB"] = static_cast<double>(hwm) / 1024.0;
  state.counters["claimed"] = static_cast<double>(claimed);
  state.counters["healthy"] = healthy;
  state.counters["file_MB"] = static_cast<double>(fs::file_size(path)) / 1e6;
}
BENCHMARK(BM_Restart)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace itk

int main(int argc, char** argv) {
  itk::log::configure(itk::log::Format::kText, itk::log::Level::kError);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--restart-probe=", 0) == 0) return itk::restartProbe(a.substr(16));
  }
  itk::g_self = std::filesystem::canonical("/proc/self/exe").string();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const auto& path : itk::g_generated) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-router.lock"})
      std::filesystem::remove(path.string() + suffix, ec);
  }
  return 0;
}
