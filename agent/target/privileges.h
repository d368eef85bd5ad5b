/* SPDX-License-Identifier: MIT */
/* The privileges tracing needs: checked before attaching, given up once the probes are in. */
#ifndef UVSCOPE_PRIVILEGES_H
#define UVSCOPE_PRIVILEGES_H

#include <stddef.h>

/*
 * Drops every capability except CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (still needed to read
 * the target's /proc files, fds and stacks, also when it runs as another user) and forbids
 * regaining any (no_new_privs). BPF maps,
 * links and the ring buffer keep working through the fds we hold. Returns 0 or -errno.
 */
int uvs_drop_privileges(void);

/*
 * Checks that we may trace at all: returns 0, or -EPERM with the privilege we lack written to
 * `missing` (root, or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN).
 */
int uvs_check_privileges(char *missing, size_t cap);

#endif
