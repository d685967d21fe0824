# brock - build with GNU make.
#
#   make                 the library and the binary (build/): needs only the build packages
#   make all             also the tests, fuzz replay drivers and benchmarks (tests need cmocka)
#   make test            build all and run the whole suite (tests/run.sh)
#   make SAN=1 all       the same under AddressSanitizer + UBSan, in build/san/
#   make fuzz            libFuzzer targets with clang (build/fuzz/)
#   make bench           benchmark programs (bench/run.sh runs them)
#   make lint            cppcheck over the C sources (scripts/lint.sh; the suite runs it too)
#
# Dependencies come from Debian 12 packages; scripts/install-deps lists them.

CC      ?= cc
PKGS    := libcurl openssl zlib jansson expat libevent libevent_openssl libnghttp2 libpcre2-8 sqlite3 md4c libutf8proc libedit
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GITREV  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

ifeq ($(SAN),1)
BUILD   ?= build/san
OPT     ?= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD   ?= build
OPT     ?= -O2 -g
SANFLAGS :=
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wvla -Wpointer-arith -Wundef
CFLAGS  ?=
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP \
              -DBROCK_VERSION='"$(VERSION)"' -DBROCK_GITREV='"$(GITREV)"' $(CFLAGS)
LDFLAGS ?=
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)
LIBS    := $(PKG_LIBS) -lpthread -lm

# The brock binary links the small libraries statically (their Debian -dev
# packages ship the .a files): each shared library costs the dynamic loader
# time at every start, and a `brock -p` is a short process. libcurl, OpenSSL,
# zlib and md4c stay shared (libcurl brings its own ~30 dependencies anyway;
# md4c has no static library). STATIC=0 links everything shared.
STATIC ?= 1
ifeq ($(STATIC),1)
BROCK_LIBS := $(shell pkg-config --libs libcurl openssl zlib md4c) \
              -Wl,-Bstatic -ljansson -lexpat -levent_openssl -levent -lnghttp2 -lpcre2-8 -lsqlite3 -lutf8proc -ledit \
              -Wl,-Bdynamic -lbsd -ltinfo -lpthread -lm -ldl
else
BROCK_LIBS := $(LIBS)
endif

LIB_SRC  := $(sort $(wildcard src/util/*.c src/aws/*.c src/bedrock/*.c src/store/*.c \
                              src/monitor/*.c src/agent/*.c src/agent/tools/*.c src/server/*.c src/batch/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TSUP_SRC := $(sort $(wildcard tests/support/*.c))
TEST_SRC := $(sort $(wildcard tests/*/test_*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))

