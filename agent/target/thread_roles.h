/* SPDX-License-Identifier: MIT */
/*
 * Which job a thread of a Node process does. Node names none of its threads, so we look at
 * what is on the thread's stack while it sits in a syscall: a return address inside
 * node::worker::Worker::Run means a Worker's loop, inside libuv's `worker` a thread-pool
 * thread, inside uv_run some other libuv loop; the thread whose id is the pid is the main one.
 */
#ifndef UVSCOPE_THREAD_ROLES_H
#define UVSCOPE_THREAD_ROLES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/snapshot.h"

struct uvs_target;

/* An address range [start, end). */
struct uvs_range {
	uint64_t start;
	uint64_t end;
};

/* The readable mappings of a process, sorted by address (read once, used for many threads). */
struct uvs_ranges {
	struct uvs_range *r;
	size_t n, cap;
};

/* Reads the readable mappings of pid. Returns 0 or -errno. */
int uvs_ranges_read_maps(pid_t pid, struct uvs_ranges *maps);
void uvs_ranges_free(struct uvs_ranges *maps);

/*
 * How much of a thread's stack is read at a time, from its stack pointer up, and at most in all
 * (for a thread none of whose first chunk's words tells its role: a Worker deep in recursion;
 * Node gives a Worker 4 MiB of stack). Never past the stack's own mapping.
 */
#define UVS_STACK_SCAN_BYTES (64 * 1024)
#define UVS_STACK_SCAN_MAX_BYTES (8 * 1024 * 1024)

/* Role from stack words (any 8-byte values read upwards from the stack pointer). */
enum uvs_role uvs_role_from_stack(const struct uvs_target *t, pid_t tid, const uint64_t *words,
				  size_t nwords);

/*
 * Whether loop thread tid of a Node process is a Worker's by its loop's libuv metrics, where its
 * stack did not prove a role: it was never read stopped in a syscall, or it exited first, as a
 * Worker that lives between two windows does. Node turns the metrics on for the main loop and
 * every Worker's, and for no loop of its own (the platform's delayed tasks, the inspector's),
 * so a loop with them on that is not the main one is a Worker's. In another libuv program the
 * rule says nothing. A stack's "other" is no answer for a thread that runs a loop: it was read
 * outside the loop's uv_run, in a syscall of the thread's start or of its teardown after
 * Worker::Run returned (a short-lived Worker read as it exits).
 */
bool uvs_role_by_loop_metrics(const struct uvs_target *t, pid_t tid, enum uvs_role role,
			      bool known, bool metrics_on);

/*
 * The user stack pointer of a thread stopped in a syscall (or blocked outside one): 0, -EAGAIN
 * when the thread is running (no registers shown: try later), or -errno. Asked before the maps
 * are read, so a process whose unplaced threads are all running costs no read of its maps.
 */
int uvs_thread_stopped_sp(pid_t pid, pid_t tid, uint64_t *sp);

/*
 * Reads the stack of a thread stopped with stack pointer sp (bounded by its stack mapping,
 * found in maps: a read taken while the thread was stopped, so its stack was mapped) and
 * classifies it. Returns 0 and sets *role, -EFAULT when sp is in no readable mapping of maps
 * (a thread newer than the read: try later), or -errno.
 */
int uvs_classify_thread(const struct uvs_target *t, const struct uvs_ranges *maps, pid_t tid,
			uint64_t sp, enum uvs_role *role);

#endif
