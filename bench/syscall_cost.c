// SPDX-License-Identifier: MIT
/*
 * syscall_cost: nanoseconds per system call, best of 5 rounds of N getppid() calls.
 *
 *   syscall_cost [N]     (default 2000000)
 *
 * uvscope's default mode attaches BPF programs to the sys_enter/sys_exit tracepoints,
 * which run for every system call of every process on the machine, not only the target's.
 * Run with and without uvscope attached (to anything), the difference is what each system
 * call pays while it is, with hot caches: a lower bound for a real program's. The best of
 * five rounds keeps interruptions out. Prints {"ns_per_syscall":X}.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000, i;
	double best = 0;
	int round;

	if (n < 1) {
		fputs("usage: syscall_cost [N]\n", stderr);
		return 2;
	}
	for (round = 0; round < 5; round++) {
		double t0 = now_ns(), per;

		/* getppid: the cheapest real system call, nothing cached in the C library. */
		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
		per = (now_ns() - t0) / (double)n;
		if (round == 0 || per < best)
			best = per;
	}
	printf("{\"ns_per_syscall\":%.1f}\n", best);
	return 0;
}
