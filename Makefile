# The two commands (see README): `make run` and `make test`.
# Everything goes through deploy/install-deps.sh first, so a fresh Debian 12 machine works.

JOBS ?= $(shell nproc)
CONFIG ?= deploy/config/router.yaml
CTEST_ARGS ?= --output-on-failure --timeout 900 -j $(JOBS)

# Configure a build folder once; the generator is chosen after deps has run (ninja if present)
# and kept from the folder's cache afterwards.
define configure
	@if [ ! -f $(1)/CMakeCache.txt ]; then \
	  gen=$$(command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles"); \
	  echo "cmake -S . -B $(1) -G $$gen $(2)"; \
	  cmake -S . -B $(1) -G "$$gen" $(2); \
	fi
endef

.PHONY: deps build run test bench clean format

deps:
	@./deploy/install-deps.sh

build: deps
	$(call configure,build/release,-DCMAKE_BUILD_TYPE=Release -DITK_BUILD_TESTS=OFF -DITK_BUILD_BENCH=OFF)
	cmake --build build/release -j $(JOBS) --target itk-router

run: build
	@mkdir -p var
	./build/release/router/itk-router --config $(CONFIG)

test: deps
	$(call configure,build/test,-DCMAKE_BUILD_TYPE=Debug -DITK_SANITIZE=ON -DITK_BUILD_BENCH=OFF)
	cmake --build build/test -j $(JOBS)
	cd build/test && ctest $(CTEST_ARGS) $(ARGS)

# Benchmarks in a Release build: Google Benchmark cases, then the end-to-end benchmark (the router
# against nginx; docs/PERFORMANCE.md). QUICK=1: a smoke run of a few minutes; E2E=0: skip the
# end-to-end part; E2E_ARGS="...": options for tests/bench/e2e.py.
bench: deps
	$(call configure,build/bench,-DCMAKE_BUILD_TYPE=Release -DITK_BUILD_TESTS=OFF -DITK_BUILD_BENCH=ON)
	cmake --build build/bench -j $(JOBS)
	./tests/bench/run.sh build/bench

clean:
	rm -rf build

format:
	find router transports tests \( -name '*.cc' -o -name '*.h' \) | xargs clang-format -i
