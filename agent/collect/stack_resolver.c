// SPDX-License-Identifier: MIT
/* Interim: frames as addresses, until the symbolizer, V8 namer and unwinders are merged. */
#include "collect/stack_resolver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct uvs_stack_resolver {
	const struct uvs_target *t;
	char names[UVS_RESOLVED_FRAMES_MAX][32];
};

struct uvs_stack_resolver *uvs_stack_resolver_new(const struct uvs_target *t)
{
	struct uvs_stack_resolver *r = calloc(1, sizeof(*r));

	if (r)
		r->t = t;
	return r;
}

void uvs_stack_resolver_free(struct uvs_stack_resolver *r)
{
	free(r);
}

size_t uvs_stack_resolver_notes(const struct uvs_stack_resolver *r, const char **notes, size_t cap)
{
	(void)r; (void)notes; (void)cap;
	return 0;
}

size_t uvs_stack_resolve(struct uvs_stack_resolver *r, const struct uvs_stack_sample *raw,
			 const uint8_t *copy, size_t copy_len, struct uvs_frame *out, size_t cap,
			 int *phase)
{
	size_t n = 0, total = raw->nuser + raw->nkernel;
	(void)copy; (void)copy_len;

	*phase = UVS_PHASE_NONE;
	for (size_t i = 0; i < total && n < cap; i++) {
		/* root first: user frames from the outermost, then kernel */
		size_t k = total - 1 - i;
		uint64_t pc = k < raw->nkernel ? raw->kernel[k] : raw->user[k - raw->nkernel].pc;

		snprintf(r->names[n], sizeof(r->names[n]), "0x%llx", (unsigned long long)pc);
		out[n].kind = k < raw->nkernel ? UVS_FRAME_KERNEL : UVS_FRAME_UNKNOWN;
		out[n].name = r->names[n];
		out[n].file = NULL;
		out[n].line = 0;
		n++;
	}
	return n;
}

void uvs_stack_resolver_new_epoch(struct uvs_stack_resolver *r)
{
	(void)r;
}
