#!/usr/bin/env bash
# Installs every Debian 12 package that itk-router's build, tests and benchmarks need.
# Idempotent: does nothing (and touches no package index) when everything is present.
# Works as root or through sudo. Runs `apt-get update` at most once.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # libraries (see README "Dependencies")
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libxerces-c-dev libssl-dev libyaml-cpp-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev googletest libsqlite3-dev libpq-dev zlib1g-dev
  libspdlog-dev libfmt-dev
  # command-line tools the tests use
  openssl curl procps libxml2-utils sqlite3 python3 python3-zeep
  # servers the tests start themselves on 127.0.0.1
  postgresql prometheus
  # benchmarks (make bench; perf profiles the router where the kernel allows it)
  nginx-light gnuplot-nox libbenchmark-dev linux-perf
)

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Boost 1.81 -dev packages conflict with the 1.74 ones (Debian's default libboost-dev):
# remove any 1.74 -dev package first, so apt does not refuse or half-resolve.
old_boost=$(dpkg-query -W -f='${Package} ${Status}\n' 'libboost*1.74*-dev' 2>/dev/null \
              | awk '/install ok installed/ {print $1}' || true)
old_boost+=" $(dpkg-query -W -f='${Package} ${Status}\n' libboost-dev libboost-all-dev 2>/dev/null \
              | awk '/install ok installed/ {print $1}' || true)"
old_boost=$(echo "$old_boost" | xargs -n1 2>/dev/null | grep -v '^$' || true)

if [ ${#missing[@]} -eq 0 ] && [ -z "$old_boost" ]; then
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ -n "$old_boost" ]; then
  echo "install-deps: removing Boost 1.74 -dev packages that conflict with 1.81: $old_boost"
  # shellcheck disable=SC2086
  "${SUDO[@]}" apt-get remove -y $old_boost
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  # Servers (postgresql, prometheus, nginx) must not start system-wide instances on install:
  # the tests start their own on 127.0.0.1. policy-rc.d 101 = "action not allowed".
  policy=/usr/sbin/policy-rc.d
  placed_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    placed_policy=1
  fi
  trap '[ $placed_policy -eq 1 ] && "${SUDO[@]}" rm -f "$policy"' EXIT
  if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}" 2>/dev/null; then
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi
