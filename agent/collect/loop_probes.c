// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "util/log.h"
#include "loop.skel.h"
#include "collect/loop_probes.h"
#include "target/default_loop.h"
#include "target/epoll_sites.h"
#include "target/probe_site.h"

struct boundary {
	const char *symbol;
	bool retprobe;
};

/*
 * Indexed by enum uvs_boundary: where each phase boundary is caught. A return probe costs the
 * target less than an entry uprobe of its own (about 0.3 against 0.4 us here: it rides on the
 * entry's breakpoint, and the kernel returns through a syscall, not a trap), so a function
 * probed at its entry also gives the boundary at its return where one is there.
 *
 * The three returns could instead be caught at the first instruction after each return that
 * the kernel emulates (no single-step), in uv_run, reached from the return with no branch and
 * no call in between. Official builds, 18 to 26 (objdump of uv_run):
 *   - idle: `mov %rbx,%rdi; call uv__run_prepare` on every one: the call is the site;
 *   - timers (two calls in uv_run: before the loop, and in it after update_time; 18 has its
 *     UV_RUN_ONCE call instead of the first): one to three loads and tests of the loop's
 *     fields (stop_flag, active handles, pending queue), then a conditional jump (24's first:
 *     `mov` then a `jmp`); the pending phase, which can call JS, begins after that jump;
 *   - check: `mov 0x168(%rbx),%reg; movq $0,0x168(%rbx); test`, then the conditional jump of
 *     the inlined close loop (26: a long nop before the `test`).
 * Nothing there runs user code, so the figures would not change. But it costs more where the
 * kernel has the uretprobe syscall (6.11+, x86): measured with scripts/op-cost.sh (iter, 4
 * pairs, Node 20, 2026-12-06), the three boundaries at those sites, entry uprobes all, cost
 * +4.33, +4.41 and +4.37 us per iteration against +4.09, +4.06 and +4.05 with these return
 * probes, run for run: a trap of its own costs more than a return through the syscall.
 * Kernels without that syscall return through a trap too; what the sites would save there is
 * unmeasured (bench/README.md, "--phases per loop iteration").
 */
static const struct boundary boundaries[UVS_BOUND_COUNT] = {
	[UVS_BOUND_TIMERS_ENTRY] = { "uv__run_timers", false },
	/*
	 * The return probes mark where the inlined pending and close phases begin; nothing else
	 * does. They are safe here: Node is built without C++ exceptions and libuv never longjmps,
	 * so no frame above them is skipped.
	 */
	[UVS_BOUND_TIMERS_RETURN] = { "uv__run_timers", true },
	[UVS_BOUND_IDLE_ENTRY] = { "uv__run_idle", false },
	/*
	 * Prepare begins where idle ends: uv_run calls uv__run_prepare right after uv__run_idle
	 * in every libuv 1.x (Node 18 to 26 pass one `mov %rbx,%rdi` between them).
	 */
	[UVS_BOUND_IDLE_RETURN] = { "uv__run_idle", true },
	[UVS_BOUND_POLL_ENTRY] = { "uv__io_poll", false },
	[UVS_BOUND_CHECK_ENTRY] = { "uv__run_check", false },
	[UVS_BOUND_CHECK_RETURN] = { "uv__run_check", true },
};

static const char *explain_errno(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return "permission denied (run as root, or grant CAP_BPF, CAP_PERFMON and "
		       "CAP_SYS_ADMIN)";
	case ENOENT:
	case ESRCH:
		return "the kernel lacks BTF or the probe point (needs BTF and tp_btf support)";
	default:
		return strerror(err);
	}
}

/* Every phase symbol must be a safe uprobe site; warn where a hit costs a single-step. */
static int resolve_boundaries(const struct uvs_target *t, struct uvs_elf_symbol *syms, char *why,
			      size_t cap)
{
	uint8_t first;
	int i, err;

	for (i = 0; i < UVS_BOUND_COUNT; i++) {
		err = uvs_uprobe_site(t, boundaries[i].symbol, "the libuv phase functions", &syms[i],
				      why, cap);
		if (err)
			return err;
		if (uvs_elf_read(t->uv.elf, syms[i].file_offset, &first, 1) == 0 && first != 0x55)
			uvs_warn("%s does not start with push %%rbp: each hit is single-stepped "
				 "(about 5 us instead of 0.5 us)", boundaries[i].symbol);
	}
	return 0;
}

