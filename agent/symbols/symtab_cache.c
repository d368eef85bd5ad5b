// SPDX-License-Identifier: MIT
/* The process-wide, build-id-keyed cache of symbol indexes. See symtab_cache.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/object_key.h"
#include "symbols/symtab_cache.h"

struct slot {
	struct uvs_object_key key;
	struct uvs_symtab *symtab; /* the cache's own reference */
	uint64_t used;             /* tick of the last get: the smallest is evicted */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[UVS_SYMTAB_CACHE_MAX];
static size_t nslots;
static uint64_t tick;

/* The cached index for k with a new reference, or NULL. Called with lock held. */
static struct uvs_symtab *find_locked(const struct uvs_object_key *k)
{
	size_t i;

	for (i = 0; i < nslots; i++) {
		if (uvs_object_key_same(&slots[i].key, k)) {
			slots[i].used = ++tick;
			return uvs_symtab_get(slots[i].symtab);
		}
	}
	return NULL;
}

/* Stores t under k (taking a reference), evicting the least recently used when full. */
static void insert_locked(const struct uvs_object_key *k, struct uvs_symtab *t)
{
	size_t i, victim = 0;

	if (nslots == UVS_SYMTAB_CACHE_MAX) {
		for (i = 1; i < nslots; i++) {
			if (slots[i].used < slots[victim].used)
				victim = i;
		}
		uvs_symtab_put(slots[victim].symtab);
		slots[victim] = slots[--nslots];
	}
	slots[nslots++] = (struct slot){ .key = *k, .symtab = uvs_symtab_get(t), .used = ++tick };
}

struct uvs_symtab *uvs_symtab_cache_get(int fd)
{
	struct uvs_symtab *t, *raced;
	struct uvs_elf *elf;
	struct uvs_object_key k;
	int err;

	elf = uvs_elf_open_fd(fd);
	if (!elf)
		return NULL;
	err = uvs_object_key_make(elf, fd, &k);
	if (err) {
		uvs_elf_close(elf);
		errno = -err;
		return NULL;
	}
	pthread_mutex_lock(&lock);
	t = find_locked(&k);
	pthread_mutex_unlock(&lock);
	if (t) {
		uvs_elf_close(elf);
		return t;
	}
	/* Built without the lock: node's index takes a fraction of a second. */
	t = uvs_symtab_build(elf);
	err = errno;
	uvs_elf_close(elf);
	if (!t) {
		errno = err;
		return NULL;
	}
	pthread_mutex_lock(&lock);
	raced = find_locked(&k);
	if (!raced)
		insert_locked(&k, t);
	pthread_mutex_unlock(&lock);
	if (raced) {
		uvs_symtab_put(t);
		t = raced;
	}
	return t;
}

void uvs_symtab_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	while (nslots)
		uvs_symtab_put(slots[--nslots].symtab);
	pthread_mutex_unlock(&lock);
}

size_t uvs_symtab_cache_size(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = nslots;
	pthread_mutex_unlock(&lock);
	return n;
}
