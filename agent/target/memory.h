/* SPDX-License-Identifier: MIT */
/*
 * Reads of the target's memory, read-only and without stopping it (process_vm_readv).
 *
 * Everything read is untrusted: the caller validates it. An address the target has not mapped
 * (EFAULT) or a process that has exited (ESRCH) is a normal answer, not an error to report:
 * heap objects move and die while we read them.
 *
 * A reader is a function pointer with its context, so that code which walks the target's
 * memory (the V8 heap reader) can be fed a synthetic memory in unit tests and fuzz targets.
 */
#ifndef UVSCOPE_MEMORY_H
#define UVSCOPE_MEMORY_H

#include <stdint.h>
#include <sys/types.h>

/* The largest read one call makes: callers read objects' headers and short strings. */
#define UVS_MEM_READ_MAX 4096u

/*
 * Copies len bytes (len <= UVS_MEM_READ_MAX) at addr in process pid into buf. Returns the
 * number of bytes read (fewer than len when the range runs into an unmapped page), or -errno:
 * -EFAULT (nothing mapped at addr), -ESRCH (no such process), -EPERM, -EINVAL (len too large
 * or addr + len wraps).
 */
ssize_t uvs_mem_read(int pid, uint64_t addr, void *buf, size_t len);

/* A source of target memory: read() has the contract of uvs_mem_read(). */
struct uvs_mem_reader {
	ssize_t (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *ctx;
};

/* A reader of process pid's memory through uvs_mem_read(); ctx holds the pid itself. */
struct uvs_mem_reader uvs_mem_reader_pid(int pid);

/*
 * Reads exactly len bytes through r: 0, or -EFAULT when fewer were there, or the reader's
 * -errno. The u64 / u32 / u16 helpers read one little-endian word the same way.
 */
int uvs_mem_read_exact(const struct uvs_mem_reader *r, uint64_t addr, void *buf, size_t len);
int uvs_mem_read_u64(const struct uvs_mem_reader *r, uint64_t addr, uint64_t *out);
int uvs_mem_read_u32(const struct uvs_mem_reader *r, uint64_t addr, uint32_t *out);
int uvs_mem_read_u16(const struct uvs_mem_reader *r, uint64_t addr, uint16_t *out);

#endif
