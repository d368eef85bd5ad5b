// SPDX-License-Identifier: MIT
/* The process-wide, build-id-keyed cache of symbol indexes. See symtab_cache.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "symbols/symtab_cache.h"

/* A build id is 20 bytes (sha1) in practice; the note may be up to this long to count. */
#define UVS_BUILD_ID_MAX 64

struct key {
	uint8_t kind; /* 1: build id, 2: file identity */
	uint8_t len;
	uint8_t id[UVS_BUILD_ID_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct slot {
	struct key key;
	struct uvs_symtab *symtab; /* the cache's own reference */
	uint64_t used;             /* tick of the last get: the smallest is evicted */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[UVS_SYMTAB_CACHE_MAX];
static size_t nslots;
static uint64_t tick;

static int make_key(struct uvs_elf *elf, int fd, struct key *k)
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

static bool same_key(const struct key *a, const struct key *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == 1)
		return a->len == b->len && !memcmp(a->id, b->id, a->len);
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The cached index for k with a new reference, or NULL. Called with lock held. */
static struct uvs_symtab *find_locked(const struct key *k)
{
	size_t i;

	for (i = 0; i < nslots; i++) {
		if (same_key(&slots[i].key, k)) {
			slots[i].used = ++tick;
			return uvs_symtab_get(slots[i].symtab);
		}
	}
	return NULL;
}

/* Stores t under k (taking a reference), evicting the least recently used when full. */
static void insert_locked(const struct key *k, struct uvs_symtab *t)
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
	struct key k;
	int err;

	elf = uvs_elf_open_fd(fd);
	if (!elf)
		return NULL;
	err = make_key(elf, fd, &k);
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
