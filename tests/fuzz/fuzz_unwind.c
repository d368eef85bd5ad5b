// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the CFI unwinder (agent/unwind) on arbitrary registers and stack bytes,
 * over the objects of the fuzzer's own process (their real .eh_frame, libc's and the
 * fuzzer's). It must never read outside the copy, never crash, never loop: at most cap
 * frames, each above the last.
 *
 * Input: ip, sp, bp (8 bytes each, little-endian), one byte of flags, then the stack copy.
 * Random 64-bit values would almost never be pcs with CFI or frame pointers inside the copy,
 * so some are moved where they mean something:
 *   flag 1: ip is taken into the fuzzer's own code (an offset from its text)
 *   flag 2: bp is taken into the copy (an offset from sp)
 *   flag 4: the copy starts 128 bytes below sp (the red zone)
 *   flag 8: the bytes after the flags are also read as a DWARF expression (17 bytes an op:
 *           atom, number, number2), evaluated by uvs_cfi_eval over the copy, as an
 *           expression in a target's .eh_frame would be
 *   copy words 0xfeedXXXXXXXXXXXX become the fuzzer's text + X, 0xfee0XXXXXXXXXXXX sp + X.
 */
#include <linux/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unwind/cfi_expr.h"
#include "unwind/cfi_unwind.h"

#define FRAMES_CAP 96
#define STACK_BASE 0x7ffc00000000ull
#define TEXT_SPAN 0x100000ull /* the fuzzer's own code and libFuzzer's, around the target */

static struct uvs_unwinder *unwinder;

static uint64_t text_base(void)
{
	uint64_t here = (uint64_t)(uintptr_t)&text_base;

	return here > TEXT_SPAN / 2 ? here - TEXT_SPAN / 2 : 0;
}

static uint64_t rebase(uint64_t word, uint64_t sp)
{
	switch (word >> 48) {
	case 0xfeed: return text_base() + (word & 0xffffffffffffull) % TEXT_SPAN;
	case 0xfee0: return sp + (word & 0xffffull);
	default: return word;
	}
}

static void expression(const uint8_t *bytes, size_t len, uint64_t sp, const uint8_t *copy,
		       size_t copy_len)
{
	Dwarf_Op ops[64];
	size_t nops = 0;
	struct uvs_cfi_regs regs = { .valid = 0x1ffff };
	struct uvs_stack_bytes stack = { .data = copy, .base = sp, .len = copy_len };
	struct uvs_cfi_result res;

	for (; nops < 64 && len >= 17; nops++, bytes += 17, len -= 17) {
		ops[nops] = (Dwarf_Op){ .atom = bytes[0] };
		memcpy(&ops[nops].number, bytes + 1, 8);
		memcpy(&ops[nops].number2, bytes + 9, 8);
	}
	for (int r = 0; r < UVS_DW_NREGS; r++)
		regs.v[r] = sp + 8 * (uint64_t)r;
	uvs_cfi_eval(ops, nops, &regs, &stack, true, sp + 64, &res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uvs_raw_frame out[FRAMES_CAP];
	uint64_t ip, sp, bp, base;
	uint8_t flags, *copy;
	size_t len;
	bool complete;
	int n;

	if (!unwinder)
		unwinder = uvs_unwinder_new(getpid());
	if (!unwinder)
		abort();
	if (size < 25)
		return 0;
	memcpy(&ip, data, 8);
	memcpy(&sp, data + 8, 8);
	memcpy(&bp, data + 16, 8);
	flags = data[24];
	len = size - 25;
	if (flags & 2)
		sp = STACK_BASE;
	if (flags & 1)
		ip = text_base() + ip % TEXT_SPAN;
	if (flags & 2)
		bp = sp + (bp & 0xffff);
	base = (flags & 4) ? sp - 128 : sp;
	/* An exact-size heap copy: one byte read past it is an ASan report. */
	copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 25, len);
	for (size_t off = 0; off + 8 <= len; off += 8) {
		uint64_t w;

		memcpy(&w, copy + off, 8);
		w = rebase(w, sp);
		memcpy(copy + off, &w, 8);
	}
	if (flags & 8)
		expression(data + 25, len, sp, copy, len);
	n = uvs_unwind_copy_at(unwinder, ip, sp, bp, base, copy, len, out, FRAMES_CAP, &complete);
	if (n < 1 || n > FRAMES_CAP || out[0].pc != ip)
		abort();
	free(copy);
	return 0;
}
