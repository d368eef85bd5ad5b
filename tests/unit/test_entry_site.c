// SPDX-License-Identifier: MIT
/*
 * Where a uprobe for a function's entry may go (target/entry_site.c): on fixture bytes, most of
 * them copied from official node builds (objdump -d), and on every official node on this
 * machine against objdump's disassembly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "target/entry_site.h"

#define CALL_ARGS (UVS_ARG_RDI | UVS_ARG_RSI | UVS_ARG_RDX | UVS_ARG_RCX)

/* uv_queue_work of Node 24.22.3 at 0x1a33c20 (178 bytes): test %rdx,%rdx; je; push %rbp; ... */
static const uint8_t queue_work_24[] = {
	0x48, 0x85, 0xd2, 0x0f, 0x84, 0xa3, 0x00, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5, 0x41, 0x54,
	0x49, 0x89, 0xfc, 0x53, 0x48, 0x89, 0xf3, 0xc7, 0x46, 0x08, 0x07, 0x00, 0x00, 0x00, 0x83,
	0x47, 0x20, 0x01, 0x48, 0x89, 0x7e, 0x40, 0xbf, 0x70, 0x5a, 0xbc, 0x06, 0x48, 0x89, 0x56,
	0x48, 0x48, 0x89, 0x4e, 0x50, 0xbe, 0x00, 0x37, 0xa3, 0x01, 0xe8, 0x54, 0x40, 0x01, 0x00,
	0xb8, 0x30, 0x34, 0xa3, 0x01, 0x4c, 0x89, 0x63, 0x68, 0xbf, 0x00, 0x5a, 0xbc, 0x06, 0x66,
	0x48, 0x0f, 0x6e, 0xc0, 0x4c, 0x8d, 0x63, 0x70, 0x0f, 0x16, 0x05, 0xae, 0xd9, 0x3f, 0x02,
	0x0f, 0x11, 0x43, 0x58, 0xe8, 0xad, 0x3e, 0x01, 0x00, 0x48, 0x8b, 0x05, 0x1e, 0x1d, 0x19,
	0x05, 0x48, 0xc7, 0x43, 0x70, 0xa0, 0x59, 0xbc, 0x06, 0x48, 0x89, 0x43, 0x78, 0x4c, 0x89,
	0x20, 0x8b, 0x05, 0x51, 0x1d, 0x19, 0x05, 0x4c, 0x89, 0x25, 0x02, 0x1d, 0x19, 0x05, 0x85,
	0xc0, 0x75, 0x16, 0xbf, 0x00, 0x5a, 0xbc, 0x06, 0xe8, 0xcc, 0x3e, 0x01, 0x00, 0x5b, 0x31,
	0xc0, 0x41, 0x5c, 0x5d, 0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xbf, 0x40, 0x5a, 0xbc, 0x06,
	0xe8, 0x26, 0x44, 0x01, 0x00, 0xeb, 0xde, 0xb8, 0xea, 0xff, 0xff, 0xff, 0xc3,
};
#define QUEUE_WORK_24 0x1a33c20

/* uv__queue_done of Node 22.23.5 at 0x1d36ea0: loads, test, je; ...; jmp *%rax (a tail call). */
static const uint8_t queue_done_22[] = {
	0x48, 0x8b, 0x57, 0xe8, 0x8b, 0x42, 0x20, 0x85, 0xc0, 0x74, 0x1e, 0x83, 0xe8, 0x01, 0x89,
	0x42, 0x20, 0x48, 0x8b, 0x47, 0xf8, 0x48, 0x85, 0xc0, 0x74, 0x0e, 0x4c, 0x8d, 0x47, 0xa8,
	0x4c, 0x89, 0xc7, 0xff, 0xe0, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3, 0x55, 0xb9, 0x58, 0x9f,
	0xec, 0x03, 0xba, 0x68, 0x01, 0x00, 0x00, 0xbe, 0x10, 0x9f, 0xec, 0x03, 0xbf, 0x40, 0x9c,
	0xec, 0x03, 0x48, 0x89, 0xe5, 0xe8, 0xea, 0x13, 0x10, 0xff,
};

/* uv__queue_work of Node 20.20.2: lea -0x58(%rdi),%r8; mov -0x10(%rdi),%rax; mov %r8,%rdi;
 * jmp *%rax. No emulated instruction before it hands the job to its callback. */
