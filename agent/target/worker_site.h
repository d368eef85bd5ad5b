/* SPDX-License-Identifier: MIT */
/*
 * Where a thread-pool job's service ends, with one uprobe for every kind of work: in libuv's
 * worker() (src/threadpool.c), the first direct call after the indirect call that runs the job:
 *
 *     w = uv__queue_data(q, struct uv__work, wq);
 *     w->work(w);                                  lea disp(%R),%rdi; call *disp(%R)
 *     uv_mutex_lock(&w->loop->wq_mutex);           ...; call uv_mutex_lock   <- the site
 *
 * The kernel emulates a direct call at a uprobe (no single-step), and at the site the job's
 * struct uv__work is R + disp (w->work is its first field), so the program reads it from one
 * register. Proven from worker()'s own code, decoded linearly from its symbol (every address
 * named is an instruction boundary of that decode):
 *   - worker() has exactly one indirect call, `call *disp(%R)` with R a 64-bit register and no
 *     index, and the instruction right before it is `lea disp(%R),%rdi`: the job is called with
 *     the address of its own function pointer, which is w->work(w) with work at offset 0;
 *   - R is callee-saved in the System V ABI (rbx, rbp, r12-r15): the job's function returns it
 *     unchanged;
 *   - between the indirect call and the site every instruction runs straight (no jump, call or
 *     return) and none writes R;
 *   - no branch of worker() or of its ".cold" part lands after the indirect call and at or
 *     before the site, and worker() has no indirect jump: the site is reached only from the
 *     job's return.
 * Where any of that fails (another compiler, another libuv), there is no site: the pool is then
 * followed at its work functions, as before.
 */
#ifndef UVSCOPE_WORKER_SITE_H
#define UVSCOPE_WORKER_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "target/entry_site.h"
#include "target/elf.h"

struct uvs_worker_site {
	uint64_t addr;      /* ELF address of the site (the direct call) */
	uint64_t job_call;  /* ELF address of the indirect call that runs the job */
	int reg;            /* the pt_regs register index of R (enum uvs_pt_reg) */
	int64_t disp;       /* struct uv__work = R + disp */
	char reg_name[8];   /* "rbx" */
	char insn[48];      /* the site's instruction, as capstone prints it */
};

/*
 * Registers a uprobe program can read R from: the offsets of struct pt_regs (x86-64) divided
 * by 8, for the callee-saved registers only.
 */
enum uvs_pt_reg {
	UVS_PT_R15 = 0,
	UVS_PT_R14 = 1,
	UVS_PT_R13 = 2,
	UVS_PT_R12 = 3,
	UVS_PT_RBP = 4,
	UVS_PT_RBX = 5,
};

/*
 * Finds and proves the site in fn (worker's bytes from its symbol's start), cold: its ".cold"
 * part or NULL. Returns 0 with *out set, or -ENOENT with one sentence in why when the proof
 * fails; -EIO when capstone cannot be opened, -ENOMEM.
 */
int uvs_worker_site_find(const struct uvs_code *fn, const struct uvs_code *cold,
			 struct uvs_worker_site *out, char *why, size_t cap);

/* The same for worker() of elf (sym: its symbol); *file_offset is the site's place in the file. */
int uvs_worker_site_of(struct uvs_elf *elf, const struct uvs_elf_symbol *sym,
		       struct uvs_worker_site *out, uint64_t *file_offset, char *why, size_t cap);

#endif
