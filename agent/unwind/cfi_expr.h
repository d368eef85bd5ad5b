/* SPDX-License-Identifier: MIT */
/*
 * The DWARF expressions of call frame information, evaluated against one frame's registers and
 * the copied stack: the CFA rule (DW_CFA_def_cfa_expression, or the register + offset rule that
 * libdw hands out as DW_OP_bregx) and the register rules of dwarf_frame_register.
 *
 * Only what CFI of x86-64 code uses is supported (literals, registers, arithmetic and
 * comparisons, DW_OP_deref from the copy, DW_OP_call_frame_cfa, DW_OP_stack_value); anything
 * else fails the frame. The expressions come from the target's files: the evaluation is
 * bounded (no branches are followed, a fixed stack depth) and never reads outside the copy.
 */
#ifndef UVSCOPE_CFI_EXPR_H
#define UVSCOPE_CFI_EXPR_H

#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* DWARF register numbers of x86-64 (System V psABI): 0-15 general registers, 16 the RA. */
enum uvs_dwarf_reg {
	UVS_DW_RBP = 6,
	UVS_DW_RSP = 7,
	UVS_DW_RA = 16,
	UVS_DW_NREGS = 17,
};

/* The registers known in one frame: value and a bit per register number in `valid`. */
struct uvs_cfi_regs {
	uint64_t v[UVS_DW_NREGS];
	uint32_t valid;
};

/*
 * Where the stack above a copy may still be read, when its owner vouches that it is the same
 * stack the copy was taken of (uvs_unwind_copy_beyond): read() gives the word at addr, false
 * when it cannot.
 */
struct uvs_stack_beyond {
	bool (*read)(void *ctx, uint64_t addr, uint64_t *out);
	void *ctx;
};

/* The bytes [base, base + len) of the target's stack, as copied, and what lies above them. */
struct uvs_stack_bytes {
	const uint8_t *data;
	uint64_t base;
	size_t len;
	const struct uvs_stack_beyond *beyond; /* NULL: nothing outside the copy */
};

/*
 * Reads the 8-byte word at addr from the copy; a word wholly above it from s->beyond, when
 * given; false when it cannot be had.
 */
bool uvs_stack_read(const struct uvs_stack_bytes *s, uint64_t addr, uint64_t *out);

/* What an expression yielded: a location (the register is saved there) or a value. */
struct uvs_cfi_result {
	uint64_t word;
	bool is_value;
};

/*
 * Evaluates ops[0..nops) with regs, the copy, and cfa for DW_OP_call_frame_cfa (has_cfa false:
 * that op fails, as in the CFA rule itself). A lone DW_OP_regx / DW_OP_regN yields that
 * register's value (the "register" rule). Returns 0, or -EINVAL for an unsupported or malformed
 * expression, -ENOENT when it needs a register not known or a word outside the copy.
 */
int uvs_cfi_eval(const Dwarf_Op *ops, size_t nops, const struct uvs_cfi_regs *regs,
		 const struct uvs_stack_bytes *stack, bool has_cfa, uint64_t cfa,
		 struct uvs_cfi_result *out);

#endif
