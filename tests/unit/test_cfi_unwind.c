// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/unwind (the CFI unwinder, its expression evaluator, the maps reader).
 *
 * The ground truth is tests/fixtures/unwind/chain.c: a real process, run at build time, whose
 * stack main -> a -> b -> c has no frame pointers and a junk %rbp in c. The names the unwound
 * pcs must have come from `nm -S` of that fixture, the load bias from the address of main the
 * fixture recorded, not from the code under test.
 */
#include <dwarf.h>
#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture_files.h"
#include "unwind/cfi_expr.h"
#include "unwind/cfi_objects.h"
#include "unwind/cfi_unwind.h"
#include "unwind/proc_objects.h"
#include "../fixtures/unwind/chain.h"

#define CLOBBERED_RBP 0x5a5a5a5a5a5a5a5aull

struct capture {
	struct chain_capture regs;
	const uint8_t *stack;
	uint8_t *file;
};

static struct capture load_capture(const char *name)
{
	struct capture c;
	size_t len;

	c.file = slurp(fx(name), &len);
	cr_assert_geq(len, sizeof(c.regs));
	memcpy(&c.regs, c.file, sizeof(c.regs));
	cr_assert_eq(len, sizeof(c.regs) + c.regs.len, "chain.capture: %zu bytes", len);
	c.stack = c.file + sizeof(c.regs);
	return c;
}

/* The function of a fixture's `nm -S` listing (nm) that holds vaddr, or "?" (outside it). */
static const char *nm_function_at(const char *nm, uint64_t vaddr, char *name, size_t cap)
{
	char path[4200], line[512], sym[256];
	unsigned long v, sz;
	char type;
	FILE *f;

	snprintf(path, sizeof(path), "%s", fx(nm));
	f = fopen(path, "r");
	cr_assert(f, "cannot open %s (run `make unit`)", path);
	snprintf(name, cap, "?");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %lx %c %255s", &v, &sz, &type, sym) == 4 &&
		    (type == 'T' || type == 't') && vaddr >= v && vaddr < v + sz)
			snprintf(name, cap, "%s", sym);
	}
	fclose(f);
	return name;
}

static uint64_t nm_main(const char *nm)
{
	char path[4200], line[512], sym[256];
	unsigned long v, sz;
	char type;
	FILE *f;

	snprintf(path, sizeof(path), "%s", fx(nm));
	f = fopen(path, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %lx %c %255s", &v, &sz, &type, sym) == 4 && !strcmp(sym, "main")) {
			fclose(f);
			return v;
		}
	}
	cr_assert_fail("no main in %s", path);
	return 0;
}

static struct uvs_unwinder *chain_unwinder(const char *maps, struct uvs_proc_objects **objs)
{
	struct uvs_object_source src;
	struct uvs_unwinder *u;

	*objs = uvs_proc_objects_from_file(fx(maps));
	cr_assert(*objs, "chain.maps: %s", strerror(errno));
	src = uvs_proc_objects_source(*objs);
	u = uvs_unwinder_new_with_source(&src);
	cr_assert(u);
	return u;
}

Test(cfi_unwind, chain_without_frame_pointers_unwinds_to_main)
{
	struct capture c = load_capture("chain.capture");
	struct uvs_raw_frame out[32];
	struct uvs_proc_objects *objs;
	struct uvs_unwinder *u = chain_unwinder("chain.maps", &objs);
	const char *want[] = { "c", "b", "a", "main" };
	uint64_t bias = c.regs.main_addr - nm_main("chain.nm");
	struct uvs_unwind_stats st;
	char name[256];
	bool complete;
	int n;

	/* The frame-pointer walk cannot start: %rbp points nowhere near the stack. */
	cr_assert_eq(c.regs.bp, CLOBBERED_RBP);
	n = uvs_unwind_copy(u, c.regs.ip, c.regs.sp, c.regs.bp, c.stack, c.regs.len, out, 32,
			    &complete);
	cr_assert_geq(n, 4, "only %d frames", n);
	for (int i = 0; i < 4; i++) {
		/* A return address names its call: the byte before it. */
		uint64_t vaddr = out[i].pc - bias - (i > 0);

		cr_expect_str_eq(nm_function_at("chain.nm", vaddr, name, sizeof(name)), want[i],
				 "frame %d: pc %#llx", i, (unsigned long long)out[i].pc);
	}
	cr_expect_eq(out[0].pc, c.regs.ip);
	cr_expect_eq(out[0].fp, CLOBBERED_RBP);
	/* Past main: libc's __libc_start_call_main, __libc_start_main, then _start, outermost. */
	cr_expect(complete, "the walk stopped after %d frames", n);
	cr_expect_leq(n, 8);
	uvs_unwinder_stats(u, &st);
	cr_expect_eq(st.walks, 1);
	cr_expect_eq(st.cfi_steps, (uint64_t)n - 1);
	uvs_unwinder_free(u);
	uvs_proc_objects_free(objs);
	free(c.file);
}

