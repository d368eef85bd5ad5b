// SPDX-License-Identifier: MIT
/*
 * Node.js version from the "node.js/vX.Y.Z" literal in .rodata. See node_version.h.
 *
 * Why this marker: it is the only one that is the bare NODE_VERSION, NUL-terminated, in every
 * build examined (official 18.20.8, 20.20.2, 22.23.5, 24.22.3, 26.12.1; Debian libnode.so.108
 * 18.20.4). The other copies are worse: the release URLs ("https://nodejs.org/download/release/
 * vX/node-vX.tar.gz", process.release.sourceUrl) exist only where the build defined a release
 * URL base, which also differs between builders; "vX.Y.Z" alone is tail-merged into the marker
 * by the linker or sits inside V8's startup snapshot, in a layout that changes with V8.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "target/node_version.h"

#define MARKER "node.js/v"
#define MARKER_LEN (sizeof(MARKER) - 1)
/* Where the version ("v...") starts in a match: the marker's own "v" is its first byte. */
#define VERSION_AT (MARKER_LEN - 1)
/*
 * A window reads this much past its chunk, so that a marker starting in the chunk comes whole
 * with the longest version we accept and its NUL: then no match needs a second read.
 */
#define OVERLAP (VERSION_AT + UVS_NODE_VERSION_MAX)

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Length of the number at s[0, n): digits, no leading zero; 0 when there is none. */
static size_t number_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && is_digit(s[i]))
		i++;
	return i > 1 && s[0] == '0' ? 0 : i;
}

/* True when s[0, n) is "v" MAJOR.MINOR.PATCH, then optionally "-" ident(.ident)*. */
static bool valid_version(const char *s, size_t n)
{
	size_t i = 1, part, len;

	if (n == 0 || s[0] != 'v')
		return false;
	for (part = 0; part < 3; part++) {
		len = number_len(s + i, n - i);
		if (!len)
			return false;
		i += len;
		if (part < 2 && (i == n || s[i++] != '.'))
			return false;
	}
	if (i == n)
		return true;
	if (s[i++] != '-')
		return false;
	/* Identifiers are non-empty: no leading, trailing or doubled dot. */
	for (len = 0; i < n; i++) {
		if (s[i] == '.' && len) {
			len = 0;
			continue;
		}
		if (!is_ident(s[i]))
			return false;
		len++;
	}
	return len > 0;
}

/*
 * The version at s, of which avail bytes were read: 0 and copied into out when it is valid and
 * NUL-terminated in time, -ENOENT when not (the caller looks further), -ENOSPC.
 */
static int take_version(const char *s, size_t avail, char *out, size_t cap)
{
	size_t n = avail < UVS_NODE_VERSION_MAX ? avail : UVS_NODE_VERSION_MAX;
	const char *nul = memchr(s, '\0', n);

	if (!nul || !valid_version(s, nul - s))
		return -ENOENT;
	n = nul - s;
	if (n >= cap)
		return -ENOSPC;
	memcpy(out, s, n + 1);
	return 0;
}

/* Looks for a valid version in the matches that start in win[0, starts); -ENOENT if none. */
static int scan_window(const char *win, size_t len, size_t starts, char *out, size_t cap)
{
	const char *p = win;
	int err;

	while ((p = memmem(p, len - (p - win), MARKER, MARKER_LEN)) && (size_t)(p - win) < starts) {
		err = take_version(p + VERSION_AT, len - (p - win) - VERSION_AT, out, cap);
		if (err != -ENOENT)
			return err;
		p++;
	}
	return -ENOENT;
}

int uvs_node_version_scan(struct uvs_elf *elf, uint64_t offset, uint64_t len, size_t chunk,
			  char *out, size_t cap)
{
	uint64_t pos, end;
	size_t bufsz;
	char *buf;
	int err = -ENOENT;

	if (!elf || !out || !cap || !chunk || chunk > SIZE_MAX - OVERLAP ||
	    offset > UINT64_MAX - len)
		return -EINVAL;
	end = offset + len;
	/* A small section gets a small buffer. */
	bufsz = len < chunk + OVERLAP ? (size_t)len : chunk + OVERLAP;
	buf = malloc(bufsz ? bufsz : 1);
	if (!buf)
		return -ENOMEM;
	for (pos = offset; pos < end && err == -ENOENT; pos += chunk) {
		size_t n = end - pos < bufsz ? (size_t)(end - pos) : bufsz;

		err = uvs_elf_read(elf, pos, buf, n);
		if (!err)
			err = scan_window(buf, n, chunk, out, cap);
		/* A window past the last chunk would only hold matches already looked at. */
		if (end - pos <= chunk)
			break;
	}
	free(buf);
	return err;
}

int uvs_node_version_read(struct uvs_elf *elf, char *out, size_t cap)
{
	uint64_t offset, size;
	int err;

	if (!elf || !out || !cap)
		return -EINVAL;
	err = uvs_elf_section_range(elf, ".rodata", &offset, &size);
	if (err)
		return err;
	return uvs_node_version_scan(elf, offset, size, UVS_NODE_VERSION_CHUNK, out, cap);
}
