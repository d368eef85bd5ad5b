// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/capstone_lib.h"
#include "target/epoll_sites.h"
#include "target/x86_insn.h"
#include "unwind/func_dwarf.h"
#include "unwind/call_insns.h"

/* uv__io_poll is about 2-4 KiB in official builds; anything far larger is not what we think. */
#define MAX_FUNC_BYTES (256 * 1024)
/* How far past the call the return hook may be looked for (instructions). */
#define MAX_RUN_INSNS 8
#define MAX_PLT_RELOCS 100000

struct wait_fn {
	const char *name;
	int nr;
	uint64_t got; /* its GOT slot (0: not imported) */
};

/*
 * The GOT slot of each epoll wait function: .rela.plt's R_X86_64_JUMP_SLOT entries name the
 * imported function through .dynsym. Read with libelf from the file itself.
 */
static int find_got_slots(const char *path, struct wait_fn *fns, size_t nfns)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *e;
	int found = 0;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_getshdrstrndx(e, &shstrndx)) {
		found = -EINVAL;
		goto out;
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh, symsh;
		Elf_Scn *symscn;
		Elf_Data *rel, *syms;
		const char *name;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA)
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".rela.plt") != 0)
			continue;
		symscn = elf_getscn(e, sh.sh_link);
		if (!symscn || !gelf_getshdr(symscn, &symsh))
			continue;
		rel = elf_getdata(scn, NULL);
		syms = elf_getdata(symscn, NULL);
		if (!rel || !syms || !sh.sh_entsize)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n && i < MAX_PLT_RELOCS; i++) {
			GElf_Rela r;
			GElf_Sym s;
			const char *sname;
			size_t k;

			if (!gelf_getrela(rel, (int)i, &r) ||
			    ELF64_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT ||
			    !gelf_getsym(syms, (int)ELF64_R_SYM(r.r_info), &s))
				continue;
			sname = elf_strptr(e, symsh.sh_link, s.st_name);
			if (!sname)
				continue;
			for (k = 0; k < nfns; k++) {
				if (strcmp(sname, fns[k].name) == 0 && !fns[k].got) {
					fns[k].got = r.r_offset;
					found++;
				}
			}
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return found;
}

/*
 * The GOT slot a PLT stub jumps through: its first instruction (after an optional endbr64)
 * must be `jmp *disp(%rip)` (.plt of a lazy-binding build, or .plt.sec with IBT). 0 if not.
 */
static uint64_t plt_stub_got(csh h, cs_insn *insn, struct uvs_elf *elf, uint64_t stub)
{
	uint8_t buf[32];
	const uint8_t *code = buf;
	size_t len = sizeof(buf);
	uint64_t addr = stub;
	int i;

	if (uvs_elf_read_vaddr(elf, stub, buf, sizeof(buf)))
		return 0;
	for (i = 0; i < 2 && uvs_cs_disasm_iter(h, &code, &len, &addr, insn); i++) {
		const cs_x86 *x = &insn->detail->x86;

		if (insn->id == X86_INS_ENDBR64)
			continue;
		if (insn->id != X86_INS_JMP || x->op_count != 1 || x->operands[0].type != X86_OP_MEM ||
		    x->operands[0].mem.base != X86_REG_RIP ||
		    x->operands[0].mem.index != X86_REG_INVALID)
			return 0;
		return insn->address + insn->size + (uint64_t)x->operands[0].mem.disp;
	}
	return 0;
}

/* The cookie's register id of a 32-bit copy destination, or -1 when we do not read it. */
static int cookie_reg(unsigned int r)
{
	switch (r) {
	case X86_REG_EBX: return UVS_EPOLL_REG_RBX;
	case X86_REG_R12D: return UVS_EPOLL_REG_R12;
	case X86_REG_R13D: return UVS_EPOLL_REG_R13;
	case X86_REG_R14D: return UVS_EPOLL_REG_R14;
	case X86_REG_R15D: return UVS_EPOLL_REG_R15;
	default: return -1;
	}
}

/* Where the wait's return value is, as the run after the call copies and clobbers it. */
struct ret_tracker {
	bool in_eax;
	int copy_reg;       /* 64-bit family of the register copy, or -1 */
	int copy_cookie_reg;
	bool in_slot;
	int32_t slot_disp;  /* [rbp + disp] */
};

