// SPDX-License-Identifier: MIT
/*
 * A collector made and freed without ever attaching (the target exited, was a zombie, or was no
 * libuv process): freeing it must close nothing it did not open. An fd field left at calloc's 0
 * once closed fd 0 twice; under --all the next attach's pidfd got fd 0, and the next failed
 * attach closed it, so that target's exit was never seen and it stayed attached.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <unistd.h>

#include "collect/collector.h"
#include "collect/proc_collector.h"

static void expect_closes_nothing(struct uvs_collector *(*make)(void), const char *which)
{
	int pipe_fds[2];
	struct uvs_collector *c;

	/* Whatever fd 0 was, it is now ours: the lowest free number goes to the pipe. */
	close(0);
	cr_assert_eq(pipe(pipe_fds), 0);
	cr_assert_eq(pipe_fds[0], 0);
	c = make();
	cr_assert(c);
	c->ops->destroy(c);
	cr_expect_neq(fcntl(0, F_GETFD), -1, "%s: fd 0 closed by a collector that never opened it",
		      which);
	cr_expect_neq(fcntl(pipe_fds[1], F_GETFD), -1, "%s", which);
	close(pipe_fds[1]);
}

static struct uvs_collector *bpf_unshared(void)
{
	return uvs_bpf_collector_new(NULL);
}

Test(collector_lifecycle, freed_unattached_closes_nothing)
{
	expect_closes_nothing(bpf_unshared, "bpf");
	expect_closes_nothing(uvs_proc_collector_new, "proc");
}