static const uint8_t queue_work_20[] = {
	0x4c, 0x8d, 0x47, 0xa8, 0x48, 0x8b, 0x47, 0xf0, 0x4c, 0x89, 0xc7, 0xff, 0xe0,
};

static struct uvs_entry_site site_of(const uint8_t *bytes, size_t len, uint64_t addr,
				     const struct uvs_code *cold, unsigned args, bool ret,
				     char *why, size_t cap)
{
	struct uvs_code fn = { .bytes = bytes, .len = len, .addr = addr };
	struct uvs_entry_site s;

	cr_assert_eq(uvs_entry_site_find(&fn, cold, args, ret, &s, why, cap), 0);
	return s;
}

Test(entry_site, push_at_the_start_is_the_site)
{
	static const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0x5d, 0xc3 }; /* push rbp; ... */
	char why[200];
	struct uvs_entry_site s = site_of(code, sizeof(code), 0x1000, NULL, CALL_ARGS, true, why,
					  sizeof(why));

	cr_expect_eq(s.addr, 0x1000);
	cr_expect(s.emulated);
	cr_expect_str_eq(s.insn, "push rbp");
	cr_expect_str_eq(why, "");
}

/* Node 24's uv_queue_work: `test %rdx,%rdx` writes only flags, so the `je` after it is the site. */
Test(entry_site, uv_queue_work_of_node_24_at_its_je)
{
	char why[200];
	struct uvs_entry_site s = site_of(queue_work_24, sizeof(queue_work_24), QUEUE_WORK_24, NULL,
					  CALL_ARGS, false, why, sizeof(why));

	cr_expect_eq(s.addr, QUEUE_WORK_24 + 3, "site at 0x%" PRIx64, s.addr);
	cr_expect(s.emulated);
	cr_expect_str_eq(s.insn, "je 0x1a33ccc");
	cr_expect_str_eq(why, "");
	/* A return probe there finds the return address where the entry had it. */
	s = site_of(queue_work_24, sizeof(queue_work_24), QUEUE_WORK_24, NULL, CALL_ARGS, true,
		    why, sizeof(why));
	cr_expect_eq(s.addr, QUEUE_WORK_24 + 3);
}

/* The same bytes with the `je` retargeted at itself: a branch lands on the site. */
Test(entry_site, a_branch_into_the_prefix_is_refused)
{
	uint8_t code[sizeof(queue_work_24)];
	int32_t rel = -6; /* je rel32 is 6 bytes long: back to its own start */
	char why[200];
	struct uvs_entry_site s;

	memcpy(code, queue_work_24, sizeof(code));
	cr_assert(code[3] == 0x0f && code[4] == 0x84);
	memcpy(code + 5, &rel, sizeof(rel));
	s = site_of(code, sizeof(code), QUEUE_WORK_24, NULL, CALL_ARGS, false, why, sizeof(why));
	cr_expect_eq(s.addr, QUEUE_WORK_24, "refused: the start");
	cr_expect(!s.emulated);
	cr_expect_str_eq(s.insn, "test rdx, rdx");
	cr_expect(strstr(why, "the branch at 0x1a33c23 lands at 0x1a33c23"), "%s", why);
}

/* A GCC .cold part that jumps back into the prefix counts as well. */
Test(entry_site, a_branch_from_the_cold_part_is_refused)
{
	/* jmp rel32 from 0x2000 to QUEUE_WORK_24 + 3 */
	int32_t rel = (int32_t)(QUEUE_WORK_24 + 3 - (0x2000 + 5));
	uint8_t cold[5] = { 0xe9 };
	struct uvs_code c = { .bytes = cold, .len = sizeof(cold), .addr = 0x2000 };
	char why[200];
	struct uvs_entry_site s;

	memcpy(cold + 1, &rel, sizeof(rel));
	s = site_of(queue_work_24, sizeof(queue_work_24), QUEUE_WORK_24, &c, CALL_ARGS, false, why,
		    sizeof(why));
	cr_expect_eq(s.addr, QUEUE_WORK_24);
	cr_expect(strstr(why, "the branch at 0x2000"), "%s", why);
}

