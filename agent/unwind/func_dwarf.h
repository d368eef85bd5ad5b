/* SPDX-License-Identifier: MIT */
/*
 * What the DWARF of one function says about its inside: its call sites (return address and
 * callee) and the functions inlined into it with their address ranges, read with libdw.
 *
 * The DWARF comes from the target's files: libdw parses it, and this reader bounds what it
 * walks (depth, DIEs, ranges, names) and keeps only addresses inside the function.
 */
#ifndef UVSCOPE_FUNC_DWARF_H
#define UVSCOPE_FUNC_DWARF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uvs_dwarf_call {
	uint64_t ret; /* DW_AT_call_return_pc, or DW_AT_low_pc of a DW_TAG_GNU_call_site */
	char *callee; /* the callee's name (sanitized); NULL for an indirect call */
};

struct uvs_dwarf_inline {
	uint64_t start, end; /* one non-empty range of the inlined instance, clipped to the function */
	char *name;          /* the inlined function's name (sanitized), never NULL */
};

struct uvs_func_dwarf {
	uint64_t low, high; /* the function's range from its DW_TAG_subprogram */
	struct uvs_dwarf_call *calls;
	size_t ncalls;
	struct uvs_dwarf_inline *inlines;
	size_t ninlines;
};

/*
 * Reads the DWARF of the function that starts at ELF address entry in the object open on fd
 * (the fd stays the caller's). Returns 0, -ENODATA when the object has no DWARF or none
 * for that function, -EINVAL for DWARF libdw cannot read, -E2BIG past the bounds, -ENOMEM.
 */
int uvs_func_dwarf_read(int fd, uint64_t entry, struct uvs_func_dwarf *out);

/* Where a variable is at one address: in a register, or in memory at rbp + offset. */
struct uvs_dwarf_var_loc {
	int reg;           /* DWARF register number (x86-64: 0 rax, 3 rbx, 6 rbp, 12-15 r12-r15) */
	bool in_memory;    /* at rbp + rbp_offset (DW_OP_breg6), not in reg */
	int64_t rbp_offset;
};

/*
 * Where the variable or parameter `name` of the function that starts at entry is at address
 * pc inside it: one DW_OP_reg* / DW_OP_regx, or one DW_OP_breg6 (a slot in the frame), and
 * nothing else. Returns 0 with *loc set, -ENODATA when there is no such variable or no DWARF,
 * -ENOENT when at pc it is elsewhere (an expression, optimized out), -EINVAL for DWARF libdw
 * cannot read.
 */
int uvs_func_dwarf_var_loc(int fd, uint64_t entry, const char *name, uint64_t pc,
			   struct uvs_dwarf_var_loc *loc);

/* Frees what uvs_func_dwarf_read() filled in; accepts a zeroed struct. */
void uvs_func_dwarf_release(struct uvs_func_dwarf *d);

#endif
