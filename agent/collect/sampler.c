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

#include "collect/bpf_shared.h"
#include "stacks.skel.h"
#include "util/log.h"

/* One perf event with the program attached: a thread's (tid >= 0) or a CPU's (tid == -1). */
struct sample_event {
	pid_t tid;
	int cpu;
	int fd;
	struct bpf_link *link;
	bool boosted;
	bool seen;            /* still listed at the last sync */
};

/*
 * The agent's part, one for every target (the host's UVS_OBJ_STACKS object, destroyed by the
 * host when the agent ends): the loaded object and the per-CPU events, opened with it and kept
 * until then, whatever targets come and go (the program ignores processes not in `targets`).
 */
struct sampler_shared {
	struct stacks_bpf *skel;
	int ncpus;
	/*
	 * per_cpu: the normal rate comes from one event per CPU (cpu_events) and each target's
	 * `threads` holds only its boosted threads; otherwise every thread of every target has
	 * an event there. Decided at the load, for every target after.
	 */
	bool per_cpu;
	struct sample_event *cpu_events;
	size_t ncpu_events;
	/*
	 * The per-CPU events sample every target at one rate: the slowest any sampling target
	 * asked for (asked[slot], 0 for none), so a target whose overhead guard lowered its rate
	 * is never sampled faster than it asked. The others are sampled slower than they asked;
	 * their samples weigh the period they were really taken at (uvs_sampler_period_ns).
	 */
	uint64_t cpu_period_ns;
	uint64_t asked[UVS_MAX_TARGETS];
	char how[160];
};

/* One target's part: its slot, its per-thread events, its options. */
struct uvs_sampler {
	struct sampler_shared *shared;
	struct uvs_bpf_shared *sh;
	int slot;
	struct uvs_sampler_options opt;
	struct sample_event *threads;
	size_t nthreads, cap;
	bool stopped;
};

static int perf_event_open(struct perf_event_attr *attr, pid_t tid, int cpu)
{
	return (int)syscall(SYS_perf_event_open, attr, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/*
 * cpu-clock in period mode: a sample per period_ns of CPU time (the thread's, or the CPU's),
 * so every sample stands for the same time (a profile's weight).
 */
static int open_event(pid_t tid, int cpu, uint64_t period_ns)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = period_ns,
		.disabled = 0,
	};

	return perf_event_open(&attr, tid, cpu);
}

static void drop_event(struct sample_event *e)
{
	bpf_link__destroy(e->link);
	if (e->fd >= 0)
		close(e->fd);
	e->link = NULL;
	e->fd = -1;
}

/* Opens e's event and attaches prog; 0, or -errno with the event closed. */
static int start_event(struct sample_event *e, struct bpf_program *prog, uint64_t period_ns)
{
	int err;

	e->link = NULL;
	e->fd = open_event(e->tid, e->tid >= 0 ? -1 : e->cpu, period_ns);
	if (e->fd < 0)
		return -errno;
	e->link = bpf_program__attach_perf_event(prog, e->fd);
	if (!e->link) {
		err = -errno;
		close(e->fd);
		e->fd = -1;
		return err;
	}
	return 0;
}