/* uv__queue_work on Node 20 overwrites rdi (its argument) before its only exit, a jmp *%rax. */
Test(entry_site, an_argument_overwritten_keeps_the_start)
{
	char why[200];
	struct uvs_entry_site s = site_of(queue_work_20, sizeof(queue_work_20), 0x18a7ab0, NULL,
					  UVS_ARG_RDI, true, why, sizeof(why));

	cr_expect_eq(s.addr, 0x18a7ab0);
	cr_expect(!s.emulated, "the kernel single-steps `lea`");
	cr_expect_str_eq(s.insn, "lea r8, [rdi - 0x58]");
	cr_expect(strstr(why, "`mov rdi, r8` at 0x18a7ab8 overwrites an argument"), "%s", why);
}

/*
 * uv__queue_done: its first instructions would do (loads into rdx and eax, a test, then `je`),
 * but it leaves through `jmp *%rax`, which could land anywhere in it: refused.
 */
Test(entry_site, an_indirect_jump_in_the_function_is_refused)
{
	char why[200];
	struct uvs_entry_site s = site_of(queue_done_22, sizeof(queue_done_22), 0x1d36ea0, NULL,
					  UVS_ARG_RDI, false, why, sizeof(why));

	cr_expect_eq(s.addr, 0x1d36ea0);
	cr_expect(!s.emulated);
	cr_expect(strstr(why, "indirect jump at 0x1d36ec1"), "%s", why);
}

/* uv_fs_utime of Node 24.22.3 at 0x1a3ef40: unpcklpd %xmm1,%xmm0; test %rsi,%rsi; je; push. */
Test(entry_site, node_24s_uv_fs_utime_at_its_je)
{
	static const uint8_t utime_24[] = {
		0x66, 0x0f, 0x14, 0xc1, 0x48, 0x85, 0xf6, 0x0f, 0x84, 0xd6, 0x00, 0x00, 0x00, 0x55,
		0xc3,
	};
	/* unpcklpd %xmm1,(%rdi) would be a store: refused. Not encodable (the destination of
	 * unpcklpd is a register); movaps %xmm0,(%rdi) stands for it. */
	static const uint8_t store_24[] = { 0x0f, 0x29, 0x07, 0x48, 0x85, 0xf6, 0x74, 0x00, 0xc3 };
	char why[200];
	struct uvs_entry_site s = site_of(utime_24, sizeof(utime_24), 0x1a3ef40, NULL,
					  UVS_ARG_RSI | UVS_ARG_RCX, true, why, sizeof(why));

	cr_expect_eq(s.addr, 0x1a3ef47, "%s", why);
	cr_expect(s.emulated);
	s = site_of(store_24, sizeof(store_24), 0x1000, NULL, UVS_ARG_RSI, true, why, sizeof(why));
	cr_expect_eq(s.addr, 0x1000);
	cr_expect(strstr(why, "writes memory"), "%s", why);
}

/* What a prefix may not do: move the stack pointer under a return probe, store to memory. */
Test(entry_site, stack_and_memory_writes_are_refused)
{
	/* sub $8,%rsp; je +0; ret */
	static const uint8_t sub_rsp[] = { 0x48, 0x83, 0xec, 0x08, 0x74, 0x00, 0xc3 };
	/* mov %rsi,(%rdi); je +0; ret */
	static const uint8_t store[] = { 0x48, 0x89, 0x37, 0x74, 0x00, 0xc3 };
	char why[200];
	struct uvs_entry_site s;

	s = site_of(sub_rsp, sizeof(sub_rsp), 0x3000, NULL, UVS_ARG_RDI, true, why, sizeof(why));
	cr_expect_eq(s.addr, 0x3000);
	cr_expect(strstr(why, "moves the stack pointer"), "%s", why);
	/* Without a return probe the stack pointer does not matter. */
	s = site_of(sub_rsp, sizeof(sub_rsp), 0x3000, NULL, UVS_ARG_RDI, false, why, sizeof(why));
	cr_expect_eq(s.addr, 0x3004);
	cr_expect(s.emulated);
	s = site_of(store, sizeof(store), 0x3000, NULL, UVS_ARG_RDI, false, why, sizeof(why));
	cr_expect_eq(s.addr, 0x3000);
	cr_expect(strstr(why, "writes memory"), "%s", why);
}

Test(entry_site, no_emulated_instruction_near_the_start)
{
	uint8_t code[40];
	char why[200];
	struct uvs_entry_site s;
	size_t i;

	for (i = 0; i + 3 <= sizeof(code); i += 3) { /* mov %rax,%rbx, over and over */
		code[i] = 0x48;
		code[i + 1] = 0x89;
		code[i + 2] = 0xc3;
	}
	s = site_of(code, i, 0x4000, NULL, UVS_ARG_RDI, false, why, sizeof(why));
	cr_expect_eq(s.addr, 0x4000);
	cr_expect(!s.emulated);
	cr_expect(strstr(why, "no instruction the kernel emulates in the first 9"), "%s", why);
}

