// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util/hist_math.h"
#include "collect/loop.h"
#include "util/log.h"
#include "collect/pool.h"
#include "pool.skel.h"
#include "target/probe_site.h"
#include "target/procfs.h"

#define NODE_WORK_CB "_ZZN4node14ThreadPoolWork12ScheduleWorkEvENUlP9uv_work_sE_"

/* Indexed by enum uvs_pool_fn. */
static const char *const work_fns[UVS_POOL_FNS] = {
	[UVS_POOL_FN_FS] = "uv__fs_work",
	[UVS_POOL_FN_GETADDRINFO] = "uv__getaddrinfo_work",
	[UVS_POOL_FN_GETNAMEINFO] = "uv__getnameinfo_work",
	[UVS_POOL_FN_QUEUE] = "uv__queue_work",
	[UVS_POOL_FN_RANDOM] = "uv__random_work",
};

/* libuv's done callbacks, one per work function but getnameinfo's and getaddrinfo's. */
static const char *const done_fns[UVS_POOL_DONE_FNS] = {
	"uv__fs_done", "uv__getaddrinfo_done", "uv__getnameinfo_done", "uv__queue_done",
	"uv__random_done",
};

static int find(const struct uvs_object *o, const char *name, struct uvs_elf_symbol *sym)
{
	return o->elf ? uvs_elf_find_function(o->elf, name, sym) : -ENOENT;
}

/* Every submit point and work function must be a safe uprobe site. */
static int resolve(struct uvs_pool *p, const struct uvs_target *t, struct uvs_elf_symbol *submit,
		   struct uvs_elf_symbol *queue, struct uvs_elf_symbol fns[UVS_POOL_FNS])
{
	const char *names[2 + UVS_POOL_FNS] = { "uv__work_submit", "uv_queue_work" };
	struct uvs_elf_symbol *syms[2 + UVS_POOL_FNS] = { submit, queue };
	int i, err;

	for (i = 0; i < UVS_POOL_FNS; i++) {
		names[2 + i] = work_fns[i];
		syms[2 + i] = &fns[i];
	}
	for (i = 0; i < 2 + UVS_POOL_FNS; i++) {
		err = uvs_uprobe_site(t, names[i], "the pool's functions", syms[i], p->why,
				      sizeof(p->why));
		if (err)
			return err;
	}
	return 0;
}

static void configure(struct uvs_pool *p, const struct uvs_target *t,
		      const struct uvs_elf_symbol fns[UVS_POOL_FNS])
{
	struct uvs_elf_symbol sym;
	char why[320];
	int i;

	p->skel->rodata->targ_tgid = (__u32)t->pid;
	for (i = 0; i < UVS_POOL_FNS; i++)
		p->skel->rodata->fn_addr[i] = fns[i].addr + t->uv.bias;
	if (t->has_node_object &&
	    uvs_elf_find_function_prefix(t->node.elf, NODE_WORK_CB, &sym) == 0)
		p->skel->rodata->node_work_cb = sym.addr + t->node.bias;
	else
		uvs_debug("node's ThreadPoolWork callback not found: crypto and zlib work show as "
			  "\"other\"");
	p->skel->rodata->track_done = 1;
	for (i = 0; i < UVS_POOL_DONE_FNS; i++)
		if (uvs_uprobe_site(t, done_fns[i], "the done callbacks", &sym, why, sizeof(why)))
			p->skel->rodata->track_done = 0;
	if (uvs_elf_find_object(t->uv.elf, "nthreads", &sym) == 0)
		p->nthreads_addr = sym.addr + t->uv.bias;
}

/*
 * The completion probes, all or none. Without them the pool figures stand, only the
 * completion delay is missing.
 */
static void add_done(struct uvs_pool *p, const struct uvs_target *t)
{
	struct uvs_elf_symbol sym[UVS_POOL_DONE_FNS];
	int i;

	if (!p->skel->rodata->track_done)
		return;
	for (i = 0; i < UVS_POOL_DONE_FNS; i++)
		if (find(&t->uv, done_fns[i], &sym[i]))
			return;
	for (i = 0; i < UVS_POOL_DONE_FNS; i++)
		uvs_uprobe_set_add(&p->uprobes, p->skel->progs.uvs_pool_done, sym[i].file_offset,
				   (uint64_t)i, false);
}

