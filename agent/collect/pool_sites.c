// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/pool_sites.h"
#include "target/importers.h"
#include "target/probe_site.h"
#include "target/uprobe_set.h"

/* The lambdas node::ThreadPoolWork::ScheduleWork hands uv_queue_work (GCC's _FUN, clang's
 * __invoke): its work callback (uv_work_t *) and its after-work callback (uv_work_t *, int). */
#define NODE_WORK_CB "_ZZN4node14ThreadPoolWork12ScheduleWorkEvENUlP9uv_work_sE_"
#define NODE_AFTER_WORK_CB "_ZZN4node14ThreadPoolWork12ScheduleWorkEvENUlP9uv_work_siE"

/* Indexed by enum uvs_pool_fn. */
static const char *const work_fns[UVS_POOL_FNS] = {
	[UVS_POOL_FN_FS] = "uv__fs_work",
	[UVS_POOL_FN_GETADDRINFO] = "uv__getaddrinfo_work",
	[UVS_POOL_FN_GETNAMEINFO] = "uv__getnameinfo_work",
	[UVS_POOL_FN_QUEUE] = "uv__queue_work",
	[UVS_POOL_FN_RANDOM] = "uv__random_work",
};

/* libuv's done callbacks but uv__queue_done (CPU work's, placed with its work callback). */
static const char *const done_fns[] = { "uv__fs_done", "uv__getaddrinfo_done",
					"uv__getnameinfo_done", "uv__random_done" };

/* Every argument uv__work_submit and uv_queue_work take is read by their programs. */
#define SUBMIT_ARGS (UVS_ARG_RDI | UVS_ARG_RSI | UVS_ARG_RDX | UVS_ARG_RCX | UVS_ARG_R8)

/* What add_site is told of a function's ".cold" part: look it up, or it is known (maybe none). */
struct cold_part {
	bool known;
	const struct uvs_elf_symbol *sym; /* when known: NULL for none */
};

static const struct cold_part look_cold = { false, NULL };

/* Places a site in function `name` (its symbol: sym), shown as label. */
static int add_site(struct uvs_pool_plan *plan, const struct uvs_target *t, const char *name,
		    const char *label, const struct uvs_elf_symbol *sym, struct cold_part cold,
		    enum uvs_pool_prog prog, uint64_t cookie, unsigned args, char *why, size_t cap)
{
	struct uvs_pool_site *s;
	int err;

	if (plan->nsites == UVS_POOL_SITES_MAX)
		return -E2BIG;
	s = &plan->sites[plan->nsites];
	memset(s, 0, sizeof(*s));
	/* A return probe at the site too: a work function's, or a session's. */
	bool ret = prog == UVS_POOL_PROG_WORK || prog == UVS_POOL_PROG_API;

	if (cold.known)
		err = uvs_entry_site_of_parts(t->uv.elf, name, sym, cold.sym, args, ret, &s->at,
					      &s->file_offset, s->why, sizeof(s->why));
	else
		err = uvs_entry_site_of(t->uv.elf, name, sym, args, ret, &s->at, &s->file_offset,
					s->why, sizeof(s->why));
	if (err) {
		snprintf(why, cap, "cannot place a uprobe in %s: %s", label, s->why);
		return err;
	}
	snprintf(s->name, sizeof(s->name), "%s", label);
	s->prog = prog;
	s->cookie = cookie;
	s->offset = s->at.addr - sym->addr;
	plan->nsites++;
	return 0;
}

/* A libuv function: resolved under the safety rules of target/probe_site.h, then placed. */
static int add_libuv(struct uvs_pool_plan *plan, const struct uvs_target *t, const char *name,
		     enum uvs_pool_prog prog, uint64_t cookie, unsigned args, uint64_t *addr,
		     char *why, size_t cap)
{
	struct uvs_elf_symbol sym;
	int err;

	err = uvs_uprobe_site(t, name, "the pool's functions", &sym, why, cap);
	if (!err)
		err = add_site(plan, t, name, name, &sym, look_cold, prog, cookie, args, why, cap);
	if (!err && addr)
		*addr = sym.addr + t->uv.bias;
	return err;
}

/* One of node's callbacks (found by a prefix of its name): placed under its full name. */
static int add_node_site(struct uvs_pool_plan *plan, const struct uvs_target *t, const char *label,
			 const struct uvs_elf_symbol *sym, enum uvs_pool_prog prog, uint64_t cookie,
			 char *why, size_t cap)
{
	char name[256];

	if (uvs_elf_symbol_at(t->uv.elf, sym->addr, name, sizeof(name), NULL)) {
		snprintf(why, cap, "cannot name %s", label);
		return -ENOENT;
	}
	return add_site(plan, t, name, label, sym, look_cold, prog, cookie, UVS_ARG_RDI, why, cap);
}