Test(entry_site, bad_input)
{
	static const uint8_t invalid[] = { 0x06 }; /* push %es: not an instruction in 64-bit mode */
	struct uvs_code fn = { .bytes = invalid, .len = sizeof(invalid), .addr = 0x5000 };
	struct uvs_entry_site s;
	char why[200];

	cr_expect_eq(uvs_entry_site_find(&fn, NULL, 0, false, &s, why, sizeof(why)), -EINVAL);
	fn.len = 0;
	cr_expect_eq(uvs_entry_site_find(&fn, NULL, 0, false, &s, why, sizeof(why)), -EINVAL);
}

/*
 * On each official node here (this machine's and the ones the tests fetched): uv_queue_work's
 * site is its start when objdump shows `push %rbp` there, else the `je` objdump shows right
 * after `test %rdx,%rdx`; node's callbacks and uv__fs_work are probed at their `push %rbp`.
 */
static void objdump_first(const char *node, uint64_t addr, char insns[2][64])
{
	char cmd[512], line[256];
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn --start-address=0x%" PRIx64
		 " --stop-address=0x%" PRIx64 " %s | grep -E '^ +[0-9a-f]+:'", addr, addr + 16, node);
	p = popen(cmd, "r");
	cr_assert(p);
	while (n < 2 && fgets(line, sizeof(line), p)) {
		char *tab = strchr(line, '\t');

		snprintf(insns[n++], 64, "%s", tab ? tab + 1 : "");
		insns[n - 1][strcspn(insns[n - 1], "\n")] = '\0';
	}
	pclose(p);
}

static void check_node(const char *node)
{
	struct uvs_elf *elf = uvs_elf_open(node);
	struct uvs_elf_symbol sym;
	struct uvs_entry_site s;
	char insns[2][64] = { "", "" }, why[200];
	uint64_t off;

	cr_assert(elf, "%s", node);
	cr_assert_eq(uvs_elf_find_function(elf, "uv_queue_work", &sym), 0);
	cr_assert_eq(uvs_entry_site_of(elf, "uv_queue_work", &sym, CALL_ARGS, false, &s, &off, why,
				       sizeof(why)), 0);
	objdump_first(node, sym.addr, insns);
	cr_expect(s.emulated, "%s: %s", node, why);
	if (strncmp(insns[0], "push   %rbp", 11) == 0) {
		cr_expect_eq(s.addr, sym.addr, "%s", node);
	} else {
		cr_expect_str_eq(insns[0], "test   %rdx,%rdx", "%s", node);
		cr_expect(strncmp(insns[1], "je ", 3) == 0, "%s: %s", node, insns[1]);
		cr_expect_eq(s.addr, sym.addr + 3, "%s", node);
	}
	cr_expect_eq(off - sym.file_offset, s.addr - sym.addr);
	cr_assert_eq(uvs_elf_find_function(elf, "uv__fs_work", &sym), 0);
	cr_assert_eq(uvs_entry_site_of(elf, "uv__fs_work", &sym, UVS_ARG_RDI, true, &s, &off, why,
				       sizeof(why)), 0);
	cr_expect(s.emulated && s.addr == sym.addr && strcmp(s.insn, "push rbp") == 0, "%s", node);
	uvs_elf_close(elf);
}

Test(entry_site, official_nodes_match_objdump)
{
	static const char *const nodes[] = { "/usr/bin/node", ".output/node/18/bin/node",
					     ".output/node/22/bin/node", ".output/node/24/bin/node",
					     ".output/node/26/bin/node" };
	struct uvs_elf_symbol sym;
	size_t i, checked = 0;

	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		struct uvs_elf *elf = access(nodes[i], R_OK) == 0 ? uvs_elf_open(nodes[i]) : NULL;
		bool official = elf && uvs_elf_find_function(elf, "uv_queue_work", &sym) == 0 &&
				!sym.from_dynsym;

		uvs_elf_close(elf);
		if (!official)
			continue;
		check_node(nodes[i]);
		checked++;
	}
	if (!checked)
		cr_skip_test("no official node build here: no real-world check");
}
