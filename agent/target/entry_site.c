// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/capstone_lib.h"
#include "target/entry_site.h"
#include "target/x86_insn.h"

/* libuv's and node's functions are a few KiB at most; anything far larger is not what we think. */
#define MAX_FUNC_BYTES (256 * 1024)

static const unsigned int arg_regs[] = { X86_REG_RDI, X86_REG_RSI, X86_REG_RDX,
					 X86_REG_RCX, X86_REG_R8, X86_REG_R9 };

/* Instructions a prefix may hold: their effects are their explicit operands and the flags. */
static bool plain(unsigned int id)
{
	switch (id) {
	case X86_INS_MOV: case X86_INS_MOVABS: case X86_INS_MOVZX: case X86_INS_MOVSX:
	case X86_INS_MOVSXD: case X86_INS_LEA: case X86_INS_TEST: case X86_INS_CMP:
	case X86_INS_AND: case X86_INS_OR: case X86_INS_XOR: case X86_INS_ADD: case X86_INS_SUB:
	case X86_INS_INC: case X86_INS_DEC: case X86_INS_NEG: case X86_INS_NOT: case X86_INS_SHL:
	case X86_INS_SHR: case X86_INS_SAR: case X86_INS_ENDBR64:
	/* SSE register moves and shuffles (Node 24's uv_fs_utime packs its two doubles with
	 * unpcklpd first): a memory-writing form is refused below like any other. */
	case X86_INS_UNPCKLPD: case X86_INS_UNPCKLPS: case X86_INS_PXOR: case X86_INS_XORPS:
	case X86_INS_XORPD: case X86_INS_MOVAPD: case X86_INS_MOVAPS:
		return true;
	default:
		return false;
	}
}

static void describe(const cs_insn *insn, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s", insn->mnemonic, insn->op_str[0] ? " " : "", insn->op_str);
}

/* Whether insn may stand before the site; if not, one sentence in why. */
static bool prefix_ok(csh h, const cs_insn *insn, unsigned args, bool ret, char *why, size_t cap)
{
	const cs_x86 *x = &insn->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0, i, k;
	char text[48];

	describe(insn, text, sizeof(text));
	if (!plain(insn->id)) {
		snprintf(why, cap, "`%s` at 0x%llx is not a plain register or load instruction", text,
			 (unsigned long long)insn->address);
		return false;
	}
	for (i = 0; i < x->op_count; i++) {
		if (x->operands[i].type == X86_OP_MEM && (x->operands[i].access & CS_AC_WRITE)) {
			snprintf(why, cap, "`%s` at 0x%llx writes memory", text,
				 (unsigned long long)insn->address);
			return false;
		}
	}
	if (uvs_cs_regs_access(h, insn, rd, &nrd, wr, &nwr) != CS_ERR_OK) {
		snprintf(why, cap, "cannot tell which registers `%s` writes", text);
		return false;
	}
	for (i = 0; i < nwr; i++) {
		int r = uvs_x86_reg64(wr[i]);

		for (k = 0; k < sizeof(arg_regs) / sizeof(arg_regs[0]); k++) {
			if ((args & (1u << k)) && r == (int)arg_regs[k]) {
				snprintf(why, cap, "`%s` at 0x%llx overwrites an argument the probe "
					 "reads", text, (unsigned long long)insn->address);
				return false;
			}
		}
		if (ret && r == X86_REG_RSP) {
			snprintf(why, cap, "`%s` at 0x%llx moves the stack pointer, where the return "
				 "probe finds the return address", text, (unsigned long long)insn->address);
			return false;
		}
	}
	return true;
}

/*
 * Whether anything in code enters (start, site]: a direct jump or call landing there, or an
 * indirect jump, which could land anywhere; and code must decode to its end. One sentence in
 * why when it does (or cannot be told).
 */
static bool enters_prefix(csh h, cs_insn *insn, const struct uvs_code *code, uint64_t start,
			  uint64_t site, char *why, size_t cap)
{
	const uint8_t *p = code->bytes;
	size_t len = code->len;
	uint64_t a = code->addr;

	while (len > 0) {
		const cs_x86 *x;

		if (!uvs_cs_disasm_iter(h, &p, &len, &a, insn)) {
			snprintf(why, cap, "cannot decode the code at 0x%llx", (unsigned long long)a);
			return true;
		}
		if (!uvs_cs_insn_group(h, insn, CS_GRP_JUMP) && !uvs_cs_insn_group(h, insn, CS_GRP_CALL))
			continue;
		x = &insn->detail->x86;
		if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
			uint64_t to = (uint64_t)x->operands[0].imm;

			if (to > start && to <= site) {
				snprintf(why, cap, "the branch at 0x%llx lands at 0x%llx, before the site",
					 (unsigned long long)insn->address, (unsigned long long)to);
				return true;
			}
		} else if (uvs_cs_insn_group(h, insn, CS_GRP_JUMP)) {
			snprintf(why, cap, "the indirect jump at 0x%llx could land before the site",
				 (unsigned long long)insn->address);
			return true;
		}
	}
	return false;
}