/*
 * Two unwinders over the same objects (two targets of one binary) read each object's CFI once:
 * the second walk opens nothing, both walks give the same frames, and the objects are closed
 * when the last unwinder goes, not before.
 */
Test(cfi_unwind, two_unwinders_share_the_objects_cfi)
{
	struct capture c = load_capture("chain.capture");
	struct uvs_raw_frame out1[32], out2[32];
	struct uvs_proc_objects *objs1, *objs2;
	struct uvs_unwinder *u1 = chain_unwinder("chain.maps", &objs1);
	struct uvs_unwinder *u2 = chain_unwinder("chain.maps", &objs2);
	size_t opened;
	bool complete;
	int n1, n2;

	cr_assert_eq(uvs_cfi_objects_open(), 0);
	n1 = uvs_unwind_copy(u1, c.regs.ip, c.regs.sp, c.regs.bp, c.stack, c.regs.len, out1, 32,
			     &complete);
	cr_assert_geq(n1, 4);
	/* The fixture and libc at least. */
	opened = uvs_cfi_objects_open();
	cr_expect_geq(opened, 2);
	n2 = uvs_unwind_copy(u2, c.regs.ip, c.regs.sp, c.regs.bp, c.stack, c.regs.len, out2, 32,
			     &complete);
	cr_expect_eq(uvs_cfi_objects_open(), opened);
	cr_assert_eq(n2, n1);
	for (int i = 0; i < n1; i++)
		cr_expect_eq(out2[i].pc, out1[i].pc, "frame %d", i);
	uvs_unwinder_free(u1);
	uvs_proc_objects_free(objs1);
	cr_expect_eq(uvs_cfi_objects_open(), opened);
	/* Still readable through the second one, after the first let go. */
	uvs_unwinder_forget_rows(u2);
	n2 = uvs_unwind_copy(u2, c.regs.ip, c.regs.sp, c.regs.bp, c.stack, c.regs.len, out2, 32,
			     &complete);
	cr_expect_eq(n2, n1);
	uvs_unwinder_free(u2);
	uvs_proc_objects_free(objs2);
	cr_expect_eq(uvs_cfi_objects_open(), 0);
	free(c.file);
}

/*
 * Through a signal handler: c, on_signal, then libc's trampoline, whose CFI takes every
 * register from the signal frame with DWARF expressions, libc's raise at the exact pc the
 * signal interrupted, and b, a, main.
 */
Test(cfi_unwind, through_a_signal_frame)
{
	struct capture c = load_capture("chain-signal.capture");
	struct uvs_raw_frame out[32];
	struct uvs_proc_objects *objs;
	struct uvs_unwinder *u = chain_unwinder("chain-signal.maps", &objs);
	const char *want[] = { "c", "on_signal", "?", "b", "a", "main" };
	uint64_t bias = c.regs.main_addr - nm_main("chain.nm");
	char name[256], seen[6][256];
	size_t nseen = 0;
	bool complete;
	int n;

	n = uvs_unwind_copy(u, c.regs.ip, c.regs.sp, c.regs.bp, c.stack, c.regs.len, out, 32,
			    &complete);
	cr_expect(complete, "the walk stopped after %d frames", n);
	/* The fixture's functions in order, runs of libc frames ("?") as one. */
	for (int i = 0; i < n && nseen < 6; i++) {
		nm_function_at("chain.nm", out[i].pc - bias - (i > 0), name, sizeof(name));
		if (nseen && !strcmp(name, "?") && !strcmp(seen[nseen - 1], "?"))
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
	}
	cr_assert_eq(nseen, 6, "%d frames", n);
	for (size_t i = 0; i < 6; i++)
		cr_expect_str_eq(seen[i], want[i], "function %zu", i);
	uvs_unwinder_free(u);
	uvs_proc_objects_free(objs);
	free(c.file);
}