static int add_thread(struct uvs_sampler *s, pid_t tid, uint64_t period_ns, char *why, size_t cap)
{
	struct sample_event *e;
	int err;

	if (s->nthreads == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 32;
		struct sample_event *n = realloc(s->threads, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->threads = n;
		s->cap = ncap;
	}
	e = &s->threads[s->nthreads];
	memset(e, 0, sizeof(*e));
	e->tid = tid;
	e->seen = true;
	err = start_event(e, s->shared->skel->progs.uvs_sample_thread, period_ns);
	/* A thread that exited since it was listed is not an error. */
	if (err == -ESRCH)
		return 0;
	if (err) {
		snprintf(why, cap, "cannot sample thread %d with a cpu-clock perf event: %s", tid,
			 strerror(-err));
		return err;
	}
	s->nthreads++;
	return 0;
}

static struct sample_event *find_thread(struct uvs_sampler *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	return NULL;
}

static void remove_thread(struct uvs_sampler *s, struct sample_event *e)
{
	drop_event(e);
	*e = s->threads[--s->nthreads];
}

/*
 * One event per online CPU. 0; -EACCES or -EPERM when this process may not watch whole CPUs
 * (the caller then samples per thread); another -errno with why set. A CPU that is offline
 * now (ENODEV) is skipped: threads that run on it once it comes online go unsampled.
 */
static int open_cpu_events(struct sampler_shared *s, char *why, size_t cap)
{
	s->cpu_events = calloc((size_t)s->ncpus, sizeof(*s->cpu_events));
	if (!s->cpu_events)
		return -ENOMEM;
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		struct sample_event *e = &s->cpu_events[s->ncpu_events];
		int err;

		e->tid = -1;
		e->cpu = cpu;
		err = start_event(e, s->skel->progs.uvs_sample_on_cpu, s->cpu_period_ns);
		if (err == -ENODEV)
			continue;
		if (err) {
			snprintf(why, cap, "cannot sample CPU %d with a cpu-clock perf event: %s", cpu,
				 strerror(-err));
			return err;
		}
		s->ncpu_events++;
	}
	if (!s->ncpu_events) {
		snprintf(why, cap, "no CPU is online to sample");
		return -ENODEV;
	}
	return 0;
}

static void close_cpu_events(struct sampler_shared *s)
{
	for (size_t i = 0; i < s->ncpu_events; i++)
		drop_event(&s->cpu_events[i]);
	free(s->cpu_events);
	s->cpu_events = NULL;
	s->ncpu_events = 0;
}

static int open_thread_events(struct uvs_sampler *s, const struct uvs_target *t, char *why,
			      size_t cap)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		int err = add_thread(s, t->threads[i].tid, s->opt.period_ns, why, cap);

		if (err)
			return err;
	}
	return 0;
}

/* The samples' ring: the least and the most it is given (the BPF object's size is the most). */
#define RING_MIN_BYTES (512u * 1024)
#define RING_MAX_BYTES (8u << 20)
/* How long the agent may leave the ring unread (naming node's symbols the first time). */
#define RING_STALL_MS 250

/*
 * The ring's size: what the target can send in RING_STALL_MS at the rates asked for, at most
 * one thread per CPU on the CPU (and never more than it has threads) at the normal rate, and
 * one blocked loop at the faster one. The ring is the agent's, sized when the object is loaded
 * by the first target's figures: later targets share it, and when several are busy at once
 * on more CPUs than the first has threads, or several loops are blocked, samples that find
 * no room are counted lost (per target). The agent maps the ring twice over (the kernel's
 * layout, so records never wrap) and every page of it is resident from the start: it counts
 * twice in the agent's RSS. 8 MB cost 16 MB there; the default rates on a small host need
 * 2 MB. Samples that find no room are counted (agent.stack_samples_lost).
 */
static uint32_t ring_bytes(const struct uvs_sampler_options *o, int ncpus, size_t nthreads)
{
	uint64_t on_cpu = (uint64_t)(ncpus > 0 ? ncpus : 1), rate = 0, bytes;
	uint32_t ring = RING_MIN_BYTES;

	if (nthreads && nthreads < on_cpu)
		on_cpu = nthreads;
	if (o->period_ns)
		rate += on_cpu * 1000000000ULL / o->period_ns;
	if (o->boost_period_ns)
		rate += 1000000000ULL / o->boost_period_ns;
	/* A record: the sample, the ring's 8-byte header; stack copies are rare (frame pointers). */
	bytes = rate * (sizeof(struct uvs_stack_sample) + 8) * RING_STALL_MS / 1000;
	while (ring < bytes && ring < RING_MAX_BYTES)
		ring *= 2;
	return ring;
}

static int set_period(struct sample_event *e, uint64_t period)
{
	/* A thread that exited since the last sync has a dead event: nothing to change. */
	if (ioctl(e->fd, PERF_EVENT_IOC_PERIOD, &period) && errno != ESRCH)
		return -errno;
	return 0;
}

