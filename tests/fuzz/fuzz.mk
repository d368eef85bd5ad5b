# libFuzzer targets (tests/fuzz/fuzz_<name>.c) for the parsers of untrusted input, built with
# clang into $(OUTPUT)/fuzz together with the agent sources each one needs.
#
# `make fuzz` runs each target for FUZZ_SECONDS on a copy of its seeds (tests/fuzz/corpus/<name>,
# made by make-seeds.sh) in $(OUTPUT)/fuzz/corpus, so what the fuzzer adds never lands in the
# repo, and fails at the first target that crashes, leaks, hangs on one input for
# FUZZ_TIMEOUT seconds, or breaks an assumption its target checks; the input that did it is kept
# in $(OUTPUT)/fuzz/crashes/<name>/.

FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 10
FUZZ_DIR     := $(OUTPUT)/fuzz
FUZZ_NAMES   := elf proc sock_diag unwind symtab perf_map v8 phase_map flame prom rules loop_mem \
		perf_ring
FUZZ_BINS    := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_NAMES))
# Each target's own object is only a step to its binary: kept, not deleted as an intermediate.
.SECONDARY: $(patsubst %,$(FUZZ_DIR)/tests/fuzz/fuzz_%.o,$(FUZZ_NAMES))
# The agent's warnings, which clang must pass too; some of gcc's are unknown to clang 14.
FUZZ_CFLAGS  := $(CFLAGS) \
		-Wno-unknown-warning-option \
		-O1 \
		-fno-omit-frame-pointer \
		-fno-sanitize-recover=all
FUZZ_SAN     := address,undefined

# The agent sources behind each target.
$(FUZZ_DIR)/fuzz_elf: $(FUZZ_DIR)/agent/target/elf.o $(FUZZ_DIR)/agent/target/epoll_sites.o \
		      $(FUZZ_DIR)/agent/unwind/call_insns.o $(FUZZ_DIR)/agent/target/x86_insn.o \
		      $(FUZZ_DIR)/agent/target/capstone_lib.o \
		      $(FUZZ_DIR)/agent/target/entry_site.o $(FUZZ_DIR)/agent/unwind/func_dwarf.o \
		      $(FUZZ_DIR)/agent/util/text.o
$(FUZZ_DIR)/fuzz_proc: $(FUZZ_DIR)/agent/target/procfs.o $(FUZZ_DIR)/agent/target/container.o \
		       $(FUZZ_DIR)/agent/collect/fds.o $(FUZZ_DIR)/agent/collect/proc_net.o \
		       $(FUZZ_DIR)/agent/collect/socket_table.o $(FUZZ_DIR)/agent/collect/sock_diag.o \
		       $(FUZZ_DIR)/agent/core/names.o \
		       $(FUZZ_DIR)/agent/collect/fd_tracker.o $(FUZZ_DIR)/agent/collect/fd_table.o \
		       $(FUZZ_DIR)/agent/util/text.o
$(FUZZ_DIR)/fuzz_sock_diag: $(FUZZ_DIR)/agent/collect/sock_diag.o $(FUZZ_DIR)/agent/core/names.o
$(FUZZ_DIR)/fuzz_unwind: $(FUZZ_DIR)/agent/unwind/cfi_unwind.o $(FUZZ_DIR)/agent/unwind/cfi_expr.o \
			 $(FUZZ_DIR)/agent/unwind/cfi_objects.o $(FUZZ_DIR)/agent/symbols/object_key.o \
			 $(FUZZ_DIR)/agent/target/elf.o \
			 $(FUZZ_DIR)/agent/unwind/proc_objects.o $(FUZZ_DIR)/agent/target/procfs.o \
			 $(FUZZ_DIR)/agent/util/text.o
$(FUZZ_DIR)/fuzz_symtab: $(FUZZ_DIR)/agent/symbols/symtab.o $(FUZZ_DIR)/agent/symbols/demangle.o \
			 $(FUZZ_DIR)/agent/symbols/sorted_array.o $(FUZZ_DIR)/agent/target/elf.o \
			 $(FUZZ_DIR)/agent/symbols/name_arena.o $(FUZZ_DIR)/agent/util/id_table.o \
			 $(FUZZ_DIR)/agent/util/text.o
$(FUZZ_DIR)/fuzz_perf_map: $(FUZZ_DIR)/agent/symbols/perf_map.o \
			   $(FUZZ_DIR)/agent/symbols/name_arena.o $(FUZZ_DIR)/agent/symbols/sorted_array.o $(FUZZ_DIR)/agent/target/procfs.o \
			   $(FUZZ_DIR)/agent/target/container.o $(FUZZ_DIR)/agent/util/text.o
