// SPDX-License-Identifier: MIT
#include "collect/perf_sampler.h"

#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "collect/fp_walk.h"
#include "collect/perf_ring.h"
#include "target/memory.h"
#include "uvscope/loop.h"

/*
 * The user stack each sample carries: the BPF path's copy less its red zone (the kernel copies
 * from sp; the red zone below it is not in the sample and is left zero in ours).
 */
#define STACK_BYTES (UVS_STACK_COPY_BYTES - UVS_STACK_COPY_REDZONE)
/*
 * Data pages of a thread's ring: a sample is about 16.5 KiB, so 64 pages (256 KiB) hold 15 of
 * them, 150 ms of one busy thread at 99 Hz between two drains; the ring is woken at half full.
 * The kernel lets a user lock perf_event_mlock_kb per CPU of rings, then RLIMIT_MEMLOCK more
 * (without CAP_IPC_LOCK): with many threads each ring is smaller (uvscope takes at most half of
 * that, the rest is left to other perf users of the same uid), down to MIN_PAGES (two samples),
 * and a thread whose ring still does not fit is not sampled (counted and said).
 */
#define MAX_PAGES 64
#define MIN_PAGES 8

struct thread_event {
	pid_t tid;
	int fd;
	void *map;
	size_t map_len;
	struct uvs_perf_ring ring;
	bool seen; /* listed at the last sync */
};

/* The record being turned into a sample: too big for the stack. */
struct sample_buf {
	struct uvs_stack_sample s;
	uint8_t copy[UVS_STACK_COPY_BYTES];
};

struct uvs_perf_sampler {
	pid_t pid;
	struct uvs_perf_sampler_options opt;
	bool kernel_frames;
	long page;
	struct thread_event *ev;
	size_t nev, cap;
	struct pollfd *pfds;
	size_t npfds;
	uint8_t *scratch;
	struct sample_buf *buf;
	struct uvs_perf_sampler_stats st;
	uint64_t handed; /* samples handed over in the current poll */
};

static int read_int_file(const char *path, long *out)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%ld", out) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

/* Whether our effective capabilities hold cap (/proc/self/status, CapEff). */
static bool has_cap(int cap)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long long eff = 0;
	char line[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	return found && cap < 64 && (eff >> cap) & 1;
}

int uvs_perf_sampler_allowed(bool *kernel_frames, char *why, size_t cap)
{
	bool perfmon = has_cap(CAP_PERFMON) || has_cap(CAP_SYS_ADMIN);
	long level;

	*kernel_frames = false;
	if (read_int_file("/proc/sys/kernel/perf_event_paranoid", &level)) {
		snprintf(why, cap, "perf_event_paranoid cannot be read (no perf events in this "
			 "kernel?)");
		return -EACCES;
	}
	if (level > 2 && !perfmon) {
		snprintf(why, cap, "perf_event_paranoid is %ld: sampling another process needs "
			 "CAP_PERFMON (or a level of 2 or less)", level);
		return -EACCES;
	}
	*kernel_frames = level <= 1 || perfmon;
	snprintf(why, cap, "perf_event_paranoid is %ld%s: a process we may ptrace may be sampled, "
		 "%s", level, perfmon ? " and we hold CAP_PERFMON" : "",
		 *kernel_frames ? "kernel frames too" : "user frames only");
	return 0;
}

