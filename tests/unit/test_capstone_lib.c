// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/target/capstone_lib.c: libcapstone is in the process's memory map
 * exactly while a hold or a decoder is open (each test runs in its own process, which never
 * linked it), and decodes through it as capstone itself does.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "target/capstone_lib.h"

/* True when /proc/self/maps has a mapping of libcapstone. */
static bool capstone_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, "/libcapstone.so") != NULL;
	fclose(f);
	return found;
}

Test(capstone_lib, loaded_only_while_held)
{
	cr_assert_not(capstone_mapped(), "uvscope must not be linked with libcapstone");
	cr_assert_eq(uvs_capstone_hold(), 0, "%s", uvs_capstone_error());
	cr_expect(capstone_mapped());
	cr_assert_eq(uvs_capstone_hold(), 0);
	uvs_capstone_release();
	cr_expect(capstone_mapped(), "one hold is left");
	uvs_capstone_release();
	cr_expect_not(capstone_mapped());
}

Test(capstone_lib, a_decoder_holds_the_library_until_closed)
{
	/* push %rbp; mov %rsp,%rbp; call rel32 (+0); ret */
	static const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0xe8, 0, 0, 0, 0, 0xc3 };
	static const unsigned int ids[] = { X86_INS_PUSH, X86_INS_MOV, X86_INS_CALL, X86_INS_RET };
	const uint8_t *p = code;
	size_t len = sizeof(code), n = 0;
	uint64_t addr = 0x1000;
	cs_insn *insn;
	csh h;

	cr_assert_eq(uvs_cs_open(&h), 0, "%s", uvs_capstone_error());
	insn = uvs_cs_malloc(h);
	cr_assert(insn);
	while (uvs_cs_disasm_iter(h, &p, &len, &addr, insn)) {
		cr_assert_lt(n, sizeof(ids) / sizeof(ids[0]));
		cr_expect_eq(insn->id, ids[n], "instruction %zu is %s", n, insn->mnemonic);
		cr_expect_eq(uvs_cs_insn_group(h, insn, X86_GRP_CALL), ids[n] == X86_INS_CALL);
		n++;
	}
	cr_expect_eq(n, 4);
	cr_expect_eq(addr, 0x1000 + sizeof(code));
	uvs_cs_free(insn, 1);
	cr_expect(capstone_mapped());
	uvs_cs_close(&h);
	cr_expect_not(capstone_mapped());
}