# The namer's files, not gc_sites.c (it places uprobes in a target, beside the namer).
$(FUZZ_DIR)/fuzz_v8: $(patsubst %.c,$(FUZZ_DIR)/%.o,$(filter-out agent/v8/gc_sites.c,$(wildcard agent/v8/*.c))) \
		     $(FUZZ_DIR)/agent/target/memory.o $(FUZZ_DIR)/agent/target/elf.o \
		     $(FUZZ_DIR)/agent/util/text.o $(FUZZ_DIR)/tests/unit/v8_fake_heap.o
$(FUZZ_DIR)/fuzz_phase_map: $(FUZZ_DIR)/agent/unwind/loop_phases.o \
			    $(FUZZ_DIR)/agent/unwind/func_dwarf.o \
			    $(FUZZ_DIR)/agent/unwind/call_insns.o $(FUZZ_DIR)/agent/target/capstone_lib.o \
			    $(FUZZ_DIR)/agent/unwind/debug_file.o $(FUZZ_DIR)/agent/target/elf.o \
			    $(FUZZ_DIR)/agent/util/text.o
FLAME_FUZZ_SRCS := core/profile core/names util/text util/id_table render/flame \
		   render/flame_stacks render/flame_folded render/flame_svg render/flame_pprof
$(FUZZ_DIR)/fuzz_flame: $(patsubst %,$(FUZZ_DIR)/agent/%.o,$(FLAME_FUZZ_SRCS)) \
			$(FUZZ_DIR)/$(OUTPUT)/proto/profile.pb-c.o
$(FUZZ_DIR)/fuzz_prom: $(FUZZ_DIR)/agent/render/prom_writer.o $(FUZZ_DIR)/agent/util/text.o
$(FUZZ_DIR)/fuzz_loop_mem: $(FUZZ_DIR)/agent/collect/proc_loop_find.o \
			   $(FUZZ_DIR)/agent/collect/proc_loop_math.o \
			   $(FUZZ_DIR)/agent/collect/pool_statics.o $(FUZZ_DIR)/agent/target/memory.o \
			   $(FUZZ_DIR)/agent/target/elf.o $(FUZZ_DIR)/agent/util/text.o
$(FUZZ_DIR)/fuzz_rules: $(FUZZ_DIR)/agent/core/rules_file.o $(FUZZ_DIR)/agent/core/rules.o \
			$(FUZZ_DIR)/agent/core/names.o $(FUZZ_DIR)/agent/util/duration.o \
			$(FUZZ_DIR)/agent/util/text.o
$(FUZZ_DIR)/fuzz_perf_ring: $(FUZZ_DIR)/agent/collect/perf_ring.o $(FUZZ_DIR)/agent/collect/fp_walk.o \
			    $(FUZZ_DIR)/agent/target/memory.o
# The flame target reads the SVG back with libxml2, as the unit tests do.
$(FUZZ_DIR)/fuzz_flame: LIBS += $(UNIT_LIBS)
$(FUZZ_DIR)/tests/fuzz/fuzz_flame.o: FUZZ_CFLAGS += $(UNIT_CFLAGS)
$(FUZZ_DIR)/tests/fuzz/fuzz_flame.o $(FUZZ_DIR)/agent/render/flame_pprof.o: $(PROTO_HDRS)

# Agent sources and targets alike get the sanitizers and the fuzzer's coverage hooks; libFuzzer
# itself, with main, is linked in last.
$(FUZZ_DIR)/%.o: %.c $(AGENT_HDRS) $(wildcard include/uvscope/*.h)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) $(INCLUDES) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/tests/fuzz/fuzz_%.o
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) $^ $(LIBS) -o $@

.PHONY: fuzz fuzz-build $(addprefix fuzz-,$(FUZZ_NAMES))
fuzz: $(addprefix fuzz-,$(FUZZ_NAMES))

fuzz-build: $(FUZZ_BINS)

# The log of each run goes to $(FUZZ_DIR)/<name>.log; on a crash its end is shown.
$(addprefix fuzz-,$(FUZZ_NAMES)): fuzz-%: $(FUZZ_DIR)/fuzz_%
	$(Q)rm -rf $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/crashes/$*
	$(Q)mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/crashes/$*
	$(Q)cp -r tests/fuzz/corpus/$* $(FUZZ_DIR)/corpus/$*
	$(call msg,FUZZ,$* for $(FUZZ_SECONDS) s)
	$(Q)$< -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
		-artifact_prefix=$(FUZZ_DIR)/crashes/$*/ \
		$(FUZZ_DIR)/corpus/$* > $(FUZZ_DIR)/$*.log 2>&1 || \
		{ tail -n 60 $(FUZZ_DIR)/$*.log; \
		  echo "fuzz: $* failed: input in $(FUZZ_DIR)/crashes/$*/," \
		       "log in $(FUZZ_DIR)/$*.log" >&2; \
		  exit 1; }
	$(Q)awk '$$2 == "DONE" { printf "           %s runs, cov: %s, corpus %s\n", \
		substr($$1, 2), $$4, $$8 }' $(FUZZ_DIR)/$*.log
