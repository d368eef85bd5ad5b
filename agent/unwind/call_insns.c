// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "target/capstone_lib.h"
#include "unwind/call_insns.h"

static int push_call(struct uvs_call_insn **calls, size_t *n, size_t *cap,
		     const struct uvs_call_insn *c)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct uvs_call_insn *p = realloc(*calls, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*calls = p;
		*cap = ncap;
	}
	(*calls)[(*n)++] = *c;
	return 0;
}


static void describe_call(const cs_insn *insn, struct uvs_call_insn *c)
{
	const cs_x86 *x = &insn->detail->x86;

	c->addr = insn->address;
	c->ret = insn->address + insn->size;
	c->direct = x->op_count == 1 && x->operands[0].type == X86_OP_IMM;
	c->target = c->direct ? (uint64_t)x->operands[0].imm : 0;
}


int uvs_call_insns(const uint8_t *code, size_t len, uint64_t addr, struct uvs_call_insn **calls,
		   size_t *ncalls, uint64_t *decoded_to)
{
	size_t cap = 0;
	csh handle;
	cs_insn *insn;
	int err = 0;

	*calls = NULL;
	*ncalls = 0;
	*decoded_to = addr;
	/* With operand details: they tell a direct call from an indirect one. */
	if (uvs_cs_open(&handle))
		return -EIO;
	insn = uvs_cs_malloc(handle);
	if (!insn) {
		uvs_cs_close(&handle);
		return -ENOMEM;
	}
	/* cs_disasm_iter advances code, len and the address past each instruction it decodes. */
	while (len > 0 && uvs_cs_disasm_iter(handle, &code, &len, &addr, insn)) {
		struct uvs_call_insn c;

		if (insn->id != X86_INS_CALL)
			continue;
		describe_call(insn, &c);
		err = push_call(calls, ncalls, &cap, &c);
		if (err)
			break;
	}
	*decoded_to = addr;
	uvs_cs_free(insn, 1);
	uvs_cs_close(&handle);
	if (err) {
		free(*calls);
		*calls = NULL;
		*ncalls = 0;
	}
	return err;
}
