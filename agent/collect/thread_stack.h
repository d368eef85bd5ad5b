/* SPDX-License-Identifier: MIT */
/*
 * One thread's stack without BPF, by ptrace: PTRACE_SEIZE that thread (no SIGSTOP: seizing
 * changes nothing in the target), PTRACE_INTERRUPT it, wait for its stop (bounded), read its
 * registers, copy the top of its stack and walk its frame pointers with process_vm_readv
 * (collect/fp_walk.h: the same walk as BPF's, with the JS function slot at fp-16), and
 * PTRACE_DETACH at once. The result is the raw sample the BPF path gives
 * (include/uvscope/stacks.h) for uvs_stack_resolve to name.
 *
 * Only that one thread stops, and only for the grab: the pause (from the interrupt to the
 * detach) is measured and returned. Every path that seized the thread detaches it (or reaps it
 * when it exited); if uvscope dies while the thread is stopped, even by SIGKILL, the kernel
 * detaches it (exit_ptrace) and it runs on.
 *
 * Needs CAP_SYS_PTRACE over the target (or the same uid with Yama's ptrace_scope 0); fails with
 * -EPERM when another tracer (a debugger) holds the thread.
 *
 * Use (a collector that found loop thread tid blocked since `since`):
 *
 *	struct uvs_thread_stack *ts = malloc(sizeof(*ts));   (about 20 KiB: not on the stack)
 *	struct uvs_thread_stack_options o = { .loop = UVS_SAMPLE_LOOP_BUSY, .busy_since = since };
 *
 *	if (uvs_thread_stack_grab(pid, tid, &o, ts, why, sizeof(why)) == 0)
 *		n = uvs_stack_resolve(resolver, &ts->s, ts->copy, ts->copy_len, frames, cap, &phase);
 *
 * ts->pause_ns is what it cost the thread; ts->s.kind says whether it was on the CPU or asleep
 * in a system call (UVS_SAMPLE_OFF_CPU: an Atomics.wait, a sync read), as a BPF sample says.
 * The calls use waitpid on the threads they traced only, never block longer than
 * UVS_THREAD_STACK_TIMEOUT_NS, and change nothing else of the caller's. A thread that had not
 * stopped by then is kept on a pending list and detached when its stop comes: the caller
 * calls uvs_thread_stack_settle at each of its ticks (and before it exits), and every grab
 * does too.
 */
#ifndef UVSCOPE_THREAD_STACK_H
#define UVSCOPE_THREAD_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "uvscope/loop.h"
#include "uvscope/stacks.h"

/* How long a grab waits for the thread to stop before saying so (it is detached later). */
#define UVS_THREAD_STACK_TIMEOUT_NS (100 * 1000000ULL)
/* Threads interrupted whose stop is still to come, at most (then no new grab starts). */
#define UVS_THREAD_STACK_PENDING_MAX 64

struct uvs_thread_stack_options {
	/*
	 * Whether tid runs an event loop, as the caller knows it (UVS_SAMPLE_NOT_LOOP: it does not,
	 * or that is unknown). For a loop thread the grab says busy or idle itself: idle when
	 * stopped inside its epoll wait.
	 */
	enum uvs_sample_loop loop;
	uint64_t busy_since;   /* loop threads: when the busy span began (monotonic) */
	/*
	 * TESTS ONLY: hold the thread stopped this long before detaching, saying so on stderr
	 * ("uvscope: test hook: holding thread TID stopped"), so a test can kill uvscope while the
	 * thread is stopped. uvscope sets it only from UVSCOPE_TEST_HOLD_STOP_MS.
	 */
	uint64_t test_hold_ns;
	/*
	 * TESTS ONLY: interrupt the thread even when /proc says it is in uninterruptible sleep
	 * ('D'), as happens when it enters one just after the state was read: its stop comes only
	 * when that sleep ends (tests/unit/test_thread_stack.c).
	 */
	bool test_interrupt_in_d;
};

/* One grab: the raw sample and the copy of the stack the resolver takes, and what it cost. */
struct uvs_thread_stack {
	struct uvs_stack_sample s;
	uint8_t copy[UVS_STACK_COPY_BYTES]; /* from s.sp - UVS_STACK_COPY_REDZONE */
	size_t copy_len;   /* bytes of copy for the resolver's CFI steps (a broken walk, a frameless leaf) */
	/*
	 * PTRACE_INTERRUPT issued to PTRACE_DETACH issued: the thread is stopped within it. The
	 * detach wakes it; the scheduler may then run it on our CPU before the call returns to us,
	 * so the call's own time (detach_ns) is the tracer's wait, not the target's.
	 */
	uint64_t pause_ns;
	uint64_t stop_ns;   /* of pause_ns, until the stop was seen (waitpid) */
	uint64_t take_ns;   /* of pause_ns, reading registers and stack */
	uint64_t detach_ns; /* the PTRACE_DETACH call, not in pause_ns */
	int stop_signal;   /* a signal that arrived during the grab (handed back at the detach) */
	long syscall;      /* the system call it was stopped in (x86-64 number), or -1 */
	char state;        /* the thread's state (/proc) just before the grab: 'R', 'S', ... */
};

/*
 * Grabs thread tid of process pid into out. 0, or -errno with why set: -EINVAL (a thread of
 * uvscope itself, or tid not a thread of pid), -ESRCH (the thread or the process exited, or
 * the process exec'd, before or during the grab), -EPERM (may not trace it: no CAP_SYS_PTRACE,
 * or another tracer holds it), -EAGAIN (in uninterruptible sleep, 'D': it could not stop now;
 * not interrupted), -ETIMEDOUT (it had not stopped after UVS_THREAD_STACK_TIMEOUT_NS: no
 * sample; it is pending, detached by uvs_thread_stack_settle when it stops), -EBUSY (tid is
 * still pending from an earlier grab, or UVS_THREAD_STACK_PENDING_MAX threads are: not
 * interrupted). out->pause_ns is set whenever the thread was interrupted.
 */
int uvs_thread_stack_grab(pid_t pid, pid_t tid, const struct uvs_thread_stack_options *o,
			  struct uvs_thread_stack *out, char *why, size_t cap);

/*
 * Detaches each pending thread (see uvs_thread_stack_grab's -ETIMEDOUT) whose stop has come,
 * and forgets those that exited; never waits. Returns how many are still pending.
 */
size_t uvs_thread_stack_settle(void);

#endif
