# hitless build.
#
#   make            build the three programs into $(BUILD)/
#   make check      install missing dependencies, build, run every test
#   make demo       run a local coordinator with agents (see README)
#   make fuzz       build the libFuzzer targets (clang)
#   make deb / rpm  packages (packaging/Makefile.packages)
#   make check-packages  build, lint and install-test them under systemd
#
# Sources are discovered: every common/*.c, agent/*.c, coordinator/**/*.c and
# ctl/*.c is compiled; each directory's main.c is the program entry and the
# rest goes into a static library. Every tests/unit/test_*.c is one Check
# suite linked against all libraries. BUILD selects the output directory,
# so sanitizer and fuzz builds live beside the normal one.

VERSION   := $(shell cat VERSION)
BUILD     ?= build
CC        ?= cc
PKGS      := libzmq libczmq libprotobuf-c libconfig libsystemd sqlite3 openssl libmicrohttpd
PREFIX    ?= /usr
DESTDIR   ?=

# Recursive (=) so pkg-config runs only when a recipe needs it: `make check`
# may have to install the packages first.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CHECK_LIBS = $(shell pkg-config --libs check)

OPTFLAGS  ?= -O2 -g
# Truncation by snprintf into bounded buffers is deliberate (log lines,
# table cells), so that one warning is off.
WARNFLAGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
             -Wno-format-truncation
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPTFLAGS) $(WARNFLAGS) $(EXTRA_CFLAGS) \
             -I. -I$(BUILD)/gen $(PKG_CFLAGS) -DHITLESS_VERSION='"$(VERSION)"'
LDFLAGS_ALL = $(EXTRA_LDFLAGS)

PROTO_C   := $(BUILD)/gen/proto/hitless.pb-c.c
PROTO_H   := $(BUILD)/gen/proto/hitless.pb-c.h
# The consolidated view's page, embedded in the coordinator.
WEB_INDEX_C := $(BUILD)/gen/http_web_index.c