/* node's two callbacks in the libuv object, running from its file; else why not, in why. */
static int node_callbacks(const struct uvs_target *t, struct uvs_elf_symbol *work,
			  struct uvs_elf_symbol *after, char *why, size_t cap)
{
	if (!t->has_node_object || strcmp(t->node.path, t->uv.path) != 0 ||
	    t->node.bias != t->uv.bias) {
		snprintf(why, cap, "node's ThreadPoolWork is not in %s with libuv", t->uv.path);
		return -ENOENT;
	}
	if (uvs_elf_find_function_prefix(t->uv.elf, NODE_WORK_CB, work) ||
	    uvs_elf_find_function_prefix(t->uv.elf, NODE_AFTER_WORK_CB, after)) {
		snprintf(why, cap, "%s has no symbols for node::ThreadPoolWork's callbacks",
			 t->uv.path);
		return -ENOENT;
	}
	if (!uvs_object_maps_code(t, &t->uv, work->addr + t->uv.bias) ||
	    !uvs_object_maps_code(t, &t->uv, after->addr + t->uv.bias)) {
		snprintf(why, cap, "node's ThreadPoolWork callbacks do not run from %s", t->uv.path);
		return -EFAULT;
	}
	return 0;
}

/*
 * Whether every uv_queue_work job passes node's callbacks: no other object calls
 * uv_queue_work (node's own calls all go through ThreadPoolWork). Else why not, in why.
 */
static bool only_node_queues_work(const struct uvs_target *t, char *why, size_t cap)
{
	char who[256];
	size_t unreadable = 0;
	int found = uvs_target_importer(t, &t->uv, "uv_queue_work", who, sizeof(who), &unreadable);

	if (found < 0) {
		snprintf(why, cap, "cannot list the objects mapped in the process: %s",
			 strerror(-found));
		return false;
	}
	if (found) {
		snprintf(why, cap, "%s calls uv_queue_work itself", who);
		return false;
	}
	if (unreadable) {
		snprintf(why, cap, "%zu object%s mapped in the process could not be read: one may "
			 "call uv_queue_work itself", unreadable, unreadable == 1 ? "" : "s");
		return false;
	}
	return true;
}

/* CPU work's service and completion: node's callbacks, or uv__queue_work and uv__queue_done. */
static int add_cpu_work(struct uvs_pool_plan *plan, const struct uvs_target *t, char *why,
			size_t cap)
{
	struct uvs_elf_symbol work, after;
	bool found = node_callbacks(t, &work, &after, plan->cpu_why, sizeof(plan->cpu_why)) == 0;

	if (found)
		plan->node_work_cb = work.addr + t->uv.bias;
	plan->cpu_at_node_cb = found && only_node_queues_work(t, plan->cpu_why,
							      sizeof(plan->cpu_why));
	if (!plan->cpu_at_node_cb)
		return add_libuv(plan, t, work_fns[UVS_POOL_FN_QUEUE], UVS_POOL_PROG_WORK,
				 UVS_POOL_FN_QUEUE, UVS_ARG_RDI, &plan->fn_addr[UVS_POOL_FN_QUEUE],
				 why, cap);
	return add_node_site(plan, t, "node's work callback", &work, UVS_POOL_PROG_WORK,
			     UVS_POOL_FN_NODE_WORK, why, cap);
}

/* The completion probes, all or none: without them only the completion delay is missing. */
static void add_done(struct uvs_pool_plan *plan, const struct uvs_target *t)
{
	size_t before = plan->nsites, i;
	struct uvs_elf_symbol after;
	char *why = plan->done_why;
	int err = 0;

	for (i = 0; i < sizeof(done_fns) / sizeof(done_fns[0]) && !err; i++)
		err = add_libuv(plan, t, done_fns[i], UVS_POOL_PROG_DONE, 0, UVS_ARG_RDI, NULL, why,
				sizeof(plan->done_why));
	if (!err && plan->cpu_at_node_cb) {
		err = uvs_elf_find_function_prefix(t->uv.elf, NODE_AFTER_WORK_CB, &after);
		if (err)
			snprintf(why, sizeof(plan->done_why), "node's after-work callback is gone");
		else
			err = add_node_site(plan, t, "node's after-work callback", &after,
					    UVS_POOL_PROG_DONE, UVS_UV_WORK_T_WORK_REQ, why,
					    sizeof(plan->done_why));
	} else if (!err) {
		err = add_libuv(plan, t, "uv__queue_done", UVS_POOL_PROG_DONE, 0, UVS_ARG_RDI, NULL,
				why, sizeof(plan->done_why));
	}
	plan->track_done = !err;
	if (err)
		plan->nsites = before;
}

