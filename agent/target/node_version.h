/* SPDX-License-Identifier: MIT */
/*
 * The Node.js version of the ELF object that holds node (the node executable or libnode.so),
 * read from the file: nothing runs in the target.
 *
 * The marker is the string literal "node.js/" NODE_VERSION that node's inspector serves as
 * "Browser" in /json/version (src/inspector_socket_server.cc). Official builds of 18 to 26 and
 * Debian's libnode.so carry it NUL-terminated in .rodata, within its first MiB. A node built
 * --without-inspector leaves that file out and so should have no marker: its version is then
 * unknown, after a scan of all of .rodata (about 15 ms for 50 MB in the page cache).
 *
 * The object is untrusted: only .rodata is read, in bounded chunks, and the version must be
 * "v" MAJOR.MINOR.PATCH (no leading zeros), optionally "-" and a semver prerelease
 * (dot-separated [0-9A-Za-z-] identifiers, as in "v26.0.0-pre" or "v22.0.0-v8-canary2024..."),
 * shorter than UVS_NODE_VERSION_MAX and followed by the NUL that ends the literal.
 */
#ifndef UVSCOPE_NODE_VERSION_H
#define UVSCOPE_NODE_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "target/elf.h"

/* Room for any version we accept, NUL included. */
#define UVS_NODE_VERSION_MAX 64

/* How much of the file one read brings in. */
#define UVS_NODE_VERSION_CHUNK (1u << 20)

/*
 * Writes the version ("v20.20.2") of the node object elf into out, NUL-terminated. elf is the
 * object with node's own code: the node executable, or libnode.so where node links it (not
 * libuv.so: that has no marker). Returns 0; -ENOENT when the object is not node or carries no
 * valid marker; -ENOSPC when cap is too small (UVS_NODE_VERSION_MAX always suffices); -EIO,
 * -ERANGE or -errno when the file cannot be read.
 */
int uvs_node_version_read(struct uvs_elf *elf, char *out, size_t cap);

/*
 * The scan behind uvs_node_version_read(), on any file range [offset, offset + len), read
 * chunk bytes at a time (the tests make markers straddle chunk boundaries with small chunks).
 * Returns the first valid version, skipping markers followed by anything else.
 */
int uvs_node_version_scan(struct uvs_elf *elf, uint64_t offset, uint64_t len, size_t chunk,
			  char *out, size_t cap);

#endif /* UVSCOPE_NODE_VERSION_H */
