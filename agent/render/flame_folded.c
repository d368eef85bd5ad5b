// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>

#include "render/flame_folded.h"
#include "render/flame_stacks.h"

int uvs_flame_folded_write(FILE *out, const struct uvs_profile *p)
{
	struct uvs_flame_stacks s;
	size_t i, j;
	int err;

	err = uvs_flame_stacks_build(&s, p, UVS_FLAME_FOLDED_NAMES);
	if (err)
		return err;
	for (i = 0; i < s.nstacks; i++) {
		const struct uvs_flame_stack *st = &s.stacks[i];

		for (j = 0; j < st->n; j++) {
			if (j)
				fputc(';', out);
			fputs(s.texts[s.keys[st->off + j]], out);
		}
		fprintf(out, " %" PRIu64 "\n", st->count);
	}
	uvs_flame_stacks_free(&s);
	return fflush(out) || ferror(out) ? -EIO : 0;
}
