/* SPDX-License-Identifier: MIT */
/*
 * What makes two mapped files the same ELF object, for the caches that share what is read
 * from an object between every target that maps it (symbol indexes: symtab_cache.h; call
 * frame information: unwind/cfi_objects.h): its GNU build id, or, for an object without one,
 * its file identity (device, inode, size, mtime), which a rebuilt or replaced file changes.
 */
#ifndef UVSCOPE_OBJECT_KEY_H
#define UVSCOPE_OBJECT_KEY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "target/elf.h"

/* A build id is 20 bytes (sha1) in practice; the note may be up to this long to count. */
#define UVS_BUILD_ID_MAX 64

struct uvs_object_key {
	uint8_t kind; /* 1: build id, 2: file identity */
	uint8_t len;
	uint8_t id[UVS_BUILD_ID_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* The key of the object elf, opened from fd. 0, or -errno when fd cannot be stat'ed. */
int uvs_object_key_make(struct uvs_elf *elf, int fd, struct uvs_object_key *k);

bool uvs_object_key_same(const struct uvs_object_key *a, const struct uvs_object_key *b);

#endif
