// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/capstone_lib.h"
#include "target/worker_site.h"
#include "target/x86_insn.h"

/* worker() is about 700 bytes; a few hundred instructions are plenty. */
#define MAX_INSNS 4096

/* A decoded instruction: what the proof needs of it. */
struct insn {
	uint64_t addr;
	uint64_t next;
	bool branch;          /* jump, call or return */
	bool direct_call;     /* call with an immediate target */
	bool indirect_call;   /* call through a register or memory */
	bool indirect_jump;
	bool has_target;      /* a direct jump or call: target below */
	uint64_t target;
	int mem_base;         /* the 64-bit base of the call's memory operand, or -1 */
	int mem_index;
	int64_t mem_disp;
	int lea_dst;          /* for lea: the 64-bit destination register, else -1 */
	int lea_base;
	int lea_index;
	int64_t lea_disp;
	bool emulated;        /* the kernel emulates it at a uprobe */
	char text[48];
};

/* The callee-saved registers of the System V x86-64 ABI, with their pt_regs index. */
static const struct {
	unsigned int reg;
	enum uvs_pt_reg pt;
	const char *name;
} saved[] = {
	{ X86_REG_RBX, UVS_PT_RBX, "rbx" }, { X86_REG_RBP, UVS_PT_RBP, "rbp" },
	{ X86_REG_R12, UVS_PT_R12, "r12" }, { X86_REG_R13, UVS_PT_R13, "r13" },
	{ X86_REG_R14, UVS_PT_R14, "r14" }, { X86_REG_R15, UVS_PT_R15, "r15" },
};

static int saved_index(int reg)
{
	size_t i;

	for (i = 0; i < sizeof(saved) / sizeof(saved[0]); i++)
		if ((int)saved[i].reg == reg)
			return (int)i;
	return -1;
}

/* Whether insn writes the 64-bit register reg (any part of it). */
static bool writes_reg(csh h, const cs_insn *insn, int reg, bool *unknown)
{
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0, i;

	if (uvs_cs_regs_access(h, insn, rd, &nrd, wr, &nwr) != CS_ERR_OK) {
		*unknown = true;
		return true;
	}
	for (i = 0; i < nwr; i++)
		if (uvs_x86_reg64(wr[i]) == reg)
			return true;
	return false;
}

static void fill(csh h, const cs_insn *ci, struct insn *out)
{
	const cs_x86 *x = &ci->detail->x86;
	bool jump = uvs_cs_insn_group(h, ci, CS_GRP_JUMP), call = uvs_cs_insn_group(h, ci, CS_GRP_CALL);
	bool imm = x->op_count == 1 && x->operands[0].type == X86_OP_IMM;

	memset(out, 0, sizeof(*out));
	out->addr = ci->address;
	out->next = ci->address + ci->size;
	out->emulated = uvs_x86_emulated(ci);
	out->branch = jump || call || uvs_cs_insn_group(h, ci, CS_GRP_RET);
	out->direct_call = call && imm;
	out->indirect_call = call && !imm;
	out->indirect_jump = jump && !imm;
	out->has_target = (jump || call) && imm;
	out->target = imm ? (uint64_t)x->operands[0].imm : 0;
	out->mem_base = out->mem_index = out->lea_dst = out->lea_base = out->lea_index = -1;
	if (call && x->op_count == 1 && x->operands[0].type == X86_OP_MEM) {
		out->mem_base = uvs_x86_reg64(x->operands[0].mem.base);
		out->mem_index = x->operands[0].mem.index == X86_REG_INVALID ?
					 -1 : (int)x->operands[0].mem.index;
		out->mem_disp = x->operands[0].mem.disp;
	}
	if (ci->id == X86_INS_LEA && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	    x->operands[1].type == X86_OP_MEM) {
		out->lea_dst = uvs_x86_reg64(x->operands[0].reg);
		out->lea_base = uvs_x86_reg64(x->operands[1].mem.base);
		out->lea_index = x->operands[1].mem.index == X86_REG_INVALID ?
					 -1 : (int)x->operands[1].mem.index;
		out->lea_disp = x->operands[1].mem.disp;
	}
	snprintf(out->text, sizeof(out->text), "%s%s%s", ci->mnemonic, ci->op_str[0] ? " " : "",
		 ci->op_str);
}

