/* SPDX-License-Identifier: MIT */
/*
 * The processes one agent watches, as every BPF object sees them. One agent loads each BPF
 * object once, whatever the number of targets (`-p A,B`, `--all`): a program finds the process
 * it runs in through the `targets` map (tgid -> struct uvs_target_cfg), and keeps per-process
 * figures at the target's slot (arrays of UVS_MAX_TARGETS entries, or slot-keyed values).
 * What differs between two node binaries (function addresses, the default loop) is in the
 * configuration, not in read-only data known at load.
 */
#ifndef UVSCOPE_TARGETS_H
#define UVSCOPE_TARGETS_H

#include "pool.h"

/* Processes one agent can watch at once (the slots). */
#define UVS_MAX_TARGETS 256

/*
 * The index every program looks a process up in first: a direct-mapped array of
 * UVS_TARGET_INDEX entries, entry tgid % UVS_TARGET_INDEX holding one watched process's
 * configuration. An array lookup is a pointer sum (the verifier inlines it), so the hooks every
 * process on the host runs through (syscall and socket tracepoints, per-CPU sampling events)
 * cost a process that is not watched one load and a compare, and a watched one finds its
 * configuration without a hash. Two watched processes whose tgids share an entry: the second
 * is found in the `targets` hash, which holds every one (`more` says to look there).
 */
#define UVS_TARGET_INDEX 4096

struct uvs_target_cfg {
	/* The loop object (bpf/loop.bpf.c). */
	__u64 main_lfields;   /* the default loop's internal fields; 0 when unknown */
	/* The pool object (bpf/pool.bpf.c): runtime addresses of the work functions. */
	__u64 pool_fn_addr[UVS_POOL_FNS];
	__u64 pool_node_work_cb;
	__u64 pool_nthreads_addr; /* libuv's `nthreads` static, read while the agent has not said */
	__s32 main_epfd;      /* the default loop's epoll fd; -1 when unknown */
	__u32 slot;           /* 0 .. UVS_MAX_TARGETS-1: where this process's figures are */
	__u8 return_hook_only; /* its epoll waits are caught by the return hook alone */
	__u8 epoll_by_syscall; /* its epoll waits are caught by the syscall hooks, not uprobes */
	__u8 pool_cpu_at_node_cb;
	__u8 pool_track_done; /* its done callbacks are probed: a job is kept until its done */
	/* An async fs submit may go to io_uring instead (libuv 1.45-1.47): confirmed at return. */
	__u8 pool_confirm_fs;
	__u8 pad[3];
};

struct uvs_target_entry {
	__u32 tgid;  /* the process the configuration is of; 0: none */
	__u32 more;  /* another watched process has this entry's index: look in `targets` */
	struct uvs_target_cfg cfg;
};

#endif
