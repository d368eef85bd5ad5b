/* SPDX-License-Identifier: MIT */
/*
 * Facts about x86-64 instructions (decoded by capstone with details on) that decide where a
 * uprobe may go and what it costs: which instructions the kernel emulates, and which 64-bit
 * register an operand belongs to.
 */
#ifndef UVSCOPE_X86_INSN_H
#define UVSCOPE_X86_INSN_H

#include <capstone/capstone.h>
#include <stdbool.h>

/*
 * True for the instructions the kernel emulates at a uprobe instead of single-stepping them
 * out of line (arch/x86/kernel/uprobes.c: branch_setup_xol_ops, push_setup_xol_ops): a
 * direct call or jmp (its only operand an immediate), a conditional jump, a push of a
 * register, a nop. A single-stepped hit costs about ten times an emulated one (9.4 against
 * 0.5 us on the benchmark VM). Prefixed branches (bnd, rep) are single-stepped.
 */
bool uvs_x86_emulated(const cs_insn *insn);

/* True for a conditional jump (jcc; not jmp, not jcxz/jecxz/jrcxz, which the kernel steps). */
bool uvs_x86_is_jcc(const cs_insn *insn);

/*
 * The 64-bit general-purpose register (X86_REG_RAX ... X86_REG_R15) that r is or is part of
 * (eax, ax, al, ah of rax; r12d of r12; ...), or -1 for any other register (rip, flags,
 * vector and segment registers).
 */
int uvs_x86_reg64(unsigned int r);

#endif
