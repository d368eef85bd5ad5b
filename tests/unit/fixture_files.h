/* SPDX-License-Identifier: MIT */
/*
 * The ELF fixtures of tests/unit/fixtures.mk for the unit tests that read files
 * (test_elf.c, test_node_version.c): where they are, and scratch copies to patch.
 */
#ifndef UVSCOPE_TEST_FIXTURE_FILES_H
#define UVSCOPE_TEST_FIXTURE_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "target/elf.h"

/* Path of a fixture in $FIXTURES; a few rotating buffers so two can be used in one expression. */
const char *fx(const char *name);

/* The whole file at path in memory (malloc'd), its size in *len; fails the test if unreadable. */
uint8_t *slurp(const char *path, size_t *len);

/* An unlinked scratch file in /tmp, for patched copies of a fixture. */
int scratch_fd(void);

/* Rewrites the scratch file behind fd with buf[0..len) and opens it through uvs_elf_open_fd. */
struct uvs_elf *open_bytes(int fd, const uint8_t *buf, size_t len);

#endif
