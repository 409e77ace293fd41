#!/usr/bin/env bash
# Runs every benchmark built in BUILD (default build/bench: Release, no sanitizers) with the
# cases interleaved at random and repeated, then prints each case's median throughput and its
# ratio to the baseline of its group ("<group>/...Baseline"). The machine's speed drifts by up
# to 1.9x over minutes (DESIGN.md §3): only ratios measured in one interleaved run mean anything.
# Then runs the end-to-end benchmark (tests/bench/e2e.py: the real router against nginx, MESH,
# a 1,000,000-message backlog; about 25 minutes) unless E2E=0.
# Environment: REPETITIONS (default 15), MIN_TIME seconds per repetition (default 0.5);
# QUICK=1 for a smoke run of a few minutes (3 repetitions, a 20,000-message restart test,
# e2e.py --quick); E2E_ARGS: more options for e2e.py (see tests/bench/e2e.py --help).
set -euo pipefail
build=${1:-build/bench}
if [ "${QUICK:-0}" = 1 ]; then
  export REPETITIONS=${REPETITIONS:-3} MIN_TIME=${MIN_TIME:-0.2} ITK_BENCH_QUEUED=${ITK_BENCH_QUEUED:-20000}
fi
out="$build/bench-results"
mkdir -p "$out"
shopt -s nullglob
benches=("$build"/tests/bench/*_bench)
[ ${#benches[@]} -gt 0 ] || { echo "no benchmarks in $build/tests/bench (configure with -DITK_BUILD_BENCH=ON)" >&2; exit 1; }
for bench in "${benches[@]}"; do
  name=$(basename "$bench")
  echo "== $name (malloc: ${MALLOC_ARENA_MAX:+MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX }glibc defaults otherwise)"
  "$bench" --benchmark_repetitions="${REPETITIONS:-15}" \
           --benchmark_min_time="${MIN_TIME:-0.5}" \
           --benchmark_enable_random_interleaving=true \
           --benchmark_report_aggregates_only=true \
           --benchmark_out="$out/$name.json" --benchmark_out_format=json
  python3 - "$out/$name.json" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
medians = {r["run_name"]: r for r in runs if r.get("aggregate_name") == "median"}
groups = {}
for name, r in medians.items():
    groups.setdefault(name.split("/")[0], {})[name] = r
for group, cases in sorted(groups.items()):
    baseline = next((r for n, r in cases.items() if n.endswith("Baseline")), None)
    for name, r in sorted(cases.items()):
        rate = r.get('items_per_second')
        line = f"{name:50s} median " + (f"{rate:>12,.0f} items/s  " if rate else "") + f"{r['cpu_time']:>9.2f} {r['time_unit']} cpu"
        if baseline and r is not baseline and rate and baseline.get('items_per_second'):
            line += f"  = {r['items_per_second'] / baseline['items_per_second']:.2f}x baseline"
        print(line)
PY
done
if [ "${E2E:-1}" != 0 ]; then
  echo "== end to end (tests/bench/e2e.py)"
  quick=()
  [ "${QUICK:-0}" = 1 ] && quick=(--quick)
  # shellcheck disable=SC2086  # E2E_ARGS is a list of options
  python3 "$(dirname "$0")/e2e.py" --build "$build" "${quick[@]}" ${E2E_ARGS:-}
fi
