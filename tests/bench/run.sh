#!/usr/bin/env bash
# Runs every benchmark built in the given build folder (default build/bench). Repetitions are
# interleaved at random, so machine drift hits the measured code and its baseline alike
# (DESIGN.md §3); read the medians.
set -euo pipefail
build="${1:-build/bench}"
for bench in "$build"/tests/bench/*_bench; do
  [ -x "$bench" ] || continue
  echo "== $(basename "$bench")"
  "$bench" --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
           --benchmark_report_aggregates_only=true
done