static int open_event(const struct uvs_perf_sampler *s, pid_t tid, size_t data_bytes)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = s->opt.period_ns,
		.sample_type = UVS_PERF_SAMPLE_TYPE,
		.sample_regs_user = UVS_PERF_REGS_MASK,
		.sample_stack_user = STACK_BYTES,
		.exclude_kernel = !s->kernel_frames,
		.exclude_callchain_kernel = !s->kernel_frames,
		.exclude_hv = 1,
		/* Woken when half the ring is used: drained before it fills. */
		.watermark = 1,
		.wakeup_watermark = (uint32_t)(data_bytes / 2),
		/* Time stamps on the agent's clock (CLOCK_MONOTONIC, as bpf_ktime_get_ns). */
		.use_clockid = 1,
		.clockid = CLOCK_MONOTONIC,
	};

	return (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void close_event(struct thread_event *e)
{
	if (e->map)
		munmap(e->map, e->map_len);
	if (e->fd >= 0)
		close(e->fd);
	e->map = NULL;
	e->fd = -1;
}

/* How much ring memory this process may lock for perf events, in bytes (see MAX_PAGES). */
static size_t lockable_bytes(void)
{
	struct rlimit rl = { 0 };
	long kb = 516, cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t bytes;

	read_int_file("/proc/sys/kernel/perf_event_mlock_kb", &kb);
	bytes = (size_t)(kb > 0 ? kb : 0) * 1024 * (size_t)(cpus > 0 ? cpus : 1);
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		bytes += (size_t)rl.rlim_cur;
	return bytes;
}

/* Pages for each ring when nthreads share half of what may be locked: a power of two. */
static unsigned pages_for(const struct uvs_perf_sampler *s, size_t nthreads)
{
	size_t share = lockable_bytes() / 2 / (nthreads ? nthreads : 1) / (size_t)s->page;
	unsigned pages = MAX_PAGES;

	/* Each ring also maps its header page. */
	while (pages > MIN_PAGES && pages + 1 > share)
		pages /= 2;
	return pages;
}

/*
 * Opens tid's event and maps its ring of `pages` (smaller, down to MIN_PAGES, when locked
 * memory runs short). 0 or -errno.
 */
static int start_event(struct uvs_perf_sampler *s, struct thread_event *e, unsigned pages)
{
	int err = -ENOMEM;

	for (; pages >= MIN_PAGES; pages /= 2) {
		size_t data = (size_t)pages * (size_t)s->page;

		e->fd = open_event(s, e->tid, data);
		if (e->fd < 0)
			return -errno;
		e->map_len = data + (size_t)s->page;
		e->map = mmap(NULL, e->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, 0);
		if (e->map != MAP_FAILED) {
			e->ring = (struct uvs_perf_ring){ .meta = e->map,
							  .data = (uint8_t *)e->map + s->page,
							  .size = data };
			return 0;
		}
		err = -errno;
		e->map = NULL;
		close_event(e);
		if (err != -EPERM && err != -ENOMEM)
			break;
	}
	return err;
}

static struct thread_event *find_event(struct uvs_perf_sampler *s, pid_t tid)
{
	for (size_t i = 0; i < s->nev; i++)
		if (s->ev[i].tid == tid)
			return &s->ev[i];
	return NULL;
}

static int add_thread(struct uvs_perf_sampler *s, pid_t tid, unsigned pages)
{
	struct thread_event *e;
	int err;

	if (s->nev == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct thread_event *n = realloc(s->ev, ncap * sizeof(*n));
		struct pollfd *p = realloc(s->pfds, ncap * sizeof(*p));

		if (n)
			s->ev = n;
		if (p)
			s->pfds = p;
		if (!n || !p)
			return -ENOMEM;
		s->cap = ncap;
	}
	e = &s->ev[s->nev];
	memset(e, 0, sizeof(*e));
	e->tid = tid;
	e->seen = true;
	err = start_event(s, e, pages);
	if (err)
		return err;
	s->nev++;
	return 0;
}

static void on_record(void *ctx, const struct perf_event_header *h, const uint8_t *rec,
		      size_t len);

static void drain_event(struct uvs_perf_sampler *s, struct thread_event *e)
{
	struct uvs_perf_ring_stats rs = { 0 };

	uvs_perf_ring_drain(&e->ring, s->scratch, on_record, s, &rs);
	s->st.bad += rs.bad;
}

int uvs_perf_sampler_sync_threads(struct uvs_perf_sampler *s)
{
	size_t nthreads = 0;
	char path[64];
	struct dirent *d;
	unsigned pages;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)s->pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	for (size_t i = 0; i < s->nev; i++)
		s->ev[i].seen = false;
	s->st.unsampled = 0;
	s->st.unsampled_err = 0;
	/* The rings of new threads are sized for as many threads as there are now. */
	while ((d = readdir(dir)))
		nthreads += d->d_name[0] != '.';
	if (s->opt.only_tid)
		nthreads = 1;
	pages = pages_for(s, nthreads);
	rewinddir(dir);
	while ((d = readdir(dir))) {
		char *end;
		long tid = strtol(d->d_name, &end, 10);
		struct thread_event *e;
		int r;

		if (*end || tid <= 0 || (s->opt.only_tid && tid != s->opt.only_tid))
			continue;
		e = find_event(s, (pid_t)tid);
		if (e) {
			e->seen = true;
			continue;
		}
		r = add_thread(s, (pid_t)tid, pages);
		/* A thread that ended since it was listed is not an error. */
		if (r && r != -ESRCH) {
			if (!s->st.unsampled_err)
				s->st.unsampled_err = r;
			s->st.unsampled++;
		}
	}
	closedir(dir);
	/* Ended threads: their events' last samples are drained first, then closed. */
	for (size_t i = 0; i < s->nev;) {
		if (s->ev[i].seen) {
			i++;
			continue;
		}
		drain_event(s, &s->ev[i]);
		close_event(&s->ev[i]);
		s->ev[i] = s->ev[--s->nev];
	}
	s->st.threads = s->nev;
	return 0;
}

