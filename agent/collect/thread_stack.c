// SPDX-License-Identifier: MIT
#include "collect/thread_stack.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect/fp_walk.h"
#include "target/memory.h"
#include "target/procfs.h"
#include "util/clock.h"

/*
 * Waiting for the stop: waitpid has no timeout, so it is polled. A running thread stops within
 * microseconds of the interrupt (an IPI) and a sleeping one as soon as it is woken, so the
 * first polls only yield the CPU (a sleep would add the timer slack, 50 us, to the pause);
 * after SPIN_NS they sleep POLL_NS between polls.
 */
#define SPIN_NS (200 * 1000ULL)
#define POLL_NS (50 * 1000L)

/*
 * Threads interrupted that had not stopped by the grab's timeout (an uninterruptible sleep
 * began after the state was read): the stop comes when that sleep ends, maybe much later, and
 * the thread must not then stay stopped with nobody to let it go. The agent's thread never
 * waits for it: each is looked at (waitpid WNOHANG) by uvs_thread_stack_settle, at every grab
 * and every tick of its callers, and detached the moment its stop is seen. One that has not
 * stopped when uvscope exits is released by the kernel (exit_ptrace drops the pending
 * interrupt). Full, no new grab starts (a grab that times out always has room).
 */
static pid_t pending[UVS_THREAD_STACK_PENDING_MAX];
static size_t npending;

static bool is_own_thread(pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	return stat(path, &st) == 0;
}

/* Only a task /proc shows in pid is grabbed: ptrace must never stop another process's. */
static bool is_thread_of(pid_t pid, pid_t tid)
{
	return uvs_thread_presence(pid, tid) == UVS_THREAD_PRESENT;
}

/* One report about tid (a stop or its end): 0 with *status, -ETIMEDOUT once deadline passed, or -errno. */
static int wait_report(pid_t tid, uint64_t deadline, int *status)
{
	uint64_t start = uvs_now_mono();

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);
		uint64_t now;

		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r < 0)
			continue;
		now = uvs_now_mono();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (now - start < SPIN_NS) {
			sched_yield();
		} else {
			uvs_sleep_ns(POLL_NS);
		}
	}
}

/* The top of the stack, from sp - the red zone; a read that runs off the stack's top is shorter. */
static size_t copy_stack(pid_t tid, uint64_t sp, uint8_t *buf)
{
	struct iovec local = { .iov_base = buf, .iov_len = UVS_STACK_COPY_BYTES };
	struct iovec remote = { .iov_len = UVS_STACK_COPY_BYTES };
	ssize_t n;

	if (sp < UVS_STACK_COPY_REDZONE || sp > UINT64_MAX - UVS_STACK_COPY_BYTES)
		return 0;
	remote.iov_base = (void *)(uintptr_t)(sp - UVS_STACK_COPY_REDZONE);
	n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	return n > 0 ? (size_t)n : 0;
}

/* A loop thread waiting for events is idle (libuv waits in one of these). */
static bool is_epoll_wait(long nr)
{
	return nr == SYS_epoll_wait || nr == SYS_epoll_pwait
#ifdef SYS_epoll_pwait2
	       || nr == SYS_epoll_pwait2
#endif
		;
}

/* While the thread is stopped: registers, stack copy, walk. 0 or -errno. */
static int take(pid_t tid, struct uvs_thread_stack *out)
{
	struct user_regs_struct regs;
	struct uvs_stack_sample *s = &out->s;
	struct uvs_mem_reader mem = uvs_mem_reader_pid(tid);
	struct uvs_stack_copy copy;
	size_t got;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return -errno;
	s->ip = regs.rip;
	s->sp = regs.rsp;
	s->bp = regs.rbp;
	/*
	 * Interrupted inside a system call (a futex wait, epoll_wait, a read), orig_rax holds its
	 * number: the thread was asleep there, off the CPU. Else it ran user code.
	 */
	out->syscall = (long long)regs.orig_rax >= 0 ? (long)regs.orig_rax : -1;
	s->kind = out->syscall >= 0 ? UVS_SAMPLE_OFF_CPU : UVS_SAMPLE_ON_CPU;
	if (s->loop != UVS_SAMPLE_NOT_LOOP)
		s->loop = is_epoll_wait(out->syscall) ? UVS_SAMPLE_LOOP_IDLE : UVS_SAMPLE_LOOP_BUSY;
	if (s->loop != UVS_SAMPLE_LOOP_BUSY)
		s->busy_since = 0;
	got = copy_stack(tid, s->sp, out->copy);
	copy = (struct uvs_stack_copy){ .base = s->sp - UVS_STACK_COPY_REDZONE,
					.bytes = out->copy, .len = got };
	uvs_fp_walk(s, &copy, &mem);
	/* Also for a whole walk: the resolver's CFI step for a frameless leaf reads it. */
	out->copy_len = got;
	s->copy_len = (uint32_t)out->copy_len;
	return 0;
}

