/* SPDX-License-Identifier: MIT */
/*
 * Where a uprobe that stands for a function's entry costs the target least.
 *
 * The kernel emulates a few instructions at a uprobe (push of a register, direct call and jmp,
 * conditional jumps: x86_insn.h) and single-steps every other one out of line, which costs
 * about ten times as much per hit. Functions that do not start with one of those (libuv's
 * uv_queue_work on Node 18, 24 and 26 starts with `test %rdx,%rdx`, then `je`) may still be
 * probed cheaply a few instructions in, when that is proven to be the same as probing the
 * entry:
 *   - the instructions before the site (the prefix) run straight through: none is a branch,
 *     call or return, and each is a plain register or load instruction (mov, lea, test, cmp,
 *     arithmetic, endbr64) that writes no memory;
 *   - the prefix writes none of the argument registers the probe's program reads, and not the
 *     stack pointer when a return probe goes on the same site (it finds the return address at
 *     the top of the stack);
 *   - nothing else enters the prefix: no direct jump or call in the function or in its GCC
 *     ".cold" part lands after the start and at or before the site, and the function has no
 *     indirect jump (which could land anywhere in it) when the site is not the start.
 * Every call of the function then passes the site exactly once, with the arguments the entry
 * had. The site is an instruction boundary: the function is decoded from its symbol's start.
 */
#ifndef UVSCOPE_ENTRY_SITE_H
#define UVSCOPE_ENTRY_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/elf.h"

/* How far past the start a site is looked for (instructions before it). */
#define UVS_ENTRY_SITE_MAX_PREFIX 8

/* The argument registers (System V x86-64 order) a probe's program reads, as a mask. */
enum uvs_arg_reg {
	UVS_ARG_RDI = 1u << 0,
	UVS_ARG_RSI = 1u << 1,
	UVS_ARG_RDX = 1u << 2,
	UVS_ARG_RCX = 1u << 3,
	UVS_ARG_R8 = 1u << 4,
	UVS_ARG_R9 = 1u << 5,
};

/* Bytes of code and the ELF address of the first one. */
struct uvs_code {
	const uint8_t *bytes;
	size_t len;
	uint64_t addr;
};

struct uvs_entry_site {
	uint64_t addr;   /* ELF address of the site: the function's start, or a proven later one */
	bool emulated;   /* the kernel emulates the instruction there (no single-step) */
	char insn[48];   /* that instruction, as capstone prints it ("push rbp") */
};

/*
 * Chooses the site for fn (its bytes from the symbol's start to its end). cold: the bytes of
 * its GCC ".cold" part, or NULL. args: enum uvs_arg_reg bits the program reads; ret: a return
 * probe goes on the site too. Returns 0 with *out set; when a later site was looked for and
 * refused, or none is emulated, the site is the start and `why` says why (else why is "").
 * -EINVAL on empty code or when its first instruction cannot be decoded, -EIO when capstone
 * cannot be opened, -ENOMEM.
 */
int uvs_entry_site_find(const struct uvs_code *fn, const struct uvs_code *cold, unsigned args,
			bool ret, struct uvs_entry_site *out, char *why, size_t cap);

/* Reads sym's bytes into a fresh buffer (free c->bytes); -EINVAL when its size is implausible. */
int uvs_code_read(struct uvs_elf *elf, const struct uvs_elf_symbol *sym, struct uvs_code *c);

/*
 * The same for sym, the function `name` of elf (its bytes read from the file, and those of
 * "name.cold" when elf has that symbol); *file_offset is the site's place in the file.
 */
int uvs_entry_site_of(struct uvs_elf *elf, const char *name, const struct uvs_elf_symbol *sym,
		      unsigned args, bool ret, struct uvs_entry_site *out, uint64_t *file_offset,
		      char *why, size_t cap);

/* The same with its ".cold" part's symbol given (NULL: it has none), not looked up. */
int uvs_entry_site_of_parts(struct uvs_elf *elf, const char *name,
			    const struct uvs_elf_symbol *sym, const struct uvs_elf_symbol *cold_sym,
			    unsigned args, bool ret, struct uvs_entry_site *out,
			    uint64_t *file_offset, char *why, size_t cap);

#endif
