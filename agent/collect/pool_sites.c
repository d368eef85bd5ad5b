// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collect/pool_sites.h"
#include "target/importers.h"
#include "target/probe_site.h"

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

/* Places a site in function `name` (its symbol: sym), shown as label. */
static int add_site(struct uvs_pool_plan *plan, const struct uvs_target *t, const char *name,
		    const char *label, const struct uvs_elf_symbol *sym, enum uvs_pool_prog prog,
		    uint64_t cookie, unsigned args, char *why, size_t cap)
{
	struct uvs_pool_site *s;
	int err;

	if (plan->nsites == UVS_POOL_SITES_MAX)
		return -E2BIG;
	s = &plan->sites[plan->nsites];
	memset(s, 0, sizeof(*s));
	err = uvs_entry_site_of(t->uv.elf, name, sym, args, prog == UVS_POOL_PROG_WORK, &s->at,
				&s->file_offset, s->why, sizeof(s->why));
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
		err = add_site(plan, t, name, name, &sym, prog, cookie, args, why, cap);
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
	return add_site(plan, t, name, label, sym, prog, cookie, UVS_ARG_RDI, why, cap);
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

int uvs_pool_plan_make(struct uvs_pool_plan *plan, const struct uvs_target *t, char *why,
		       size_t cap)
{
	static const enum uvs_pool_fn libuv_fns[] = { UVS_POOL_FN_FS, UVS_POOL_FN_GETADDRINFO,
						      UVS_POOL_FN_GETNAMEINFO, UVS_POOL_FN_RANDOM };
	size_t i;
	int err;

	memset(plan, 0, sizeof(*plan));
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
	if (err)
		return err;
	add_done(plan, t);
	return 0;
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
