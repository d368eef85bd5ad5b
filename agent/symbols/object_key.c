// SPDX-License-Identifier: MIT
/* The identity of an ELF object for the shared caches. See object_key.h. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "symbols/object_key.h"

int uvs_object_key_make(struct uvs_elf *elf, int fd, struct uvs_object_key *k)
{
	struct stat st;
	size_t len;

	memset(k, 0, sizeof(*k));
	if (uvs_elf_build_id(elf, k->id, sizeof(k->id), &len) == 0) {
		k->kind = 1;
		k->len = (uint8_t)len;
		return 0;
	}
	memset(k->id, 0, sizeof(k->id));
	if (fstat(fd, &st))
		return -errno;
	k->kind = 2;
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->size = st.st_size;
	k->mtime = st.st_mtim;
	return 0;
}

bool uvs_object_key_same(const struct uvs_object_key *a, const struct uvs_object_key *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == 1)
		return a->len == b->len && !memcmp(a->id, b->id, a->len);
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}