/* The first emulated instruction past a proven prefix, or 0 (why says why). */
static uint64_t later_site(csh h, cs_insn *insn, const struct uvs_code *fn, unsigned args,
			   bool ret, char *text, size_t textcap, char *why, size_t cap)
{
	const uint8_t *p = fn->bytes;
	size_t len = fn->len;
	uint64_t a = fn->addr;
	int i;

	for (i = 0; i <= UVS_ENTRY_SITE_MAX_PREFIX && len > 0; i++) {
		if (!uvs_cs_disasm_iter(h, &p, &len, &a, insn)) {
			snprintf(why, cap, "cannot decode the code at 0x%llx", (unsigned long long)a);
			return 0;
		}
		if (uvs_x86_emulated(insn)) {
			describe(insn, text, textcap);
			return insn->address;
		}
		if (!prefix_ok(h, insn, args, ret, why, cap))
			return 0;
	}
	snprintf(why, cap, "no instruction the kernel emulates in the first %d",
		 UVS_ENTRY_SITE_MAX_PREFIX + 1);
	return 0;
}

int uvs_entry_site_find(const struct uvs_code *fn, const struct uvs_code *cold, unsigned args,
			bool ret, struct uvs_entry_site *out, char *why, size_t cap)
{
	const uint8_t *p;
	size_t len;
	uint64_t a, site;
	char text[sizeof(out->insn)];
	cs_insn *insn;
	csh h;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (cap)
		why[0] = '\0';
	if (!fn || !fn->bytes || !fn->len)
		return -EINVAL;
	if (uvs_cs_open(&h))
		return -EIO;
	insn = uvs_cs_malloc(h);
	if (!insn) {
		uvs_cs_close(&h);
		return -ENOMEM;
	}
	/* The start, as the fallback: its instruction and whether it is cheap already. */
	p = fn->bytes;
	len = fn->len;
	a = fn->addr;
	if (!uvs_cs_disasm_iter(h, &p, &len, &a, insn)) {
		err = -EINVAL;
		goto out;
	}
	out->addr = fn->addr;
	out->emulated = uvs_x86_emulated(insn);
	describe(insn, out->insn, sizeof(out->insn));
	if (out->emulated)
		goto out;
	site = later_site(h, insn, fn, args, ret, text, sizeof(text), why, cap);
	if (!site || enters_prefix(h, insn, fn, fn->addr, site, why, cap) ||
	    (cold && enters_prefix(h, insn, cold, fn->addr, site, why, cap)))
		goto out;
	out->addr = site;
	out->emulated = true;
	memcpy(out->insn, text, sizeof(out->insn));
out:
	uvs_cs_free(insn, 1);
	uvs_cs_close(&h);
	return err;
}

int uvs_code_read(struct uvs_elf *elf, const struct uvs_elf_symbol *sym, struct uvs_code *c)
{
	uint8_t *buf;
	int err;

	if (sym->size == 0 || sym->size > MAX_FUNC_BYTES)
		return -EINVAL;
	buf = malloc(sym->size);
	if (!buf)
		return -ENOMEM;
	err = uvs_elf_read(elf, sym->file_offset, buf, sym->size);
	if (err) {
		free(buf);
		return err;
	}
	*c = (struct uvs_code){ .bytes = buf, .len = sym->size, .addr = sym->addr };
	return 0;
}

int uvs_entry_site_of(struct uvs_elf *elf, const char *name, const struct uvs_elf_symbol *sym,
		      unsigned args, bool ret, struct uvs_entry_site *out, uint64_t *file_offset,
		      char *why, size_t cap)
{
	struct uvs_elf_symbol cold_sym;
	char cold_name[256];
	bool has_cold;

	snprintf(cold_name, sizeof(cold_name), "%s.cold", name);
	has_cold = uvs_elf_find_function(elf, cold_name, &cold_sym) == 0;
	return uvs_entry_site_of_parts(elf, name, sym, has_cold ? &cold_sym : NULL, args, ret, out,
				       file_offset, why, cap);
}

int uvs_entry_site_of_parts(struct uvs_elf *elf, const char *name,
			    const struct uvs_elf_symbol *sym, const struct uvs_elf_symbol *cold_sym,
			    unsigned args, bool ret, struct uvs_entry_site *out,
			    uint64_t *file_offset, char *why, size_t cap)
{
	struct uvs_code fn = { 0 }, cold = { 0 };
	int err;

	err = uvs_code_read(elf, sym, &fn);
	if (err) {
		snprintf(why, cap, "cannot read %s (%llu bytes): %s", name,
			 (unsigned long long)sym->size, strerror(-err));
		return err;
	}
	if (cold_sym) {
		err = uvs_code_read(elf, cold_sym, &cold);
		if (err) {
			snprintf(why, cap, "cannot read %s.cold: %s", name, strerror(-err));
			goto out;
		}
	}
	err = uvs_entry_site_find(&fn, cold_sym ? &cold : NULL, args, ret, out, why, cap);
	if (err)
		snprintf(why, cap, "cannot decode the start of %s", name);
	else
		*file_offset = sym->file_offset + (out->addr - sym->addr);
out:
	free((void *)fn.bytes);
	free((void *)cold.bytes);
	return err;
}
