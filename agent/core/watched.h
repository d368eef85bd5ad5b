/* SPDX-License-Identifier: MIT */
/*
 * One watched process of a session, from attach to detach: the target opened, its collector
 * attached on the BPF objects the agent shares, its alert state, overhead guard and recent
 * stacks, its windows and its summary. The session (core/session.c) holds any number of them
 * (-p PID,PID..., --all) and owns what they share: the outputs, the alert actions, the agent's
 * event loop and the BPF objects.
 */
#ifndef UVSCOPE_WATCHED_H
#define UVSCOPE_WATCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli/options.h"
#include "core/output.h"
#include "core/profile.h"
#include "core/rules.h"

struct uvs_bpf_shared;
struct uvs_collector;

/* What every watched process shares with the session. */
struct uvs_watch_env {
	const struct uvs_cli *cli;
	const struct uvs_alert_config *alert_cfg;
	struct uvs_outputs *outputs;
	struct uvs_bpf_shared *sh;
	struct uvs_profile *flame;   /* flame: the profile the samples go to (one target) */
	void *ctx;
	/* An alert of any target: to the outputs, the --on-alert command, --exit-on-alert. */
	void (*emit_alert)(void *ctx, const struct uvs_alert *a);
	/* A long piece of a window's work: the session checks every target for blocks. */
	void (*keep_up)(void *ctx);
};

struct uvs_watched;

/*
 * flame with --backend auto where BPF passed the privilege check but was refused at load or
 * attach: not an error, flame samples with the proc backend instead (core/flame_proc.h). Said
 * in one line by uvs_watched_attach, which gives this in *err_out.
 */
#define UVS_WATCHED_FLAME_PROC 1

/*
 * Opens process pid and attaches a collector to it. NULL with one sentence in `why` (and
 * *err_out set to -errno, or UVS_WATCHED_FLAME_PROC) when it cannot be watched; the caller
 * says it. *attach_ns: how long attaching took.
 */
struct uvs_watched *uvs_watched_attach(const struct uvs_watch_env *env, pid_t pid,
				       uint64_t *attach_ns, int *err_out, char *why, size_t cap);

/* The attach line on stderr (when stdout is not JSON), then every output's begin. */
void uvs_watched_begin(struct uvs_watched *w, uint64_t attach_ns);

pid_t uvs_watched_pid(const struct uvs_watched *w);
const char *uvs_watched_comm(const struct uvs_watched *w); /* sanitized where read */
struct uvs_collector *uvs_watched_collector(struct uvs_watched *w);

/* The overhead guard steps in watch, top and serve; flame and trace keep the probes given. */
bool uvs_watched_guarded(const struct uvs_cli *cli);

/* Whether a watched process needs CAP_BPF and CAP_PERFMON after attaching (the guard, samples). */
bool uvs_watched_keeps_caps(const struct uvs_cli *cli);

/* Alerts for its loops blocked now (the caller took the collectors' events just before). */
void uvs_watched_check_blocks(struct uvs_watched *w);

/* The window since the last one: alerts, the outputs' interval, the overhead guard's step. */
void uvs_watched_window(struct uvs_watched *w);

/* Its figures since attach, as of its last window (an output's source). 0 or -errno. */
int uvs_watched_totals(struct uvs_watched *w, struct uvs_snapshot *out);

/*
 * Takes its probes out and shows its last window and its summary. Its outputs get nothing more
 * after this. Saying it is detached is the caller's, after uvs_watched_free: until then the
 * shared BPF maps still hold its loops' entries.
 */
void uvs_watched_finish(struct uvs_watched *w);

/*
 * The process no longer runs the program attached to (it exec'd): its finish reads nothing
 * more of it (no last window; the summary holds the windows shown).
 */
void uvs_watched_image_gone(struct uvs_watched *w);

/* Detaches what is left and frees; safe on NULL. */
void uvs_watched_free(struct uvs_watched *w);

#endif
