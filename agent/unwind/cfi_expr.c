// SPDX-License-Identifier: MIT
#include <dwarf.h>
#include <errno.h>
#include <string.h>

#include "unwind/cfi_expr.h"

/* Deeper than any CFI expression compilers and OpenSSL's perlasm write (they use 3 or 4). */
#define EXPR_STACK_MAX 16

bool uvs_stack_read(const struct uvs_stack_bytes *s, uint64_t addr, uint64_t *out)
{
	uint64_t off;

	if (!s->data || addr < s->base)
		return false;
	off = addr - s->base;
	if (off >= s->len && s->beyond && s->beyond->read)
		return s->beyond->read(s->beyond->ctx, addr, out);
	if (off > s->len || s->len - off < sizeof(*out))
		return false;
	memcpy(out, s->data + off, sizeof(*out));
	return true;
}


static int reg_value(const struct uvs_cfi_regs *regs, uint64_t regno, uint64_t *out)
{
	if (regno >= UVS_DW_NREGS || !(regs->valid & (1u << regno)))
		return -ENOENT;
	*out = regs->v[regno];
	return 0;
}


/* Binary operators: pops b then a, pushes a OP b. Returns false for an unknown atom. */
static bool binary_op(uint8_t atom, uint64_t a, uint64_t b, uint64_t *out)
{
	switch (atom) {
	case DW_OP_plus: *out = a + b; return true;
	case DW_OP_minus: *out = a - b; return true;
	case DW_OP_mul: *out = a * b; return true;
	case DW_OP_and: *out = a & b; return true;
	case DW_OP_or: *out = a | b; return true;
	case DW_OP_xor: *out = a ^ b; return true;
	case DW_OP_shl: *out = b >= 64 ? 0 : a << b; return true;
	case DW_OP_shr: *out = b >= 64 ? 0 : a >> b; return true;
	case DW_OP_shra: *out = (uint64_t)((int64_t)a >> (b >= 64 ? 63 : b)); return true;
	/* Comparisons are signed (DWARF 5, 2.5.1.4). */
	case DW_OP_eq: *out = a == b; return true;
	case DW_OP_ne: *out = a != b; return true;
	case DW_OP_lt: *out = (int64_t)a < (int64_t)b; return true;
	case DW_OP_le: *out = (int64_t)a <= (int64_t)b; return true;
	case DW_OP_gt: *out = (int64_t)a > (int64_t)b; return true;
	case DW_OP_ge: *out = (int64_t)a >= (int64_t)b; return true;
	default: return false;
	}
}


/* Pushes the operand of a literal, constant or register-based atom; 1 if it was not one. */
static int push_operand(const Dwarf_Op *op, const struct uvs_cfi_regs *regs, uint64_t *out)
{
	uint64_t r;
	int err;

	if (op->atom >= DW_OP_lit0 && op->atom <= DW_OP_lit31) {
		*out = op->atom - DW_OP_lit0;
		return 0;
	}
	if (op->atom >= DW_OP_breg0 && op->atom <= DW_OP_breg31) {
		err = reg_value(regs, op->atom - DW_OP_breg0, &r);
		*out = r + op->number;
		return err;
	}
	switch (op->atom) {
	case DW_OP_bregx:
		err = reg_value(regs, op->number, &r);
		*out = r + op->number2;
		return err;
	case DW_OP_const1u: case DW_OP_const1s: case DW_OP_const2u: case DW_OP_const2s:
	case DW_OP_const4u: case DW_OP_const4s: case DW_OP_const8u: case DW_OP_const8s:
	case DW_OP_constu: case DW_OP_consts:
		/* libdw has already sign-extended the signed forms into number. */
		*out = op->number;
		return 0;
	default:
		return 1;
	}
}


/* The "register" rule: the whole expression is one DW_OP_regN or DW_OP_regx. */
static bool lone_register(const Dwarf_Op *ops, size_t nops, uint64_t *regno)
{
	if (nops != 1)
		return false;
	if (ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31) {
		*regno = ops[0].atom - DW_OP_reg0;
		return true;
	}
	if (ops[0].atom == DW_OP_regx) {
		*regno = ops[0].number;
		return true;
	}
	return false;
}


int uvs_cfi_eval(const Dwarf_Op *ops, size_t nops, const struct uvs_cfi_regs *regs,
		 const struct uvs_stack_bytes *stack, bool has_cfa, uint64_t cfa,
		 struct uvs_cfi_result *out)
{
	uint64_t st[EXPR_STACK_MAX], regno, a, b;
	size_t depth = 0, i;
	bool is_value = false;
	int err;

	if (!ops || nops == 0)
		return -EINVAL;
	if (lone_register(ops, nops, &regno)) {
		out->is_value = true;
		return reg_value(regs, regno, &out->word);
	}
	for (i = 0; i < nops; i++) {
		const Dwarf_Op *op = &ops[i];

		if (is_value)
			return -EINVAL; /* DW_OP_stack_value must be last */
		if (depth == EXPR_STACK_MAX)
			return -EINVAL;
		err = push_operand(op, regs, &st[depth]);
		if (err <= 0) {
			if (err < 0)
				return err;
			depth++;
			continue;
		}
		switch (op->atom) {
		case DW_OP_call_frame_cfa:
			if (!has_cfa)
				return -EINVAL;
			st[depth++] = cfa;
			break;
		case DW_OP_stack_value:
			is_value = true;
			break;
		case DW_OP_dup:
			if (depth < 1)
				return -EINVAL;
			st[depth] = st[depth - 1];
			depth++;
			break;
		case DW_OP_drop:
			if (depth < 1)
				return -EINVAL;
			depth--;
			break;
		case DW_OP_swap:
			if (depth < 2)
				return -EINVAL;
			a = st[depth - 1];
			st[depth - 1] = st[depth - 2];
			st[depth - 2] = a;
			break;
		case DW_OP_deref:
			if (depth < 1)
				return -EINVAL;
			if (!uvs_stack_read(stack, st[depth - 1], &st[depth - 1]))
				return -ENOENT;
			break;
		case DW_OP_plus_uconst:
			if (depth < 1)
				return -EINVAL;
			st[depth - 1] += op->number;
			break;
		case DW_OP_neg:
			if (depth < 1)
				return -EINVAL;
			st[depth - 1] = -st[depth - 1];
			break;
		case DW_OP_not:
			if (depth < 1)
				return -EINVAL;
			st[depth - 1] = ~st[depth - 1];
			break;
		case DW_OP_nop:
			break;
		default:
			if (depth < 2)
				return -EINVAL;
			a = st[depth - 2];
			b = st[depth - 1];
			if (!binary_op(op->atom, a, b, &st[depth - 2]))
				return -EINVAL;
			depth--;
			break;
		}
	}
	if (depth < 1)
		return -EINVAL;
	out->word = st[depth - 1];
	out->is_value = is_value;
	return 0;
}