Test(cfi_unwind, short_copy_stops_where_the_copy_ends)
{
	struct capture c = load_capture("chain.capture");
	struct uvs_raw_frame out[32];
	struct uvs_proc_objects *objs;
	struct uvs_unwinder *u = chain_unwinder("chain.maps", &objs);
	bool complete = true;
	int n;

	/* c's frame is 32 bytes (saved rbx, rbp, 8 of padding... and its return address at 24). */
	n = uvs_unwind_copy(u, c.regs.ip, c.regs.sp, c.regs.bp, c.stack, 32, out, 32, &complete);
	cr_expect_eq(n, 2);
	cr_expect_not(complete);
	n = uvs_unwind_copy(u, c.regs.ip, c.regs.sp, c.regs.bp, c.stack, 0, out, 32, &complete);
	cr_expect_eq(n, 1);
	cr_expect_not(complete);
	/* out[] full: cap frames, not complete. */
	n = uvs_unwind_copy(u, c.regs.ip, c.regs.sp, c.regs.bp, c.stack, c.regs.len, out, 3,
			    &complete);
	cr_expect_eq(n, 3);
	cr_expect_not(complete);
	uvs_unwinder_free(u);
	uvs_proc_objects_free(objs);
	free(c.file);
}

static int no_objects(void *ctx, uint64_t pc, int *fd, uint64_t *bias, const char **path)
{
	return -ENOENT;
}

/*
 * Code without CFI (JIT code in anonymous memory): the walk goes by frame pointer, each frame's
 * fp and its two slots below read from the copy, and ends at fp 0.
 */
Test(cfi_unwind, no_cfi_follows_frame_pointers_and_reads_the_slots)
{
	const uint64_t base = 0x7ffd00001000ull;
	uint64_t words[64] = { 0 };
	struct uvs_object_source src = { .object_at = no_objects };
	struct uvs_unwinder *u = uvs_unwinder_new_with_source(&src);
	struct uvs_raw_frame out[16];
	bool complete;
	int n;

	/* Frames at words 8 and 20: [fp] = caller's fp, [fp+8] = return address, fp-8, fp-16. */
	words[6] = 0x1616; words[7] = 0x0808;
	words[8] = base + 20 * 8; words[9] = 0x400100;
	words[18] = 0x2616; words[19] = 0x1808;
	words[20] = 0; words[21] = 0x400200;
	cr_assert(u);
	n = uvs_unwind_copy(u, 0x400000, base, base + 8 * 8, (const uint8_t *)words, sizeof(words),
			    out, 16, &complete);
	cr_assert_eq(n, 3);
	cr_expect(complete);
	cr_expect_eq(out[0].pc, 0x400000);
	cr_expect_eq(out[0].fp, base + 64);
	cr_expect_eq(out[0].slot_m8, 0x0808);
	cr_expect_eq(out[0].slot_m16, 0x1616);
	cr_expect_eq(out[1].pc, 0x400100);
	cr_expect_eq(out[1].fp, base + 160);
	cr_expect_eq(out[1].slot_m8, 0x1808);
	cr_expect_eq(out[1].slot_m16, 0x2616);
	cr_expect_eq(out[2].pc, 0x400200);
	cr_expect_eq(out[2].fp, 0);

	/* A frame pointer below sp, or a loop, ends the walk without completing it. */
	words[20] = base + 8 * 8;
	n = uvs_unwind_copy(u, 0x400000, base, base + 8 * 8, (const uint8_t *)words, sizeof(words),
			    out, 16, &complete);
	cr_expect_eq(n, 3);
	cr_expect_not(complete);
	n = uvs_unwind_copy(u, 0x400000, base + 16, base + 8, (const uint8_t *)words,
			    sizeof(words), out, 16, &complete);
	cr_expect_eq(n, 1);
	cr_expect_not(complete);
	uvs_unwinder_free(u);
}

