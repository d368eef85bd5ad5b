// SPDX-License-Identifier: MIT
#include "collect/sampler.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "stacks.skel.h"
#include "util/log.h"

struct thread_event {
	pid_t tid;
	int fd;               /* the perf event */
	struct bpf_link *link;
	bool boosted;
	bool seen;            /* still listed at the last sync */
};

struct uvs_sampler {
	struct stacks_bpf *skel;
	struct uvs_sampler_options opt;
	pid_t pid;
	struct thread_event *events;
	size_t nevents, cap;
	int ncpus;
	bool stopped;
};

static int perf_event_open(struct perf_event_attr *attr, pid_t tid)
{
	return (int)syscall(SYS_perf_event_open, attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/*
 * cpu-clock in period mode: a sample per period_ns of the thread's own CPU time, so every
 * sample stands for the same time (a profile's weight) and an idle thread costs nothing.
 */
static int open_event(struct uvs_sampler *s, pid_t tid, uint64_t period_ns)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = period_ns,
		.disabled = 0,
	};

	(void)s;
	return perf_event_open(&attr, tid);
}

static int add_thread(struct uvs_sampler *s, pid_t tid, char *why, size_t cap)
{
	struct thread_event *e;
	int fd, err;

	if (s->nevents == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 32;
		struct thread_event *n = realloc(s->events, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->events = n;
		s->cap = ncap;
	}
	fd = open_event(s, tid, s->opt.period_ns);
	if (fd < 0) {
		err = -errno;
		/* A thread that exited since it was listed is not an error. */
		if (err == -ESRCH)
			return 0;
		snprintf(why, cap, "cannot open a cpu-clock perf event on thread %d: %s", tid,
			 strerror(-err));
		return err;
	}
	e = &s->events[s->nevents];
	memset(e, 0, sizeof(*e));
	e->tid = tid;
	e->fd = fd;
	e->seen = true;
	e->link = bpf_program__attach_perf_event(s->skel->progs.uvs_sample_on_cpu, fd);
	if (!e->link) {
		err = -errno;
		close(fd);
		snprintf(why, cap, "cannot attach the sampler to thread %d's perf event: %s", tid,
			 strerror(-err));
		return err;
	}
	s->nevents++;
	return 0;
}

static void drop_event(struct thread_event *e)
{
	bpf_link__destroy(e->link);
	if (e->fd >= 0)
		close(e->fd);
	e->link = NULL;
	e->fd = -1;
}

static struct thread_event *find_event(struct uvs_sampler *s, pid_t tid)
{
	for (size_t i = 0; i < s->nevents; i++)
		if (s->events[i].tid == tid)
			return &s->events[i];
	return NULL;
}

int uvs_sampler_open(struct uvs_sampler **out, const struct uvs_target *t,
		     const struct uvs_sampler_options *o, char *why, size_t cap)
{
	struct uvs_sampler *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opt = *o;
	s->pid = t->pid;
	s->ncpus = libbpf_num_possible_cpus();
	s->skel = stacks_bpf__open();
	if (!s->skel) {
		err = -errno;
		snprintf(why, cap, "cannot open the sampler's BPF object: %s", strerror(-err));
		goto fail;
	}
	s->skel->rodata->targ_tgid = (__u32)t->pid;
	err = bpf_map__reuse_fd(s->skel->maps.loop_state, o->loop_state_fd);
	if (!err)
		err = stacks_bpf__load(s->skel);
	if (err) {
		snprintf(why, cap, "cannot load the sampler's BPF object: %s", strerror(-err));
		goto fail;
	}
	for (size_t i = 0; i < t->nthreads; i++) {
		err = add_thread(s, t->threads[i].tid, why, cap);
		if (err)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	uvs_sampler_free(s);
	return err;
}

void uvs_sampler_free(struct uvs_sampler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nevents; i++)
		drop_event(&s->events[i]);
	free(s->events);
	stacks_bpf__destroy(s->skel);
	free(s);
}

void uvs_sampler_stop(struct uvs_sampler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nevents; i++)
		drop_event(&s->events[i]);
	s->nevents = 0;
	s->stopped = true;
}

