/* SPDX-License-Identifier: MIT */
/*
 * The call instructions of one x86-64 function, found by decoding it from its symbol's start
 * with capstone. A linear decode from a function's entry is what makes an address a proven
 * instruction boundary: a return address the decode lists follows a real `call`.
 */
#ifndef UVSCOPE_CALL_INSNS_H
#define UVSCOPE_CALL_INSNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uvs_call_insn {
	uint64_t addr;   /* the call instruction's own address (a proven instruction boundary) */
	uint64_t ret;    /* the address after the call: the return address it pushes */
	uint64_t target; /* direct calls: the callee's address; 0 for an indirect call */
	bool direct;     /* `call rel32`, not `call *reg` / `call *mem` */
};

/*
 * Decodes code[0..len), which sits at ELF address addr, and lists its calls in address order
 * into a new array *calls (free it) of *ncalls entries. *decoded_to is the address where the
 * decode stopped: addr + len when every byte decoded, earlier at the first byte capstone
 * cannot decode (nothing past it is proven). Returns 0, -ENOMEM, or -EIO when capstone cannot
 * be opened.
 */
int uvs_call_insns(const uint8_t *code, size_t len, uint64_t addr, struct uvs_call_insn **calls,
		   size_t *ncalls, uint64_t *decoded_to);

#endif