/* A red-zone copy (from sp - 128): a word below sp is readable, and frame 0 is still sp's. */
Test(cfi_unwind, copy_base_below_sp)
{
	const uint64_t sp = 0x7ffd00002000ull;
	uint64_t words[48] = { 0 };
	struct uvs_object_source src = { .object_at = no_objects };
	struct uvs_unwinder *u = uvs_unwinder_new_with_source(&src);
	struct uvs_raw_frame out[4];
	bool complete;
	int n;

	/* base = sp - 128: words[16] is at sp; the frame at sp + 16 has fp 0 above it. */
	words[16 + 2] = 0;
	words[16 + 3] = 0x400300;
	words[16 + 1] = 0xabc; /* fp - 8 */
	n = uvs_unwind_copy_at(u, 0x400000, sp, sp + 16, sp - 128, (const uint8_t *)words,
			       sizeof(words), out, 4, &complete);
	cr_assert_eq(n, 2);
	cr_expect(complete);
	cr_expect_eq(out[0].slot_m8, 0xabc);
	cr_expect_eq(out[1].pc, 0x400300);
	uvs_unwinder_free(u);
}

/* ---- the expression evaluator -------------------------------------------------------------- */

static struct uvs_cfi_regs some_regs(void)
{
	struct uvs_cfi_regs r = { 0 };

	r.v[UVS_DW_RSP] = 0x1000;
	r.v[UVS_DW_RA] = 0x40100c; /* low nibble 12 */
	r.v[UVS_DW_RBP] = 0x2000;
	r.valid = (1u << UVS_DW_RSP) | (1u << UVS_DW_RA) | (1u << UVS_DW_RBP);
	return r;
}

/* glibc's and binutils' PLT rule: CFA = rsp + 8 + ((rip & 15) >= 11) << 3. */
Test(cfi_expr, plt_rule)
{
	const Dwarf_Op ops[] = {
		{ .atom = DW_OP_breg7, .number = 8 }, { .atom = DW_OP_breg16, .number = 0 },
		{ .atom = DW_OP_lit15 }, { .atom = DW_OP_and }, { .atom = DW_OP_lit11 },
		{ .atom = DW_OP_ge }, { .atom = DW_OP_lit3 }, { .atom = DW_OP_shl },
		{ .atom = DW_OP_plus },
	};
	struct uvs_cfi_regs r = some_regs();
	struct uvs_stack_bytes none = { 0 };
	struct uvs_cfi_result res;

	cr_assert_eq(uvs_cfi_eval(ops, 9, &r, &none, false, 0, &res), 0);
	cr_expect_eq(res.word, 0x1000 + 16);
	r.v[UVS_DW_RA] = 0x401005;
	cr_assert_eq(uvs_cfi_eval(ops, 9, &r, &none, false, 0, &res), 0);
	cr_expect_eq(res.word, 0x1000 + 8);
}

/* OpenSSL's sha512_block_data_order_avx2: CFA = *(rsp + 152) + 8, the saved rsp + 8. */
Test(cfi_expr, deref_reads_the_copy_only)
{
	const Dwarf_Op ops[] = {
		{ .atom = DW_OP_breg7, .number = 152 }, { .atom = DW_OP_deref },
		{ .atom = DW_OP_plus_uconst, .number = 8 },
	};
	uint64_t words[20] = { 0 };
	struct uvs_cfi_regs r = some_regs();
	struct uvs_stack_bytes s = { .data = (const uint8_t *)words, .base = 0x1000,
				     .len = sizeof(words) };
	struct uvs_cfi_result res;

	words[19] = 0x5000;
	cr_assert_eq(uvs_cfi_eval(ops, 3, &r, &s, false, 0, &res), 0);
	cr_expect_eq(res.word, 0x5008);
	cr_expect_not(res.is_value);
	s.len = sizeof(words) - 1; /* the saved word now ends past the copy */
	cr_expect_eq(uvs_cfi_eval(ops, 3, &r, &s, false, 0, &res), -ENOENT);
}

