// SPDX-License-Identifier: MIT
/*
 * The stack above a sample's copy (agent/collect/stack_beyond.c): read only while the thread
 * sleeps in the system call it was sampled in. Ground truth: a child blocked in read() on a pipe,
 * its place from /proc/PID/syscall, its stack words read directly; then woken into pause().
 */
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "collect/stack_beyond.h"
#include "target/memory.h"
#include "target/procfs.h"

Test(stack_beyond, the_place_is_a_system_call_at_the_sampled_sp_and_pc)
{
	const char *in = "7 0x3 0x7ffc 0x400 0x0 0x0 0x0 0x7ffd0000 0x7f001234\n";

	cr_expect(uvs_stack_beyond_same_place(in, 0x7ffd0000, 0x7f001234));
	cr_expect_not(uvs_stack_beyond_same_place(in, 0x7ffd0008, 0x7f001234), "another sp");
	cr_expect_not(uvs_stack_beyond_same_place(in, 0x7ffd0000, 0x7f001236), "another pc");
	/* Blocked, but not in a system call (a page fault): nothing holds it there. */
	cr_expect_not(uvs_stack_beyond_same_place("-1 0x7ffd0000 0x7f001234\n", 0x7ffd0000,
						  0x7f001234));
	cr_expect_not(uvs_stack_beyond_same_place("running\n", 0x7ffd0000, 0x7f001234));
	cr_expect_not(uvs_stack_beyond_same_place("", 0x7ffd0000, 0x7f001234));
}

/* Where the child sleeps now, from /proc/PID/syscall; waits until it sleeps in nr. */
static void child_place(pid_t pid, long want_nr, uint64_t *sp, uint64_t *pc)
{
	char path[64], text[256];
	long nr = -2;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	for (int i = 0; i < 100000; i++) {
		if (uvs_read_file(path, text, sizeof(text)) > 0 &&
		    uvs_parse_syscall_file(text, &nr, sp, pc) == 0 && nr == want_nr)
			return;
		sched_yield();
	}
	cr_assert_fail("child %d never slept in syscall %ld (last %ld)", pid, want_nr, nr);
}

Test(stack_beyond, reads_a_sleeping_thread_and_stops_when_it_moves)
{
	struct uvs_stack_beyond_reader *b = calloc(1, sizeof(*b));
	struct uvs_stack_sample raw = { 0 };
	uint64_t sp, pc, word, direct;
	int fds[2];
	pid_t pid;

	cr_assert_not_null(b);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c;

		close(fds[1]);
		if (read(fds[0], &c, 1) == 1)
			pause();
		_exit(0);
	}
	close(fds[0]);
	child_place(pid, 0 /* read */, &sp, &pc);
	raw.kind = UVS_SAMPLE_OFF_CPU;
	raw.tid = (__u32)pid;
	raw.sp = sp;
	raw.ip = pc;

	/* On the CPU, a thread's stack moves under any read: never read beyond. */
	raw.kind = UVS_SAMPLE_ON_CPU;
	cr_expect_not(uvs_stack_beyond_init(b, pid, &raw, sp));
	raw.kind = UVS_SAMPLE_OFF_CPU;

	cr_assert(uvs_stack_beyond_init(b, pid, &raw, sp));
	cr_expect_not(uvs_stack_beyond_used(b), "nothing read yet");
	/* Below the copy's end: the copy's, not read here. */
	cr_expect_not(b->source.read(b->source.ctx, sp - 8, &word));
	cr_assert(b->source.read(b->source.ctx, sp + 8, &word));
	cr_assert_eq(uvs_read_mem(pid, sp + 8, &direct, sizeof(direct)), 0);
	cr_expect_eq(word, direct);
	cr_expect(uvs_stack_beyond_used(b));
	cr_expect(uvs_stack_beyond_held(b), "still asleep in the same read");

	/* Woken into pause(): another place, so what was read no longer holds, nor new reads. */
	cr_assert_eq(write(fds[1], "x", 1), 1);
	child_place(pid, 34 /* pause */, &sp, &pc);
	cr_expect_not(uvs_stack_beyond_held(b));
	cr_assert(uvs_stack_beyond_init(b, pid, &raw, raw.sp));
	cr_expect_not(b->source.read(b->source.ctx, raw.sp + 8, &word));

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fds[1]);
	free(b);
}
