/* SPDX-License-Identifier: MIT */
/*
 * Types shared by bpf/syscalls.bpf.c and the agent: every system call of the target, counted
 * and timed per thread and syscall number, slow ones on loop threads reported one by one, and
 * the fds that system calls open and close, by type.
 */
#ifndef UVSCOPE_SYSCALLS_H
#define UVSCOPE_SYSCALLS_H

#include "fd.h"
#include "hist.h"

/* Statistics are kept per (thread, syscall); the agent groups threads by role. */
struct uvs_sys_key {
	__u32 tid;
	__u32 nr;
};

struct uvs_sys_stats {
	__u64 count;
	__u64 errors;   /* returned -1..-4095 (an errno) */
	__u64 total_ns;
	__u64 max_ns;
	struct uvs_hist latency;
};

/*
 * (thread, syscall) pairs tracked per target (each target has a map of its own); past this a
 * pair is counted in uvs_sys_counters.lost.
 */
#define UVS_SYS_MAX_KEYS 4096

/* UVS_FD_TYPES rounded up to a power of two: the BPF side masks the index with it. */
#define UVS_FD_SLOTS 8
_Static_assert(UVS_FD_TYPES <= UVS_FD_SLOTS, "fd types fit the counter slots");

/*
 * A target's counters (at its slot of an array, updated atomically). The fd counts are net
 * opens and closes since attach, by type; the agent adds them to a /proc/PID/fd baseline.
 */
struct uvs_sys_counters {
	__u64 lost;        /* syscalls not counted: the statistics map was full */
	__u64 slow_drops;  /* slow-syscall events the ring buffer had no room for */
	__u64 fd_opened[UVS_FD_SLOTS];
	__u64 fd_closed[UVS_FD_SLOTS];
	/*
	 * fd changes the syscalls cannot account for exactly (close_range, fds passed over a
	 * socket, io_uring's own opens and closes): the agent rescans /proc/PID/fd after one.
	 */
	__u64 fd_untracked;
};

/* A syscall on a loop thread that took at least the slow threshold (not the loop's wait). */
struct uvs_slow_syscall {
	__u64 ts_ns;        /* CLOCK_MONOTONIC when it returned */
	__u64 duration_ns;
	__u32 tid;
	__u32 nr;
	__s64 ret;
	__u32 tgid;         /* the target it belongs to: one ring serves every target */
	__u32 pad;
};
_Static_assert(sizeof(struct uvs_slow_syscall) == 40, "the slow-syscall record's layout");

#endif /* UVSCOPE_SYSCALLS_H */
