/* SPDX-License-Identifier: MIT */
/*
 * Resolved stacks and a profile of them: what sampling gives once every frame has a name.
 * Plain data, no BPF and no target: the flame writers (folded, SVG, pprof), the blocked-loop
 * alert and the JSON output all read a profile, and a unit test can build one by hand.
 *
 * A profile interns frames (kind, name, file, line) and stacks (lists of frame ids, root
 * first), and counts samples per (stack, labels). Strings are copied in and sanitized by the
 * caller: names from the target went through uvs_sanitize where they were read.
 */
#ifndef UVSCOPE_PROFILE_H
#define UVSCOPE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"

enum uvs_frame_kind {
	UVS_FRAME_NATIVE = 1, /* a function of a mapped ELF object: name = symbol (demangled) */
	UVS_FRAME_KERNEL,     /* a kernel function from kallsyms */
	UVS_FRAME_JS,         /* a JavaScript function: name, file = script, line = start line */
	UVS_FRAME_V8,         /* V8 code with no JS function: a builtin, a bytecode handler, a stub */
	UVS_FRAME_LOOP,       /* synthetic root: the event loop that ran the stack ("main loop") */
	UVS_FRAME_PHASE,      /* synthetic: the loop phase the stack ran in ("timers") */
	UVS_FRAME_UNKNOWN,    /* nothing known: name is "[unknown]", "[JS: unknown]" or "[object+0x..]" */
};

struct uvs_frame {
	enum uvs_frame_kind kind;
	const char *name;   /* never NULL */
	const char *file;   /* JS: the script; native: the object's path; NULL when none */
	uint32_t line;      /* JS: the function's start line, 1-based; 0 when unknown */
};

/* Where and how a sample was taken: the labels a profile keeps apart. */
enum uvs_sample_state {
	UVS_STATE_CPU = 1,   /* on the CPU, not a loop thread (or a loop thread outside uv_run) */
	UVS_STATE_LOOP_BUSY, /* a loop thread on the CPU, running a callback */
	UVS_STATE_LOOP_IDLE, /* a loop thread in its epoll wait (on the CPU entering/leaving it) */
	UVS_STATE_OFF_CPU,   /* asleep (a read of a blocked thread's stack) */
};

/* "cpu", "loop_busy", "loop_idle", "off_cpu" ("unknown" out of range): label values. */
const char *uvs_sample_state_name(enum uvs_sample_state state);

struct uvs_sample_labels {
	int tid;
	enum uvs_role role;
	enum uvs_sample_state state;
	int phase;            /* enum uvs_phase, or UVS_PHASE_NONE when not in a phase */
};

/* One resolved sample, as the collector hands it to the session. */
struct uvs_sample {
	uint64_t ts_ns;          /* CLOCK_MONOTONIC when it was taken */
	uint64_t weight_ns;      /* the time it stands for (the sampling period) */
	uint64_t busy_since_ns;  /* a busy loop: when its current busy span began; else 0 */
	struct uvs_sample_labels labels;
	const struct uvs_frame *frames; /* root first; valid during the callback only */
	size_t nframes;
};

/*
 * A profile grows with its distinct frames, stacks and (stack, labels) pairs, not with its
 * samples; bounding it (e.g. refusing new stacks past uvs_profile_nentries() of some limit)
 * is the caller's job.
 */
struct uvs_profile;

/* Stacks deeper than this are refused (the BPF walk takes fewer: UVS_USER_FRAMES_MAX + kernel). */
#define UVS_PROFILE_MAX_DEPTH 1024

/* Room for the text of one frame (uvs_frame_text); longer texts are cut. */
#define UVS_FRAME_TEXT_MAX 1024

/* A new, empty profile; period_ns is what one sample stands for (1e9 / rate). NULL: ENOMEM. */
struct uvs_profile *uvs_profile_new(uint64_t period_ns);
void uvs_profile_free(struct uvs_profile *p);

/*
 * The id of a frame (the same id for an equal frame: same kind, name, file and line); name and
 * file are copied. Returns -1 with errno ENOMEM, or EINVAL when name is NULL.
 */
int32_t uvs_profile_frame(struct uvs_profile *p, const struct uvs_frame *f);

/*
 * Counts `count` samples of the stack frames[0..n) (root first) with these labels, each
 * standing for weight_ns of time (the period for on-CPU samples, the time asleep since the
 * previous read for off-CPU ones). Returns 0, -ENOMEM, or -EINVAL for an empty stack, one
 * deeper than UVS_PROFILE_MAX_DEPTH, or a frame id this profile did not give.
 */
int uvs_profile_add(struct uvs_profile *p, const int32_t *frames, size_t n,
		    const struct uvs_sample_labels *l, uint64_t count, uint64_t weight_ns);

/*
 * Reading a profile back: the frames, stacks and samples in the order they were first added.
 * frame_at() is NULL for an id out of range. An entry's frames point into the profile and
 * stay valid until the next uvs_profile_add().
 */
size_t uvs_profile_nframes(const struct uvs_profile *p);
const struct uvs_frame *uvs_profile_frame_at(const struct uvs_profile *p, int32_t id);

struct uvs_profile_entry {
	const int32_t *frames; /* root first */
	size_t nframes;
	struct uvs_sample_labels labels;
	uint64_t count;
	uint64_t weight_ns;
};
size_t uvs_profile_nentries(const struct uvs_profile *p);
void uvs_profile_entry_at(const struct uvs_profile *p, size_t i, struct uvs_profile_entry *out);

uint64_t uvs_profile_period_ns(const struct uvs_profile *p);
uint64_t uvs_profile_total_samples(const struct uvs_profile *p);

/*
 * The text of a frame as the flame outputs show it, into buf (always NUL-terminated):
 * JS "name file:line" ("name file" without a line, "name" without a file), every other kind
 * "name". The text is safe for any file format: control characters and invalid UTF-8 (also
 * from a cut at cap) become '?', as uvs_sanitize does. Returns buf.
 */
const char *uvs_frame_text(const struct uvs_frame *f, char *buf, size_t cap);

#endif
