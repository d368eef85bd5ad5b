/* SPDX-License-Identifier: MIT */
/* Command-line parsing: argv in, options out, errors that name the option. */
#ifndef UVSCOPE_CLI_H
#define UVSCOPE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "render/flame.h"
#include "util/listen_addr.h"

enum uvs_command {
	UVS_CMD_NONE = 0,
	UVS_CMD_TOP,
	UVS_CMD_WATCH,
	UVS_CMD_SOCKETS,
	UVS_CMD_FLAME,
	UVS_CMD_TRACE,
	UVS_CMD_SERVE,
};

/* flame: which samples make the profile. */
#define UVS_FLAME_FILES 4

enum uvs_flame_mode {
	UVS_FLAME_CPU = 0, /* every on-CPU sample of every thread, rooted at its thread */
	UVS_FLAME_OFF_CPU, /* stacks of sleeping threads, read at the sampling rate */
	UVS_FLAME_LOOP,    /* busy loop threads only, rooted at the loop and its phase */
};


/*
 * What measures the target: BPF, /proc and ptrace without BPF, or BPF when it is allowed.
 * flame --backend proc samples stacks with perf_event_open or ptrace (core/flame_proc.h).
 */
enum uvs_backend {
	UVS_BACKEND_AUTO = 0,
	UVS_BACKEND_BPF,  /* BPF programs: every figure (root, or CAP_BPF+PERFMON+SYS_ADMIN) */
	UVS_BACKEND_PROC, /* /proc, process_vm_readv, ptrace, perf_event_open */
};

/* -p takes at most this many processes; --all has no such cap (the session bounds it). */
#define UVS_MAX_PIDS 64

struct uvs_cli {
	enum uvs_command command;
	pid_t pid;                /* the first of pids[]; 0 with --all */
	size_t npids;             /* -p PID[,PID...], and -p given again: in the order given */
	pid_t pids[UVS_MAX_PIDS];
	bool all;                 /* --all (or --match): every node process on the host, as it comes */
	const char *match;        /* --match REGEX as given (checked: it compiles); NULL: any */
	uint64_t duration_ns; /* 0 = until Ctrl-C or the target exits */
	uint64_t interval_ns;
	uint64_t block_ns;
	bool json;
	const char *json_file;    /* --json-file: JSON lines there too (NULL: none) */
	bool phases;
	bool no_phases;           /* trace --no-phases: iterations only, no phase uprobes */
	const char *output;       /* trace, flame -o: the file to write */
	bool pool;                /* the thread pool is watched: unless --no-pool */
	bool pool_given;          /* --pool: no effect, kept for compatibility */
	bool no_pool;             /* --no-pool */
	bool no_sockets;          /* --no-sockets: no socket table, no TCP tracepoints */
	bool no_gc;               /* --no-gc: V8's collector is not probed */
	bool pool_jobs;           /* a record per served pool job */
	bool pool_delay;          /* the done callbacks too: completion delay */
	bool syscalls;            /* --syscalls: every syscall, fd counts kept current */
	uint64_t slow_syscall_ns; /* a syscall this long on a loop thread is listed */
	uint64_t fd_rescan_ns;    /* read /proc/PID/fd again at least this often */
	int verbose;
	bool no_stacks;           /* --no-stacks: no stack sampling (blocked-loop alerts lose stacks) */
	uint32_t sample_hz;       /* --sample-hz: stack samples per second of a thread's CPU */
	uint32_t blocked_hz;      /* --blocked-hz: the same for a blocked loop thread */
	uint64_t max_probe_rate;  /* --max-probe-rate: the overhead guard's budget, hits/s */
	/* --max-overhead: and at most this share of the target's CPU time, parts per million
	 * (UVS_GUARD_DEFAULT_OVERHEAD_PPM unless given; 0 never: see --max-probe-rate alone) */
	uint32_t max_overhead_ppm;
	bool max_overhead_set;
	bool no_guard;            /* --no-guard: probes stay as asked, whatever they cost */
	enum uvs_flame_format flame_format; /* --format (else each -o's suffix says) */
	/* flame: -o may be given up to UVS_FLAME_FILES times, one profile in several formats */
	size_t nflame_files;
	const char *flame_files[UVS_FLAME_FILES];
	enum uvs_flame_format flame_formats[UVS_FLAME_FILES];
	enum uvs_flame_mode flame_mode;
	const char *listen;       /* serve --listen as given (NULL: the default) */
	struct uvs_listen_addr listen_addr; /* serve: where /metrics is served */
	/* alert rules and actions (watch, top; --rules also trace) */
	bool block_ms_given;      /* --block-ms: it wins over the rules file */
	const char *rules_file;   /* --rules FILE (NULL: the defaults) */
	const char *on_alert;     /* --on-alert CMD: run for each alert that fires or resolves */
	uint64_t on_alert_timeout_ns; /* --on-alert-timeout (default 10s) */
	bool on_alert_timeout_given;
	bool exit_on_alert;       /* --exit-on-alert: end at the first firing alert, status 3 */
	enum uvs_backend backend; /* --backend bpf|proc|auto (default auto) */
	bool backend_given;
};


#define UVS_CLI_OK 0
#define UVS_CLI_EXIT 1  /* help or version was printed: exit 0 */
#define UVS_CLI_USAGE 2 /* bad arguments, message printed: exit 2 */

/* The exit status of a session that --exit-on-alert ended. */
#define UVS_EXIT_ALERT 3

/* Parses argv; writes help/version to `out` and errors to `err`. Returns a UVS_CLI_* code. */
int uvs_cli_parse(int argc, char **argv, struct uvs_cli *cli, FILE *out, FILE *err);

#endif
