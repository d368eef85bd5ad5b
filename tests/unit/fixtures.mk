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

ELF_FIX_OBJS := nopie pie stripped libfixture.so
UNIT_FIXTURES := $(addprefix $(ELF_FIX_DIR)/,$(ELF_FIX_OBJS) \
			$(addsuffix .buildid,$(ELF_FIX_OBJS)) \
			nopie.nm pie.nm libfixture.so.nm \
			truncated corrupt-shoff prog.o not-elf.txt fake-node \
			v8-heap v8-heap.nm v8-heap-stripped)

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

# Functions named like V8's collector and its clones (test_gc.c).
$(ELF_FIX_DIR)/v8-heap: $(ELF_FIX_SRC)/v8_heap.c $(ELF_FIX_DEPS)
	$(call msg,FIXTURE,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ELF_FIX_CFLAGS) -fPIE -pie -rdynamic $< -o $@

$(ELF_FIX_DIR)/v8-heap-stripped: $(ELF_FIX_DIR)/v8-heap
	$(call msg,FIXTURE,$@)
	$(Q)strip -o $@ $<

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
