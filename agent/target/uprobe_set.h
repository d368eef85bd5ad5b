/* SPDX-License-Identifier: MIT */
/*
 * A set of uprobes placed together in one target and removed together. Where the kernel has
 * uprobe_multi links (6.6+), each program gets one link for all its entry spots and one for
 * all its return spots: removing a link waits for one RCU grace period, not one per uprobe,
 * which is what made detaching --pool (17 uprobes) take 1.8 s. Elsewhere, one perf-event link
 * per spot, as libbpf makes them.
 */
#ifndef UVSCOPE_UPROBE_SET_H
#define UVSCOPE_UPROBE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_program;
struct bpf_link;

#define UVS_UPROBE_SET_MAX 64

struct uvs_uprobe_spot {
	struct bpf_program *prog;
	uint64_t offset;  /* in the file */
	uint64_t cookie;  /* bpf_get_attach_cookie() */
	bool retprobe;
	bool session;     /* a uprobe session: entry, and the return when the entry returns 0 */
};

struct uvs_uprobe_set {
	bool multi;       /* uprobe_multi links (chosen before the programs are loaded) */
	size_t n;
	struct uvs_uprobe_spot spots[UVS_UPROBE_SET_MAX];
	size_t nlinks;
	struct bpf_link *links[UVS_UPROBE_SET_MAX]; /* perf-event links */
	size_t nfds;
	int fds[UVS_UPROBE_SET_MAX];                /* uprobe_multi link fds */
};

/* Whether this kernel has uprobe_multi links (from its BTF; the answer is kept). */
bool uvs_uprobe_multi_supported(void);

/*
 * Whether this kernel has uprobe sessions (6.13+, BPF_TRACE_UPROBE_SESSION) and uprobe_multi
 * links, and UVSCOPE_NO_UPROBE_SESSION is not set (the answer is kept).
 */
bool uvs_uprobe_session_supported(void);

/*
 * Chooses the kind of link for s and readies a program for it; call for every program of the
 * set after opening the object and before loading it.
 */
void uvs_uprobe_set_prepare(struct uvs_uprobe_set *s, struct bpf_program *prog);

/* Readies a program for session spots (instead of uvs_uprobe_set_prepare). */
void uvs_uprobe_set_prepare_session(struct bpf_program *prog);

/*
 * Adds a session spot (a program only ever has session spots, or none): -EOPNOTSUPP without
 * uprobe_multi links, -E2BIG past UVS_UPROBE_SET_MAX.
 */
int uvs_uprobe_set_add_session(struct uvs_uprobe_set *s, struct bpf_program *prog,
			       uint64_t offset, uint64_t cookie);

/* Adds a spot; -E2BIG past UVS_UPROBE_SET_MAX. */
int uvs_uprobe_set_add(struct uvs_uprobe_set *s, struct bpf_program *prog, uint64_t offset,
		       uint64_t cookie, bool retprobe);

/*
 * Places every spot in the file at path, for pid only: all or none. Returns 0, or -errno with
 * nothing left attached.
 */
int uvs_uprobe_set_attach(struct uvs_uprobe_set *s, int pid, const char *path);

/* Removes everything placed; safe to call twice and on a zeroed set. */
void uvs_uprobe_set_detach(struct uvs_uprobe_set *s);

#endif