/* Decodes code to its end into insns (at most max); -EINVAL with why when it cannot. */
static int decode(csh h, cs_insn *ci, const struct uvs_code *code, struct insn *insns,
		  size_t max, size_t *n, char *why, size_t cap)
{
	const uint8_t *p = code->bytes;
	size_t len = code->len;
	uint64_t a = code->addr;

	*n = 0;
	while (len > 0) {
		if (*n == max) {
			snprintf(why, cap, "more than %zu instructions", max);
			return -EINVAL;
		}
		if (!uvs_cs_disasm_iter(h, &p, &len, &a, ci)) {
			snprintf(why, cap, "cannot decode the code at 0x%llx", (unsigned long long)a);
			return -EINVAL;
		}
		fill(h, ci, &insns[(*n)++]);
	}
	return 0;
}

/* The one indirect call (its index), or -1 with why. */
static long job_call(const struct insn *insns, size_t n, char *why, size_t cap)
{
	long found = -1;
	size_t i, count = 0;

	for (i = 0; i < n; i++) {
		if (insns[i].indirect_jump) {
			snprintf(why, cap, "worker() has an indirect jump at 0x%llx",
				 (unsigned long long)insns[i].addr);
			return -1;
		}
		if (insns[i].indirect_call) {
			count++;
			found = (long)i;
		}
	}
	if (count != 1) {
		snprintf(why, cap, "worker() has %zu indirect calls, not one", count);
		return -1;
	}
	return found;
}

/* Whether a direct branch of code lands in [from, to]; why names it. */
static bool lands_in(const struct insn *insns, size_t n, uint64_t from, uint64_t to, char *why,
		     size_t cap)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (insns[i].has_target && insns[i].target >= from && insns[i].target <= to) {
			snprintf(why, cap, "the branch at 0x%llx lands at 0x%llx, between the job's "
				 "call and the site", (unsigned long long)insns[i].addr,
				 (unsigned long long)insns[i].target);
			return true;
		}
	}
	return false;
}

/* The proof of the file comment on decoded insns; fills out or says why not. */
static int prove(csh h, cs_insn *ci, const struct uvs_code *fn, const struct insn *insns,
		 size_t n, const struct insn *cold, size_t ncold, struct uvs_worker_site *out,
		 char *why, size_t cap)
{
	long c = job_call(insns, n, why, cap);
	const struct insn *call;
	size_t site;
	int reg, k;

	if (c < 0)
		return -ENOENT;
	call = &insns[c];
	reg = call->mem_base;
	k = saved_index(reg);
	if (call->mem_base < 0 || call->mem_index >= 0 || k < 0) {
		snprintf(why, cap, "the job's call `%s` at 0x%llx is not through a callee-saved "
			 "register plus a displacement", call->text, (unsigned long long)call->addr);
		return -ENOENT;
	}
	if (c == 0 || insns[c - 1].lea_dst != X86_REG_RDI || insns[c - 1].lea_base != reg ||
	    insns[c - 1].lea_index >= 0 || insns[c - 1].lea_disp != call->mem_disp) {
		snprintf(why, cap, "the job's call at 0x%llx does not pass the address it calls "
			 "through (w->work(w))", (unsigned long long)call->addr);
		return -ENOENT;
	}
	for (site = (size_t)c + 1; site < n && !insns[site].direct_call; site++) {
		const uint8_t *p;
		size_t len;
		uint64_t a;
		bool unknown = false;

		if (insns[site].branch) {
			snprintf(why, cap, "`%s` at 0x%llx branches before the site", insns[site].text,
				 (unsigned long long)insns[site].addr);
			return -ENOENT;
		}
		/* Registers written: decode this one instruction again for capstone's details. */
		p = fn->bytes + (insns[site].addr - fn->addr);
		len = insns[site].next - insns[site].addr;
		a = insns[site].addr;
		if (!uvs_cs_disasm_iter(h, &p, &len, &a, ci) || writes_reg(h, ci, reg, &unknown)) {
			snprintf(why, cap, "`%s` at 0x%llx %s %s", insns[site].text,
				 (unsigned long long)insns[site].addr,
				 unknown ? "has registers capstone cannot tell, among them maybe" :
					   "writes", saved[k].name);
			return -ENOENT;
		}
	}
	if (site == n) {
		snprintf(why, cap, "no direct call after the job's call at 0x%llx",
			 (unsigned long long)call->addr);
		return -ENOENT;
	}
	if (!insns[site].emulated) {
		snprintf(why, cap, "the kernel would single-step `%s` at 0x%llx", insns[site].text,
			 (unsigned long long)insns[site].addr);
		return -ENOENT;
	}
	if (lands_in(insns, n, call->next, insns[site].addr, why, cap) ||
	    lands_in(cold, ncold, call->next, insns[site].addr, why, cap))
		return -ENOENT;
	out->addr = insns[site].addr;
	out->job_call = call->addr;
	out->reg = (int)saved[k].pt;
	out->disp = call->mem_disp;
	snprintf(out->reg_name, sizeof(out->reg_name), "%s", saved[k].name);
	snprintf(out->insn, sizeof(out->insn), "%s", insns[site].text);
	return 0;
}