/* The kernel part of the callchain (after PERF_CONTEXT_KERNEL, before the next marker). */
static void kernel_frames(const struct uvs_perf_sample *ps, struct uvs_stack_sample *out)
{
	bool in_kernel = false;

	for (uint64_t i = 0; i < ps->nr && out->nkernel < UVS_KERNEL_FRAMES_MAX; i++) {
		uint64_t ip;

		memcpy(&ip, ps->callchain + i * 8, 8);
		if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
			in_kernel = ip == (uint64_t)PERF_CONTEXT_KERNEL;
			continue;
		}
		if (in_kernel)
			out->kernel[out->nkernel++] = ip;
	}
}

/*
 * A sample record as the BPF path would have written it: registers, kernel frames, the
 * frame-pointer walk in the stack copy (and above it in the target's memory, read now).
 */
static void on_sample_record(struct uvs_perf_sampler *s, const uint8_t *rec, size_t len)
{
	struct uvs_stack_sample *out = &s->buf->s;
	struct uvs_mem_reader mem;
	struct uvs_stack_copy copy;
	struct uvs_perf_sample ps;
	size_t stack;

	if (uvs_perf_parse_sample(rec, len, &ps) || ps.pid != (uint32_t)s->pid) {
		s->st.bad++;
		return;
	}
	memset(out, 0, sizeof(*out));
	out->ts_ns = ps.time;
	out->tgid = ps.pid;
	out->tid = ps.tid;
	out->cpu = UINT32_MAX;
	out->kind = UVS_SAMPLE_ON_CPU;
	out->walk_end = UVS_WALK_NO_USER;
	out->exact_phase = UVS_PHASE_NONE;
	kernel_frames(&ps, out);
	if (ps.abi != PERF_SAMPLE_REGS_ABI_NONE) {
		out->ip = ps.uip;
		out->sp = ps.sp;
		out->bp = ps.bp;
		/* The copy starts a red zone below sp, as BPF's: a part the kernel did not copy. */
		stack = ps.stack_dyn < STACK_BYTES ? (size_t)ps.stack_dyn : STACK_BYTES;
		memset(s->buf->copy, 0, UVS_STACK_COPY_REDZONE);
		if (stack)
			memcpy(s->buf->copy + UVS_STACK_COPY_REDZONE, ps.stack, stack);
		copy = (struct uvs_stack_copy){ .base = ps.sp, .bytes = ps.stack, .len = stack };
		mem = uvs_mem_reader_pid((int)ps.tid);
		uvs_fp_walk(out, &copy, &mem);
		/*
		 * Kept also when the walk did not break: the resolver's CFI step for a leaf that
		 * keeps no frame of its own (stack_resolver.c) reads it. It costs no copy here.
		 */
		if (stack && ps.sp >= UVS_STACK_COPY_REDZONE)
			out->copy_len = (uint32_t)(UVS_STACK_COPY_REDZONE + stack);
	}
	s->st.samples++;
	s->handed++;
	s->opt.on_sample(s->opt.ctx, out, s->buf->copy, out->copy_len);
}

