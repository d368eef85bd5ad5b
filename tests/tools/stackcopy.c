// SPDX-License-Identifier: MIT
/*
 * stackcopy: the integration test's stand-in for the BPF sampler's stack copy, and a driver of
 * the CFI unwinder (agent/unwind) on what it copies.
 *
 *   stackcopy PID LO HI [SAMPLES [TRIES [BENCH]]]
 *
 * Seizes the thread PID (the main thread) with ptrace, then interrupts it again and again
 * (at most TRIES times, default 20000) until SAMPLES times (default 10) its pc was inside
 * [LO, HI) (hex; the test picks an OpenSSL function that uses %rbp as a general register).
 * Each time it reads %rip, %rsp, %rbp and copies UVS_STACK_COPY_BYTES from %rsp - 128 (the red
 * zone, then the 16 KiB the sampler copies) with process_vm_readv, lets the thread go on, and
 * after detaching unwinds every copy three ways, printed as one JSON line per sample:
 *
 *   frames       uvs_unwind_copy_at over the copy with the red zone
 *   plain        uvs_unwind_copy over the 16 KiB from %rsp only, as the sampler copies today
 *   fp_walk      a bare frame-pointer walk from %rbp in the same copy (what BPF does)
 *
 * then, with BENCH > 0, one line {"bench":...} with the unwinds per second of the first
 * complete sample, unwound BENCH times. Names are left to the test (nm, the perf map), so
 * that they do not come from the code under test.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/types.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uvscope/stacks.h"
#include "unwind/cfi_unwind.h"

#define RED_ZONE 128
#define COPY_LEN (RED_ZONE + UVS_STACK_COPY_BYTES)
#define FRAMES_MAX 128

struct sample {
	uint64_t ip, sp, bp;
	size_t len; /* bytes copied from sp - RED_ZONE */
	uint8_t data[COPY_LEN];
};

/* Copies page by page so that the end of the stack mapping only shortens the copy. */
static size_t copy_stack(pid_t pid, uint64_t from, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint64_t addr = from + done;
		size_t chunk = 4096 - (addr & 4095);
		struct iovec local, remote;

		if (chunk > len - done)
			chunk = len - done;
		local = (struct iovec){ .iov_base = buf + done, .iov_len = chunk };
		remote = (struct iovec){ .iov_base = (void *)(uintptr_t)addr, .iov_len = chunk };
		if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)chunk)
			break;
		done += chunk;
	}
	return done;
}

static int wait_stop(pid_t tid)
{
	int status;

	if (waitpid(tid, &status, __WALL) != tid)
		return -errno;
	return WIFSTOPPED(status) ? 0 : -ESRCH;
}

static int capture(pid_t tid, uint64_t lo, uint64_t hi, struct sample *s, size_t want,
		   long tries, size_t *got)
{
	struct user_regs_struct regs;
	struct timespec pause = { 0, 2000000 }; /* let the target run between two looks */

	*got = 0;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0))
		return -errno;
	for (long i = 0; i < tries && *got < want; i++) {
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) || wait_stop(tid))
			return -errno;
		if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0 && regs.rip >= lo && regs.rip < hi) {
			struct sample *x = &s[(*got)++];

			x->ip = regs.rip;
			x->sp = regs.rsp;
			x->bp = regs.rbp;
			x->len = copy_stack(tid, regs.rsp - RED_ZONE, x->data, COPY_LEN);
		}
		if (ptrace(PTRACE_CONT, tid, 0, 0))
			return -errno;
		nanosleep(&pause, NULL);
	}
	/* Detaching needs a stopped tracee. */
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0 && wait_stop(tid) == 0)
		ptrace(PTRACE_DETACH, tid, 0, 0);
	return 0;
}