static void track(csh h, const cs_insn *insn, struct ret_tracker *t)
{
	const cs_x86 *x = &insn->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0;
	int i;

	/* A fresh copy: `mov %eax, %r32` or `mov %eax, disp(%rbp)`. */
	if (t->in_eax && insn->id == X86_INS_MOV && x->op_count == 2 &&
	    x->operands[1].type == X86_OP_REG && x->operands[1].reg == X86_REG_EAX) {
		const cs_x86_op *dst = &x->operands[0];

		if (dst->type == X86_OP_REG && cookie_reg(dst->reg) >= 0) {
			t->copy_reg = uvs_x86_reg64(dst->reg);
			t->copy_cookie_reg = cookie_reg(dst->reg);
			return;
		}
		if (dst->type == X86_OP_MEM && dst->mem.base == X86_REG_RBP &&
		    dst->mem.index == X86_REG_INVALID && dst->mem.segment == X86_REG_INVALID) {
			t->in_slot = true;
			t->slot_disp = (int32_t)dst->mem.disp;
			return;
		}
	}
	if (uvs_cs_regs_access(h, insn, rd, &nrd, wr, &nwr) != CS_ERR_OK) {
		*t = (struct ret_tracker){ .copy_reg = -1 };
		return;
	}
	for (i = 0; i < nwr; i++) {
		int f = uvs_x86_reg64(wr[i]);

		if (f == X86_REG_RAX)
			t->in_eax = false;
		if (f >= 0 && f == t->copy_reg)
			t->copy_reg = -1;
		if (f == X86_REG_RBP)
			t->in_slot = false;
	}
	/* Any store through rbp may hit the slot: give it up (stores elsewhere cannot alias it). */
	for (i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && (x->operands[i].access & CS_AC_WRITE) &&
		    x->operands[i].mem.base == X86_REG_RBP)
			t->in_slot = false;
}

static bool tracker_cookie(const struct ret_tracker *t, uint64_t *cookie)
{
	if (t->in_eax)
		*cookie = UVS_EPOLL_RET_COOKIE(UVS_EPOLL_RET_REG, UVS_EPOLL_REG_RAX, 0);
	else if (t->copy_reg >= 0)
		*cookie = UVS_EPOLL_RET_COOKIE(UVS_EPOLL_RET_REG, t->copy_cookie_reg, 0);
	else if (t->in_slot)
		*cookie = UVS_EPOLL_RET_COOKIE(UVS_EPOLL_RET_RBP_SLOT, 0, t->slot_disp);
	else
		return false;
	return true;
}

/*
 * The return hook of the call returning to ret: decodes straight on from ret (the linear
 * decode from the function start already proved ret a boundary, and this decode continues
 * it) to the first emulated instruction, giving up at any other control transfer.
 */
static int find_return_hook(csh h, cs_insn *insn, const uint8_t *func, uint64_t func_addr,
			    size_t func_len, uint64_t ret, struct uvs_epoll_site *site)
{
	const uint8_t *code = func + (ret - func_addr);
	size_t len = func_len - (size_t)(ret - func_addr);
	uint64_t addr = ret;
	struct ret_tracker t = { .in_eax = true, .copy_reg = -1 };
	int i;

	for (i = 0; i < MAX_RUN_INSNS && len > 0; i++) {
		if (!uvs_cs_disasm_iter(h, &code, &len, &addr, insn))
			return -ENOTSUP;
		if (uvs_x86_emulated(insn)) {
			if (!tracker_cookie(&t, &site->ret_cookie))
				return -ENOTSUP;
			site->hook_addr = insn->address;
			return 0;
		}
		if (uvs_cs_insn_group(h, insn, X86_GRP_JUMP) || uvs_cs_insn_group(h, insn, X86_GRP_CALL) ||
		    uvs_cs_insn_group(h, insn, X86_GRP_RET) || uvs_cs_insn_group(h, insn, X86_GRP_INT))
			return -ENOTSUP;
		track(h, insn, &t);
	}
	return -ENOTSUP;
}

/* Both hooks lie inside uv__io_poll, whose bytes are contiguous in the file. */
static void site_offsets(const struct uvs_elf_symbol *fn, struct uvs_epoll_site *s)
{
	s->call_offset = fn->file_offset + (s->call_addr - fn->addr);
	s->hook_offset = fn->file_offset + (s->hook_addr - fn->addr);
}