static void attach_phases(struct uvs_loop_probes *p, const struct uvs_target *t)
{
	struct uvs_elf_symbol syms[UVS_BOUND_COUNT];
	int i, err;

	if (resolve_boundaries(t, syms, p->phases_why, sizeof(p->phases_why)))
		return;
	/* The program was loaded for uprobe_multi (load_object): the set attaches it so. */
	uvs_uprobe_set_prepare(&p->phase_set, p->skel->progs.uvs_phase_boundary);
	for (i = 0; i < UVS_BOUND_COUNT; i++) {
		err = uvs_uprobe_set_add(&p->phase_set, p->skel->progs.uvs_phase_boundary,
					 syms[i].file_offset, (uint64_t)i, boundaries[i].retprobe);
		if (err) {
			snprintf(p->phases_why, sizeof(p->phases_why),
				 "cannot add the uprobe on %s: %s", boundaries[i].symbol,
				 strerror(-err));
			return;
		}
	}
	err = uvs_uprobe_set_attach(&p->phase_set, t->pid, t->uv.open_path);
	if (err) {
		snprintf(p->phases_why, sizeof(p->phases_why),
			 "cannot attach the uprobes on the libuv phase functions: %s",
			 explain_errno(-err));
		return;
	}
	p->phases = true;
	p->phase_epoch = 1;
	p->skel->bss->phase_epoch[p->slot] = p->phase_epoch;
	/* Best effort: without it the phases cannot come back once the guard took them out. */
	p->phase_file_fd = open(t->uv.open_path, O_PATH | O_CLOEXEC);
}

/* The fentry/fexit pairs on the epoll wait syscalls, and the kernel function each one needs. */
static void wait_hooks(struct loop_bpf *skel, struct bpf_program *progs[6], const char *fns[6])
{
	static const char *const names[3] = { "__x64_sys_epoll_wait", "__x64_sys_epoll_pwait",
					      "__x64_sys_epoll_pwait2" };
	int i;

	progs[0] = skel->progs.uvs_ep_wait_in;
	progs[1] = skel->progs.uvs_ep_wait_out;
	progs[2] = skel->progs.uvs_ep_pwait_in;
	progs[3] = skel->progs.uvs_ep_pwait_out;
	progs[4] = skel->progs.uvs_ep_pwait2_in;
	progs[5] = skel->progs.uvs_ep_pwait2_out;
	for (i = 0; i < 6; i++)
		fns[i] = names[i / 2];
}

/*
 * The three ways of catching a loop's epoll waits, in order of preference: uprobes at libuv's
 * epoll call sites (only the target pays), else fentry/fexit on the wait syscalls when the
 * kernel has BPF trampolines (only those calls pay), else the sys_enter/sys_exit tracepoints
 * (every syscall of every process pays a little). The object is loaded once for every target
 * with all three (a syscall the kernel lacks, epoll_pwait2 before 5.11, goes without a hook);
 * the syscall hooks are attached, for the whole host, only once a target needs them.
 */
static void set_fentry_autoload(struct loop_bpf *skel, bool want)
{
	struct btf *vmlinux = want ? btf__load_vmlinux_btf() : NULL;
	struct bpf_program *progs[6];
	const char *fns[6];
	int i;

	wait_hooks(skel, progs, fns);
	for (i = 0; i < 6; i++)
		bpf_program__set_autoload(progs[i], vmlinux && btf__find_by_name_kind(
							 vmlinux, fns[i], BTF_KIND_FUNC) > 0);
	btf__free(vmlinux);
}

static void destroy_skel(void *skel)
{
	loop_bpf__destroy(skel);
}

