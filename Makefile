# proofwork's front door. `make demo` and `make test` install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-gpu demo bench install clean

all: build

deps:
	scripts/install-deps.sh all

configure:
	@scripts/install-deps.sh --check build 2>/dev/null || scripts/install-deps.sh build
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# CPU tests; the doctest suite `gpu` runs only where a GPU is present (tests/gpu/run.sh).
test: build
	cd $(BUILD) && ctest --output-on-failure -LE gpu -j$(JOBS)

# Everything that needs a GPU (suite gpu, --device cuda checks, GPU benchmarks), in one
# go, with a report: tests/gpu/run.sh.
test-gpu:
	tests/gpu/run.sh $(abspath $(BUILD))

demo: configure
	@scripts/install-deps.sh --check demo 2>/dev/null || scripts/install-deps.sh demo
	cmake --build $(BUILD) -j$(JOBS)
	BIN=$(abspath $(BUILD)) examples/flow.sh

bench: configure
	@scripts/install-deps.sh --check bench 2>/dev/null || scripts/install-deps.sh bench
	cmake --build $(BUILD) -j$(JOBS)
	BIN=$(abspath $(BUILD)) tests/bench/run.sh

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