/* The loaded object's destroy function for the host (uvs_bpf_shared_free). */
static void shared_destroy(void *p)
{
	struct sampler_shared *s = p;

	if (!s)
		return;
	close_cpu_events(s);
	stacks_bpf__destroy(s->skel);
	free(s);
}

/*
 * Loads the object for every target (the first target's options size the ring and give the
 * first rate) and opens the per-CPU events, unless they are refused (then every target is
 * sampled per thread). NULL with why set.
 */
static struct sampler_shared *shared_load(const struct uvs_bpf_shared *sh,
					  const struct uvs_target *t,
					  const struct uvs_sampler_options *o, int *errp, char *why,
					  size_t cap)
{
	struct sampler_shared *s = calloc(1, sizeof(*s));
	char cpu_why[160] = "";
	uint32_t ring;
	int err;

	if (!s) {
		*errp = -ENOMEM;
		snprintf(why, cap, "cannot load the sampler's BPF object: %s", strerror(ENOMEM));
		return NULL;
	}
	s->ncpus = libbpf_num_possible_cpus();
	s->cpu_period_ns = o->period_ns;
	s->skel = stacks_bpf__open();
	if (!s->skel) {
		err = -errno;
		snprintf(why, cap, "cannot open the sampler's BPF object: %s", strerror(-err));
		goto fail;
	}
	/* targets, target_index and the loop object's loop_state: one of each for the agent. */
	err = uvs_bpf_shared_reuse(sh, s->skel->obj);
	ring = ring_bytes(o, s->ncpus, t->nthreads);
	uvs_debug("sampler: a ring of %u KiB for the samples", ring / 1024);
	if (!err)
		err = bpf_map__set_max_entries(s->skel->maps.samples, ring);
	if (!err)
		err = stacks_bpf__load(s->skel);
	if (err) {
		snprintf(why, cap, "cannot load the sampler's BPF object: %s", strerror(-err));
		goto fail;
	}
	err = -EPERM;
	if (!o->per_thread && s->ncpus > 0)
		err = open_cpu_events(s, cpu_why, sizeof(cpu_why));
	if (!err) {
		s->per_cpu = true;
		snprintf(s->how, sizeof(s->how), "per-CPU events");
	} else if (err == -EACCES || err == -EPERM || err == -ENOENT || err == -EOPNOTSUPP) {
		/* Per thread: it works where whole CPUs may not be watched, at a cost per switch. */
		close_cpu_events(s);
		if (o->per_thread)
			snprintf(s->how, sizeof(s->how), "per-thread events (asked for)");
		else
			snprintf(s->how, sizeof(s->how), "per-thread events (%s)", cpu_why);
	} else {
		snprintf(why, cap, "%s", cpu_why);
		goto fail;
	}
	return s;
fail:
	*errp = err;
	shared_destroy(s);
	return NULL;
}

/* The per-CPU events' period: the slowest rate a sampling target asked for (see asked[]). */
static int apply_cpu_period(struct sampler_shared *s)
{
	uint64_t period = 0;
	int err = 0, e;

	for (int i = 0; i < UVS_MAX_TARGETS; i++)
		if (s->asked[i] > period)
			period = s->asked[i];
	/* No target samples now: the events keep their period until one does. */
	if (!period || period == s->cpu_period_ns)
		return 0;
	s->cpu_period_ns = period;
	for (size_t i = 0; i < s->ncpu_events; i++)
		if ((e = set_period(&s->cpu_events[i], period)) && !err)
			err = e;
	return err;
}

/* A slot's counters from zero: a slot is reused by the agent's later targets. */
static int zero_stats(struct sampler_shared *s, int slot)
{
	struct uvs_stack_stats *zero = calloc((size_t)s->ncpus, sizeof(*zero));
	__u32 key = (__u32)slot;
	int err = 0;

	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.stack_stats), &key, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

