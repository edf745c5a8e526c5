# Top-level, non-recursive build. All outputs go under build/.
#
#   make            build/bin/tempo-compactor and build/bin/tempo-compactor-controller
#   make test       build and run every test; the last line is "N passed, N failed, N skipped"
#   make check      lint + the tests under ASan and UBSan (build/san/)
#   make deps       install what the build and the tests need (hack/install-deps.sh)
#   make run        build and run the compactor on a local demo bucket (hack/run-demo.sh)
#   make fuzz       run the fuzz targets for a bounded time
#   make e2e        end-to-end autoscaling on one machine (tests/e2e; ~12 min: the KEDA-rules run, then builtin): helm, the
#                   controller, compactor processes on Ceph RGW, Prometheus behind a tenant
#                   gateway, a KEDA-style scaler, then autoscaling.mode builtin without it;
#                   writes build/e2e/timeline.png
#   make gen        rewrite what the config table generates: README's key reference, the CRD's
#                   blocklist/compaction fields and their chart values (tests check them)
#
# Sources are discovered: compactor/core/<layer>/*.c is the core library
# (one folder per subsystem, layered: hack/check-layers.sh), compactor/tools/
# the developer tools (`tempo-compactor parquet ...`), compactor/*.c the
# daemon, controller/*.c the controller (main.c of each is left out of its
# library so tests can link the rest), tests/unit/test_*.c one test binary each.

.DEFAULT_GOAL := all

SANITIZER ?=
ifeq ($(SANITIZER),)
BUILD ?= build
OPT ?= -O2 -g
SANFLAGS :=
else
BUILD ?= build/san
OPT ?= -O1 -g
SANFLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CC ?= cc
PKGS := libcurl yaml-0.1 jansson libwebsockets openssl zlib libzstd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lsnappy -lm -lpthread
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0-dev)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
        -Wno-missing-field-initializers -Wno-format-truncation
override CFLAGS += -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) -MMD -MP -D_GNU_SOURCE \
        -Icompactor/core -Icompactor -Icontroller -Itests $(PKG_CFLAGS)
override LDFLAGS += $(SANFLAGS)

CORE_SRC := $(wildcard compactor/core/*/*.c)
TOOLS_SRC := $(wildcard compactor/tools/*.c)
DAEMON_SRC := $(filter-out compactor/main.c,$(wildcard compactor/*.c))
CTRL_SRC := $(filter-out controller/main.c,$(wildcard controller/*.c))
TEST_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_LIB := $(BUILD)/lib/libtccore.a
DAEMON_LIB := $(BUILD)/lib/libtcdaemon.a
CTRL_LIB := $(BUILD)/lib/libtcctrl.a
TOOLS_LIB := $(BUILD)/lib/libtctools.a
LIBS := $(CTRL_LIB) $(DAEMON_LIB) $(TOOLS_LIB) $(CORE_LIB)
BINS := $(BUILD)/bin/tempo-compactor $(BUILD)/bin/tempo-compactor-controller
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))

# Only tc.c carries the version; it is rebuilt every time so the revision is current.
$(BUILD)/obj/compactor/core/base/tc.o: override CFLAGS += -DTC_VERSION='"$(VERSION)"' -DTC_REVISION='"$(REVISION)"'
$(BUILD)/obj/compactor/core/base/tc.o: FORCE
.PHONY: FORCE
FORCE:

.SECONDARY:
.PHONY: all test check lint fmt deps fuzz soak clean bench golden-update run print-libs gen e2e
all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo CC $<
	@$(CC) $(CFLAGS) -c $< -o $@

$(CORE_LIB): $(call obj,$(CORE_SRC))
$(DAEMON_LIB): $(call obj,$(DAEMON_SRC))
$(CTRL_LIB): $(call obj,$(CTRL_SRC))
$(TOOLS_LIB): $(call obj,$(TOOLS_SRC))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/tempo-compactor: $(call obj,compactor/main.c) $(DAEMON_LIB) $(TOOLS_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/tempo-compactor-controller: $(call obj,controller/main.c) $(CTRL_LIB) $(DAEMON_LIB) $(TOOLS_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(PKG_LIBS)

# test_pool makes thread creation fail on purpose (its __wrap_pthread_create).
$(BUILD)/tests/test_pool: override LDFLAGS += -Wl,--wrap=pthread_create

# The link flags, for test scripts that build a driver of their own.
print-libs:
	@echo $(PKG_LIBS)

test: $(BINS) $(TESTS)
	@bash tests/run.sh $(BUILD)

# Runs tests/e2e/test_e2e.py only (make test skips it unless TC_E2E=1; hack/test.sh, i.e.
# CI, sets it so the e2e runs exactly once there).
e2e: $(BINS)
	@mkdir -p $(BUILD)/e2e
	@TC_E2E=1 TC_E2E_PNG=$(abspath $(BUILD))/e2e/timeline.png bash tests/run.sh $(BUILD) test_e2e.py

check: lint
	$(MAKE) SANITIZER=address,undefined test

lint:
	@bash hack/lint.sh

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

deps:
	bash hack/install-deps.sh

# The main job on its embedded default: a local-directory bucket, no cluster.
run:
	bash hack/install-deps.sh --build
	$(MAKE) all
	bash hack/run-demo.sh

fuzz:
	bash hack/fuzz.sh

# The long crash run: 200 SIGKILLed jobs per backend (make test runs 20).
soak: $(BINS)
	CRASH_JOBS=$${CRASH_JOBS:-200} TC_TEST_TIMEOUT=0 bash tests/run.sh $(BUILD) test_compact_crash

gen: $(BINS)
	TC_BUILD=$(BUILD) python3 hack/gen-config.py
	TC_BUILD=$(BUILD) bash hack/gen-docs.sh
	python3 tests/chart/gen_readme.py

bench: all
	bash hack/bench/run-all.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
