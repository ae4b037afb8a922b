# proofwork's front door. `make demo` and `make test` install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
ASAN_BUILD ?= build-asan

.PHONY: all deps configure build test test-gpu test-asan fuzz demo bench install clean

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

# The unit and CLI tests built with AddressSanitizer and UndefinedBehaviorSanitizer
# (PW_SANITIZE, its own build directory): any report fails the test that met it.
test-asan:
	@scripts/install-deps.sh --check build 2>/dev/null || scripts/install-deps.sh build
	@test -f $(ASAN_BUILD)/CMakeCache.txt || cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DPW_CUDA=OFF -DPW_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -LE gpu -j$(JOBS)

# The libFuzzer targets of tests/fuzz (clang, PW_FUZZ, its own build directory), each run
# for FUZZ_SECONDS, or for FUZZ_RUNS executions when that is set: tests/fuzz/run.sh
# prints executions, coverage, crashes, hangs, memory.
fuzz:
	@scripts/install-deps.sh --check fuzz 2>/dev/null || scripts/install-deps.sh fuzz
	@test -f $(FUZZ_BUILD)/CMakeCache.txt || CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DPW_CUDA=OFF -DPW_FUZZ=ON -DBUILD_TESTING=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz-all
	FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run.sh $(abspath $(FUZZ_BUILD)) $(FUZZ_SECONDS)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