static void init_sample(pid_t pid, pid_t tid, const struct uvs_thread_stack_options *o,
			struct uvs_thread_stack *out)
{
	struct uvs_stack_sample *s = &out->s;

	memset(s, 0, sizeof(*s));
	s->tgid = (uint32_t)pid;
	s->tid = (uint32_t)tid;
	s->cpu = UINT32_MAX;
	s->walk_end = UVS_WALK_NO_USER;
	s->loop = o ? (uint16_t)o->loop : UVS_SAMPLE_NOT_LOOP;
	s->busy_since = o && o->loop == UVS_SAMPLE_LOOP_BUSY ? o->busy_since : 0;
	s->exact_phase = UVS_PHASE_NONE;
	out->copy_len = 0;
	out->pause_ns = out->stop_ns = out->take_ns = out->detach_ns = 0;
	out->stop_signal = 0;
	out->syscall = -1;
}

/*
 * The detach found no stopped thread: it was killed while stopped (SIGKILL ends a ptrace stop).
 * Its exit is reported to us, its tracer, before its parent: take that report now (the parent
 * could not reap the process before), for at most the grab's timeout. True when it was dead.
 */
static bool reap_if_dead(pid_t tid)
{
	int status;
	int err = wait_report(tid, uvs_now_mono() + UVS_THREAD_STACK_TIMEOUT_NS, &status);

	if (err == -ECHILD)
		return true;
	return err == 0 && (WIFEXITED(status) || WIFSIGNALED(status));
}

static void test_hold(pid_t tid, uint64_t ns)
{
	fprintf(stderr, "uvscope: test hook: holding thread %d stopped\n", (int)tid);
	fflush(stderr);
	uvs_sleep_ns(ns);
}

/*
 * From the interrupt on: wait for the stop, take the stack, detach. Every path that returns
 * leaves tid detached or reaped.
 */
static int interrupt_and_take(pid_t tid, const struct uvs_thread_stack_options *o,
			      struct uvs_thread_stack *out, char *why, size_t cap)
{
	uint64_t t0 = uvs_now_mono(), t1;
	int status = 0, err, sig = 0, event;

	out->s.ts_ns = t0;
	/* A thread already dying cannot be interrupted (ESRCH): its exit is reported below. */
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0 && errno != ESRCH) {
		err = -errno;
		snprintf(why, cap, "cannot interrupt thread %d: %s", (int)tid, strerror(-err));
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return err;
	}
	err = wait_report(tid, t0 + UVS_THREAD_STACK_TIMEOUT_NS, &status);
	if (err == -ETIMEDOUT) {
		/*
		 * It will stop when it can (it entered an uninterruptible sleep after we looked):
		 * detached when that stop is seen (uvs_thread_stack_settle), not waited for here.
		 */
		pending[npending++] = tid;
		out->pause_ns = uvs_now_mono() - t0;
		snprintf(why, cap, "thread %d did not stop within %llu ms (waiting for a CPU, or in "
			 "an uninterruptible sleep); it is detached when it does", (int)tid,
			 UVS_THREAD_STACK_TIMEOUT_NS / 1000000ULL);
		return -ETIMEDOUT;
	}
	if (err == -ECHILD) {
		/*
		 * Gone without a report: another thread exec'd, and the exec released this one
		 * (de_thread unlinks a traced old leader silently). Nothing is left stopped.
		 */
		snprintf(why, cap, "thread %d is gone: the process exec'd during the grab",
			 (int)tid);
		return -ESRCH;
	}
	if (err) {
		snprintf(why, cap, "cannot wait for thread %d: %s", (int)tid, strerror(-err));
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return err;
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		/* Reaped by that wait: nothing is left to detach. */
		snprintf(why, cap, "thread %d exited during the grab", (int)tid);
		return -ESRCH;
	}
	event = status >> 16;
	if (event == PTRACE_EVENT_EXEC) {
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		out->pause_ns = uvs_now_mono() - t0;
		snprintf(why, cap, "the process exec'd during the grab of thread %d", (int)tid);
		return -ESRCH;
	}
	/*
	 * Stopped: by our interrupt or in a group-stop (PTRACE_EVENT_STOP; a group-stop stays
	 * after the detach, as it should), or first for a signal on its way (a signal-delivery-
	 * stop, event 0): that signal is handed back at the detach, so the target still gets it.
	 */
	if (event == 0)
		sig = WSTOPSIG(status);
	out->stop_ns = uvs_now_mono() - t0;
	err = take(tid, out);
	out->take_ns = uvs_now_mono() - t0 - out->stop_ns;
	if (o && o->test_hold_ns)
		test_hold(tid, o->test_hold_ns);
	t1 = uvs_now_mono();
	if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(intptr_t)sig) < 0 && errno == ESRCH &&
	    reap_if_dead(tid)) {
		out->pause_ns = t1 - t0;
		snprintf(why, cap, "thread %d was killed while stopped for the grab", (int)tid);
		return -ESRCH;
	}
	out->detach_ns = uvs_now_mono() - t1;
	out->pause_ns = t1 - t0;
	out->stop_signal = sig;
	if (err)
		snprintf(why, cap, "cannot read thread %d's registers: %s", (int)tid,
			 strerror(-err));
	return err;
}