static int attach_all(struct uvs_pool *p, const struct uvs_target *t,
		      const struct uvs_elf_symbol *submit, const struct uvs_elf_symbol *queue,
		      const struct uvs_elf_symbol fns[UVS_POOL_FNS])
{
	struct uvs_uprobe_set *set = &p->uprobes;
	int i, err;

	uvs_uprobe_set_add(set, p->skel->progs.uvs_pool_submit, submit->file_offset, 0, false);
	uvs_uprobe_set_add(set, p->skel->progs.uvs_pool_queue_work, queue->file_offset, 0, false);
	for (i = 0; i < UVS_POOL_FNS; i++) {
		uvs_uprobe_set_add(set, p->skel->progs.uvs_pool_work_enter, fns[i].file_offset,
				   (uint64_t)i, false);
		uvs_uprobe_set_add(set, p->skel->progs.uvs_pool_work_return, fns[i].file_offset,
				   (uint64_t)i, true);
	}
	add_done(p, t);
	err = uvs_uprobe_set_attach(set, t->pid, t->uv.open_path);
	if (err)
		snprintf(p->why, sizeof(p->why), "cannot attach the pool uprobes: %s",
			 strerror(-err));
	return err;
}

/* Every program of the object is a uprobe: ready them for the kind of link we will use. */
static void prepare_programs(struct uvs_pool *p)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, p->skel->obj)
		uvs_uprobe_set_prepare(&p->uprobes, prog);
}

void uvs_pool_attach(struct uvs_pool *p, const struct uvs_target *t, bool job_records)
{
	struct uvs_elf_symbol submit, queue, fns[UVS_POOL_FNS];

	memset(p, 0, sizeof(*p));
	p->prev = calloc(1, sizeof(*p->prev));
	p->now = calloc(1, sizeof(*p->now));
	p->seen = calloc(UVS_DNS_MAX_NAMES, sizeof(*p->seen));
	if (!p->prev || !p->now || !p->seen) {
		snprintf(p->why, sizeof(p->why), "out of memory");
		return;
	}
	if (resolve(p, t, &submit, &queue, fns))
		return;
	p->skel = pool_bpf__open();
	if (!p->skel) {
		snprintf(p->why, sizeof(p->why), "cannot open the pool BPF object: %s",
			 strerror(errno));
		return;
	}
	configure(p, t, fns);
	prepare_programs(p);
	p->skel->rodata->job_events = job_records;
	if (pool_bpf__load(p->skel)) {
		snprintf(p->why, sizeof(p->why), "cannot load the pool BPF programs: %s",
			 strerror(errno));
		uvs_pool_detach(p);
		return;
	}
	if (attach_all(p, t, &submit, &queue, fns)) {
		char why[sizeof(p->why)];

		memcpy(why, p->why, sizeof(why));
		uvs_pool_detach(p);
		memcpy(p->why, why, sizeof(why));
		return;
	}
	p->attached = true;
	p->start_mono = p->last_window_mono = uvs_now_mono();
}

void uvs_pool_detach(struct uvs_pool *p)
{
	uvs_uprobe_set_detach(&p->uprobes);
	pool_bpf__destroy(p->skel);
	p->skel = NULL;
	p->attached = false;
	free(p->prev);
	free(p->now);
	free(p->seen);
	p->prev = p->now = NULL;
	p->seen = NULL;
	p->nseen = 0;
}

/* Sync fs calls by thread: on loop threads they stall the loop; elsewhere they are pool work. */
static void sync_by_role(struct uvs_pool *p, struct uvs_target *t, struct uvs_pool_snapshot *out)
{
	int fd = bpf_map__fd(p->skel->maps.sync_fs);
	__u32 key, next, *prevkey = NULL;
	struct uvs_sync_fs v;
	bool known;

	while (bpf_map_get_next_key(fd, prevkey, &next) == 0) {
		enum uvs_role role;

		key = next;
		prevkey = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		role = uvs_target_role(t, (pid_t)key, &known);
		if (role == UVS_ROLE_MAIN || role == UVS_ROLE_WORKER || role == UVS_ROLE_LOOP) {
			out->sync_fs_on_loop += v.count;
			out->sync_fs_on_loop_ns += v.total_ns;
		} else {
			out->sync_fs_other += v.count;
		}
	}
}