void uvs_sampler_sync_threads(struct uvs_sampler *s, const struct uvs_target *t)
{
	char why[256];
	size_t i, kept = 0;

	if (!s || s->stopped)
		return;
	for (i = 0; i < s->nevents; i++)
		s->events[i].seen = false;
	for (i = 0; i < t->nthreads; i++) {
		struct thread_event *e = find_event(s, t->threads[i].tid);

		if (e)
			e->seen = true;
		else if (add_thread(s, t->threads[i].tid, why, sizeof(why)))
			uvs_debug("sampler: %s", why);
	}
	/* An exited thread's event samples nothing more; close it and keep the array dense. */
	for (i = 0; i < s->nevents; i++) {
		if (!s->events[i].seen) {
			drop_event(&s->events[i]);
			continue;
		}
		s->events[kept++] = s->events[i];
	}
	s->nevents = kept;
}

int uvs_sampler_boost(struct uvs_sampler *s, pid_t tid, bool on)
{
	struct thread_event *e = s ? find_event(s, tid) : NULL;
	uint64_t period;

	if (!e || e->boosted == on)
		return 0;
	period = on ? s->opt.boost_period_ns : s->opt.period_ns;
	if (ioctl(e->fd, PERF_EVENT_IOC_PERIOD, &period))
		return -errno;
	e->boosted = on;
	return 0;
}

int uvs_sampler_set_periods(struct uvs_sampler *s, uint64_t period_ns, uint64_t boost_period_ns)
{
	int err = 0;

	if (!s)
		return 0;
	s->opt.period_ns = period_ns;
	s->opt.boost_period_ns = boost_period_ns;
	for (size_t i = 0; i < s->nevents; i++) {
		struct thread_event *e = &s->events[i];
		uint64_t period = e->boosted ? boost_period_ns : period_ns;

		/* A thread that exited since the last sync has a dead event: nothing to change. */
		if (ioctl(e->fd, PERF_EVENT_IOC_PERIOD, &period) && errno != ESRCH && !err)
			err = -errno;
	}
	return err;
}

int uvs_sampler_read_off_cpu(struct uvs_sampler *s, pid_t tid)
{
	union bpf_iter_link_info info = { .task.tid = (__u32)tid };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));
	struct bpf_link *link;
	char buf[64];
	int fd, err = 0;

	if (!s || s->stopped)
		return -EINVAL;
	link = bpf_program__attach_iter(s->skel->progs.uvs_sample_off_cpu, &opts);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
	} else {
		/* The program writes to the ring buffer; the iterator's own output is empty. */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	bpf_link__destroy(link);
	return err;
}

int uvs_sampler_ring_fd(const struct uvs_sampler *s)
{
	return bpf_map__fd(s->skel->maps.samples);
}

int uvs_sampler_on_record(void *ctx, void *data, size_t len)
{
	struct uvs_sampler *s = ctx;
	const struct uvs_stack_sample *r = data;

	if (len < sizeof(*r) || r->copy_len > len - sizeof(*r) ||
	    r->nuser > UVS_USER_FRAMES_MAX || r->nkernel > UVS_KERNEL_FRAMES_MAX)
		return 0;
	if (s->opt.on_sample)
		s->opt.on_sample(s->opt.ctx, r, (const uint8_t *)(r + 1), r->copy_len);
	return 0;
}

void uvs_sampler_stats(const struct uvs_sampler *s, struct uvs_stack_stats *out)
{
	struct uvs_stack_stats per[256];
	__u32 zero = 0;

	memset(out, 0, sizeof(*out));
	if (!s || s->ncpus <= 0 || s->ncpus > 256)
		return;
	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.stack_stats), &zero, per))
		return;
	for (int i = 0; i < s->ncpus; i++) {
		out->samples += per[i].samples;
		out->lost += per[i].lost;
		out->copies += per[i].copies;
		out->copy_failed += per[i].copy_failed;
	}
}

size_t uvs_sampler_threads(const struct uvs_sampler *s)
{
	return s ? s->nevents : 0;
}
