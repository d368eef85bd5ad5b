// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target/process.h"
#include "target/thread_roles.h"

static struct uvs_target *fake_target(void)
{
	struct uvs_target *t = calloc(1, sizeof(*t));

	t->pid = 100;
	t->fn_uv_run = (struct uvs_range){ 0x1000, 0x1400 };
	t->fn_pool_worker = (struct uvs_range){ 0x2000, 0x2100 };
	t->fn_worker_run = (struct uvs_range){ 0x3000, 0x3800 };
	return t;
}

Test(roles, by_stack_contents)
{
	struct uvs_target *t = fake_target();
	uint64_t worker_stack[] = { 0, 0x1234, 0x1010, 0x37ff, 0x7fff };
	uint64_t pool_stack[] = { 0x99, 0x2050 };
	uint64_t loop_stack[] = { 0x13ff, 0x5 };
	uint64_t other_stack[] = { 0x1400, 0x2100, 0x3800, 0xfff };

	cr_assert_eq(uvs_role_from_stack(t, 100, other_stack, 4), UVS_ROLE_MAIN);
	cr_assert_eq(uvs_role_from_stack(t, 101, worker_stack, 5), UVS_ROLE_WORKER);
	cr_assert_eq(uvs_role_from_stack(t, 102, pool_stack, 2), UVS_ROLE_THREADPOOL);
	cr_assert_eq(uvs_role_from_stack(t, 103, loop_stack, 2), UVS_ROLE_LOOP);
	cr_assert_eq(uvs_role_from_stack(t, 104, other_stack, 4), UVS_ROLE_OTHER,
		     "range ends are exclusive");
	cr_assert_eq(uvs_role_from_stack(t, 105, NULL, 0), UVS_ROLE_OTHER);
	free(t);
}

Test(roles, unknown_ranges_match_nothing)
{
	struct uvs_target *t = calloc(1, sizeof(*t));
	uint64_t stack[] = { 0, 1, 0x1000 };

	t->pid = 1;
	cr_assert_eq(uvs_role_from_stack(t, 2, stack, 3), UVS_ROLE_OTHER);
	free(t);
}

/* A sampled stack places a listed thread not placed yet, and only with a role it can prove. */
Test(roles, placed_by_a_sampled_stack)
{
	struct uvs_target *t = fake_target();
	struct uvs_thread threads[] = { { .tid = 100, .role = UVS_ROLE_MAIN, .role_known = true },
					{ .tid = 101 }, { .tid = 102 },
					{ .tid = 103, .role = UVS_ROLE_THREADPOOL, .role_known = true } };
	bool known;

	memcpy(t->threads, threads, sizeof(threads));
	t->nthreads = 4;
	cr_assert_not(uvs_target_place_thread(t, 101, UVS_ROLE_OTHER), "a cut walk proves nothing");
	cr_assert_not(uvs_target_place_thread(t, 101, UVS_ROLE_MAIN));
	uvs_target_role(t, 101, &known);
	cr_assert_not(known);
	cr_assert(uvs_target_place_thread(t, 101, UVS_ROLE_WORKER));
	cr_assert_eq(uvs_target_role(t, 101, &known), UVS_ROLE_WORKER);
	cr_assert(known);
	cr_assert_not(uvs_target_place_thread(t, 101, UVS_ROLE_LOOP), "placed once");
	cr_assert_not(uvs_target_place_thread(t, 103, UVS_ROLE_WORKER), "already placed");
	cr_assert_not(uvs_target_place_thread(t, 999, UVS_ROLE_WORKER), "not listed");
	cr_assert(uvs_target_place_thread(t, 102, UVS_ROLE_THREADPOOL));
	/* "other" from a stack scan proves nothing: a Worker read outside Worker::Run. */
	t->threads[2].role = UVS_ROLE_OTHER;
	t->threads[2].role_known = true;
	cr_assert_not(uvs_target_place_thread(t, 102, UVS_ROLE_OTHER));
	cr_assert(uvs_target_place_thread(t, 102, UVS_ROLE_WORKER), "read as other, then proven");
	cr_assert_eq(uvs_target_role(t, 102, &known), UVS_ROLE_WORKER);
	free(t);
}

/* A thread that records where its stack is, then blocks reading a pipe (or spins). */
struct pool_like {
	int fd;
	bool spin;
	int depth; /* frames of 16 KiB between pool_like_main and its read */
	volatile bool stop;
	volatile pid_t tid;
	volatile uint64_t local;
};

/* Recursion whose frames are 16 KiB each, then the read: a stack deeper than one scan chunk. */
__attribute__((noinline)) static int deep_read(int fd, int depth)
{
	volatile char pad[16384];
	char c;

	pad[0] = (char)depth;
	if (depth > 0)
		return deep_read(fd, depth - 1) + pad[0];
	return (int)read(fd, &c, 1) + pad[0];
}

static void *pool_like_main(void *arg)
{
	struct pool_like *p = arg;
	char c;

	p->local = (uint64_t)(uintptr_t)&c;
	p->tid = (pid_t)syscall(SYS_gettid);
	if (p->spin) {
		while (!p->stop)
			;
		return NULL;
	}
	if (p->depth) {
		if (deep_read(p->fd, p->depth) < 0)
			return NULL;
		return NULL;
	}
	if (read(p->fd, &c, 1) < 0)
		return NULL;
	return NULL;
}

static pthread_t start_pool_like(struct pool_like *p)
{
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, pool_like_main, p), 0);
	while (!p->tid)
		sched_yield();
	return th;
}