static uint32_t pool_size(const struct uvs_pool *p, const struct uvs_target *t)
{
	uint32_t n = 0;
	size_t i;

	if (p->nthreads_addr && uvs_read_mem(t->pid, p->nthreads_addr, &n, sizeof(n)) == 0 &&
	    n <= 1024)
		return n;
	for (i = n = 0; i < t->nthreads; i++)
		n += t->threads[i].role == UVS_ROLE_THREADPOOL;
	return n;
}

static void fill_kind(struct uvs_pool_kind_snapshot *k, const struct uvs_pool_kind_stats *now,
		      const struct uvs_pool_kind_stats *before)
{
	struct uvs_hist d;

	k->submitted = now->submitted - before->submitted;
	k->completed = now->completed - before->completed;
	uvs_hist_sub(&d, &now->wait, &before->wait);
	k->wait_p50_ns = uvs_hist_percentile(&d, 0.50);
	k->wait_p99_ns = uvs_hist_percentile(&d, 0.99);
	uvs_hist_sub(&d, &now->service, &before->service);
	k->service_p50_ns = uvs_hist_percentile(&d, 0.50);
	k->service_p99_ns = uvs_hist_percentile(&d, 0.99);
	uvs_hist_sub(&d, &now->delay, &before->delay);
	k->completion_p50_ns = uvs_hist_percentile(&d, 0.50);
	k->completion_p99_ns = uvs_hist_percentile(&d, 0.99);
}

static uint64_t read_queued_max(struct uvs_pool *p)
{
	__u32 zero = 0;
	__u64 max = 0;

	bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.queued_max), &zero, &max);
	return max > (uint64_t)(p->now->queued > 0 ? p->now->queued : 0) ?
		       max : (uint64_t)(p->now->queued > 0 ? p->now->queued : 0);
}

/* The next window's maximum starts from what is queued now. */
static void reset_queued_max(struct uvs_pool *p)
{
	__u64 max = p->now->queued > 0 ? (__u64)p->now->queued : 0;
	__u32 zero = 0;

	bpf_map_update_elem(bpf_map__fd(p->skel->maps.queued_max), &zero, &max, BPF_ANY);
}

/*
 * libuv 1.45 to 1.47 (Node 20) send fs requests to io_uring when UV_USE_IO_URING=1, and then
 * they never reach the pool. Later versions use io_uring for fs only with a loop flag Node
 * does not set (and for epoll_ctl batching, which is not pool work). So for those versions an
 * io_uring fd in the process means its fs work bypasses the pool.
 */
static bool fs_through_io_uring(const struct uvs_target *t)
{
	char dir[64], path[128], link[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (t->libuv_hex < 0x012d00 || t->libuv_hex >= 0x013000)
		return false;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)t->pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, "anon_inode:[io_uring]") == 0;
	}
	closedir(d);
	return found;
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static struct uvs_dns_seen *seen_entry(struct uvs_pool *p, const char *name)
{
	uint64_t h = fnv1a(name, UVS_DNS_NAME_LEN);
	size_t i;

	for (i = 0; i < p->nseen; i++)
		if (p->seen[i].hash == h && memcmp(p->seen[i].name, name, UVS_DNS_NAME_LEN) == 0)
			return &p->seen[i];
	if (p->nseen == UVS_DNS_MAX_NAMES)
		return NULL;
	p->seen[p->nseen].hash = h;
	memcpy(p->seen[p->nseen].name, name, UVS_DNS_NAME_LEN);
	p->seen[p->nseen].count = 0;
	return &p->seen[p->nseen++];
}

/* Keeps the UVS_DNS_TOP largest counts, most first. */
static void top_insert(struct uvs_pool_snapshot *out, const char *name, uint64_t count)
{
	size_t i;

	if (out->ndns == UVS_DNS_TOP && out->dns[UVS_DNS_TOP - 1].count >= count)
		return;
	i = out->ndns < UVS_DNS_TOP ? out->ndns++ : UVS_DNS_TOP - 1;
	for (; i > 0 && out->dns[i - 1].count < count; i--)
		out->dns[i] = out->dns[i - 1];
	memcpy(out->dns[i].name, name, UVS_DNS_NAME_LEN);
	out->dns[i].name[UVS_DNS_NAME_LEN - 1] = '\0';
	out->dns[i].count = count;
}