int uvs_epoll_sites_find(struct uvs_elf *elf, const char *path, struct uvs_epoll_site *out,
			 size_t cap, char *why, size_t whycap)
{
	struct wait_fn fns[] = { { "epoll_wait", 232, 0 }, { "epoll_pwait", 281, 0 },
				 { "epoll_pwait2", 441, 0 } };
	struct uvs_call_insn *calls = NULL;
	struct uvs_elf_symbol fn;
	uint64_t decoded_to;
	size_t ncalls = 0, i, n = 0;
	uint8_t *code = NULL;
	cs_insn *insn = NULL;
	csh h = 0;
	int err, k;

	if (uvs_elf_find_function(elf, "uv__io_poll", &fn) || fn.from_dynsym) {
		snprintf(why, whycap, "uv__io_poll is not in .symtab (stripped or distro build)");
		return -ENOENT;
	}
	if (fn.size == 0 || fn.size > MAX_FUNC_BYTES) {
		snprintf(why, whycap, "uv__io_poll has an implausible size (%llu bytes)",
			 (unsigned long long)fn.size);
		return -EINVAL;
	}
	err = find_got_slots(path, fns, sizeof(fns) / sizeof(fns[0]));
	if (err <= 0) {
		snprintf(why, whycap, "%s imports no epoll wait through its PLT", path);
		return err < 0 ? err : -ENOENT;
	}
	code = malloc(fn.size);
	if (!code)
		return -ENOMEM;
	err = uvs_elf_read(elf, fn.file_offset, code, fn.size);
	if (!err)
		err = uvs_call_insns(code, fn.size, fn.addr, &calls, &ncalls, &decoded_to);
	if (err) {
		snprintf(why, whycap, "cannot decode uv__io_poll: %s", strerror(-err));
		goto out;
	}
	if (uvs_cs_open(&h)) {
		err = -EIO;
		snprintf(why, whycap, "cannot open capstone: %s", uvs_capstone_error());
		goto out;
	}
	insn = uvs_cs_malloc(h);
	if (!insn) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < ncalls; i++) {
		uint64_t got;
		struct uvs_epoll_site s = { 0 };

		if (!calls[i].direct)
			continue;
		got = plt_stub_got(h, insn, elf, calls[i].target);
		for (k = 0; got && k < (int)(sizeof(fns) / sizeof(fns[0])); k++) {
			if (fns[k].got != got)
				continue;
			if (n == cap) {
				snprintf(why, whycap, "more than %zu epoll wait calls in uv__io_poll", cap);
				err = -E2BIG;
				goto out;
			}
			s.call_addr = calls[i].addr;
			s.nr = fns[k].nr;
			err = find_return_hook(h, insn, code, fn.addr, fn.size, calls[i].ret, &s);
			if (err) {
				snprintf(why, whycap, "the %s call at 0x%llx in uv__io_poll has no "
					 "return hook the kernel can emulate", fns[k].name,
					 (unsigned long long)s.call_addr);
				goto out;
			}
			site_offsets(&fn, &s);
			out[n++] = s;
		}
	}
	if (n == 0) {
		snprintf(why, whycap, "uv__io_poll makes no direct call to an epoll wait");
		err = -ENOENT;
	}
out:
	if (insn)
		uvs_cs_free(insn, 1);
	if (h)
		uvs_cs_close(&h);
	free(calls);
	free(code);
	return err ? err : (int)n;
}

/* A DWARF x86-64 register number as the cookie's register, or -1 when not callee-saved. */
static int callee_saved_reg(int dwarf_reg)
{
	switch (dwarf_reg) {
	case 3: return UVS_EPOLL_REG_RBX;
	case 12: return UVS_EPOLL_REG_R12;
	case 13: return UVS_EPOLL_REG_R13;
	case 14: return UVS_EPOLL_REG_R14;
	case 15: return UVS_EPOLL_REG_R15;
	default: return -1;
	}
}

int uvs_epoll_sites_find_lfields(const char *path, uint64_t io_poll_addr,
				 struct uvs_epoll_site *sites, int n)
{
	int fd, i, found = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		struct uvs_dwarf_var_loc loc;
		int reg;

		if (uvs_func_dwarf_var_loc(fd, io_poll_addr, "lfields", sites[i].hook_addr, &loc))
			continue;
		if (loc.in_memory) {
			/* A frame slot: the cookie holds rbp-relative multiples of 8 in one byte. */
			if (loc.rbp_offset % 8 || loc.rbp_offset < -1024 || loc.rbp_offset > 1016)
				continue;
			sites[i].ret_cookie = UVS_EPOLL_COOKIE_WITH_LFIELDS_SLOT(sites[i].ret_cookie,
										  loc.rbp_offset);
			found++;
			continue;
		}
		reg = callee_saved_reg(loc.reg);
		if (reg < 0)
			continue;
		sites[i].ret_cookie = UVS_EPOLL_COOKIE_WITH_LFIELDS(sites[i].ret_cookie, reg);
		found++;
	}
	close(fd);
	return found;
}