# FOCUS="word ..." builds only the base (util, crypto, credentials type) plus the
# sources, tests, fuzz targets and benchmarks whose file names contain a word,
# so work on one module is not blocked by another module in progress.
ifneq ($(FOCUS),)
focus_match = $(sort $(foreach w,$(FOCUS),$(filter %$(w).c $(foreach x,$(1),$(if $(findstring $(w),$(notdir $(x))),$(x))),$(1))))
BASE_SRC  := $(wildcard src/util/*.c) src/aws/crypto.c src/aws/credentials.c
LIB_SRC   := $(sort $(BASE_SRC) $(call focus_match,$(LIB_SRC)) $(FOCUS_EXTRA))
CLI_SRC   :=
TEST_SRC  := $(call focus_match,$(TEST_SRC))
FUZZ_SRC  := $(call focus_match,$(FUZZ_SRC))
BENCH_SRC := $(call focus_match,$(BENCH_SRC))
endif

# EXCLUDE="src/agent/% tests/agent/%" leaves work in progress out of a full build.
ifneq ($(EXCLUDE),)
LIB_SRC   := $(filter-out $(EXCLUDE),$(LIB_SRC))
CLI_SRC   := $(filter-out $(EXCLUDE),$(CLI_SRC))
TEST_SRC  := $(filter-out $(EXCLUDE),$(TEST_SRC))
FUZZ_SRC  := $(filter-out $(EXCLUDE),$(FUZZ_SRC))
BENCH_SRC := $(filter-out $(EXCLUDE),$(BENCH_SRC))
endif

# ar keeps members by file name, so two sources named alike would lose one.
ifneq ($(words $(notdir $(LIB_SRC))),$(words $(sort $(notdir $(LIB_SRC)))))
$(error two library sources share a file name (the archive would keep only one): $(LIB_SRC))
endif

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TSUP_OBJ := $(TSUP_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:%.c=$(BUILD)/%)
REPLAY_BIN := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz-replay/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)

LIBBROCK := $(BUILD)/libbrock.a
BROCK    := $(BUILD)/brock

.PHONY: brock all lib test check fuzz bench clean lint
.SECONDARY:
# The default goal is what a user needs (scripts/install-deps without --test
# installs enough for it); the tests link cmocka, a test-only package.
.DEFAULT_GOAL := brock
brock: $(if $(CLI_SRC),$(BROCK)) $(LIBBROCK)
all: $(if $(CLI_SRC),$(BROCK)) $(TEST_BIN) $(REPLAY_BIN) $(BENCH_BIN)
lib: $(LIBBROCK)

# V=1 shows full command lines.
ifeq ($(V),1)
Q :=
say := @true
else
Q := @
say := @printf '  %-6s %s\n'
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# The archive is remade whenever the list of its sources changes (a FOCUS or
# EXCLUDE build, a file added or removed), not only when an object is newer.
LIB_LIST := $(BUILD)/libbrock.sources
$(shell mkdir -p $(BUILD) && { echo "$(LIB_SRC)" | cmp -s - $(LIB_LIST) || echo "$(LIB_SRC)" > $(LIB_LIST); })

# `brock --version` names the commit it was built from: commands.o is rebuilt
# when HEAD moves, not only when its source changes.
REV_STAMP := $(BUILD)/gitrev
$(shell mkdir -p $(BUILD) && { echo "$(GITREV)" | cmp -s - $(REV_STAMP) || echo "$(GITREV)" > $(REV_STAMP); })
$(BUILD)/src/cli/commands.o: $(REV_STAMP)

$(LIBBROCK): $(LIB_OBJ) $(LIB_LIST)
	@mkdir -p $(dir $@)
	$(say) AR $@
	$(Q)rm -f $@
	$(Q)ar rcs $@ $(LIB_OBJ)

$(BROCK): $(CLI_OBJ) $(LIBBROCK)
	$(say) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(LIBBROCK) $(BROCK_LIBS)

# Tests of the CLI also link the CLI objects (all but main.o).
CLI_LIB_OBJ := $(filter-out $(BUILD)/src/cli/main.o,$(CLI_OBJ))
$(BUILD)/tests/cli/%: $(BUILD)/tests/cli/%.o $(TSUP_OBJ) $(CLI_LIB_OBJ) $(LIBBROCK)
	$(say) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TSUP_OBJ) $(CLI_LIB_OBJ) $(LIBBROCK) $(LIBS) -lcmocka

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TSUP_OBJ) $(LIBBROCK)
	$(say) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TSUP_OBJ) $(LIBBROCK) $(LIBS) -lcmocka

# Fuzz targets linked with a standalone main that replays corpus files, so the
# ordinary (and sanitizer) builds run every corpus without libFuzzer.
$(BUILD)/fuzz-replay/%: $(BUILD)/fuzz/%.o $(BUILD)/fuzz/replay_main.o $(LIBBROCK)
	@mkdir -p $(dir $@)
	$(say) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/fuzz/replay_main.o $(LIBBROCK) $(LIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBBROCK)
	$(say) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBBROCK) $(LIBS)

test: all
	tests/run.sh $(BUILD)

check: test

# libFuzzer builds (clang only).
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined $(PKG_CFLAGS) -Wno-unused-command-line-argument -MMD -MP
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DBROCK_VERSION='"$(VERSION)"' -DBROCK_GITREV='"$(GITREV)"' -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

fuzz: $(FUZZ_BIN)

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/fuzz/%.d)

bench: $(BENCH_BIN) $(BROCK)

lint:
	scripts/lint.sh

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TSUP_OBJ:.o=.d) $(TEST_BIN:=.d) \
         $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%.d) $(BENCH_BIN:=.d)