/* A pool_like thread asleep in its pipe read, its stack pointer shown; released by sleeper_end. */
struct sleeper {
	struct pool_like p;
	int pipe_fd[2];
	uint64_t sp;
	pthread_t th;
};

static void sleeper_start(struct sleeper *s, int depth)
{
	memset(s, 0, sizeof(*s));
	s->p.depth = depth;
	cr_assert_eq(pipe(s->pipe_fd), 0);
	s->p.fd = s->pipe_fd[0];
	s->th = start_pool_like(&s->p);
	/* Until the thread sleeps in its read: then its registers are shown. */
	while (uvs_thread_stopped_sp(getpid(), s->p.tid, &s->sp) == -EAGAIN)
		sched_yield();
	cr_assert_leq(s->sp, s->p.local);
}

static void sleeper_end(struct sleeper *s)
{
	cr_assert_eq(write(s->pipe_fd[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	close(s->pipe_fd[0]);
	close(s->pipe_fd[1]);
}

/* pool_like_main's code, taken for the function a role is read by. */
static struct uvs_range pool_like_range(void)
{
	return (struct uvs_range){ (uint64_t)(uintptr_t)pool_like_main,
				   (uint64_t)(uintptr_t)pool_like_main + 4096 };
}

Test(roles, a_stopped_thread_is_read_and_placed)
{
	struct uvs_target *t = calloc(1, sizeof(*t));
	struct uvs_ranges maps = { 0 };
	enum uvs_role role = UVS_ROLE_OTHER;
	struct sleeper s;

	sleeper_start(&s, 0);
	cr_assert_lt(s.p.local - s.sp, UVS_STACK_SCAN_BYTES, "sp is the thread's own");
	t->pid = getpid();
	/* Its return address into pool_like_main is on its stack: a pool thread by that rule. */
	t->fn_pool_worker = pool_like_range();
	cr_assert_eq(uvs_ranges_read_maps(getpid(), &maps), 0);
	cr_assert_eq(uvs_classify_thread(t, &maps, s.p.tid, s.sp, &role), 0);
	cr_assert_eq(role, UVS_ROLE_THREADPOOL);
	cr_assert_eq(uvs_classify_thread(t, &maps, s.p.tid, 0x10, &role), -EFAULT,
		     "an sp in no mapping of the read is not followed");
	sleeper_end(&s);
	uvs_ranges_free(&maps);
	free(t);
}

/*
 * A thread deep in recursion, its marker (here pool_like_main taken for Worker::Run) more than
 * one scan chunk above its stack pointer: read on up to its stack's top, it is placed. A build
 * that read 64 KiB only took a Worker deep in recursion for "other".
 */
Test(roles, a_deep_stack_is_read_to_its_top)
{
	struct uvs_target *t = calloc(1, sizeof(*t));
	struct uvs_ranges maps = { 0 };
	enum uvs_role role = UVS_ROLE_OTHER;
	struct sleeper s;

	sleeper_start(&s, 10);
	cr_assert_gt(s.p.local - s.sp, UVS_STACK_SCAN_BYTES, "deeper than one chunk");
	t->pid = getpid();
	t->fn_worker_run = pool_like_range();
	cr_assert_eq(uvs_ranges_read_maps(getpid(), &maps), 0);
	cr_assert_eq(uvs_classify_thread(t, &maps, s.p.tid, s.sp, &role), 0);
	cr_assert_eq(role, UVS_ROLE_WORKER);
	sleeper_end(&s);
	uvs_ranges_free(&maps);
	free(t);
}

Test(roles, a_running_thread_shows_no_stack_pointer)
{
	struct pool_like p = { .spin = true };
	uint64_t sp = 0;
	pthread_t th = start_pool_like(&p);

	/* A thread that runs (on a CPU or waiting for one) has no registers shown: no maps read. */
	cr_assert_eq(uvs_thread_stopped_sp(getpid(), p.tid, &sp), -EAGAIN);
	p.stop = true;
	pthread_join(th, NULL);
	cr_assert_lt(uvs_thread_stopped_sp(getpid(), p.tid, &sp), 0, "gone: an error");
}

/*
 * A loop thread of Node's with libuv's metrics on is a Worker's where no stack proved a role,
 * and where a stack said "other": that read was outside its uv_run (a Worker read in the
 * syscalls of its teardown, after Worker::Run returned). A build that took "other" as proven
 * showed a short-lived Worker as "other" for good.
 */
Test(roles, a_loop_with_node_metrics_is_a_workers)
{
	struct uvs_target *t = fake_target();

	snprintf(t->node_version, sizeof(t->node_version), "v20.20.2");
	cr_assert(uvs_role_by_loop_metrics(t, 101, UVS_ROLE_OTHER, false, true), "unplaced");
	cr_assert(uvs_role_by_loop_metrics(t, 101, UVS_ROLE_OTHER, true, true),
		  "read as other outside its loop");
	cr_assert_not(uvs_role_by_loop_metrics(t, 101, UVS_ROLE_LOOP, true, true),
		      "a stack inside uv_run but not Worker::Run is proof");
	cr_assert_not(uvs_role_by_loop_metrics(t, 101, UVS_ROLE_OTHER, false, false),
		      "no metrics: Node's own loops");
	cr_assert_not(uvs_role_by_loop_metrics(t, 100, UVS_ROLE_OTHER, false, true), "the main one");
	t->node_version[0] = '\0';
	cr_assert_not(uvs_role_by_loop_metrics(t, 101, UVS_ROLE_OTHER, false, true),
		      "another libuv program: the rule says nothing");
	free(t);
}
