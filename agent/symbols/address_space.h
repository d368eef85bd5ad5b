/* SPDX-License-Identifier: MIT */
/*
 * A target's address space as /proc/PID/maps showed it: for an address, its mapping; for a
 * mapping, whether it holds JIT code, how to open the object behind it, and where an address
 * falls in that object's file.
 *
 * JIT code is told by the mapping, never by the address: Node 18 puts V8's code at low
 * addresses, next to where a non-PIE binary sits. An anonymous executable mapping is JIT code
 * (or a trampoline); a file mapping is an object, opened through /proc/PID/map_files so a
 * deleted or replaced file still resolves to what the process runs.
 */
#ifndef UVSCOPE_ADDRESS_SPACE_H
#define UVSCOPE_ADDRESS_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Mappings kept from one read of maps (the kernel's default vm.max_map_count is 65530). */
#define UVS_ADDRESS_SPACE_MAX_MAPPINGS (1u << 20)

struct uvs_mapping {
	uint64_t start, end; /* [start, end) in the target */
	uint64_t offset;     /* file offset of start */
	uint64_t inode;
	const char *path;    /* sanitized; "" when anonymous; may end in " (deleted)" */
	bool read, exec;
	bool anonymous;      /* no file: no path, or a kernel pseudo-name such as [heap], [anon:x] */
	bool deleted;        /* the file was unlinked (or replaced) after it was mapped */
	bool vdso;           /* [vdso]: the kernel's ELF image, the same in every process */
};

struct uvs_address_space;

/* The mappings of /proc/PID/maps now. NULL and errno (ESRCH: no such process, ENOMEM). */
struct uvs_address_space *uvs_address_space_read(int pid);

/* The same from the text of a maps file (tests, fuzzing); malformed lines are skipped. */
struct uvs_address_space *uvs_address_space_parse(const char *text, size_t len);

void uvs_address_space_free(struct uvs_address_space *as);

/* The mapping containing addr, or NULL. */
const struct uvs_mapping *uvs_address_space_find(const struct uvs_address_space *as,
						 uint64_t addr);

size_t uvs_address_space_count(const struct uvs_address_space *as);
const struct uvs_mapping *uvs_address_space_at(const struct uvs_address_space *as, size_t i);

/*
 * Whether a mapping of that name (as the maps show it) is anonymous: no name, or a kernel
 * pseudo-name ([heap], [stack], [anon:x]) other than [vdso].
 */
bool uvs_mapping_name_anonymous(const char *name);

/* True for JIT code: an anonymous executable mapping. */
bool uvs_mapping_is_jit(const struct uvs_mapping *m);

/* Where addr (inside m) lies in the mapped file. */
uint64_t uvs_mapping_file_offset(const struct uvs_mapping *m, uint64_t addr);

/*
 * Opens the file m maps, read-only: /proc/PID/map_files/START-END (the very file mapped, even
 * deleted; needs CAP_SYS_ADMIN), else /proc/PID/root/PATH (the path as the target sees it,
 * its mount namespace included) when the file was not deleted and still has m's inode.
 * The [vdso] opens as this process's copy of it (vdso.h). Returns the fd or -errno (-ENOENT
 * for anonymous mappings, -ESTALE when the path now names another file).
 */
int uvs_mapping_open(int pid, const struct uvs_mapping *m);

#endif
