// SPDX-License-Identifier: MIT
/*
 * process_vm_readv reads of the target. See memory.h for the contract.
 *
 * process_vm_readv neither stops the target nor needs it to be traced; it checks the same
 * ptrace access mode as /proc/PID/mem (PTRACE_MODE_ATTACH_REALCREDS), which the agent has as
 * root. It never faults in our process: a bad remote address is an error return.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "target/memory.h"

ssize_t uvs_mem_read(int pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	if (len > UVS_MEM_READ_MAX || addr + len < addr || pid <= 0)
		return -EINVAL;
	if (len == 0)
		return 0;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return n;
}

static ssize_t read_pid(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return uvs_mem_read((int)(intptr_t)ctx, addr, buf, len);
}

struct uvs_mem_reader uvs_mem_reader_pid(int pid)
{
	return (struct uvs_mem_reader){ .read = read_pid, .ctx = (void *)(intptr_t)pid };
}

int uvs_mem_read_exact(const struct uvs_mem_reader *r, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = r->read(r->ctx, addr, buf, len);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EFAULT;
}

int uvs_mem_read_u64(const struct uvs_mem_reader *r, uint64_t addr, uint64_t *out)
{
	return uvs_mem_read_exact(r, addr, out, sizeof(*out));
}

int uvs_mem_read_u32(const struct uvs_mem_reader *r, uint64_t addr, uint32_t *out)
{
	return uvs_mem_read_exact(r, addr, out, sizeof(*out));
}

int uvs_mem_read_u16(const struct uvs_mem_reader *r, uint64_t addr, uint16_t *out)
{
	return uvs_mem_read_exact(r, addr, out, sizeof(*out));
}