/* A pending thread's report, if one came: true when it is done with (detached, or gone). */
static bool settle_one(pid_t tid)
{
	int status;
	pid_t r = waitpid(tid, &status, __WALL | WNOHANG);

	if (r == 0)
		return false;
	if (r < 0)
		return errno != EINTR; /* ECHILD: gone, or released by an exec */
	if (!WIFSTOPPED(status))
		return true; /* exited, reaped by that wait */
	/*
	 * Our interrupt's stop, a group-stop or a signal on its way (event 0): that signal is
	 * handed back. Its stack is not taken: the grab that wanted it has long given up.
	 */
	ptrace(PTRACE_DETACH, tid, NULL,
	       (void *)(intptr_t)((status >> 16) == 0 ? WSTOPSIG(status) : 0));
	return true;
}

size_t uvs_thread_stack_settle(void)
{
	for (size_t i = 0; i < npending;) {
		if (settle_one(pending[i]))
			pending[i] = pending[--npending];
		else
			i++;
	}
	return npending;
}

static bool is_pending(pid_t tid)
{
	for (size_t i = 0; i < npending; i++)
		if (pending[i] == tid)
			return true;
	return false;
}

int uvs_thread_stack_grab(pid_t pid, pid_t tid, const struct uvs_thread_stack_options *o,
			  struct uvs_thread_stack *out, char *why, size_t cap)
{
	init_sample(pid, tid, o, out);
	uvs_thread_stack_settle();
	if (is_pending(tid) || npending == UVS_THREAD_STACK_PENDING_MAX) {
		snprintf(why, cap, "thread %d not grabbed: %s", (int)tid, is_pending(tid) ?
			 "it has not yet stopped for an earlier grab" :
			 "too many threads have not yet stopped for earlier grabs");
		return -EBUSY;
	}
	if (pid <= 0 || tid <= 0 || pid == getpid() || is_own_thread(tid)) {
		snprintf(why, cap, "thread %d is uvscope's own: not grabbed", (int)tid);
		return -EINVAL;
	}
	if (!is_thread_of(pid, tid)) {
		snprintf(why, cap, "thread %d is not a thread of process %d (exited?)", (int)tid,
			 (int)pid);
		return is_thread_of(tid, tid) ? -EINVAL : -ESRCH;
	}
	out->state = uvs_thread_state(pid, tid);
	if (out->state == 'D' && !(o && o->test_interrupt_in_d)) {
		snprintf(why, cap, "thread %d is in uninterruptible sleep: not stopped now",
			 (int)tid);
		return -EAGAIN;
	}
	/* Seize, not attach: no SIGSTOP; TRACEEXEC so that an exec shows as such. */
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(intptr_t)PTRACE_O_TRACEEXEC) < 0) {
		int err = -errno;

		snprintf(why, cap, "cannot trace thread %d: %s%s", (int)tid, strerror(-err),
			 err == -EPERM ?
			 " (CAP_SYS_PTRACE needed; or another tracer holds it)" : "");
		return err;
	}
	return interrupt_and_take(tid, o, out, why, cap);
}
