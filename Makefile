# The two commands (see README): `make run` and `make test`.
# Everything goes through deploy/install-deps.sh first, so a fresh Debian 12 machine works.

JOBS ?= $(shell nproc)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
CONFIG ?= deploy/config/router.yaml
# CI runs the suite once; locally ctest may rerun only what failed with `make test ARGS=...`.
CTEST_ARGS ?= --output-on-failure --timeout 600 -j $(JOBS)

.PHONY: deps build run test bench clean format

deps:
	@./deploy/install-deps.sh

build/release/build.ninja build/release/Makefile: | deps
	cmake -S . -B build/release -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Release \
	  -DITK_BUILD_TESTS=OFF

build: deps build/release/build.ninja
	cmake --build build/release -j $(JOBS) --target itk-router

run: build
	@mkdir -p var
	./build/release/router/itk-router --config $(CONFIG)

build/test/build.ninja build/test/Makefile: | deps
	cmake -S . -B build/test -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Debug -DITK_SANITIZE=ON \
	  -DITK_BUILD_BENCH=OFF

test: deps build/test/build.ninja
	cmake --build build/test -j $(JOBS)
	cd build/test && ctest $(CTEST_ARGS) $(ARGS)

bench: deps
	cmake -S . -B build/bench -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Release -DITK_BUILD_TESTS=OFF \
	  -DITK_BUILD_BENCH=ON
	cmake --build build/bench -j $(JOBS)
	./tests/bench/run.sh build/bench

clean:
	rm -rf build

format:
	find router transports tests -name '*.cc' -o -name '*.h' | xargs clang-format -i
