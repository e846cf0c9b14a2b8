# The two commands of the README: `make demo` and `make test`. Each installs
# what is missing (scripts/bootstrap), configures, builds and runs.
BUILD_DIR ?= build/release
ASAN_DIR ?= build/asan
ASAN_SERVER_DIR ?= build/asan-server
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build demo test test-asan test-asan-server bootstrap lint clean bench microbench

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: bootstrap $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	$(BUILD_DIR)/replicakv demo

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRKV_SANITIZE=ON -DRKV_SERVER=OFF

# Unit and simulator tests under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: bootstrap $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ctest --output-on-failure -j $(JOBS) -L 'unit|sim'

# The process tests (real servers, real clients) against a server built with
# ASan+UBSan, any UBSan report fatal, deadlines stretched 5x for the slower
# server. Not part of `make test`: about 3 minutes of build and 3 of tests.
$(ASAN_SERVER_DIR)/build.ninja:
	cmake -S . -B $(ASAN_SERVER_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRKV_SANITIZE=ON -DRKV_SERVER=ON

test-asan-server: bootstrap $(ASAN_SERVER_DIR)/build.ninja
	cmake --build $(ASAN_SERVER_DIR) -j $(JOBS) --target replicakv
	cd $(ASAN_SERVER_DIR) && RKV_TEST_TIMEOUT_SCALE=5 ASAN_OPTIONS=detect_leaks=0 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L cluster --timeout 1800

lint:
	@scripts/lint

# ReplicaKV next to Redis 7 and etcd 3.4 in one run (docs/PERFORMANCE.md); not part
# of `make test`. QUICK=1: about 3 minutes, one repetition. The full run (at most
# ~35 minutes) also puts its table into docs/PERFORMANCE.md. BENCH_FLAGS passes
# more flags to bench/run, e.g. BENCH_FLAGS="--lock /tmp/build.lock".
BENCH_FLAGS ?=
bench: build
	bench/run $(if $(QUICK),--quick,--update-docs) $(BENCH_FLAGS)

# The hot path's parts one by one (src/bench/microbench.cc), Google Benchmark.
# MICROBENCH_FLAGS passes flags, e.g. --benchmark_filter=Resp.
MICROBENCH_FLAGS ?=
microbench: build
	$(BUILD_DIR)/rkv_microbench $(MICROBENCH_FLAGS)

clean:
	rm -rf build