/* Opens and loads the object for the agent, with or without the fentry programs. */
static int load_object(const struct uvs_loop_probe_options *o, bool fentry, struct loop_bpf **out)
{
	struct loop_bpf *skel = loop_bpf__open();
	struct uvs_uprobe_set probe = { 0 };
	int err;

	if (!skel)
		return -errno;
	skel->rodata->block_ns = o->block_ns;
	skel->rodata->track_phases = o->phases;
	skel->rodata->trace_records = o->trace;
	/* One page when not tracing: watch and top do not pay 8 MiB of locked memory for it. */
	if (o->trace)
		bpf_map__set_max_entries(skel->maps.trace_ring, UVS_TRACE_RING_BYTES);
	/* Loaded in every mode: without --phases it reads the waits at uv__io_poll's entry. */
	uvs_uprobe_set_prepare(&probe, skel->progs.uvs_phase_boundary);
	uvs_uprobe_set_prepare(&probe, skel->progs.uvs_ep_call_in);
	uvs_uprobe_set_prepare(&probe, skel->progs.uvs_ep_call_out);
	set_fentry_autoload(skel, fentry);
	err = loop_bpf__load(skel);
	if (err) {
		loop_bpf__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

/*
 * The loop object, loaded by the first target and shared with every later one; it creates the
 * maps every object shares. Threads that exit are followed for the whole host from the start.
 */
static int shared_object(struct uvs_loop_probes *p, struct uvs_bpf_shared *sh,
			 const struct uvs_loop_probe_options *o)
{
	struct loop_bpf *skel = uvs_bpf_shared_object(sh, UVS_OBJ_LOOP);
	struct bpf_link *exit_link, *signal_link;
	int err;

	if (skel) {
		p->skel = skel;
		return 0;
	}
	/* UVSCOPE_NO_FENTRY: the tracepoints where the kernel has trampolines (tests, comparisons). */
	if (getenv("UVSCOPE_NO_FENTRY")) {
		uvs_debug("UVSCOPE_NO_FENTRY is set: no fentry programs on the epoll syscalls");
		err = load_object(o, false, &skel);
	} else {
		err = load_object(o, true, &skel);
		if (err) {
			uvs_debug("loading the loop object with fentry programs failed (%s): "
				  "without them", explain_errno(-err));
			err = load_object(o, false, &skel);
		}
	}
	if (err)
		return err;
	exit_link = bpf_program__attach(skel->progs.uvs_thread_exit);
	if (!exit_link) {
		err = -errno;
		loop_bpf__destroy(skel);
		return err;
	}
	uvs_bpf_shared_set_object(sh, UVS_OBJ_LOOP, skel, destroy_skel);
	err = uvs_bpf_shared_keep_link(sh, exit_link);
	if (!err)
		err = uvs_bpf_shared_set_maps(sh, skel->obj);
	if (err)
		return err;
	/*
	 * Signals that interrupt a loop's wait (libuv then restamps it): without this program
	 * such a wait's first part counts as busy, as in Node's own ELU, and an idle loop that
	 * gets a signal looks blocked since its wait began.
	 */
	signal_link = bpf_program__attach(skel->progs.uvs_wait_signalled);
	if (!signal_link || uvs_bpf_shared_keep_link(sh, signal_link)) {
		uvs_warn("the signal_deliver tracepoint cannot be attached (%s): a wait a signal "
			 "interrupts counts as busy up to the signal", explain_errno(errno));
		if (signal_link)
			bpf_link__destroy(signal_link);
	}
	p->skel = skel;
	return 0;
}

/*
 * The syscall hooks for the whole host (fentry where it attaches), held while this target
 * needs them (collect/bpf_shared.h): the first target that needs them attaches them.
 */
static int attach_syscall_hooks(struct uvs_loop_probes *p, struct uvs_bpf_shared *sh)
{
	struct loop_bpf *skel = p->skel;
	struct bpf_program *progs[6];
	struct bpf_link *links[6] = { 0 };
	const char *fns[6];
	int i, n = 0, err = 0;

	p->epoll_hooks = uvs_bpf_shared_hold_syscall_hooks(sh);
	if (p->epoll_hooks) {
		p->holds_syscall_hooks = sh;
		p->trampolines = !strcmp(p->epoll_hooks, "fentry");
		return 0;
	}
	wait_hooks(skel, progs, fns);
	for (i = 0; i < 6 && !err; i++) {
		if (!bpf_program__autoload(progs[i]))
			continue;
		links[i] = bpf_program__attach(progs[i]);
		if (!links[i])
			err = -errno;
		else
			links[n++] = links[i];
	}
	if (!err && n) {
		err = uvs_bpf_shared_set_syscall_hooks(sh, links, (size_t)n, "fentry");
		if (err)
			return err;
		p->holds_syscall_hooks = sh;
		p->epoll_hooks = "fentry";
		p->trampolines = true;
		return 0;
	}
	for (i = 0; i < 6; i++)
		bpf_link__destroy(links[i]);
	if (n || err)
		uvs_debug("fentry/fexit on the epoll syscalls failed (%s): using the syscall "
			  "tracepoints", explain_errno(-err));
	memset(links, 0, sizeof(links));
	links[0] = bpf_program__attach(skel->progs.uvs_sys_enter);
	if (!links[0])
		return -errno;
	links[1] = bpf_program__attach(skel->progs.uvs_sys_exit);
	if (!links[1]) {
		err = -errno;
		bpf_link__destroy(links[0]);
		return err;
	}
	err = uvs_bpf_shared_set_syscall_hooks(sh, links, 2, "tracepoints");
	if (err)
		return err;
	p->holds_syscall_hooks = sh;
	p->epoll_hooks = "tracepoints";
	p->trampolines = false;
	return 0;
}

/* This target no longer needs the host-wide hooks: the last one out detaches them. */
static void let_go_syscall_hooks(struct uvs_loop_probes *p)
{
	if (p->holds_syscall_hooks)
		uvs_bpf_shared_let_go_syscall_hooks(p->holds_syscall_hooks);
	p->holds_syscall_hooks = NULL;
}

/*
 * Places the entry and return uprobe of every epoll wait call site in uv__io_poll, for the
 * target's pid only: all or none.
 */
static int attach_epoll_entries(struct uvs_loop_probes *p)
{
	int i, err = 0;

	for (i = 0; i < p->nsites && !err; i++)
		err = uvs_uprobe_set_add(&p->epoll_entry_set, p->skel->progs.uvs_ep_call_in,
					 p->sites[i].call_offset, (uint64_t)p->sites[i].nr, false);
	if (!err)
		err = uvs_uprobe_set_attach(&p->epoll_entry_set, p->pid, p->uv_path);
	p->entries_attached = !err;
	return err;
}

static int attach_epoll_sites(struct uvs_loop_probes *p)
{
	int i, err = 0;

	for (i = 0; i < p->nsites && !err; i++)
		err = uvs_uprobe_set_add(&p->epoll_set, p->skel->progs.uvs_ep_call_out,
					 p->sites[i].hook_offset, p->sites[i].ret_cookie, false);
	/* Folded into the phase uprobes: placed only when they go out (set_returns). */
	if (!err && !p->wait_folded)
		err = uvs_uprobe_set_attach(&p->epoll_set, p->pid, p->uv_path);
	p->returns_attached = !err && !p->wait_folded;
	if (!err && !p->return_hook_only)
		err = attach_epoll_entries(p);
	if (err)
		snprintf(p->epoll_why, sizeof(p->epoll_why),
			 "cannot attach the uprobes at the epoll call sites: %s", strerror(-err));
	return err;
}

/*
 * Puts the wait's return uprobes in, or takes them out, when the wait is folded into the
 * uprobes at uv__io_poll's entry. From the held file once privileges may be gone.
 */
static int set_returns(struct uvs_loop_probes *p, bool on)
{
	char path[40];
	int err;

	if (on == p->returns_attached)
		return 0;
	if (!on) {
		uvs_uprobe_set_detach(&p->epoll_set);
		p->returns_attached = false;
		return 0;
	}
	if (p->wait_file_fd < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->wait_file_fd);
	err = uvs_uprobe_set_attach(&p->epoll_set, p->pid, path);
	p->returns_attached = !err;
	return err;
}

/* Default mode's uv__io_poll entry probe out for good: BPF lets go of it first. */
static void drop_poll_entry(struct uvs_loop_probes *p)
{
	p->skel->bss->phase_epoch[p->slot] = 0;
	uvs_uprobe_set_detach(&p->poll_set);
	memset(&p->poll_set, 0, sizeof(p->poll_set));
	p->poll_entry = false;
}

/*
 * Default mode where the wait's return hook alone would do (libuv 1.45-1.52 with its DWARF):
 * one uprobe at uv__io_poll's entry reads each wait from libuv's metrics instead (the phase
 * program without phases, bpf/loop.bpf.c: fold_wait). It is hit once per iteration, where the
 * return hook is hit at each epoll call: Node's metrics make libuv poll with a zero timeout
 * before every wait that may block, so an iteration that waits calls epoll twice. Only on a
 * `push %rbp` entry, which the kernel emulates: a single-stepped hit costs several times the
 * hook it would replace. False, with the return hook left to do it, when it cannot be placed.
 */
static bool attach_poll_entry(struct uvs_loop_probes *p, const struct uvs_target *t)
{
	struct uvs_elf_symbol sym;
	char why[256] = "";
	uint8_t first = 0;
	int err;

	if (getenv("UVSCOPE_EPOLL_RETURN_HOOK"))
		snprintf(why, sizeof(why), "UVSCOPE_EPOLL_RETURN_HOOK is set");
	else if (uvs_uprobe_site(t, "uv__io_poll", "libuv's poll", &sym, why, sizeof(why)))
		;
	else if (uvs_elf_read(t->uv.elf, sym.file_offset, &first, 1) || first != 0x55)
		snprintf(why, sizeof(why), "uv__io_poll does not start with push %%rbp");
	if (why[0]) {
		uvs_debug("the waits keep their return hook: %s", why);
		return false;
	}
	uvs_uprobe_set_prepare(&p->poll_set, p->skel->progs.uvs_phase_boundary);
	err = uvs_uprobe_set_add(&p->poll_set, p->skel->progs.uvs_phase_boundary, sym.file_offset,
				 UVS_BOUND_POLL_ENTRY, false);
	if (!err)
		err = uvs_uprobe_set_attach(&p->poll_set, t->pid, t->uv.open_path);
	if (err) {
		uvs_uprobe_set_detach(&p->poll_set);
		memset(&p->poll_set, 0, sizeof(p->poll_set));
		uvs_debug("the waits keep their return hook: cannot attach the uprobe on "
			  "uv__io_poll: %s", explain_errno(-err));
		return false;
	}
	p->poll_entry = true;
	p->phase_epoch = 1;
	p->skel->bss->phase_epoch[p->slot] = p->phase_epoch;
	return true;
}

int uvs_loop_probes_hook_entries(struct uvs_loop_probes *p)
{
	int err;

	if (!p->skel || !p->return_hook_only || p->entries_attached)
		return 0;
	/*
	 * Folded: the loop without metrics needs the returns as well, and the hooks then have
	 * every loop of the target, for good (the phase uprobes stop reading the waits).
	 */
	err = set_returns(p, true);
	if (!err)
		err = attach_epoll_entries(p);
	if (!err && p->wait_folded) {
		p->skel->bss->wait_folded[p->slot] = 0;
		p->wait_folded = false;
	}
	/* Default mode's uv__io_poll probe reads nothing now: one hit per iteration fewer. */
	if (!err && p->poll_entry)
		drop_poll_entry(p);
	if (err) {
		uvs_uprobe_set_detach(&p->epoll_entry_set);
		memset(&p->epoll_entry_set.spots, 0, sizeof(p->epoll_entry_set.spots));
		p->epoll_entry_set.n = 0;
		uvs_warn("a loop has no libuv idle-time metrics and the epoll wait entries cannot be "
			 "hooked (%s): its idle time is counted as busy", strerror(-err));
		return err;
	}
	uvs_info("a loop has no libuv idle-time metrics (UV_METRICS_IDLE_TIME): the epoll wait "
		 "entries are hooked too, two uprobe hits per loop iteration");
	return 0;
}

/*
 * The main thread's loop, so that it is recognised from its first wait (target/default_loop.h).
 * Unknown (a stripped build): the first wait the main thread makes is taken for it, as on
 * every other thread.
 */
static void set_main_loop(struct uvs_loop_probes *p, struct uvs_target_cfg *cfg,
			  const struct uvs_target *t)
{
	struct uvs_default_loop d;
	int err = uvs_default_loop_read(t, &d);

	p->main_epfd = -1;
	cfg->main_epfd = -1;
	cfg->main_lfields = 0;
	if (err) {
		uvs_debug("the default loop cannot be read (%s): the main thread's first wait is "
			  "taken for its loop", strerror(-err));
		return;
	}
	cfg->main_epfd = d.epfd;
	cfg->main_lfields = d.internal_fields;
	p->main_epfd = d.epfd;
	p->main_lfields = d.internal_fields;
	p->main_loop = d.addr;
	uvs_debug("the main loop: epoll fd %d, internal fields at 0x%" PRIx64, d.epfd,
		  d.internal_fields);
}

/* libuv's version as major * 1000 + minor, or 0 when unknown. */
static int libuv_minor_version(const struct uvs_target *t)
{
	unsigned major, minor;

	if (sscanf(t->libuv_version, "%u.%u", &major, &minor) != 2 || major > 100 || minor > 999)
		return 0;
	return (int)(major * 1000 + minor);
}

/*
 * Whether the return hooks alone will do: each site must know where `lfields` is (libuv >=
 * 1.45, whose internal fields have the layout in uvscope/epoll_sites.h), and nothing asked for
 * what needs the entries (a trace times each wait itself). Exact phases do with the return
 * hook: the wait's stamp splits the poll into set-up, wait and I/O (bpf/loop.bpf.c).
 */
static bool return_hook_suffices(struct uvs_loop_probes *p, const struct uvs_target *t,
				 const struct uvs_loop_probe_options *o)
{
	struct uvs_elf_symbol fn;
	int found;

	if (o->trace || getenv("UVSCOPE_EPOLL_ENTRY_HOOKS"))
		return false;
	/* The layout in uvscope/epoll_sites.h is read off 1.45 to 1.52; a later one is unproven. */
	if (libuv_minor_version(t) < 1045 || libuv_minor_version(t) > 1052) {
		uvs_debug("libuv %s keeps no wait stamp where uvscope knows to read it: two hooks "
			  "per wait", t->libuv_version);
		return false;
	}
	if (uvs_elf_find_function(t->uv.elf, "uv__io_poll", &fn))
		return false;
	found = uvs_epoll_sites_find_lfields(t->uv.open_path, fn.addr, p->sites, p->nsites);
	if (found != p->nsites) {
		uvs_debug("libuv's DWARF does not say where uv__io_poll keeps its loop's fields at "
			  "%d of %d wait sites: two hooks per wait", p->nsites - (found > 0 ? found : 0),
			  p->nsites);
		return false;
	}
	return true;
}

/* The epoll wait call sites of the target's libuv into p->sites, or 0 with the reason in
 * p->epoll_why. */
static int find_sites(struct uvs_loop_probes *p, const struct uvs_target *t,
		      const struct uvs_loop_probe_options *o)
{
	int n;

	if (getenv("UVSCOPE_NO_EPOLL_UPROBES")) {
		snprintf(p->epoll_why, sizeof(p->epoll_why), "UVSCOPE_NO_EPOLL_UPROBES is set");
		return 0;
	}
	if (!t->uv.elf)
		return 0;
	n = uvs_epoll_sites_find(t->uv.elf, t->uv.open_path, p->sites, UVS_EPOLL_SITES_MAX,
				 p->epoll_why, sizeof(p->epoll_why));
	if (n <= 0)
		return 0;
	p->nsites = n;
	p->pid = t->pid;
	snprintf(p->uv_path, sizeof(p->uv_path), "%s", t->uv.open_path);
	p->return_hook_only = return_hook_suffices(p, t, o);
	return n;
}

void uvs_loop_probes_init(struct uvs_loop_probes *p)
{
	memset(p, 0, sizeof(*p));
	p->phase_file_fd = -1;
	p->wait_file_fd = -1;
	p->main_epfd = -1;
}

int uvs_loop_probes_attach(struct uvs_loop_probes *p, struct uvs_bpf_shared *sh, int slot,
			   struct uvs_target_cfg *cfg, const struct uvs_target *t,
			   const struct uvs_loop_probe_options *o, char *why, size_t cap)
{
	struct uvs_bpf_counters *zero = NULL;
	int err, ncpu = libbpf_num_possible_cpus();
	__u32 key = (__u32)slot;

	uvs_loop_probes_init(p);
	p->pid = t->pid;
	p->slot = slot;
	err = shared_object(p, sh, o);
	if (err) {
		snprintf(why, cap, "cannot load the BPF programs: %s", explain_errno(-err));
		return err;
	}
	p->state_fd = bpf_map__fd(p->skel->maps.loop_state);
	p->stats_fd = bpf_map__fd(p->skel->maps.loop_stats);
	p->counters_fd = bpf_map__fd(p->skel->maps.counters);
	/* The slot may have been another process's: its counters start again from zero. */
	if (ncpu > 0 && (zero = calloc((size_t)ncpu, sizeof(*zero))))
		bpf_map_update_elem(p->counters_fd, &key, zero, BPF_ANY);
	free(zero);
	set_main_loop(p, cfg, t);
	err = find_sites(p, t, o) > 0 ? 0 : -ENOENT;
	/*
	 * Held open to put probes back after privileges are dropped (the guard): without it the
	 * wait hooks stay in for the whole session, and are never folded away (a loop without
	 * libuv's metrics would need them back).
	 */
	if (!err && p->return_hook_only)
		p->wait_file_fd = open(t->uv.open_path, O_PATH | O_CLOEXEC);
	/*
	 * Where the return hook alone would do, a uprobe at uv__io_poll's entry does its work, and
	 * the hook is placed only if none is in: the exact-phase uprobes (one hit fewer per
	 * iteration), or in default mode a uprobe there alone (one hit per iteration, not per
	 * epoll call).
	 */
	if (!err && o->phases && p->return_hook_only && p->wait_file_fd >= 0) {
		attach_phases(p, t);
		p->wait_folded = p->phases && p->phase_file_fd >= 0 &&
				 !getenv("UVSCOPE_PHASES_WAIT_HOOK");
		if (p->phases && !p->wait_folded)
			uvs_debug("exact phases with the wait's return hook: %s",
				  p->phase_file_fd < 0 ? "the probed file cannot be held open" :
							 "UVSCOPE_PHASES_WAIT_HOOK is set");
	} else if (!err && !o->phases && p->return_hook_only && p->wait_file_fd >= 0) {
		p->wait_folded = attach_poll_entry(p, t);
	}
	if (!err) {
		uvs_uprobe_set_prepare(&p->epoll_set, p->skel->progs.uvs_ep_call_out);
		uvs_uprobe_set_prepare(&p->epoll_entry_set, p->skel->progs.uvs_ep_call_in);
		err = attach_epoll_sites(p);
		if (err) {
			uvs_uprobe_set_detach(&p->epoll_set);
			uvs_uprobe_set_detach(&p->epoll_entry_set);
			memset(&p->epoll_set, 0, sizeof(p->epoll_set));
			memset(&p->epoll_entry_set, 0, sizeof(p->epoll_entry_set));
			p->entries_attached = false;
		} else {
			p->epoll_hooks = "uprobes";
		}
	}
	if (err) {
		uvs_debug("no uprobes at the epoll call sites (%s): the syscall hooks",
			  p->epoll_why[0] ? p->epoll_why : explain_errno(-err));
		p->return_hook_only = false;
		p->wait_folded = false; /* the syscall hooks see every wait */
		if (p->poll_entry)
			drop_poll_entry(p);
		err = attach_syscall_hooks(p, sh);
		cfg->epoll_by_syscall = 1;
	}
	if (err) {
		snprintf(why, cap, "cannot attach the epoll hooks: %s", explain_errno(-err));
		return err;
	}
	cfg->return_hook_only = p->return_hook_only;
	p->skel->bss->wait_folded[p->slot] = p->wait_folded;
	if (o->phases && !p->phases && !p->phases_why[0])
		attach_phases(p, t);
	if (p->poll_entry)
		uvs_debug("each wait read from libuv's metrics at the next uv__io_poll entry: one "
			  "uprobe hit per loop iteration, no hook at the epoll calls");
	else if (p->wait_folded)
		uvs_debug("exact phases: each wait read from libuv's metrics at the next uv__io_poll "
			  "entry, no wait hook while the phase uprobes are in");
	else if (p->phases)
		uvs_debug("exact phases: the waits keep their hook (%s)",
			  p->return_hook_only ? "see above" :
			  p->epoll_hooks && strcmp(p->epoll_hooks, "uprobes") ?
						"caught by the syscall hooks" :
						"libuv keeps no wait stamp where uvscope reads it");
	return 0;
}

void uvs_loop_probes_quiesce(struct uvs_loop_probes *p)
{
	/* This one is unpublished already: its hooks go, the host-wide ones with the last holder. */
	uvs_uprobe_set_detach(&p->epoll_entry_set);
	uvs_uprobe_set_detach(&p->epoll_set);
	uvs_uprobe_set_detach(&p->phase_set);
	uvs_uprobe_set_detach(&p->poll_set);
	let_go_syscall_hooks(p);
}

void uvs_loop_probes_detach(struct uvs_loop_probes *p)
{
	uvs_uprobe_set_detach(&p->phase_set);
	uvs_uprobe_set_detach(&p->poll_set);
	uvs_uprobe_set_detach(&p->epoll_set);
	uvs_uprobe_set_detach(&p->epoll_entry_set);
	let_go_syscall_hooks(p);
	p->skel = NULL; /* the host's (collect/bpf_shared.h) */
	if (p->phase_file_fd >= 0)
		close(p->phase_file_fd);
	p->phase_file_fd = -1;
	if (p->wait_file_fd >= 0)
		close(p->wait_file_fd);
	p->wait_file_fd = -1;
}

bool uvs_loop_probes_waits_removable(const struct uvs_loop_probes *p, char *why, size_t cap)
{
	if (!p->epoll_hooks || strcmp(p->epoll_hooks, "uprobes")) {
		snprintf(why, cap, "the waits are caught by %s, not by uprobes in this process",
			 p->epoll_hooks ? p->epoll_hooks : "nothing");
		return false;
	}
	if (!p->return_hook_only || p->entries_attached) {
		snprintf(why, cap, "the waits' entries are hooked too (a libuv before 1.45 keeps no "
			 "loop count, its DWARF does not say where the wait stamp is, or a loop has "
			 "no idle-time metrics)");
		return false;
	}
	if (p->wait_file_fd < 0) {
		snprintf(why, cap, "the probed file could not be held open to put them back");
		return false;
	}
	return true;
}

int uvs_loop_probes_set_waits(struct uvs_loop_probes *p, bool on, char *why, size_t cap)
{
	char path[40];
	int err;

	if (on != p->waits_out)
		return 0;
	if (!uvs_loop_probes_waits_removable(p, why, cap))
		return -ENOENT;
	if (!on) {
		if (p->poll_entry) {
			/* BPF lets go first: a hit while it comes out reads nothing. */
			p->skel->bss->phase_epoch[p->slot] = 0;
			uvs_uprobe_set_detach(&p->poll_set);
		} else {
			uvs_uprobe_set_detach(&p->epoll_set);
		}
		p->waits_out = true;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->wait_file_fd);
	err = uvs_uprobe_set_attach(p->poll_entry ? &p->poll_set : &p->epoll_set, p->pid, path);
	if (err) {
		snprintf(why, cap, "cannot put the uprobe%s back: %s",
			 p->poll_entry ? " on uv__io_poll" : "s at the epoll call sites",
			 explain_errno(-err));
		return err;
	}
	/* Only now, as for the phases: the state handed back (collect/loop.c) is what it reads. */
	if (p->poll_entry) {
		p->phase_epoch = p->phase_epoch + 1 ? p->phase_epoch + 1 : 1;
		p->skel->bss->phase_epoch[p->slot] = p->phase_epoch;
	}
	p->waits_out = false;
	return 0;
}

int uvs_loop_probes_set_phases(struct uvs_loop_probes *p, bool on, char *why, size_t cap)
{
	char path[40];
	int err;

	if (on == p->phases)
		return 0;
	if (!p->skel || !p->phase_set.n || (on && p->phase_file_fd < 0)) {
		snprintf(why, cap, "the phase uprobes were never attached, or their file is not "
			 "held open");
		return -ENOENT;
	}
	if (!on) {
		/*
		 * The wait's return hook goes in before they go out: while both are in, the hook
		 * takes the loop over (bpf/loop.bpf.c), and no wait goes unseen.
		 */
		if (p->wait_folded) {
			err = set_returns(p, true);
			if (err) {
				snprintf(why, cap, "cannot put the epoll wait's return hook back, which "
					 "the phase uprobes stand in for: %s", explain_errno(-err));
				return err;
			}
		}
		p->phase_changes++;
		/* BPF lets go of phases first: nothing is recorded while the probes come out. */
		p->skel->bss->phase_epoch[p->slot] = 0;
		uvs_uprobe_set_detach(&p->phase_set);
		p->phases = false;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->phase_file_fd);
	err = uvs_uprobe_set_attach(&p->phase_set, p->pid, path);
	if (err) {
		snprintf(why, cap, "cannot put the uprobes on the libuv phase functions back: %s",
			 explain_errno(-err));
		return err;
	}
	p->phase_changes++;
	/* Only now: a boundary hit while they were going in must not close a stale phase. */
	p->phase_epoch = p->phase_epoch + 1 ? p->phase_epoch + 1 : 1;
	p->skel->bss->phase_epoch[p->slot] = p->phase_epoch;
	p->phases = true;
	/* They read the waits again; a loop without libuv's metrics keeps the hooks. */
	if (p->wait_folded && !p->entries_attached)
		set_returns(p, false);
	return 0;
}

int uvs_loop_probes_events_fd(const struct uvs_loop_probes *p)
{
	return bpf_map__fd(p->skel->maps.events);
}

int uvs_loop_probes_trace_fd(const struct uvs_loop_probes *p)
{
	return bpf_map__fd(p->skel->maps.trace_ring);
}
