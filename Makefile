# uvscope: make | make test | make demo | make bench | make clean      (V=1 shows commands)
.DELETE_ON_ERROR:
.SUFFIXES:

OUTPUT   := .output
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
NODE     ?= node
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS   ?= -g -O2
CFLAGS   += -Wall \
	    -Wswitch-enum \
	    -Wextra \
	    -Werror \
	    -Wno-missing-field-initializers \
	    -Wno-format-truncation \
	    -std=gnu11 \
	    -D_GNU_SOURCE \
	    -DUVSCOPE_VERSION='"$(VERSION)"'
INCLUDES := -Iinclude \
	    -Iagent \
	    -I$(OUTPUT)
# libdw: .eh_frame unwinding and libuv's DWARF; libiberty: the C++ demangler (static only).
# protobuf-c: the pprof encoder generated from proto/profile.proto. capstone (decoding libuv's
# functions while attaching) is not linked: agent/target/capstone_lib.c loads it with dlopen
# for the attach only (its headers are needed, libcapstone-dev; at run time libcapstone4/5).
# libmicrohttpd: the /metrics endpoint of `uvscope serve`. inih: the alert rules file
# (core/rules_file.c).
LIBS     := $(shell pkg-config --libs libbpf libelf libdw zlib libprotobuf-c libmicrohttpd inih \
		2>/dev/null || echo -lbpf -ldw -lelf -lz -lprotobuf-c -lmicrohttpd -linih) \
	    -liberty -lm -ldl

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
# Kept once made: make deletes an intermediate file it made, and these are only a step to the
# skeletons. Named, not every target as a bare .SECONDARY: made them (a secondary file that goes
# missing is not made again: a deleted skeleton stayed missing).
.SECONDARY: $(BPF_OBJS)
AGENT_DIRS := cli util target symbols v8 unwind collect core render serve
AGENT_SRCS := agent/main.c $(foreach d,$(AGENT_DIRS),$(wildcard agent/$(d)/*.c))
AGENT_HDRS := $(foreach d,$(AGENT_DIRS),$(wildcard agent/$(d)/*.h))
AGENT_OBJS := $(patsubst agent/%.c,$(OUTPUT)/agent/%.o,$(AGENT_SRCS))
# Generated from proto/*.proto by protoc-c (never committed); the agent includes "proto/x.pb-c.h".
PROTO_HDRS := $(patsubst proto/%.proto,$(OUTPUT)/proto/%.pb-c.h,$(wildcard proto/*.proto))
AGENT_OBJS += $(PROTO_HDRS:.h=.o)
LIB_OBJS   := $(filter-out $(OUTPUT)/agent/main.o,$(AGENT_OBJS))
UNIT_SRCS  := $(wildcard tests/unit/*.c)
UNIT_OBJS  := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%.o,$(UNIT_SRCS))
UNIT_BIN   := $(OUTPUT)/unit-tests
# libxml2, for the tests only: the SVG flame graph must parse as XML.
UNIT_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
UNIT_LIBS  := $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
# What the unit tests are told at run time: the agent binary and the ELF fixtures.
UNIT_ENV   := UVSCOPE=$(CURDIR)/uvscope \
	      ROOT=$(CURDIR) \
	      FIXTURES=$(CURDIR)/$(OUTPUT)/fixtures \
	      GOLDEN=$(CURDIR)/tests/unit/golden

.PHONY: all
all: uvscope

$(OUTPUT) $(OUTPUT)/unit:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

# Syscall names for the agent, from the kernel headers (linux-libc-dev) it is built with.
SYSCALL_HDR := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/asm/unistd_64.h \
			/usr/include/asm/unistd_64.h))
$(OUTPUT)/syscall_table.h: $(SYSCALL_HDR) | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)test -n "$(SYSCALL_HDR)" || { echo "no asm/unistd_64.h: apt-get install linux-libc-dev" >&2; exit 1; }
	$(Q)awk '$$1 == "#define" && $$2 ~ /^__NR_[a-z0-9_]+$$/ && $$3 ~ /^[0-9]+$$/ \
		{ sub(/^__NR_/, "", $$2); printf "\t[%d] = \"%s\",\n", $$3, $$2 }' $< > $@

$(OUTPUT)/proto/%.pb-c.c $(OUTPUT)/proto/%.pb-c.h: proto/%.proto | $(OUTPUT)
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)protoc-c --c_out=$(@D) --proto_path=proto $<

$(OUTPUT)/proto/%.o: $(OUTPUT)/proto/%.c $(OUTPUT)/proto/%.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

# The files that include a generated header (the pattern rules below cannot know).
$(OUTPUT)/agent/render/flame_pprof.o $(OUTPUT)/unit/test_flame_pprof.o: $(PROTO_HDRS)

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h $(wildcard include/uvscope/*.h bpf/*.bpf.h) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_x86 \
		-Iinclude -I$(OUTPUT) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# Named outside the pattern rules so that make does not take the skeletons for intermediate
# files: it would delete them after a build, and not make again one that went missing.
.PHONY: skeletons
skeletons: $(SKELS)

$(OUTPUT)/agent/%.o: agent/%.c $(AGENT_HDRS) $(wildcard include/uvscope/*.h) $(SKELS) $(OUTPUT)/syscall_table.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

uvscope: $(AGENT_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

# ---- tests ----------------------------------------------------------------------------------
include tests/unit/fixtures.mk
include tests/unit/sanitize.mk
include tests/fuzz/fuzz.mk
include tests/tools/tools.mk

$(OUTPUT)/unit/%.o: tests/unit/%.c $(AGENT_HDRS) $(wildcard include/uvscope/*.h tests/unit/*.h) $(SKELS) $(OUTPUT)/syscall_table.h | $(OUTPUT)/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Wno-unused-parameter $(INCLUDES) $(UNIT_CFLAGS) -c $< -o $@

$(UNIT_BIN): $(UNIT_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) $(UNIT_LIBS) -lcriterion -o $@

.PHONY: test unit integration tools node-builds
test: unit unit-sanitize integration

# The official Node builds the tests check against, from the npm registry, cached in
# .output/node. The unit tests skip a build that is missing and the integration tests fetch
# their own, so these come first: on a fresh clone the unit tests' checks of every build run
# too. Without the registry, a loud SKIP, not a failure.
TEST_NODE_VERSIONS ?= 18 22 24 26
node-builds:
	$(Q)for v in $(TEST_NODE_VERSIONS); do \
		scripts/fetch-node.sh "$$v" >/dev/null || \
			echo "SKIP: node $$v not fetched from the npm registry: the tests on it skip" >&2; \
	done

tools: $(TEST_TOOLS)

# No test has a Criterion .timeout: BoxFort, inside Criterion, leaks one 48-byte timeout request
# now and then when a worker ends before its timeout thread runs, and LeakSanitizer fails the
# sanitized run on it. A hang is caught by one timeout on the whole run instead.
UNIT_TIMEOUT := timeout --kill-after=10 900

unit: $(UNIT_BIN) uvscope $(UNIT_FIXTURES) | node-builds
	$(Q)$(UNIT_ENV) $(UNIT_TIMEOUT) $(UNIT_BIN) --jobs 2

integration: uvscope $(TEST_TOOLS) $(OUTPUT)/flame-sample
	$(Q)UVSCOPE=$(CURDIR)/uvscope $(NODE) --test --test-concurrency=1 tests/integration/

# ---- demo and benchmark ---------------------------------------------------------------------
.PHONY: demo bench
demo:
	$(Q)scripts/demo.sh

bench: uvscope
	$(Q)scripts/bench.sh

# What adding samples to a profile costs (bench/profile_add.c); not part of make bench.
.PHONY: bench-profile
bench-profile: $(OUTPUT)/profile-bench
	$(Q)$<

$(OUTPUT)/profile-bench: bench/profile_add.c $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $^ $(LIBS) -o $@

# What a hardware execute breakpoint costs per hit beside a uprobe (bench/hw_breakpoint_cost.c,
# bench/README.md "History"); needs root; not part of make bench.
.PHONY: bench-hw-breakpoint
bench-hw-breakpoint: $(OUTPUT)/hw-breakpoint-cost
	$(Q)$<

$(OUTPUT)/hw-breakpoint-cost: bench/hw_breakpoint_cost.c
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -Wall -Wextra -Werror $< -o $@

# A hand-built profile in every flame format, for tests/integration/flame_svg.test.mjs.
$(OUTPUT)/flame-sample: tests/flame/flame_sample.c $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $^ $(LIBS) -o $@

.PHONY: clean
clean:
	$(Q)rm -rf $(OUTPUT) uvscope