/*
 * libuv's public entry points that submit pool work (uv.h, libuv 1.x): the integer argument
 * (1-based; doubles go in xmm registers and do not count) that is the callback, NULL for a
 * synchronous call, and the uv_fs_type of the request (a stable enum). Every one takes the
 * request as its second argument.
 */
struct api_fn {
	const char *name;
	unsigned cb_arg;
	int fs_type;
};

static const struct api_fn fs_fns[] = {
	{ "uv_fs_open", 6, 1 },      { "uv_fs_close", 4, 2 },      { "uv_fs_read", 7, 3 },
	{ "uv_fs_write", 7, 4 },     { "uv_fs_sendfile", 7, 5 },   { "uv_fs_stat", 4, 6 },
	{ "uv_fs_lstat", 4, 7 },     { "uv_fs_fstat", 4, 8 },      { "uv_fs_ftruncate", 5, 9 },
	{ "uv_fs_utime", 4, 10 },    { "uv_fs_futime", 4, 11 },    { "uv_fs_access", 5, 12 },
	{ "uv_fs_chmod", 5, 13 },    { "uv_fs_fchmod", 5, 14 },    { "uv_fs_fsync", 4, 15 },
	{ "uv_fs_fdatasync", 4, 16 }, { "uv_fs_unlink", 4, 17 },   { "uv_fs_rmdir", 4, 18 },
	{ "uv_fs_mkdir", 5, 19 },    { "uv_fs_mkdtemp", 4, 20 },   { "uv_fs_rename", 5, 21 },
	{ "uv_fs_scandir", 5, 22 },  { "uv_fs_link", 5, 23 },      { "uv_fs_symlink", 6, 24 },
	{ "uv_fs_readlink", 4, 25 }, { "uv_fs_chown", 6, 26 },     { "uv_fs_fchown", 6, 27 },
	{ "uv_fs_realpath", 4, 28 }, { "uv_fs_copyfile", 6, 29 },  { "uv_fs_lchown", 6, 30 },
	{ "uv_fs_opendir", 4, 31 },  { "uv_fs_readdir", 4, 32 },   { "uv_fs_closedir", 4, 33 },
	{ "uv_fs_statfs", 4, 34 },   { "uv_fs_mkstemp", 4, 35 },   { "uv_fs_lutime", 4, 36 },
};

/* offsetof(req, work_req) in uv_fs_t, uv_getaddrinfo_t, uv_getnameinfo_t, uv_random_t. */
#define FS_WORK_REQ 336
#define GETADDRINFO_WORK_REQ 72
#define GETNAMEINFO_WORK_REQ 72
#define RANDOM_WORK_REQ 104

static unsigned arg_mask(unsigned cb_arg)
{
	/* The request (rsi) and the callback; the seventh is on the stack (the session's return
	 * probe keeps the prefix from moving the stack pointer anyway). */
	return UVS_ARG_RSI | (cb_arg >= 1 && cb_arg <= 6 ? 1u << (cb_arg - 1) : 0);
}

/* The entry points of the 2-probe plan: fs_fns, then these. */
static const struct api_fn other_fns[] = {
	{ "uv_getaddrinfo", 3, -1 }, { "uv_getnameinfo", 3, -1 }, { "uv_random", 6, -1 },
};

#define NFS (sizeof(fs_fns) / sizeof(fs_fns[0]))
#define NAPI (NFS + sizeof(other_fns) / sizeof(other_fns[0]))

/*
 * Their symbols and ".cold" parts, found in one pass over the symbol table: a lookup each
 * would walk its 100,000 and more symbols about 80 times, 200 ms of attach on Node 20.
 */
struct api_syms {
	struct uvs_elf_symbol sym[NAPI], cold[NAPI];
	bool has[NAPI], has_cold[NAPI];
};

static const char *api_name(size_t i)
{
	return i < NFS ? fs_fns[i].name : other_fns[i - NFS].name;
}

