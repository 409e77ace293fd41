// Routing benchmarks: lookup time with 10,000 routes (mixed exact, glob and prefix), against a
// naive linear scan of the same routes in the same run, and the time to reload that table.
// Figures and how to run: docs/PERFORMANCE.md ("Routing").
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "itk/routing.h"
#include "itk/routing/reloader.h"
#include "unit/routing/routing_test_support.h"

namespace itk {
namespace {

constexpr const char* kCda = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";
constexpr const char* kInfAck = "urn:nhs-itk:services:201005:SendInfrastructureAck-v1-0";
constexpr const char* kOds = "urn:nhs-uk:addressing:ods:";
constexpr int kEndpoints = 200;

std::string code(char letter, int number, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%0*d", letter, digits, number);
  return buf;
}

// A 10,000-route table shaped like a large hub:
//  5,000 exact   GP practices (4,000 for any service, 1,000 more for CDA documents only)
//  3,000 prefix  1,000 trusts, each with two departments of their own
//  1,500 glob    1,000 practice groups "...:ods:J12*" for acknowledgements,
//                500 "...:ods:RAB:team?" team queues
//    500 any     499 service-only routes and one default
std::string tableYaml() {
  std::string y = "version: bench\nendpoints:\n";
  for (int e = 0; e < kEndpoints; ++e) {
    y += "  ep" + std::to_string(e) + ": {transport: " + (e % 2 ? "mesh" : "soap") + "}\n";
  }
  y += "routes:\n";
  int n = 0;
  auto route = [&](const std::string& match) {
    y += "  - name: r" + std::to_string(n) + "\n    match: {" + match + "}\n    endpoint: ep" +
         std::to_string(n % kEndpoints) + "\n";
    ++n;
  };
  for (int i = 0; i < 4000; ++i)
    route("address: \"" + std::string(kOds) + code('A', 10000 + i, 5) + "\"");
  for (int i = 0; i < 1000; ++i) {
    route("address: \"" + std::string(kOds) + code('A', 10000 + i, 5) + "\", service: \"" + kCda +
          "\"");
  }
  for (int i = 0; i < 1000; ++i) {
    std::string trust = std::string(kOds) + code('R', i, 3);
    route("address: {prefix: \"" + trust + "\"}");
    route("address: {prefix: \"" + trust + ":pathology\"}");
    route("address: {prefix: \"" + trust + ":maternity\"}");
  }
  for (int i = 0; i < 1000; ++i) {
    route("address: \"" + std::string(kOds) + code('J', i, 3) + "*\", service: \"" +
          "urn:nhs-itk:services:201005:Send*Ack-v1-0\"");
  }
  for (int i = 0; i < 500; ++i) {
    route("address: \"" + std::string(kOds) + code('R', i, 3) + ":team" + std::to_string(i % 10) +
          "?\"");
  }
  for (int i = 0; i < 499; ++i) {
    route("service: \"urn:nhs-itk:services:201005:service" + std::to_string(i) + "-v1-0\"");
  }
  y += "  - name: default\n    endpoint: ep0\n";
  return y;
}

struct Query {
  std::string service, address, sender;
};

// 4,096 queries: 40% exact hits, 30% prefix hits, 15% glob hits, 15% to the default.
std::vector<Query> queries() {
  std::mt19937 rng(5);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  std::vector<Query> out;
  while (out.size() < 4096) {
    int kind = pick(100);
    Query q;
    q.service = pick(2) ? kCda : kInfAck;
    q.sender = std::string(kOds) + code('A', 10000 + pick(4000), 5);
    if (kind < 40) {
      q.address = std::string(kOds) + code('A', 10000 + pick(4000), 5);
    } else if (kind < 70) {
      const char* dept[] = {"", ":pathology:haem", ":maternity:ward4", ":ed:triage"};
      q.address = std::string(kOds) + code('R', pick(1000), 3) + dept[pick(4)];
    } else if (kind < 85) {
      q.service = kInfAck;
      q.address = std::string(kOds) + code('J', pick(1000), 3) + std::to_string(pick(100));
      if (pick(2)) {
        int t = pick(500);
        q.service = kCda;
        q.address = std::string(kOds) + code('R', t, 3) + ":team" + std::to_string(t % 10) + "X";
      }
    } else {
      q.address = pick(2) ? std::string(kOds) + code('Z', pick(100000), 5)
                          : "X26ABC" + std::to_string(pick(10));
    }
    out.push_back(std::move(q));
  }
  return out;
}

class Fixture {
 public:
  static Fixture& get() {
    static Fixture f;
    return f;
  }
  TransportRegistry transports;
  std::string yaml = tableYaml();
  RoutingTablePtr table;
  std::vector<Query> queries = itk::queries();
  std::vector<const Route*> by_precedence;  // the naive baseline's order

