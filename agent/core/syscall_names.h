/* SPDX-License-Identifier: MIT */
/* x86_64 system call names by number, from the kernel headers the agent was built with. */
#ifndef UVSCOPE_SYSCALL_NAMES_H
#define UVSCOPE_SYSCALL_NAMES_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/snapshot.h"

/* The name of syscall nr ("read"), or "syscall_NR" written into buf when it has none here. */
const char *uvs_syscall_name(uint32_t nr, char *buf, size_t cap);

/*
 * Whether a (role, syscall) row is mostly threads waiting for work rather than working: the
 * epoll waits of every loop, and futex waits off the loop threads (pool threads and V8's
 * platform workers wait for their next job that way). Text views leave these out of their
 * "busiest syscalls" lists; JSON keeps every row.
 */
bool uvs_syscall_idle_wait(uint32_t nr, enum uvs_sys_role role);

#endif