static int collect_api(void *ctx, const char *name, const struct uvs_elf_symbol *sym)
{
	struct api_syms *a = ctx;
	size_t i, len;
	bool cold;

	if (strncmp(name, "uv_", 3) != 0)
		return 0;
	len = strlen(name);
	cold = len > 5 && strcmp(name + len - 5, ".cold") == 0;
	if (cold)
		len -= 5;
	for (i = 0; i < NAPI; i++) {
		if (strlen(api_name(i)) != len || strncmp(api_name(i), name, len) != 0)
			continue;
		/* The first of each, as a lookup would take it (.symtab before .dynsym). */
		if (cold && !a->has_cold[i]) {
			a->cold[i] = *sym;
			a->has_cold[i] = true;
		} else if (!cold && !a->has[i]) {
			a->sym[i] = *sym;
			a->has[i] = true;
		}
	}
	return 0;
}

/* A session on entry point i (of struct api_syms). */
static int add_api(struct uvs_pool_plan *plan, const struct uvs_target *t,
		   const struct api_syms *a, size_t i, unsigned cb_arg, uint64_t cookie, char *why,
		   size_t cap)
{
	struct cold_part cold = { true, a->has_cold[i] ? &a->cold[i] : NULL };
	int err = uvs_uprobe_site_check(t, api_name(i), "the pool's functions",
					a->has[i] ? &a->sym[i] : NULL, why, cap);

	if (!err)
		err = add_site(plan, t, api_name(i), api_name(i), &a->sym[i], cold, UVS_POOL_PROG_API,
			       cookie, arg_mask(cb_arg), why, cap);
	return err;
}

/*
 * Whether the target's async fs calls may go to io_uring: libuv 1.45 to 1.47 with
 * UV_USE_IO_URING set to a non-zero number in the process's environment, which libuv reads
 * once, when node makes its default loop at startup (so /proc/PID/environ, the environment the
 * process started with, is what it saw). Unreadable: assumed so.
 */
static bool fs_may_use_io_uring(const struct uvs_target *t)
{
	char path[64], buf[65536];
	ssize_t n;
	size_t i;
	int fd;

	if (t->libuv_hex < 0x012d00 || t->libuv_hex >= 0x013000)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || n == (ssize_t)sizeof(buf) - 1)
		return true; /* unreadable, or longer than we read */
	buf[n] = '\0';
	for (i = 0; i < (size_t)n; i += strlen(buf + i) + 1)
		if (strncmp(buf + i, "UV_USE_IO_URING=", 16) == 0)
			return atoi(buf + i + 16) != 0;
	return false;
}

/* The 2-probe plan's sites, all or none (else why says why). */
static int add_two_probe(struct uvs_pool_plan *plan, const struct uvs_target *t, char *why,
			 size_t cap)
{
	struct uvs_elf_symbol sym, work, after;
	struct api_syms *a;
	uint64_t off;
	size_t i;
	int err;

	err = uvs_uprobe_site(t, "worker", "the pool's functions", &sym, why, cap);
	if (!err)
		err = uvs_worker_site_of(t->uv.elf, &sym, &plan->worker, &off, why, cap);
	if (err)
		return err;
	plan->sites[plan->nsites++] = (struct uvs_pool_site){
		.name = "worker's end of service", .prog = UVS_POOL_PROG_END,
		.cookie = UVS_POOL_END_COOKIE(plan->worker.reg, plan->worker.disp),
		.file_offset = off, .offset = plan->worker.addr - sym.addr,
		.at = { .addr = plan->worker.addr, .emulated = true },
	};
	snprintf(plan->sites[plan->nsites - 1].at.insn, sizeof(plan->sites[0].at.insn), "%s",
		 plan->worker.insn);
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	if (uvs_elf_has_symtab(t->uv.elf))
		uvs_elf_foreach_function(t->uv.elf, collect_api, a);
	for (i = 0; i < NFS && !err; i++)
		err = add_api(plan, t, a, i, fs_fns[i].cb_arg,
			      UVS_POOL_API_COOKIE(fs_fns[i].cb_arg, UVS_POOL_FS, fs_fns[i].fs_type,
						  FS_WORK_REQ), why, cap);
	if (!err)
		err = add_api(plan, t, a, NFS, 3,
			      UVS_POOL_API_COOKIE(3, UVS_POOL_DNS, 0, GETADDRINFO_WORK_REQ) |
				      UVS_POOL_API_HOST, why, cap);
	if (!err)
		err = add_api(plan, t, a, NFS + 1, 3,
			      UVS_POOL_API_COOKIE(3, UVS_POOL_DNS, 0, GETNAMEINFO_WORK_REQ), why, cap);
	if (!err)
		err = add_api(plan, t, a, NFS + 2, 6,
			      UVS_POOL_API_COOKIE(6, UVS_POOL_RANDOM, 0, RANDOM_WORK_REQ), why, cap);
	free(a);
	if (!err)
		err = add_libuv(plan, t, "uv_queue_work", UVS_POOL_PROG_QUEUE_WORK2, 0, SUBMIT_ARGS,
				NULL, why, cap);
	if (err)
		return err;
	/*
	 * Every uv_queue_work job ends in worker(): node's work callback only tells crypto and
	 * zlib apart, and its after-work callback is where --pool-delay finds node's jobs done
	 * when no other object queues work.
	 */
	if (node_callbacks(t, &work, &after, plan->cpu_why, sizeof(plan->cpu_why)) == 0) {
		plan->node_work_cb = work.addr + t->uv.bias;
		plan->cpu_at_node_cb = only_node_queues_work(t, plan->cpu_why,
							     sizeof(plan->cpu_why));
	}
	/* Its work function is what an fs job's uv__work holds while in the pool (confirm_fs). */
	err = uvs_uprobe_site(t, work_fns[UVS_POOL_FN_FS], "the pool's functions", &sym, why, cap);
	if (err)
		return err;
	plan->fn_addr[UVS_POOL_FN_FS] = sym.addr + t->uv.bias;
	plan->confirm_fs = fs_may_use_io_uring(t);
	plan->two_probe = true;
	return 0;
}