int uvs_worker_site_find(const struct uvs_code *fn, const struct uvs_code *cold,
			 struct uvs_worker_site *out, char *why, size_t cap)
{
	struct insn *insns = NULL, *cold_insns = NULL;
	size_t n = 0, ncold = 0;
	cs_insn *ci;
	csh h;
	int err;

	memset(out, 0, sizeof(*out));
	if (cap)
		why[0] = '\0';
	if (!fn || !fn->bytes || !fn->len) {
		snprintf(why, cap, "worker() has no code");
		return -ENOENT;
	}
	if (uvs_cs_open(&h))
		return -EIO;
	ci = uvs_cs_malloc(h);
	insns = calloc(MAX_INSNS, sizeof(*insns));
	cold_insns = cold ? calloc(MAX_INSNS, sizeof(*cold_insns)) : NULL;
	if (!ci || !insns || (cold && !cold_insns)) {
		err = -ENOMEM;
		goto out;
	}
	err = decode(h, ci, fn, insns, MAX_INSNS, &n, why, cap);
	if (!err && cold)
		err = decode(h, ci, cold, cold_insns, MAX_INSNS, &ncold, why, cap);
	if (!err)
		err = prove(h, ci, fn, insns, n, cold_insns, ncold, out, why, cap);
	else
		err = -ENOENT;
out:
	if (ci)
		uvs_cs_free(ci, 1);
	free(insns);
	free(cold_insns);
	uvs_cs_close(&h);
	return err;
}

int uvs_worker_site_of(struct uvs_elf *elf, const struct uvs_elf_symbol *sym,
		       struct uvs_worker_site *out, uint64_t *file_offset, char *why, size_t cap)
{
	struct uvs_code fn = { 0 }, cold = { 0 };
	struct uvs_elf_symbol cold_sym;
	bool has_cold = false;
	int err;

	err = uvs_code_read(elf, sym, &fn);
	if (err) {
		snprintf(why, cap, "cannot read worker() (%llu bytes): %s",
			 (unsigned long long)sym->size, strerror(-err));
		return err;
	}
	if (uvs_elf_find_function(elf, "worker.cold", &cold_sym) == 0) {
		err = uvs_code_read(elf, &cold_sym, &cold);
		if (err) {
			snprintf(why, cap, "cannot read worker.cold: %s", strerror(-err));
			goto out;
		}
		has_cold = true;
	}
	err = uvs_worker_site_find(&fn, has_cold ? &cold : NULL, out, why, cap);
	if (!err)
		*file_offset = sym->file_offset + (out->addr - sym->addr);
out:
	free((void *)fn.bytes);
	free((void *)cold.bytes);
	return err;
}