COMMON_SRC := $(wildcard common/*.c)
AGENT_LIB_SRC := $(filter-out agent/main.c,$(wildcard agent/*.c))
COORD_LIB_SRC := $(filter-out coordinator/main.c,$(shell find coordinator -name "*.c"))
CTL_LIB_SRC := $(filter-out ctl/main.c,$(wildcard ctl/*.c))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_HELPERS := $(wildcard tests/helpers/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCOMMON := $(BUILD)/libhitless-common.a
LIBAGENT  := $(BUILD)/libhitless-agent.a
LIBCOORD  := $(BUILD)/libhitless-coord.a
LIBCTL    := $(BUILD)/libhitless-ctl.a
ALL_LIBS  := $(LIBAGENT) $(LIBCOORD) $(LIBCTL) $(LIBCOMMON)

PROGRAMS  := $(BUILD)/hitless-agent $(BUILD)/hitless-coordinator $(BUILD)/hitlessctl

.PHONY: all deps check check-build check-unit check-asan check-integration \
        check-valgrind check-fuzz check-model check-long check-packages fuzz demo bench bench-scale install clean
.DEFAULT_GOAL := all
.SECONDARY:

all: $(PROGRAMS)

# ---- generated protobuf code ------------------------------------------------
$(PROTO_C) $(PROTO_H): proto/hitless.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen proto/hitless.proto

# Generated code is compiled without -Wextra noise it does not control.
$(BUILD)/obj/gen/hitless.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPTFLAGS) $(EXTRA_CFLAGS) -I$(BUILD)/gen $(PKG_CFLAGS) -c $< -o $@

# Every object depends on the generated header so it exists before use;
# -MMD tracks the rest.
$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

$(LIBCOMMON): $(call obj,$(COMMON_SRC)) $(BUILD)/obj/gen/hitless.pb-c.o
	@rm -f $@
	ar rcs $@ $^
$(LIBAGENT): $(call obj,$(AGENT_LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
$(WEB_INDEX_C): coordinator/http/web/index.html scripts/embed-file.sh
	@mkdir -p $(dir $@)
	scripts/embed-file.sh $< http_web_index > $@
$(BUILD)/obj/gen/http_web_index.o: $(WEB_INDEX_C)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPTFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

$(LIBCOORD): $(call obj,$(COORD_LIB_SRC)) $(BUILD)/obj/gen/http_web_index.o
	@rm -f $@
	ar rcs $@ $^
$(LIBCTL): $(call obj,$(CTL_LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

# --as-needed: the agent uses no libmicrohttpd (the coordinator's HTTP
# server), so its package must not depend on it.
$(BUILD)/hitless-agent: $(call obj,agent/main.c) $(LIBAGENT) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ -Wl,--as-needed $(PKG_LIBS) -lm
$(BUILD)/hitless-coordinator: $(call obj,coordinator/main.c) $(LIBCOORD) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm
$(BUILD)/hitlessctl: $(call obj,ctl/main.c) $(LIBCTL) $(LIBCOMMON)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/test_%: $(call obj,tests/unit/test_%.c) $(call obj,$(TEST_HELPERS)) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(call obj,$(TEST_HELPERS)) $(ALL_LIBS) $(PKG_LIBS) $(CHECK_LIBS) -lm

# ---- tests ------------------------------------------------------------------
deps:
	@scripts/install-deps.sh build fuzz integration valgrind model

check: deps
	$(MAKE) check-build
	$(MAKE) check-unit
	$(MAKE) check-model
	$(MAKE) check-asan
	$(MAKE) check-valgrind
	$(MAKE) check-fuzz
	$(MAKE) check-integration
	$(MAKE) check-packages

check-build: all $(UNIT_TESTS)

check-unit: all $(UNIT_TESTS)
	@tests/run-unit.sh $(BUILD) $(UNIT_TESTS)

# spin over tests/model/upgrade_machine.pml (see tests/model/README.md):
# liveness and a one-fault exhaustive search, and a mutant that must fail.
check-model:
	@scripts/install-deps.sh model
	tests/model/check-model.sh $(BUILD)

# Longer soaks: the three-fault bitstate search, and SEEDS small simulated
# fleets (test_upgrade_sim_breadth; make check runs 10,000).
SEEDS ?= 200000
check-long: all $(UNIT_TESTS)
	@scripts/install-deps.sh model
	MODEL_LONG=1 tests/model/check-model.sh $(BUILD)
	UPGRADE_SIM_SMALL_SEEDS=$(SEEDS) $(BUILD)/tests/test_upgrade_sim_breadth

# The same suites built with AddressSanitizer and UBSan; any report fails.
check-asan:
	UPGRADE_SIM_SMALL_SEEDS=2000 $(MAKE) BUILD=build-asan OPTFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" check-unit

# The same suites, built without sanitizers, each run under valgrind's
# memcheck: any error or definite/indirect leak fails the suite (exit 99).
# CK_FORK=no runs the tests in the suite's process, so valgrind sees the
# test code, not Check's forks. A process a test forks runs under valgrind
# silently: a report only makes its exit status 99, which fails the tests
# that check it (the crash simulations do). Silent because a fork that may
# only _exit() (exec_run()'s child after a failed execve) cannot free what
# it inherited. Programs the tests execute run without valgrind.
# tests/valgrind.supp: suppressions for third-party libraries only. The
# 1,000-node upgrade simulation runs one seed instead of three, the small
# fleets 50 seeds instead of 10,000 (check-asan: 2,000). Check's
# per-test timeouts need its forks, so each suite gets 10 minutes instead.
VALGRIND_FLAGS ?= --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite,indirect --track-fds=no -q \
  --child-silent-after-fork=yes --suppressions=$(CURDIR)/tests/valgrind.supp
check-valgrind:
	@scripts/install-deps.sh valgrind
	CK_FORK=no UPGRADE_SIM_SEEDS=1 UPGRADE_SIM_SMALL_SEEDS=50 RUN_UNIT_WRAPPER="timeout --foreground 600 valgrind $(VALGRIND_FLAGS)" \
	  $(MAKE) BUILD=build-valgrind OPTFLAGS="-O1 -g" check-unit

# 35-swarm runs the swarm generator at a small scale.
check-integration: all $(BUILD)/bench/bench_swarm
	@tests/run-integration.sh $(BUILD)

# libFuzzer targets, each run for a bounded time on every `make check`.
fuzz:
	@scripts/install-deps.sh fuzz
	$(MAKE) BUILD=build-fuzz CC=clang OPTFLAGS="-O1 -g" \
	  EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -Wno-unknown-warning-option" \
	  $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRC))

build-fuzz/fuzz/%: $(call obj,tests/fuzz/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lm

check-fuzz: fuzz
	@tests/run-fuzz.sh build-fuzz/fuzz $${FUZZ_SECONDS:-20}

demo: deps
	$(MAKE) all
	@scripts/demo.sh $(BUILD)

bench: all
	$(MAKE) $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
	@for b in $(BUILD)/bench/*; do echo "== $$b"; BUILD=$(BUILD) $$b; done

# The swarm at fleet scale (several minutes; see bench/bench_swarm.c).
bench-scale: all
	$(MAKE) $(BUILD)/bench/bench_swarm
	BUILD=$(BUILD) $(BUILD)/bench/bench_swarm 1000 5000 10000

$(BUILD)/bench/%: $(call obj,bench/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

install: all
	install -D -m 0755 $(BUILD)/hitless-agent $(DESTDIR)$(PREFIX)/sbin/hitless-agent
	install -D -m 0755 $(BUILD)/hitless-coordinator $(DESTDIR)$(PREFIX)/sbin/hitless-coordinator
	install -D -m 0755 $(BUILD)/hitlessctl $(DESTDIR)$(PREFIX)/bin/hitlessctl

clean:
	rm -rf build build-asan build-valgrind build-fuzz

include packaging/Makefile.packages