/* The 4-probe plan: submit, the work function's entry and return, the done callback. */
static int add_four_probe(struct uvs_pool_plan *plan, const struct uvs_target *t, char *why,
			  size_t cap)
{
	static const enum uvs_pool_fn libuv_fns[] = { UVS_POOL_FN_FS, UVS_POOL_FN_GETADDRINFO,
						      UVS_POOL_FN_GETNAMEINFO, UVS_POOL_FN_RANDOM };
	size_t i;
	int err;

	err = add_libuv(plan, t, "uv__work_submit", UVS_POOL_PROG_SUBMIT, 0, SUBMIT_ARGS, NULL,
			why, cap);
	if (!err)
		err = add_libuv(plan, t, "uv_queue_work", UVS_POOL_PROG_QUEUE_WORK, 0, SUBMIT_ARGS,
				NULL, why, cap);
	for (i = 0; i < sizeof(libuv_fns) / sizeof(libuv_fns[0]) && !err; i++)
		err = add_libuv(plan, t, work_fns[libuv_fns[i]], UVS_POOL_PROG_WORK, libuv_fns[i],
				UVS_ARG_RDI, &plan->fn_addr[libuv_fns[i]], why, cap);
	if (!err)
		err = add_cpu_work(plan, t, why, cap);
	return err;
}

int uvs_pool_plan_make(struct uvs_pool_plan *plan, const struct uvs_target *t, bool sessions,
		       bool delay, char *why, size_t cap)
{
	int err = -EOPNOTSUPP;

	memset(plan, 0, sizeof(*plan));
	if (!sessions)
		snprintf(plan->plan_why, sizeof(plan->plan_why),
			 "this kernel has no uprobe sessions (6.13+), or UVSCOPE_NO_UPROBE_SESSION is set");
	else
		err = add_two_probe(plan, t, plan->plan_why, sizeof(plan->plan_why));
	if (err) {
		memset(plan->sites, 0, sizeof(plan->sites));
		plan->nsites = 0;
		plan->two_probe = false;
		plan->confirm_fs = false;
		plan->node_work_cb = 0;
		memset(plan->fn_addr, 0, sizeof(plan->fn_addr));
		err = add_four_probe(plan, t, why, cap);
		if (err)
			return err;
		delay = true; /* the 4-probe plan's done callbacks cost no more than before */
	}
	plan->delay_asked = delay;
	if (delay)
		add_done(plan, t);
	else
		snprintf(plan->done_why, sizeof(plan->done_why),
			 "off by default (a probe hit per job on the loop thread): --pool-delay");
	return 0;
}

unsigned uvs_pool_plan_hits_per_job(const struct uvs_pool_plan *plan)
{
	return (plan->two_probe ? 2 : 3) + (plan->track_done ? 1 : 0) + (plan->confirm_fs ? 1 : 0);
}

size_t uvs_pool_plan_stepped(const struct uvs_pool_plan *plan, char *out, size_t cap)
{
	size_t i, n = 0, len = 0;

	if (cap)
		out[0] = '\0';
	for (i = 0; i < plan->nsites; i++) {
		if (plan->sites[i].at.emulated)
			continue;
		if (len < cap)
			len += (size_t)snprintf(out + len, cap - len, "%s%s", n ? ", " : "",
						plan->sites[i].name);
		n++;
	}
	return n;
}