int uvs_sampler_open(struct uvs_sampler **out, struct uvs_bpf_shared *sh, int slot,
		     const struct uvs_target *t, const struct uvs_sampler_options *o, char *why,
		     size_t cap)
{
	struct uvs_sampler *s;
	int err = 0;

	*out = NULL;
	if (slot < 0 || slot >= UVS_MAX_TARGETS) {
		snprintf(why, cap, "no slot for the process in the sampler");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opt = *o;
	s->sh = sh;
	s->slot = slot;
	s->shared = uvs_bpf_shared_object(sh, UVS_OBJ_STACKS);
	if (!s->shared) {
		s->shared = shared_load(sh, t, o, &err, why, cap);
		if (!s->shared) {
			free(s);
			return err;
		}
		uvs_bpf_shared_set_object(sh, UVS_OBJ_STACKS, s->shared, shared_destroy);
	}
	err = zero_stats(s->shared, slot);
	if (err) {
		snprintf(why, cap, "cannot reset the sampler's counters: %s", strerror(-err));
		goto fail;
	}
	if (!s->shared->per_cpu && (err = open_thread_events(s, t, why, cap)))
		goto fail;
	s->shared->asked[slot] = o->period_ns;
	if ((err = apply_cpu_period(s->shared)))
		uvs_debug("sampler: a CPU's event refused its new period: %s", strerror(-err));
	/* Its samples are wanted from now on (the programs see it once the collector publishes). */
	s->shared->skel->bss->sampling[slot] = 1;
	uvs_bpf_shared_set_inst(sh, slot, UVS_OBJ_STACKS, &s->opt);
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
	uvs_sampler_stop(s);
	/* Records of this process still in the ring find no one from now on, and are dropped. */
	uvs_bpf_shared_set_inst(s->sh, s->slot, UVS_OBJ_STACKS, NULL);
	free(s->threads);
	free(s);
}

static void unboost(struct uvs_sampler *s, pid_t tid)
{
	__u32 key = (__u32)tid;

	bpf_map_delete_elem(bpf_map__fd(s->shared->skel->maps.boosted), &key);
}

/*
 * This target only: its samples stop (the slot's switch, its per-thread events, its boosted
 * tids), and its rate no longer holds the per-CPU events down. The per-CPU events stay for the
 * other targets and the later ones, until the agent ends.
 */
void uvs_sampler_stop(struct uvs_sampler *s)
{
	if (!s || s->stopped)
		return;
	s->shared->skel->bss->sampling[s->slot] = 0;
	for (size_t i = 0; i < s->nthreads; i++) {
		if (s->threads[i].boosted && s->shared->per_cpu)
			unboost(s, s->threads[i].tid);
		drop_event(&s->threads[i]);
	}
	s->nthreads = 0;
	s->shared->asked[s->slot] = 0;
	apply_cpu_period(s->shared);
	s->stopped = true;
}

void uvs_sampler_sync_threads(struct uvs_sampler *s, const struct uvs_target *t)
{
	char why[256];
	size_t i;

	if (!s || s->stopped)
		return;
	for (i = 0; i < s->nthreads; i++)
		s->threads[i].seen = false;
	for (i = 0; i < t->nthreads; i++) {
		struct sample_event *e = find_thread(s, t->threads[i].tid);

		if (e)
			e->seen = true;
		else if (!s->shared->per_cpu &&
			 add_thread(s, t->threads[i].tid, s->opt.period_ns, why, sizeof(why)))
			uvs_debug("sampler: %s", why);
	}
	/* An exited thread's event samples nothing more; close it. */
	for (i = 0; i < s->nthreads;) {
		struct sample_event *e = &s->threads[i];

		if (e->seen) {
			i++;
			continue;
		}
		if (e->boosted)
			unboost(s, e->tid);
		remove_thread(s, e);
	}
}

/* Per CPU: the blocked thread gets an event of its own, and the CPUs' program skips it. */
static int boost_per_cpu(struct uvs_sampler *s, pid_t tid, bool on)
{
	int map = bpf_map__fd(s->shared->skel->maps.boosted);
	struct sample_event *e = find_thread(s, tid);
	__u32 key = (__u32)tid;
	__u8 one = 1;
	char why[256];
	int err;

	if (!on) {
		if (e)
			remove_thread(s, e); /* closed first: no sample is taken twice */
		bpf_map_delete_elem(map, &key);
		return 0;
	}
	if (e)
		return 0;
	if (bpf_map_update_elem(map, &key, &one, BPF_ANY))
		return -errno;
	err = add_thread(s, tid, s->opt.boost_period_ns, why, sizeof(why));
	e = err ? NULL : find_thread(s, tid);
	if (!e) {
		/* Not opened (or the thread is gone): the CPUs' events sample it again. */
		bpf_map_delete_elem(map, &key);
		if (err)
			uvs_debug("sampler: %s", why);
		return err;
	}
	e->boosted = true;
	return 0;
}

int uvs_sampler_boost(struct uvs_sampler *s, pid_t tid, bool on)
{
	struct sample_event *e;
	uint64_t period;

	if (!s || s->stopped)
		return 0;
	if (s->shared->per_cpu)
		return boost_per_cpu(s, tid, on);
	e = find_thread(s, tid);
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
	int err = 0, e;

	if (!s)
		return 0;
	s->opt.period_ns = period_ns;
	s->opt.boost_period_ns = boost_period_ns;
	if (!s->stopped) {
		s->shared->asked[s->slot] = period_ns;
		err = apply_cpu_period(s->shared);
	}
	for (size_t i = 0; i < s->nthreads; i++) {
		struct sample_event *t = &s->threads[i];

		if ((e = set_period(t, t->boosted ? boost_period_ns : period_ns)) && !err)
			err = e;
	}
	return err;
}

uint64_t uvs_sampler_period_ns(const struct uvs_sampler *s)
{
	if (!s)
		return 0;
	return s->shared->per_cpu ? s->shared->cpu_period_ns : s->opt.period_ns;
}

const char *uvs_sampler_how(const struct uvs_sampler *s)
{
	return s ? s->shared->how : "";
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
	link = bpf_program__attach_iter(s->shared->skel->progs.uvs_sample_off_cpu, &opts);
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
	return bpf_map__fd(s->shared->skel->maps.samples);
}

int uvs_sampler_record_check(const void *data, size_t len)
{
	const struct uvs_stack_sample *r = data;

	if (len < sizeof(*r) || r->copy_len > len - sizeof(*r) ||
	    r->nuser > UVS_USER_FRAMES_MAX || r->nkernel > UVS_KERNEL_FRAMES_MAX)
		return -EINVAL;
	return 0;
}

int uvs_sampler_on_record(void *ctx, void *data, size_t len)
{
	const struct uvs_stack_sample *r = data;
	const struct uvs_sampler_options *o;

	if (uvs_sampler_record_check(data, len))
		return 0;
	/* The process's sampler (its options: whom to hand samples to); none when not watched. */
	o = uvs_bpf_shared_inst_of(ctx, (pid_t)r->tgid, UVS_OBJ_STACKS);
	if (o && o->on_sample)
		o->on_sample(o->ctx, r, (const uint8_t *)(r + 1), r->copy_len);
	return 0;
}

void uvs_sampler_stats(const struct uvs_sampler *s, struct uvs_stack_stats *out)
{
	struct uvs_stack_stats per[256];
	__u32 key;

	memset(out, 0, sizeof(*out));
	if (!s || s->shared->ncpus <= 0 || s->shared->ncpus > 256)
		return;
	key = (__u32)s->slot;
	if (bpf_map_lookup_elem(bpf_map__fd(s->shared->skel->maps.stack_stats), &key, per))
		return;
	for (int i = 0; i < s->shared->ncpus; i++) {
		out->samples += per[i].samples;
		out->lost += per[i].lost;
		out->copies += per[i].copies;
		out->copy_failed += per[i].copy_failed;
	}
}