/* The most looked-up host names: in the window, or (cumulative) over the session. */
static void dns_names(struct uvs_pool *p, struct uvs_pool_snapshot *out, bool cumulative)
{
	int fd = bpf_map__fd(p->skel->maps.dns_names);
	char key[UVS_DNS_NAME_LEN], next[UVS_DNS_NAME_LEN];
	bool first = true;
	__u64 count;

	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		struct uvs_dns_seen *e;

		first = false;
		memcpy(key, next, sizeof(key));
		if (bpf_map_lookup_elem(fd, key, &count))
			continue;
		e = seen_entry(p, key);
		if (cumulative) {
			top_insert(out, key, count);
			continue;
		}
		if (e && count > e->count)
			top_insert(out, key, count - e->count);
		if (e)
			e->count = count;
	}
}

/* Total time with work queued, counting a span still open now. */
static uint64_t queued_time(const struct uvs_pool_stats *s, uint64_t now_mono)
{
	uint64_t t = s->queued_ns;

	if (s->queued > 0 && s->queued_since && now_mono > s->queued_since)
		t += now_mono - s->queued_since;
	return t;
}

static double ratio(uint64_t part, uint64_t whole)
{
	double r = whole ? (double)part / (double)whole : 0;

	return r > 1 ? 1 : r;
}

void uvs_pool_window(struct uvs_pool *p, struct uvs_target *t, struct uvs_pool_snapshot *out,
		     bool cumulative)
{
	static const struct uvs_pool_stats none;
	const struct uvs_pool_stats *before;
	uint64_t now_mono, qt;
	__u32 zero = 0;
	int i, fd;

	memset(out, 0, sizeof(*out));
	if (!p->attached || !p->now)
		return;
	fd = bpf_map__fd(p->skel->maps.pool_stats);
	if (!cumulative && bpf_map_lookup_elem(fd, &zero, p->now))
		return;
	before = cumulative ? &none : p->prev;
	out->available = true;
	if (!p->fs_io_uring)
		p->fs_io_uring = fs_through_io_uring(t);
	out->fs_io_uring = p->fs_io_uring;
	out->size = pool_size(p, t);
	out->queued = p->now->queued;
	out->running = p->now->running;
	out->queued_max = read_queued_max(p);
	for (i = 0; i < UVS_POOL_KINDS; i++) {
		fill_kind(&out->kinds[i], &p->now->kind[i], &before->kind[i]);
		out->submitted += out->kinds[i].submitted;
		out->completed += out->kinds[i].completed;
	}
	for (i = 0; i < UVS_FS_OPS; i++)
		out->fs_ops[i] = p->now->fs_ops[i] - before->fs_ops[i];
	dns_names(p, out, cumulative);
	if (cumulative) {
		out->saturation = ratio(p->prev_queued_time, p->last_window_mono - p->start_mono);
		sync_by_role(p, t, out);
		return;
	}
	now_mono = uvs_now_mono();
	qt = queued_time(p->now, now_mono);
	out->saturation = ratio(qt > p->prev_queued_time ? qt - p->prev_queued_time : 0,
				now_mono - p->last_window_mono);
	p->prev_queued_time = qt;
	p->last_window_mono = now_mono;
	sync_by_role(p, t, out);
	/* The sync figures are cumulative per thread: turn them into the window's. */
	out->sync_fs_on_loop -= p->sync_prev_loop;
	out->sync_fs_on_loop_ns -= p->sync_prev_loop_ns;
	out->sync_fs_other -= p->sync_prev_other;
	p->sync_prev_loop += out->sync_fs_on_loop;
	p->sync_prev_loop_ns += out->sync_fs_on_loop_ns;
	p->sync_prev_other += out->sync_fs_other;
	memcpy(p->prev, p->now, sizeof(*p->now));
	reset_queued_max(p);
}

int uvs_pool_records_fd(const struct uvs_pool *p)
{
	return bpf_map__fd(p->skel->maps.job_records);
}

int uvs_pool_record_from_event(const void *data, size_t len, struct uvs_pool_job_record *out)
{
	const struct uvs_pool_job_event *e = data;

	if (len < sizeof(*e) || e->kind >= UVS_POOL_KINDS)
		return -EINVAL;
	out->tid = (int)e->tid;
	out->kind = (enum uvs_pool_kind)e->kind;
	out->fs_type = e->kind == UVS_POOL_FS ? e->fs_type : -1;
	out->wait_ns = e->wait_ns;
	out->service_ns = e->service_ns;
	/* The end of service, moved from the monotonic clock to the wall clock. */
	out->ts_ns = uvs_mono_to_real(e->end_ns);
	return 0;
}
