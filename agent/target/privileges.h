/* SPDX-License-Identifier: MIT */
/* Giving up what we no longer need once the probes are in place. */
#ifndef UVSCOPE_PRIVILEGES_H
#define UVSCOPE_PRIVILEGES_H

/*
 * Drops every capability except CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (still needed to read
 * the target's /proc files, fds and stacks, also when it runs as another user) and forbids
 * regaining any (no_new_privs). BPF maps,
 * links and the ring buffer keep working through the fds we hold. Returns 0 or -errno.
 */
int uvs_drop_privileges(void);

#endif