 private:
  Fixture() {
    test::registerFakeTransports(transports);
    TableLoadResult r = loadRoutingSources({{"bench.yaml", yaml}}, transports);
    if (!r.table || r.table->routes().size() != 10'000 || !r.warnings.empty()) {
      std::fprintf(stderr, "bench table: %zu errors, %zu warnings\n", r.errors.size(),
                   r.warnings.size());
      std::abort();
    }
    table = r.table;
    for (const Route& route : table->routes()) by_precedence.push_back(&route);
    std::sort(by_precedence.begin(), by_precedence.end(),
              [&](const Route* a, const Route* b) { return table->outranks(*a, *b); });
  }
};

// The naive baseline: scan every route in precedence order, the first that matches wins.
const Route* linearLookup(const std::vector<const Route*>& routes, const RouteQuery& q) {
  for (const Route* r : routes) {
    if (r->address.matches(q.address) && r->service.matches(q.service) &&
        r->interaction.matches(q.interaction) && r->sender.matches(q.sender)) {
      return r;
    }
  }
  return nullptr;
}

void BM_LookupIndex(benchmark::State& state) {
  Fixture& f = Fixture::get();
  size_t i = 0;
  for (auto _ : state) {
    const Query& q = f.queries[i++ & 4095];
    benchmark::DoNotOptimize(f.table->lookup(RouteQuery{q.service, q.address, q.sender, ""}));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupIndex);

void BM_LookupLinearScan(benchmark::State& state) {
  Fixture& f = Fixture::get();
  size_t i = 0;
  for (auto _ : state) {
    const Query& q = f.queries[i++ & 4095];
    benchmark::DoNotOptimize(
        linearLookup(f.by_precedence, RouteQuery{q.service, q.address, q.sender, ""}));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupLinearScan);

// This thread's CPU time: on a shared machine, time spent preempted is not the code's.
struct ThreadCpuClock {
  using duration = std::chrono::nanoseconds;
  static std::chrono::nanoseconds now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }
};

// The ratio, measured finely interleaved: each iteration times the index on all 4,096 queries,
// then the linear scan on the next 64, so drift of the machine's speed (DESIGN.md section 3)
// hits both alike. Thread CPU time. Counters: ns per lookup for each, and linear / index.
void BM_LookupRatio(benchmark::State& state) {
  Fixture& f = Fixture::get();
  using Clock = ThreadCpuClock;
  Clock::duration index_time{}, linear_time{};
  size_t index_count = 0, linear_count = 0, next_linear = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    for (const Query& q : f.queries) {
      benchmark::DoNotOptimize(f.table->lookup(RouteQuery{q.service, q.address, q.sender, ""}));
    }
    auto t1 = Clock::now();
    for (int i = 0; i < 64; ++i) {
      const Query& q = f.queries[next_linear++ & 4095];
      benchmark::DoNotOptimize(
          linearLookup(f.by_precedence, RouteQuery{q.service, q.address, q.sender, ""}));
    }
    auto t2 = Clock::now();
    index_time += t1 - t0;
    linear_time += t2 - t1;
    index_count += f.queries.size();
    linear_count += 64;
  }
  auto ns = [](Clock::duration d, size_t n) {
    return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(n);
  };
  double index_ns = ns(index_time, index_count), linear_ns = ns(linear_time, linear_count);
  state.counters["index_ns"] = index_ns;
  state.counters["linear_ns"] = linear_ns;
  state.counters["ratio"] = linear_ns / index_ns;
}
BENCHMARK(BM_LookupRatio)->Iterations(100)->Unit(benchmark::kMillisecond);

// The Router's path: take the current snapshot from the holder, then look up. Run on one and
// two threads to see what the shared atomic costs when readers race.
void BM_HolderLookup(benchmark::State& state) {
  static RoutingTableHolder holder;
  Fixture& f = Fixture::get();
  if (state.thread_index() == 0) holder.publish(f.table);
  size_t i = static_cast<size_t>(state.thread_index()) * 1000;
  for (auto _ : state) {
    const Query& q = f.queries[i++ & 4095];
    RoutingTablePtr t = holder.current();
    benchmark::DoNotOptimize(t->lookup(RouteQuery{q.service, q.address, q.sender, ""}));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HolderLookup)->Threads(1)->Threads(2)->UseRealTime();

// Check that both lookups agree on every query before timing them (a wrong fast answer is no
// answer). Runs once, as a zero-iteration "benchmark" that aborts on a mismatch.
void BM_CheckAgreement(benchmark::State& state) {
  Fixture& f = Fixture::get();
  for (auto _ : state) {
    for (const Query& q : f.queries) {
      RouteQuery rq{q.service, q.address, q.sender, ""};
      if (f.table->lookup(rq) != linearLookup(f.by_precedence, rq)) {
        state.SkipWithError("index and linear scan disagree");
        return;
      }
    }
  }
}
BENCHMARK(BM_CheckAgreement)->Iterations(1);

// A full reload of the 10,000-route table: parse, validate, resolve endpoints, build the index,
// look for routes that can never win.
void BM_LoadTable(benchmark::State& state) {
  Fixture& f = Fixture::get();
  for (auto _ : state) {
    TableLoadResult r = loadRoutingSources({{"bench.yaml", f.yaml}}, f.transports);
    benchmark::DoNotOptimize(r.table);
  }
}
BENCHMARK(BM_LoadTable)->Unit(benchmark::kMillisecond)->Iterations(10);

// Only the index: building a RoutingTable from already-parsed routes.
void BM_BuildIndex(benchmark::State& state) {
  Fixture& f = Fixture::get();
  for (auto _ : state) {
    auto t = std::make_shared<RoutingTable>(f.table->routes(), f.table->endpoints(), "", "");
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_BuildIndex)->Unit(benchmark::kMillisecond)->Iterations(10);

// What an administrator's edit costs: RoutingTableReloader::reloadNow() on a file that changed
// (read, hash, load, publish), alternating between two versions of the table.
void BM_ReloadFile(benchmark::State& state) {
  Fixture& f = Fixture::get();
  test::TempDir dir;
  std::string versions[2] = {f.yaml, f.yaml + "# edited\n"};
  std::string file = dir.write("bench.yaml", versions[0]);
  RoutingTableHolder holder;
  RoutingTableReloader reloader(holder, f.transports, ReloaderOptions{{file}, {}, {}});
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    dir.write("bench.yaml", versions[++n % 2]);
    state.ResumeTiming();
    if (reloader.reloadNow().kind != ReloadOutcome::Kind::kLoaded) {
      state.SkipWithError("reload did not load");
      return;
    }
  }
}
BENCHMARK(BM_ReloadFile)->Unit(benchmark::kMillisecond)->Iterations(10);

}  // namespace
}  // namespace itk

BENCHMARK_MAIN();
