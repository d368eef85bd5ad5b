/* SPDX-License-Identifier: MIT */
/*
 * Loading (once per agent) and attaching (per target) the loop object, and nothing else: every
 * program is scoped to the watched processes (the targets map for host-wide hooks, the pid for
 * uprobes) and nothing is pinned, so when the agent dies, even by SIGKILL, every probe goes
 * with it.
 */
#ifndef UVSCOPE_PROBES_H
#define UVSCOPE_PROBES_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/bpf_shared.h"
#include "target/process.h"
#include "target/epoll_sites.h"
#include "target/uprobe_set.h"

struct loop_bpf;
struct bpf_link;

struct uvs_loop_probe_options {
	uint64_t block_ns; /* busy spans at least this long are reported as blocks */
	bool phases;       /* attach the exact-phase uprobes */
	bool trace;        /* a record per iteration and phase span (uvscope trace) */
};

struct uvs_loop_probes {
	struct loop_bpf *skel;  /* the host's (collect/bpf_shared.h), shared with other targets */
	int slot;               /* the target's */
	struct uvs_uprobe_set phase_set; /* the exact-phase uprobes */
	bool phases;           /* exact-phase probes are attached */
	bool trampolines;      /* epoll hooks are fentry/fexit (else the syscall tracepoints) */
	/* The host whose epoll syscall hooks this target holds (a stripped node), or NULL. */
	struct uvs_bpf_shared *holds_syscall_hooks;
	struct uvs_uprobe_set epoll_set; /* the epoll wait call sites' return uprobes, when used */
	struct uvs_uprobe_set epoll_entry_set; /* their entry uprobes, when attached */
	/*
	 * Only the return uprobes are attached: they read libuv's idle-time metrics (libuv >=
	 * 1.45 with its DWARF, and neither exact phases nor a trace asked for). A loop without
	 * the metrics makes the entries attached too (uvs_loop_probes_hook_entries).
	 */
	bool return_hook_only;
	bool entries_attached;
	/*
	 * Exact phases on a loop the return hook alone would do for: the phase uprobes do the
	 * wait hook's work at uv__io_poll's entry from libuv's metrics (bpf/loop.bpf.c,
	 * fold_wait), and the return hook is attached only while they are out (the guard) or for
	 * a main or Worker loop without the metrics.
	 */
	bool wait_folded;
	/*
	 * Default mode's form of it: a uprobe at uv__io_poll's entry alone (poll_set, the phase
	 * program without phases) reads the waits, one hit per iteration; the overhead guard's
	 * last step takes it out in place of the return hook (uvs_loop_probes_set_waits).
	 */
	bool poll_entry;
	struct uvs_uprobe_set poll_set;
	bool returns_attached;  /* the return uprobes of epoll_set are in */
	uint64_t main_lfields;  /* the default loop's internal fields and address, 0: unknown */
	uint64_t main_loop;
	struct uvs_epoll_site sites[UVS_EPOLL_SITES_MAX];
	int nsites;
	int pid;
	char uv_path[4096];
	const char *epoll_hooks; /* "uprobes", "fentry" or "tracepoints" */
	char epoll_why[256];   /* why not uprobes at the call sites, when not */
	char phases_why[320];  /* why not, when they were asked for and are not */
	/*
	 * Taking the phase uprobes out and putting them back while attached (the overhead guard):
	 * the probed file held open (O_PATH) so that it can be named again after privileges are
	 * dropped (/proc/PID/map_files needs CAP_SYS_ADMIN; our own fd does not).
	 */
	int phase_file_fd;     /* -1 when phases were never attached */
	uint32_t phase_epoch;  /* the last epoch told to BPF (bpf/loop.bpf.c); 0: out */
	unsigned int phase_changes; /* how many times the phase uprobes went out or back */
	/*
	 * The wait's return uprobes taken out and put back while attached (the overhead guard's
	 * last step: the loop figures then come from libuv's metrics, collect/loop_memory.h),
	 * only where they are the one hook per wait. The probed file is held as for the phases.
	 */
	int wait_file_fd;      /* -1 when they cannot be taken out */
	bool waits_out;        /* they are out now */
	int main_epfd;         /* the main loop's epoll fd (target/default_loop.h); -1: unknown */
	int state_fd;          /* map fds for the collector */
	int stats_fd;
	int counters_fd;
};

/*
 * Loads the BPF object, sets it up for the target and attaches it. Exact phases are best
 * effort: when they can't be had, p->phases is false and p->phases_why says why. Returns 0 or
 * -errno with one sentence in `why`.
 */
/* Nothing held, no fd open: what detach may be called on before (or without) an attach. */
void uvs_loop_probes_init(struct uvs_loop_probes *p);

int uvs_loop_probes_attach(struct uvs_loop_probes *p, struct uvs_bpf_shared *sh, int slot,
			   struct uvs_target_cfg *cfg, const struct uvs_target *t,
			   const struct uvs_loop_probe_options *o, char *why, size_t cap);

/*
 * Attaches the epoll sites' entry uprobes when only their return uprobes are, and those too
 * when the wait is folded into the phase uprobes: for a loop that has no libuv idle-time
 * metrics (UVS_EV_NO_METRICS). 0, or -errno (with a warning said).
 */
int uvs_loop_probes_hook_entries(struct uvs_loop_probes *p);

/* Removes the probes, keeps the maps (see uvs_collector_ops.quiesce). */
void uvs_loop_probes_quiesce(struct uvs_loop_probes *p);
/* Detaches and unloads everything; safe on a zeroed struct. */
void uvs_loop_probes_detach(struct uvs_loop_probes *p);

/*
 * Takes the exact-phase uprobes out (on false) or puts them back (on true), once they were
 * attached at load. BPF stops following phases before they go and starts afresh once they are
 * back, so no phase figure spans the time they were out. With the wait folded into them, the
 * wait's return hook goes in before they go out, and out once they are back. 0, or -errno with
 * `why` set (they stay as they were then).
 */
int uvs_loop_probes_set_phases(struct uvs_loop_probes *p, bool on, char *why, size_t cap);

/*
 * Whether the wait hooks can be taken out: they are the return uprobes alone (one per wait,
 * which read libuv's metrics) or default mode's uprobe at uv__io_poll's entry (poll_entry),
 * and their file is held open. Else false with why.
 */
bool uvs_loop_probes_waits_removable(const struct uvs_loop_probes *p, char *why, size_t cap);

/*
 * Takes the wait hooks out (on false) or puts them back (on true). 0, or -errno with `why`
 * set (they stay as they were).
 */
int uvs_loop_probes_set_waits(struct uvs_loop_probes *p, bool on, char *why, size_t cap);

/* The ring buffer map's fd (for ring_buffer__new). */
int uvs_loop_probes_events_fd(const struct uvs_loop_probes *p);

/* The timeline ring buffer's fd (records only with the trace option). */
int uvs_loop_probes_trace_fd(const struct uvs_loop_probes *p);

#endif
