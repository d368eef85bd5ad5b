# Test ELF files for tests/unit/test_elf.c and test_node_version.c, built into $(OUTPUT)/fixtures
# (FIXTURES at run time).
#
# Next to each object go the facts the test checks the resolver against, taken from binutils
# rather than from the code under test: X.nm (`nm -S X`: symbol values, sizes) and X.buildid
# (`readelf -n X`: the build id in hex). File offsets the test derives itself from the program
# headers, with its own few lines of parsing.

ELF_FIX_DIR := $(OUTPUT)/fixtures
ELF_FIX_SRC := tests/fixtures/elf
ELF_FIX_CFLAGS := -O0 -g -fno-omit-frame-pointer -Wl,--build-id=sha1
ELF_FIX_DEPS := tests/unit/fixtures.mk

# For tests/unit/test_symtab.c: a C++ program, and each indexed object's symbols as binutils
# sees them, demangled like the index (`readelf -sW -C`: value, size, type, section, name; the
# stripped object shows only .dynsym).
SYMTAB_FIXTURES := $(addprefix $(ELF_FIX_DIR)/,cxx nobuildid nopie.syms pie.syms \
			libfixture.so.syms stripped.syms cxx.syms)

# No build id: the symbol cache keys it by file identity instead.
$(ELF_FIX_DIR)/nobuildid: $(ELF_FIX_SRC)/prog.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O0 -g -fPIE -pie -Wl,--build-id=none $< -o $@

ELF_FIX_OBJS := nopie pie stripped libfixture.so
# A miniature libuv (test_loop_phases.c): -O2 inlines pending and closing and emits DWARF 5 call
# sites; -O0 inlines nothing and has no call sites; then without DWARF (.symtab kept), and
# stripped to .dynsym as Debian ships libuv.so.1.
FAKE_LIBUV_OBJS := fake-libuv.so fake-libuv-O0.so fake-libuv-nodebug.so fake-libuv-stripped.so
UNIT_FIXTURES := $(addprefix $(ELF_FIX_DIR)/,$(ELF_FIX_OBJS) \
			$(addsuffix .buildid,$(ELF_FIX_OBJS)) \
			nopie.nm pie.nm libfixture.so.nm \
			truncated corrupt-shoff prog.o not-elf.txt fake-node \
			$(FAKE_LIBUV_OBJS) v8-heap v8-heap.nm v8-heap-stripped) \
		 $(SYMTAB_FIXTURES)


$(ELF_FIX_DIR)/cxx: $(ELF_FIX_SRC)/cxx.cc $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) $(ELF_FIX_CFLAGS) -fPIE -pie $< -o $@

$(ELF_FIX_DIR)/%.syms: $(ELF_FIX_DIR)/%
	$(Q)readelf -sW -C $< > $@

# For tests/unit/test_gc.c: a program with V8's collector symbols (names as V8's, mangled).
$(ELF_FIX_DIR)/v8-heap: $(ELF_FIX_SRC)/v8_heap.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELF_FIX_CFLAGS) -fPIE -pie -rdynamic $< -o $@

$(ELF_FIX_DIR)/v8-heap-stripped: $(ELF_FIX_DIR)/v8-heap
	$(call msg,FIXTURE,$@)
	$(Q)strip -o $@ $<

$(ELF_FIX_DIR)/nopie: $(ELF_FIX_SRC)/prog.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELF_FIX_CFLAGS) -fno-pie -no-pie -rdynamic $< -o $@

$(ELF_FIX_DIR)/pie: $(ELF_FIX_SRC)/prog.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELF_FIX_CFLAGS) -fPIE -pie -rdynamic $< -o $@

$(ELF_FIX_DIR)/libfixture.so: $(ELF_FIX_SRC)/lib.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELF_FIX_CFLAGS) -fPIC -shared $< -o $@

# An executable with node's version marker "node.js/v1.2.3-rc.1" in .rodata.
$(ELF_FIX_DIR)/fake-node: $(ELF_FIX_SRC)/fake_node.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELF_FIX_CFLAGS) $< -o $@

# ET_REL: an ELF the resolver must refuse with ENOEXEC.
$(ELF_FIX_DIR)/prog.o: $(ELF_FIX_SRC)/prog.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O0 -c $< -o $@

# .symtab gone, .dynsym (the -rdynamic exports) and the build-id note kept.
$(ELF_FIX_DIR)/stripped: $(ELF_FIX_DIR)/pie
	$(call msg,FIXTURE,$@)
	$(Q)strip -o $@ $<