/* The frame-pointer walk BPF does, over the copy: frames until fp leaves it. */
static int fp_walk(const struct sample *s)
{
	uint64_t base = s->sp - RED_ZONE, fp = s->bp, next;
	int n = 1;

	while (n < FRAMES_MAX && fp >= s->sp && fp - base + 16 <= s->len) {
		memcpy(&next, s->data + (fp - base), 8);
		n++;
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

static void print_frames(const struct uvs_raw_frame *f, int n)
{
	for (int i = 0; i < n; i++)
		printf("%s{\"pc\":\"%#" PRIx64 "\",\"fp\":\"%#" PRIx64 "\",\"m8\":\"%#" PRIx64
		       "\",\"m16\":\"%#" PRIx64 "\"}", i ? "," : "", (uint64_t)f[i].pc,
		       (uint64_t)f[i].fp, (uint64_t)f[i].slot_m8, (uint64_t)f[i].slot_m16);
}

static bool report(struct uvs_unwinder *u, const struct sample *s)
{
	struct uvs_raw_frame f[FRAMES_MAX], plain[FRAMES_MAX];
	bool complete, plain_complete;
	int n, np;

	n = uvs_unwind_copy_at(u, s->ip, s->sp, s->bp, s->sp - RED_ZONE, s->data, s->len, f,
			       FRAMES_MAX, &complete);
	np = s->len > RED_ZONE ? uvs_unwind_copy(u, s->ip, s->sp, s->bp, s->data + RED_ZONE,
						  s->len - RED_ZONE, plain, FRAMES_MAX,
						  &plain_complete)
			       : 0;
	printf("{\"ip\":\"%#" PRIx64 "\",\"sp\":\"%#" PRIx64 "\",\"bp\":\"%#" PRIx64
	       "\",\"copied\":%zu,\"complete\":%s,\"frames\":[", s->ip, s->sp, s->bp, s->len,
	       complete ? "true" : "false");
	print_frames(f, n);
	printf("],\"plain_complete\":%s,\"plain_frames\":%d,\"fp_walk_frames\":%d}\n",
	       np && plain_complete ? "true" : "false", np, fp_walk(s));
	return complete;
}

static void bench(struct uvs_unwinder *u, const struct sample *s, long rounds)
{
	struct uvs_raw_frame f[FRAMES_MAX];
	struct timespec t0, t1, c0, c1;
	bool complete;
	int n = 0;
	double secs, cpu;

	/* CPU time too: on a shared machine the wall clock also counts other processes' turns. */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < rounds; i++)
		n = uvs_unwind_copy_at(u, s->ip, s->sp, s->bp, s->sp - RED_ZONE, s->data, s->len,
				       f, FRAMES_MAX, &complete);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	/* And with no row cached: every frame's CFI row looked up again (the objects stay open). */
	long cold = rounds / 10 + 1;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (long i = 0; i < cold; i++) {
		uvs_unwinder_forget_rows(u);
		uvs_unwind_copy_at(u, s->ip, s->sp, s->bp, s->sp - RED_ZONE, s->data, s->len, f,
				   FRAMES_MAX, &complete);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	double cold_cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;

	printf("{\"bench\":{\"rounds\":%ld,\"frames\":%d,\"seconds\":%.6f,\"cpu_seconds\":%.6f,"
	       "\"unwinds_per_s\":%.0f,\"unwinds_per_cpu_s\":%.0f,\"uncached_per_cpu_s\":%.0f}}\n",
	       rounds, n, secs, cpu, (double)rounds / secs, (double)rounds / cpu,
	       (double)cold / cold_cpu);
}

int main(int argc, char **argv)
{
	size_t want = argc > 4 ? strtoul(argv[4], NULL, 10) : 10, got = 0, i;
	long tries = argc > 5 ? strtol(argv[5], NULL, 10) : 20000;
	long rounds = argc > 6 ? strtol(argv[6], NULL, 10) : 0;
	struct uvs_unwind_stats st;
	struct uvs_unwinder *u;
	struct sample *s;
	uint64_t lo, hi;
	pid_t pid;
	int err;

	if (argc < 4 || want == 0 || want > 1000) {
		fprintf(stderr, "usage: %s PID LO HI [SAMPLES [TRIES [BENCH]]]\n", argv[0]);
		return 2;
	}
	pid = (pid_t)strtol(argv[1], NULL, 10);
	lo = strtoull(argv[2], NULL, 16);
	hi = strtoull(argv[3], NULL, 16);
	s = calloc(want, sizeof(*s));
	if (!s)
		return 1;
	err = capture(pid, lo, hi, s, want, tries, &got);
	if (err) {
		fprintf(stderr, "stackcopy: cannot interrupt thread %d: %s\n", pid, strerror(-err));
		return 1;
	}
	u = uvs_unwinder_new(pid);
	if (!u) {
		fprintf(stderr, "stackcopy: cannot read the maps of %d: %s\n", pid, strerror(errno));
		return 1;
	}
	const struct sample *first_complete = NULL;

	for (i = 0; i < got; i++) {
		if (report(u, &s[i]) && !first_complete)
			first_complete = &s[i];
	}
	uvs_unwinder_stats(u, &st);
	printf("{\"samples\":%zu,\"stats\":{\"walks\":%" PRIu64 ",\"complete\":%" PRIu64
	       ",\"cfi_steps\":%" PRIu64 ",\"fp_steps\":%" PRIu64 ",\"stop_cfi\":%" PRIu64
	       ",\"stop_fp\":%" PRIu64 ",\"stop_cap\":%" PRIu64 ",\"rows_cached\":%" PRIu64 "}}\n",
	       got, st.walks, st.complete, st.cfi_steps, st.fp_steps, st.stop_cfi, st.stop_fp,
	       st.stop_cap, st.rows_cached);
	if (rounds > 0 && first_complete)
		bench(u, first_complete, rounds);
	uvs_unwinder_free(u);
	free(s);
	return 0;
}
