/* SPDX-License-Identifier: MIT */
/*
 * The functions of an ELF fixture as binutils lists them (X.syms, `readelf -sW -C`, made by
 * tests/unit/fixtures.mk): the reference the symbol index is checked against.
 */
#ifndef UVSCOPE_TEST_FIXTURE_SYMS_H
#define UVSCOPE_TEST_FIXTURE_SYMS_H

#include <stddef.h>
#include <stdint.h>

struct fixture_sym {
	uint64_t value, size;
	char name[512]; /* demangled; a version suffix (@GLIBC...) cut off */
};

/* The defined FUNC and IFUNC symbols of fixture (both tables); fails the test if unreadable. */
struct fixture_sym *fixture_functions(const char *fixture, size_t *n);

/* The listed function called name (exactly); fails the test if absent. */
const struct fixture_sym *fixture_function(const struct fixture_sym *v, size_t n,
					   const char *name);

#endif
