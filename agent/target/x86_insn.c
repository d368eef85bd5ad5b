// SPDX-License-Identifier: MIT
#include "target/x86_insn.h"

bool uvs_x86_is_jcc(const cs_insn *insn)
{
	return insn->id >= X86_INS_JAE && insn->id <= X86_INS_JS && insn->id != X86_INS_JMP &&
	       insn->id != X86_INS_JCXZ && insn->id != X86_INS_JECXZ && insn->id != X86_INS_JRCXZ;
}

bool uvs_x86_emulated(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;
	bool imm = x->op_count == 1 && x->operands[0].type == X86_OP_IMM;

	if (x->prefix[0] || x->prefix[1] || x->prefix[2] || x->prefix[3])
		return false; /* the kernel refuses prefixed branches (bnd, rep) */
	switch (insn->id) {
	case X86_INS_CALL:
	case X86_INS_JMP:
		return imm;
	case X86_INS_PUSH:
		return x->op_count == 1 && x->operands[0].type == X86_OP_REG;
	case X86_INS_NOP:
		return true;
	default:
		return uvs_x86_is_jcc(insn) && imm;
	}
}

/* Each row: the 64-bit register and its 32-, 16- and 8-bit parts (0 where there is none). */
static const unsigned int families[][5] = {
	{ X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH },
	{ X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH },
	{ X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH },
	{ X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH },
	{ X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL, 0 },
	{ X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL, 0 },
	{ X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL, 0 },
	{ X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL, 0 },
	{ X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B, 0 },
	{ X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B, 0 },
	{ X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B, 0 },
	{ X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B, 0 },
	{ X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B, 0 },
	{ X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B, 0 },
	{ X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B, 0 },
	{ X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B, 0 },
};

int uvs_x86_reg64(unsigned int r)
{
	size_t i, j;

	if (r == X86_REG_INVALID)
		return -1;
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		for (j = 0; j < 5; j++)
			if (families[i][j] == r)
				return (int)families[i][0];
	return -1;
}
