// SPDX-License-Identifier: MIT
/*
 * uprobe_floor: the target that measures what one uprobe hit costs on this kernel, the floor
 * under every uprobe uvscope places (scripts/op-cost.sh attaches the probes with bpftrace).
 *
 *   uprobe_floor [CALLS] [ROUNDS]      (defaults 20000 and 5)
 *
 * Four functions with exactly the same body, written in assembly so that their first
 * instruction is known, whatever the compiler:
 *   floor_plain  never probed: the cost of the call itself
 *   floor_push   starts with `push %rbp`, which the kernel emulates: an entry uprobe
 *   floor_pair   the same, for an entry uprobe and a return probe together
 *   floor_step   starts with `mov %rdi,%rax`, which the kernel cannot emulate and must
 *                single-step out of line (as on libuv's uv__queue_work)
 * Prints {"pid":N,"calls":CALLS,"rounds":ROUNDS} and then, for every line read on stdin,
 * ROUNDS rounds, one line each: the CPU time per call of each function, CALLS calls each, the
 * functions taking turns within the round:
 *   {"batch":B,"round":R,"plain":NS,"push":NS,"pair":NS,"step":NS}
 * A probe's cost per hit is its function's time per call minus floor_plain's in the same
 * round. At the end of stdin it prints how often each function was called, for checking the
 * probes' own hit counts: {"calls":{"plain":N,"push":N,"pair":N,"step":N}}.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "uprobe_floor: the probed instructions are x86-64 ones"
#endif

/*
 * `noinline` is not enough: the compiler could still change the prologue (or drop the frame
 * pointer), and the first instruction is the whole point. All four run the same two
 * instructions first, in one order or the other, and the same rest, so their difference is
 * the probes' alone.
 */
#define FLOOR_FN(name, first, second)                                                              \
	".globl " #name "\n"                                                                       \
	".type " #name ", @function\n"                                                             \
	".p2align 4\n" #name ":\n"                                                                 \
	"\t" first "\n"                                                                            \
	"\t" second "\n"                                                                           \
	"\tmov %rsp, %rbp\n"                                                                       \
	"\tpop %rbp\n"                                                                             \
	"\tret\n"                                                                                  \
	".size " #name ", . - " #name "\n"

/* One function a line. */
// clang-format off
__asm__(".text\n"
	FLOOR_FN(floor_plain, "push %rbp", "mov %rdi, %rax")
	FLOOR_FN(floor_push, "push %rbp", "mov %rdi, %rax")
	FLOOR_FN(floor_pair, "push %rbp", "mov %rdi, %rax")
	FLOOR_FN(floor_step, "mov %rdi, %rax", "push %rbp"));
// clang-format on

long floor_plain(long);
long floor_push(long);
long floor_pair(long);
long floor_step(long);

static const struct {
	const char *name;
	long (*fn)(long);
} fns[] = {
    {"plain", floor_plain},
    {"push", floor_push},
    {"pair", floor_pair},
    {"step", floor_step},
};
#define NFNS (sizeof(fns) / sizeof(fns[0]))

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Where each call's result goes: a volatile store keeps the calls from being dropped. */
volatile long floor_sink;

/* CPU ns per call of FN over N calls. */
static double per_call(long (*fn)(long), long n)
{
	double t0 = cpu_ns();
	long i;

	for (i = 0; i < n; i++)
		floor_sink = fn(i);
	return (cpu_ns() - t0) / (double)n;
}

static int whole(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || end == s || *end || *out < 1 ? -1 : 0;
}

int main(int argc, char **argv)
{
	long calls = 20000, rounds = 5, total[NFNS] = {0}, batch = 0, r;
	char line[256];
	size_t i, k;

	if ((argc > 1 && whole(argv[1], &calls)) || (argc > 2 && whole(argv[2], &rounds)) ||
	    argc > 3) {
		fputs("usage: uprobe_floor [CALLS] [ROUNDS]   (whole numbers, at least 1)\n",
		      stderr);
		return 2;
	}
	printf("{\"pid\":%d,\"calls\":%ld,\"rounds\":%ld}\n", (int)getpid(), calls, rounds);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		batch++;
		for (r = 1; r <= rounds; r++) {
			double ns[NFNS];

			/* The functions take turns going first, so none always meets a cold cache.
			 */
			for (k = 0; k < NFNS; k++) {
				i = (k + (size_t)r) % NFNS;
				ns[i] = per_call(fns[i].fn, calls);
				total[i] += calls;
			}
			printf("{\"batch\":%ld,\"round\":%ld", batch, r);
			for (i = 0; i < NFNS; i++)
				printf(",\"%s\":%.1f", fns[i].name, ns[i]);
			puts("}");
			fflush(stdout);
		}
	}
	printf("{\"calls\":{");
	for (i = 0; i < NFNS; i++)
		printf("%s\"%s\":%ld", i ? "," : "", fns[i].name, total[i]);
	puts("}}");
	return 0;
}