Test(cfi_expr, register_rules_and_errors)
{
	const Dwarf_Op val_offset[] = { { .atom = DW_OP_call_frame_cfa },
					{ .atom = DW_OP_plus_uconst, .number = 16 },
					{ .atom = DW_OP_stack_value } };
	const Dwarf_Op reg[] = { { .atom = DW_OP_regx, .number = UVS_DW_RBP } };
	const Dwarf_Op unknown_reg[] = { { .atom = DW_OP_breg3, .number = 0 } };
	const Dwarf_Op unsupported[] = { { .atom = DW_OP_lit1 }, { .atom = DW_OP_skip } };
	const Dwarf_Op underflow[] = { { .atom = DW_OP_plus } };
	struct uvs_cfi_regs r = some_regs();
	struct uvs_stack_bytes none = { 0 };
	struct uvs_cfi_result res;

	cr_assert_eq(uvs_cfi_eval(val_offset, 3, &r, &none, true, 0x3000, &res), 0);
	cr_expect_eq(res.word, 0x3010);
	cr_expect(res.is_value);
	cr_expect_eq(uvs_cfi_eval(val_offset, 3, &r, &none, false, 0, &res), -EINVAL);
	cr_assert_eq(uvs_cfi_eval(reg, 1, &r, &none, false, 0, &res), 0);
	cr_expect_eq(res.word, 0x2000);
	cr_expect(res.is_value);
	cr_expect_eq(uvs_cfi_eval(unknown_reg, 1, &r, &none, false, 0, &res), -ENOENT);
	cr_expect_eq(uvs_cfi_eval(unsupported, 2, &r, &none, false, 0, &res), -EINVAL);
	cr_expect_eq(uvs_cfi_eval(underflow, 1, &r, &none, false, 0, &res), -EINVAL);
	cr_expect_eq(uvs_cfi_eval(NULL, 0, &r, &none, false, 0, &res), -EINVAL);
}

/*
 * The caller a frame-pointer walk misses at a frameless leaf (tests/fixtures/unwind/leaf.c,
 * built with frame pointers: main -> outer -> middle -> leaf). The walk's second pc is
 * [%rbp + 8]; at a leaf with no frame of its own %rbp is still middle's, so that pc is in
 * outer, and middle is missed. Read from the capture's copy, as the BPF walk would.
 */
static uint64_t fp_walk_second_pc(const struct capture *c)
{
	uint64_t at = c->regs.bp + 8, pc;

	cr_assert(at >= c->regs.sp && at + 8 <= c->regs.sp + c->regs.len,
		  "%%rbp %#llx is not in the copied stack", (unsigned long long)c->regs.bp);
	memcpy(&pc, c->stack + (at - c->regs.sp), sizeof(pc));
	return pc;
}

static void check_leaf(const char *kind, const char *fp_names, const char *missed)
{
	char capture[64], maps[64], name[256];
	struct capture c;
	struct uvs_proc_objects *objs;
	struct uvs_unwinder *u;
	uint64_t bias, second, caller;

	snprintf(capture, sizeof(capture), "leaf-%s.capture", kind);
	snprintf(maps, sizeof(maps), "leaf-%s.maps", kind);
	c = load_capture(capture);
	u = chain_unwinder(maps, &objs);
	bias = c.regs.main_addr - nm_main("leaf.nm");
	second = fp_walk_second_pc(&c);
	/* A return address names its call: the byte before it. */
	cr_expect_str_eq(nm_function_at("leaf.nm", second - bias - 1, name, sizeof(name)), fp_names,
			 "%s: the frame-pointer walk's second pc %#llx", kind,
			 (unsigned long long)second);
	caller = uvs_unwind_missed_leaf_caller(u, c.regs.ip, c.regs.sp, c.regs.bp, c.regs.sp,
					       c.stack, c.regs.len, second);
	if (!missed)
		cr_expect_eq(caller, 0, "%s: said missed %#llx", kind, (unsigned long long)caller);
	else
		cr_expect_str_eq(caller ? nm_function_at("leaf.nm", caller - bias - 1, name,
							 sizeof(name))
					: "(none)",
				 missed, "%s: the missed caller", kind);
	uvs_unwinder_free(u);
	uvs_proc_objects_free(objs);
	free(c.file);
}

Test(cfi_unwind, missed_caller_of_a_leaf_without_a_frame)
{
	check_leaf("frameless", "outer", "middle");
}

/* After `pop %rbp`: %rbp's CFI rule reads below %rsp, outside the copy; the caller is found. */
Test(cfi_unwind, missed_caller_of_a_leaf_after_its_pop)
{
	check_leaf("popped", "outer", "middle");
}

/* The control: a leaf with its own frame; the walk's second pc is its caller, nothing missed. */
Test(cfi_unwind, nothing_missed_where_the_leaf_has_a_frame)
{
	check_leaf("framed", "middle", NULL);
}
