/* SPDX-License-Identifier: MIT */
/* The privileges tracing needs: checked before attaching, given up once the probes are in. */
#ifndef UVSCOPE_PRIVILEGES_H
#define UVSCOPE_PRIVILEGES_H

#include <stddef.h>

#include <stdbool.h>

/* Where libbpf finds the kernel's BTF, without which the BPF objects do not load. */
#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/*
 * Drops every capability except CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (still needed to read
 * the target's /proc files, fds and stacks, also when it runs as another user) and forbids
 * regaining any (no_new_privs). BPF maps, links and the ring buffer keep working through the
 * fds we hold. With sampling, CAP_PERFMON and CAP_BPF stay too: a thread the target starts
 * later needs its own perf event and link, and reading a blocked thread's stack off the CPU
 * creates a BPF iterator. Returns 0 or -errno.
 */
int uvs_drop_privileges(bool keep_sampling);

/*
 * Checks that we may trace at all: returns 0, or -EPERM with the privilege we lack written to
 * `missing` (root, or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN).
 */
int uvs_check_privileges(char *missing, size_t cap);

#endif