# The first half of the PIE: headers fine, section headers and most sections past the end.
$(ELF_FIX_DIR)/truncated: $(ELF_FIX_DIR)/pie
	$(call msg,FIXTURE,$@)
	$(Q)head -c $$(( $$(wc -c < $<) / 2 )) $< > $@

# e_shoff (8 bytes at offset 0x28 in an ELF64 header) overwritten with 0x7fffffffffffffff.
$(ELF_FIX_DIR)/corrupt-shoff: $(ELF_FIX_DIR)/pie
	$(call msg,FIXTURE,$@)
	$(Q)cp $< $@.tmp
	$(Q)printf '\377\377\377\377\377\377\377\177' | dd of=$@.tmp bs=1 seek=40 conv=notrunc status=none
	$(Q)mv $@.tmp $@

$(ELF_FIX_DIR)/not-elf.txt: $(ELF_FIX_DEPS)
	$(Q)mkdir -p $(@D)
	$(Q)echo 'just some text, not an ELF file' > $@

$(ELF_FIX_DIR)/%.nm: $(ELF_FIX_DIR)/%
	$(Q)nm -S $< > $@

# Empty when readelf finds no build id; the test then fails rather than comparing nothing.
$(ELF_FIX_DIR)/%.buildid: $(ELF_FIX_DIR)/%
	$(Q)readelf -n $< | sed -n 's/^ *Build ID: *//p' > $@

# The CFI unwinder's ground truth (tests/fixtures/unwind/chain.c): main -> a -> b -> c without
# frame pointers, c clobbering %rbp; run once to capture its registers, stack and maps.
UNWIND_FIX_SRC := tests/fixtures/unwind
UNIT_FIXTURES += $(addprefix $(ELF_FIX_DIR)/,chain chain.nm chain.capture chain-signal.capture)

$(ELF_FIX_DIR)/chain: $(UNWIND_FIX_SRC)/chain.c $(UNWIND_FIX_SRC)/chain.h $(UNWIND_FIX_SRC)/capture_files.h $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -fomit-frame-pointer -fasynchronous-unwind-tables -fPIE -pie $< -o $@

# chain.maps is made by the same run.
$(ELF_FIX_DIR)/chain.capture: $(ELF_FIX_DIR)/chain
	$(Q)$< $@ $(ELF_FIX_DIR)/chain.maps

# The same chain through a signal handler (c called from on_signal, raised in b).
$(ELF_FIX_DIR)/chain-signal.capture: $(ELF_FIX_DIR)/chain
	$(Q)$< $@ $(ELF_FIX_DIR)/chain-signal.maps signal

# What a frame-pointer walk misses at a frameless leaf (tests/fixtures/unwind/leaf.c): built
# with frame pointers, main -> outer -> middle -> a leaf, captured once per kind of leaf.
LEAF_CAPTURES := leaf-frameless leaf-popped leaf-framed
UNIT_FIXTURES += $(addprefix $(ELF_FIX_DIR)/,leaf leaf.nm $(addsuffix .capture,$(LEAF_CAPTURES)))

$(ELF_FIX_DIR)/leaf: $(UNWIND_FIX_SRC)/leaf.c $(UNWIND_FIX_SRC)/chain.h $(UNWIND_FIX_SRC)/capture_files.h $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -fno-omit-frame-pointer -fasynchronous-unwind-tables -fPIE -pie $< -o $@

$(addprefix $(ELF_FIX_DIR)/,$(addsuffix .capture,$(LEAF_CAPTURES))): $(ELF_FIX_DIR)/leaf-%.capture: $(ELF_FIX_DIR)/leaf
	$(Q)$< $* $@ $(ELF_FIX_DIR)/leaf-$*.maps
# Shared objects whose internals are hidden (the HIDDEN attribute), as in libuv.so.
FAKE_LIBUV_CFLAGS := -g -fno-omit-frame-pointer -fPIC -shared -Wl,--build-id=sha1

$(ELF_FIX_DIR)/fake-libuv.so: $(ELF_FIX_SRC)/fake_libuv.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 $(FAKE_LIBUV_CFLAGS) $< -o $@

$(ELF_FIX_DIR)/fake-libuv-O0.so: $(ELF_FIX_SRC)/fake_libuv.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O0 $(FAKE_LIBUV_CFLAGS) $< -o $@

$(ELF_FIX_DIR)/fake-libuv-nodebug.so: $(ELF_FIX_DIR)/fake-libuv.so
	$(call msg,FIXTURE,$@)
	$(Q)strip --strip-debug -o $@ $<

$(ELF_FIX_DIR)/fake-libuv-stripped.so: $(ELF_FIX_DIR)/fake-libuv.so
	$(call msg,FIXTURE,$@)
	$(Q)strip -o $@ $<
