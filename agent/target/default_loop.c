// SPDX-License-Identifier: MIT
#include "target/default_loop.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "target/elf.h"
#include "target/memory.h"
#include "uvscope/epoll_sites.h"


/* Whether fd of process pid is an epoll instance (its /proc link says so). */
static bool is_epoll_fd(pid_t pid, int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[eventpoll]") == 0;
}

int uvs_default_loop_read(const struct uvs_target *t, struct uvs_default_loop *out)
{
	struct uvs_mem_reader r = uvs_mem_reader_pid(t->pid);
	struct uvs_elf_symbol loop, ptr;
	uint64_t addr, ptr_value, lfields;
	uint32_t fd;
	int err;

	out->epfd = -1;
	out->internal_fields = 0;
	out->addr = 0;
	if (!t->uv.elf || uvs_elf_find_object(t->uv.elf, "default_loop_struct", &loop) ||
	    uvs_elf_find_object(t->uv.elf, "default_loop_ptr", &ptr))
		return -ENOENT;
	addr = loop.addr + t->uv.bias;
	/* uv_default_loop() sets the pointer once the struct is initialised. */
	err = uvs_mem_read_u64(&r, ptr.addr + t->uv.bias, &ptr_value);
	if (err)
		return err;
	if (ptr_value != addr)
		return -ENODATA;
	err = uvs_mem_read_u64(&r, addr + UVS_UV_LOOP_INTERNAL_FIELDS, &lfields);
	if (!err)
		err = uvs_mem_read_u32(&r, addr + UVS_UV_LOOP_BACKEND_FD, &fd);
	if (err)
		return err;
	if (!lfields || fd > INT_MAX || !is_epoll_fd(t->pid, (int)fd))
		return -ENODATA;
	out->epfd = (int)fd;
	out->internal_fields = lfields;
	out->addr = addr;
	return 0;
}