static void on_record(void *ctx, const struct perf_event_header *h, const uint8_t *rec,
		      size_t len)
{
	struct uvs_perf_sampler *s = ctx;
	uint64_t lost;

	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		on_sample_record(s, rec, len);
		break;
	case PERF_RECORD_LOST:
		if (uvs_perf_parse_lost(rec, len, &lost) == 0)
			s->st.lost += lost;
		else
			s->st.bad++;
		break;
	default:
		/* PERF_RECORD_THROTTLE and the like say nothing about stacks. */
		break;
	}
}

int uvs_perf_sampler_poll(struct uvs_perf_sampler *s, int timeout_ms)
{
	int n;

	for (size_t i = 0; i < s->nev; i++)
		s->pfds[i] = (struct pollfd){ .fd = s->ev[i].fd, .events = POLLIN };
	n = poll(s->pfds, s->nev, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -errno;
	s->handed = 0;
	for (size_t i = 0; i < s->nev; i++)
		drain_event(s, &s->ev[i]);
	if (kill(s->pid, 0) < 0 && errno == ESRCH)
		return -ESRCH;
	return (int)s->handed;
}

void uvs_perf_sampler_stats(const struct uvs_perf_sampler *s, struct uvs_perf_sampler_stats *out)
{
	*out = s->st;
}

struct uvs_perf_sampler *uvs_perf_sampler_open(pid_t pid, const struct uvs_perf_sampler_options *o,
					       char *why, size_t cap)
{
	struct uvs_perf_sampler *s = calloc(1, sizeof(*s));
	char allowed[256];
	int err;

	if (!s)
		return NULL;
	s->pid = pid;
	s->opt = *o;
	s->page = sysconf(_SC_PAGESIZE);
	s->scratch = malloc(UVS_PERF_RECORD_MAX);
	s->buf = malloc(sizeof(*s->buf));
	if (!s->scratch || !s->buf || !o->period_ns || !o->on_sample) {
		err = !o->period_ns || !o->on_sample ? -EINVAL : -ENOMEM;
		snprintf(why, cap, "cannot set up perf sampling: %s", strerror(-err));
		goto fail;
	}
	err = uvs_perf_sampler_allowed(&s->kernel_frames, allowed, sizeof(allowed));
	if (err) {
		snprintf(why, cap, "cannot sample pid %d with perf_event_open: %s", (int)pid,
			 allowed);
		goto fail;
	}
	err = uvs_perf_sampler_sync_threads(s);
	if (err || !s->nev) {
		err = err ? err : s->st.unsampled_err ? s->st.unsampled_err : -ESRCH;
		snprintf(why, cap, "cannot sample pid %d with perf_event_open: %s%s", (int)pid,
			 strerror(-err), err == -EACCES || err == -EPERM ?
			 " (CAP_SYS_PTRACE over it needed, and perf_event_paranoid <= 2)" : "");
		goto fail;
	}
	return s;
fail:
	uvs_perf_sampler_free(s);
	errno = -err;
	return NULL;
}

void uvs_perf_sampler_free(struct uvs_perf_sampler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nev; i++)
		close_event(&s->ev[i]);
	free(s->ev);
	free(s->pfds);
	free(s->scratch);
	free(s->buf);
	free(s);
}
