// SPDX-License-Identifier: MIT
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "core/overhead_guard.h"
#include "target/cmdline_match.h"
#include "util/duration.h"
#include "util/words.h"
#include "util/text.h"

#ifndef UVSCOPE_VERSION
#define UVSCOPE_VERSION "unknown"
#endif

static const char usage_text[] =
	"usage: uvscope COMMAND -p PID [options]\n"
	"       uvscope watch|serve -p PID,PID,... | --all [--match REGEX] [options]\n"
	"\n"
	"Attach to a running Node.js (or any libuv) process and show how its event loops spend\n"
	"their time. Nothing in the target changes: no restart, no flags, no code.\n"
	"\n"
	"commands:\n"
	"  top     live view, refreshed every interval (q or Ctrl-C quits)\n"
	"  watch   one line per interval and one per alert; --json for JSON lines\n"
	"  sockets the process's TCP and UDP sockets now, like `ss -tuan` for it alone\n"
	"          (state, queues, rtt, retransmits; listeners' accept queues); --json\n"
	"  flame   sample stacks (native and JavaScript, named without flags in the target)\n"
	"          for -d TIME and write a flame graph: -o FILE.svg (interactive),\n"
	"          FILE.folded (flamegraph.pl, speedscope) or FILE.pb.gz (go tool pprof)\n"
	"  trace   a timeline for ui.perfetto.dev: every loop iteration of every loop thread\n"
	"          as a slice with its phases inside, pool jobs on the pool threads,\n"
	"          GC pauses, alerts as marks; written to -o FILE (Chrome trace-event JSON)\n"
	"  serve   Prometheus metrics at http://127.0.0.1:9464/metrics (--listen ADDR:PORT),\n"
	"          with the alerts on stdout; `uvscope serve --help` says more\n"
	"\n"
	"options:\n"
	"  -p, --pid PID        the process to attach to (required, or --all). watch and\n"
	"                       serve take several: -p 4242,4250 or -p 4242 -p 4250 (at\n"
	"                       most 64), each process with its own figures and alerts\n"
	"      --all            watch, serve: every node process on the host, each attached\n"
	"                       when it appears and detached, with its summary, when it exits\n"
	"      --match REGEX    --all, but only the processes whose command line matches\n"
	"                       REGEX (POSIX extended, anywhere in the line; the arguments\n"
	"                       joined by spaces, as `ps -o args` shows them); implies --all\n"
	"  -d, --duration TIME  stop after TIME (500ms, 10s, 2m, 1h; a bare number is seconds;\n"
	"                       default: until Ctrl-C or the target exits), then print a summary\n"
	"  -i, --interval TIME  length of one reporting interval (default 1s, minimum 10ms)\n"
	"      --block-ms N     a loop busy for N ms without returning to its poll is blocked:\n"
	"                       alert at once, and again with the total when it comes back\n"
	"                       (default 100)\n"
	"      --phases         exact loop phases (timers, pending, idle, prepare, poll_wait,\n"
	"                       poll_io, check, close) from uprobes in libuv: costs the target\n"
	"                       about 4 us per loop iteration (8 uprobe hits instead of 1 on\n"
	"                       Node 20 to 26, 9 instead of 2 on Node 18, 3 of them return\n"
	"                       probes, the cheapest kind from kernel 6.11; bench/README.md,\n"
	"                       scripts/op-cost.sh); in watch and top the overhead guard takes\n"
	"                       them out while they cost more than its budget\n"
	"                       (--max-probe-rate)\n"
	"      --no-pool        leave the libuv thread pool out. By default every interval has\n"
	"                       its jobs, queue wait and service time per kind of work (fs by\n"
	"                       operation, dns, crypto, zlib, other) and sync fs calls on loop\n"
	"                       threads, from uprobes in libuv: each pool job costs the target\n"
	"                       2 uprobe hits on kernels with uprobe sessions (6.13+), else 4\n"
	"                       (README.md, \"The thread pool\")\n"
	"      --pool           no effect, kept for compatibility: the pool is watched unless\n"
	"                       --no-pool\n"
	"      --pool-jobs      also one line per job the pool served, when it ends: kind, fs\n"
	"                       operation, pool thread, queue wait and service time\n"
	"      --pool-delay     also each job's completion delay (end of service to its done\n"
	"                       callback on the loop): one more uprobe hit per job\n"
	"      --syscalls       every syscall of the target: count, errors and latency per\n"
	"                       syscall and thread role (loop, pool, other), slow syscalls on\n"
	"                       loop threads, and fd counts kept current from the syscalls that\n"
	"                       open and close fds instead of a /proc/PID/fd scan per interval\n"
	"                       (costs the target about 0.45 us per syscall)\n"
	"      --slow-syscall TIME\n"
	"                       with --syscalls: list every syscall on a loop thread that takes\n"
	"                       at least TIME (default 10ms); the loop's own epoll wait is idle\n"
	"                       time, not a slow syscall\n"
	"      --fd-rescan TIME with --syscalls: read /proc/PID/fd again at least every TIME to\n"
	"                       check the counts (default 10s; sooner after a syscall whose\n"
	"                       effect on fds could not be followed)\n"
	"      --no-sockets     no socket figures (no socket table per interval, no TCP\n"
	"                       state-change and retransmit tracepoints)\n"
	"      --backend B      watch, top, serve, trace, flame: what measures the target. bpf:\n"
	"                       probes (every figure); proc: no BPF at all, for where BPF\n"
	"                       is not allowed (a container with CAP_SYS_PTRACE only):\n"
	"                       loop busy, idle, utilization and iterations exact from\n"
	"                       libuv's own metrics, blocked loops from the same read every\n"
	"                       tick, the pool's size, queue and running jobs from libuv's\n"
	"                       statics, fds, the socket table, a blocked loop's stacks\n"
	"                       (perf_event_open on that thread, or ptrace grabs of it\n"
	"                       while it sleeps); no phases, pool kinds, syscalls, GC, TCP\n"
	"                       transitions or other stacks. auto (default):\n"
	"                       bpf, and proc when loading BPF is refused (said in one line)\n"
	"      --no-stacks      no stack sampling: blocked-loop alerts then say only how long\n"
	"      --sample-hz N    stack samples per second of each thread's CPU time (default\n"
	"                       99; 1 to 4999)\n"
	"      --blocked-hz N   the same for a loop thread while it is blocked (default 997)\n"
	"  -o, --output FILE    trace, flame: the file to write (mode 0600; an earlier one is\n"
	"                       replaced once the attach succeeded, and kept if it fails);\n"
	"                       flame takes up to 4, one profile in several formats\n"
	"      --no-phases      trace: iterations only; by default trace turns the exact phase\n"
	"                       uprobes on for its duration (see --phases for their cost)\n"
	"      --no-gc          no garbage-collection figures (V8's collections per loop are\n"
	"                       counted by default, from a uprobe and a return probe on V8's\n"
	"                       collector: about 1 us per collection)\n"
	"      --max-probe-rate N\n"
	"                       watch, top, serve: the overhead guard's budget, at most N\n"
	"                       probe hits per second on the target, a stack sample counting\n"
	"                       as 20\n"
	"                       (default 10000: under 1% of one CPU, a hit costing 0.5-1.0 us\n"
	"                       on the 2-vCPU test VMs; make bench measures this machine's).\n"
	"                       Over it for 3 intervals in a row, uvscope takes one step, the\n"
	"                       first of these that would save a tenth of\n"
	"                       the rate: the exact-phase uprobes out; stack sampling at a\n"
	"                       tenth; the pool's per-job probes out (its size and queue then\n"
	"                       from libuv's memory, jobs per kind unavailable); the loops'\n"
	"                       wait hooks out (busy, idle and blocks then from libuv's\n"
	"                       metrics, no per-iteration busy p99). When the rate with the\n"
	"                       step undone stays under half of it for 10 intervals, it undoes\n"
	"                       that step. Each step is a GUARD line (JSON: \"type\":\"guard\")\n"
	"      --max-overhead PCT\n"
	"                       watch, top, serve: and at most PCT% of the target's own CPU\n"
	"                       time (default 2.5), a hit counted at 2.5 us (what one costs a\n"
	"                       server between requests, measured); never under 1000 hits/s:\n"
	"                       a light server (a hit per request at 5000 requests/s, 15%\n"
	"                       busy) has its loop hooks taken out, a busy one keeps them\n"
	"      --no-guard       watch, top, serve: keep every probe as asked, whatever it costs\n"
	"                       (for a short look with exact phases on a busy process, or a\n"
	"                       bench)\n"
	"      --rules FILE     watch, top, serve, trace: alert rules from an INI file (every\n"
	"                       rule, its default and every key: deploy/uvscope-rules.ini); a\n"
	"                       bad file stops uvscope with a message naming its line and key;\n"
	"                       --block-ms wins over the file's loop_blocked threshold\n"
	"      --on-alert CMD   watch, top: run CMD for each alert that fires or resolves,\n"
	"                       without a shell (CMD is split into words as a shell quotes\n"
	"                       them; $, globs, pipes and redirections are refused): the\n"
	"                       alert's JSON line on its stdin, UVSCOPE_KIND, _STATE,\n"
	"                       _SEVERITY, _PID, _TID, _TS_NS, _MESSAGE, _FIRING_NS and\n"
	"                       _SUPPRESSED in its environment, its stdout to uvscope's\n"
	"                       stderr; no capabilities, no fd of uvscope's. At most 4 run at\n"
	"                       once: an alert beyond is not acted on, and counted\n"
	"      --on-alert-timeout TIME\n"
	"                       a command still running after TIME (default 10s) gets SIGTERM\n"
	"                       (its process group), and SIGKILL 2s later\n"
	"      --exit-on-alert  watch, top: end at the first alert that fires (after its\n"
	"                       --on-alert command), with exit status 3\n"
	"      --json           JSON lines (schema: docs/json.md)\n"
	"      --json-file PATH also write the JSON lines to PATH (mode 0600; an earlier\n"
	"                       file is replaced once the attach succeeded), whatever stdout\n"
	"                       shows: `top` on screen and a record to read later\n"
	"\n"
	"flame options:\n"
	"  -o, --output FILE    where the profile goes (required); the format follows the name:\n"
	"                       .svg, .folded (or .txt), .pb.gz or .pprof\n"
	"      --format F       folded, svg or pprof, whatever the name\n"
	"      --mode M         cpu: every thread's on-CPU samples, rooted at the thread\n"
	"                       (default); loop: busy loop threads only, rooted at the loop\n"
	"                       and the phase the sample ran in; offcpu: where threads sleep\n"
	"      --backend B      auto (the default: bpf, or proc where BPF is not allowed or\n"
	"                       is refused at attach),\n"
	"                       bpf, or proc: no BPF, for where only CAP_SYS_PTRACE is\n"
	"                       granted: perf_event_open\n"
	"                       samples where perf_event_paranoid allows it (2 or less), else\n"
	"                       ptrace grabs of each thread at 19 Hz (each stops that one\n"
	"                       thread for tens of microseconds, measured and printed)\n"
	"\n"
	"  -v, --verbose        say more about attaching (twice: libbpf's own messages)\n"
	"  -h, --help           this text\n"
	"  -V, --version        print the version\n"
	"\n"
	"examples:\n"
	"  sudo uvscope top -p $(pgrep -n node)\n"
	"  sudo uvscope watch -p 4242 --block-ms 50 --json > loop.jsonl\n"
	"  sudo uvscope watch -p 4242,4250 -d 1m        (two processes, each line says whose)\n"
	"  sudo uvscope watch --all --match 'server\\.js' --json > fleet.jsonl\n"
	"  sudo uvscope watch -p 4242 --phases -d 30s\n"
	"  sudo uvscope watch -p 4242 --syscalls -d 1m\n"
	"  sudo uvscope top -p 4242 --json-file /var/tmp/incident.jsonl\n"
	"  sudo uvscope watch -p 4242 --rules /etc/uvscope/rules.ini \\\n"
	"       --on-alert '/usr/local/bin/page-oncall --team web'\n"
	"  sudo uvscope flame -p 4242 -d 30s -o loop.svg --mode loop\n"
	"  sudo uvscope trace -p 4242 -d 10s -o loop.json     (then open it in ui.perfetto.dev)\n"
	"  sudo uvscope trace -p 4242 -d 5s -o pool.json --no-phases\n"
	"  sudo uvscope serve -p 4242 --json-file /var/log/uvscope.jsonl\n"
	"  sudo uvscope serve --all                     (every node process, as they come and go)\n"
	"\n"
	"privileges: the bpf backend needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN.\n"
	"uvscope drops them once attached, except --all, which keeps them to attach to\n"
	"processes that start later. The proc backend needs no BPF: CAP_SYS_PTRACE to read\n"
	"the memory of another user's process, and CAP_DAC_READ_SEARCH for its /proc/PID/fd\n"
	"(the same user needs neither); see --backend.\n"
	"exit status: 0 done, 1 could not attach or failed, 2 bad arguments or rules file,\n"
	"3 an alert fired (--exit-on-alert).\n";

/* Long options without a short letter. */
enum {
	OPT_RULES = 256,
	OPT_ON_ALERT,
	OPT_ON_ALERT_TIMEOUT,
	OPT_EXIT_ON_ALERT,
	OPT_ALL,
	OPT_MATCH,
	OPT_BACKEND,
	OPT_POOL_DELAY,
};

static const char serve_usage_text[] =
	"usage: uvscope serve -p PID [--listen ADDR:PORT] [options]\n"
	"       uvscope serve -p PID,PID,... | --all [--match REGEX] [--listen ADDR:PORT] [options]\n"
	"\n"
	"Left running next to a Node.js process: Prometheus metrics of its event loops, thread\n"
	"pool, fds and sockets at http://ADDR:PORT/metrics, the alerts on stdout (text, or JSON\n"
	"lines with --json) as `watch` writes them, and with --json-file every interval too.\n"
	"\n"
	"  --listen ADDR:PORT   where to serve /metrics (default " UVS_LISTEN_DEFAULT ", this host\n"
	"                       only). A numeric IPv4 address or a bracketed IPv6 one:\n"
	"                       0.0.0.0:9464 or [::]:9464 serve every interface, for a\n"
	"                       Prometheus on another host (then firewall the port)\n"
	"  -i, --interval TIME  how often the page is rebuilt (default 1s): a scrape returns\n"
	"                       the figures of the last interval, never waits for a new one\n"
	"\n"
	"The page: counters since attach (loop iterations, busy and blocked seconds, pool jobs by\n"
	"kind, syscalls, accepted connections, retransmits, alerts), gauges of the last interval\n"
	"(utilization, queue depth, fds, sockets by state) and histograms (busy time per\n"
	"iteration, pool queue wait and service time, connect latency) in power-of-two buckets\n"
	"from 1.024us to 34.4s; every series is labelled pid, comm and container. Sent as the\n"
	"text format 0.0.4, or as OpenMetrics 1.0.0 when the Accept header asks for\n"
	"application/openmetrics-text. Only GET and HEAD of /metrics; it shows no argv,\n"
	"environment or file contents. README.md (\"Prometheus /metrics\") lists every metric.\n"
	"\n"
	"With several processes (-p 4242,4250, or --all) one page has the series of each, told\n"
	"apart by their pid label; a process that exits leaves the page (its series end, as\n"
	"Prometheus expects of a target that is gone). --match REGEX keeps --all to the\n"
	"processes whose command line matches.\n"
	"\n"
	"Every option of watch applies (-p, -d, --block-ms, --no-pool, --syscalls, --no-sockets,\n"
	"--no-stacks, --max-probe-rate, --json, --json-file, ...; see uvscope --help).\n"
	"\n"
	"examples:\n"
	"  sudo uvscope serve -p 4242\n"
	"  curl -s http://127.0.0.1:9464/metrics | grep uvscope_loop_utilization\n"
	"  sudo uvscope serve -p 4242 --listen 0.0.0.0:9464 --json-file /var/log/uvscope.jsonl\n"
	"  sudo uvscope serve --all --match 'api|worker'\n";

static const struct option long_options[] = {
	{ "rules", required_argument, NULL, OPT_RULES },
	{ "on-alert", required_argument, NULL, OPT_ON_ALERT },
	{ "on-alert-timeout", required_argument, NULL, OPT_ON_ALERT_TIMEOUT },
	{ "exit-on-alert", no_argument, NULL, OPT_EXIT_ON_ALERT },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "pid", required_argument, NULL, 'p' },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "match", required_argument, NULL, OPT_MATCH },
	{ "duration", required_argument, NULL, 'd' },
	{ "interval", required_argument, NULL, 'i' },
	{ "block-ms", required_argument, NULL, 'B' },
	{ "phases", no_argument, NULL, 'P' },
	{ "pool", no_argument, NULL, 'T' },
	{ "no-pool", no_argument, NULL, 'W' },
	{ "pool-jobs", no_argument, NULL, 'J' },
	{ "pool-delay", no_argument, NULL, OPT_POOL_DELAY },
	{ "slow-syscall", required_argument, NULL, 'S' },
	{ "fd-rescan", required_argument, NULL, 'R' },
	{ "syscalls", no_argument, NULL, 'N' },
	{ "no-sockets", no_argument, NULL, 'K' },
	{ "output", required_argument, NULL, 'o' },
	{ "no-phases", no_argument, NULL, 'Q' },
	{ "no-gc", no_argument, NULL, 'G' },
	{ "json", no_argument, NULL, 'j' },
	{ "json-file", required_argument, NULL, 'F' },
	{ "no-stacks", no_argument, NULL, 'X' },
	{ "sample-hz", required_argument, NULL, 'H' },
	{ "blocked-hz", required_argument, NULL, 'b' },
	{ "max-probe-rate", required_argument, NULL, 'M' },
	{ "max-overhead", required_argument, NULL, 'O' },
	{ "no-guard", no_argument, NULL, 'U' },
	{ "format", required_argument, NULL, 'f' },
	{ "mode", required_argument, NULL, 'm' },
	{ "listen", required_argument, NULL, 'L' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

/*
 * A percentage, 0.1 to 100 with up to four decimals ("3", "2.5"), into parts per million. -1
 * for anything else.
 */
static int parse_percent_ppm(const char *arg, uint32_t *out)
{
	uint64_t whole = 0, frac = 0, scale = 10000;
	const char *p = arg;

	if (!*p)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((whole = whole * 10 + (uint64_t)(*p - '0')) > 100)
			return -1;
	if (*p == '.') {
		if (!p[1])
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (scale < 10)
				return -1; /* more than four decimals */
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	if (*p || p == arg)
		return -1;
	whole = whole * 10000 + frac;
	if (whole < 1000 || whole > 1000000)
		return -1;
	*out = (uint32_t)whole;
	return 0;
}

static int bad(FILE *err, const char *fmt, const char *a, const char *b)
{
	fputs("uvscope: ", err);
	fprintf(err, fmt, a, b);
	fputs("\n(see uvscope --help)\n", err);
	return UVS_CLI_USAGE;
}

/* One entry of a -p list that is not a pid: named, and the list it came in. */
static int bad_pid_entry(FILE *err, const char *arg, const char *entry, size_t len)
{
	if (!strchr(arg, ','))
		return bad(err, "invalid value for -p/--pid: '%s' (a process id)%s", arg, "");
	if (!len)
		fprintf(err, "uvscope: invalid value for -p/--pid: an empty entry in '%s'", arg);
	else
		fprintf(err, "uvscope: invalid value for -p/--pid: '%.*s' in '%s'", (int)len, entry,
			arg);
	fputs(" (process ids separated by commas, such as 4242,4250)\n(see uvscope --help)\n", err);
	return UVS_CLI_USAGE;
}

/* -p 12, -p 12,34,56, and -p again: each entry a pid (PID_MAX_LIMIT at most), none twice. */
static int parse_pids(const char *arg, struct uvs_cli *cli, FILE *err)
{
	const char *s = arg;

	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char entry[16];
		uint64_t v;

		if (len >= sizeof(entry))
			return bad_pid_entry(err, arg, s, len);
		memcpy(entry, s, len);
		entry[len] = '\0';
		if (uvs_parse_uint(entry, 1, 4194304, &v))
			return bad_pid_entry(err, arg, s, len);
		for (size_t i = 0; i < cli->npids; i++)
			if (cli->pids[i] == (pid_t)v)
				return bad(err, "invalid value for -p/--pid: pid %s is given twice%s",
					   entry, "");
		if (cli->npids == UVS_MAX_PIDS) {
			fprintf(err, "uvscope: too many processes for -p/--pid: at most %d (--all,"
				" with --match REGEX, takes more)\n(see uvscope --help)\n",
				UVS_MAX_PIDS);
			return UVS_CLI_USAGE;
		}
		cli->pids[cli->npids++] = (pid_t)v;
		if (!comma)
			break;
		s = comma + 1;
	}
	cli->pid = cli->pids[0];
	return 0;
}

/* --match: a regex that does not compile stops uvscope now, not at the first process. */
static int parse_match(const char *arg, struct uvs_cli *cli, FILE *err)
{
	struct uvs_cmdline_match m;
	char why[128];

	if (!*arg)
		return bad(err, "invalid value for --match: '%s'%s", arg,
			   " (a POSIX extended regex; --all alone takes every node process)");
	if (uvs_cmdline_match_init(&m, arg, why, sizeof(why)))
		return bad(err, "invalid value for --match: '%s': %s (a POSIX extended regex)", arg,
			   why);
	uvs_cmdline_match_free(&m);
	cli->match = arg;
	cli->all = true;
	return 0;
}

static int parse_option(int c, const char *arg, struct uvs_cli *cli, FILE *err)
{
	uint64_t v;

	switch (c) {
	case 'p':
		return parse_pids(arg, cli, err);
	case OPT_ALL:
		cli->all = true;
		return 0;
	case OPT_MATCH:
		return parse_match(arg, cli, err);
	case OPT_POOL_DELAY:
		cli->pool_delay = true;
		return 0;
	case 'd':
		if (uvs_parse_duration(arg, &cli->duration_ns) == -ERANGE)
			return bad(err, "invalid value for -d/--duration: '%s'%s", arg,
				   " (too long: at most 584 years)");
		if (uvs_parse_duration(arg, &cli->duration_ns) || cli->duration_ns == 0)
			return bad(err, "invalid value for -d/--duration: '%s'%s", arg,
				   " (a positive duration such as 500ms, 10s, 2m)");
		return 0;
	case 'i':
		if (uvs_parse_duration(arg, &cli->interval_ns) || cli->interval_ns < 10000000ULL)
			return bad(err, "invalid value for -i/--interval: '%s'%s", arg,
				   " (a duration of at least 10ms, such as 500ms or 2s)");
		return 0;
	case 'B':
		if (uvs_parse_uint(arg, 1, 3600000, &v))
			return bad(err, "invalid value for --block-ms: '%s'%s", arg,
				   " (milliseconds, 1 to 3600000)");
		cli->block_ns = v * 1000000ULL;
		cli->block_ms_given = true;
		return 0;
	case 'P':
		cli->phases = true;
		return 0;
	case 'T':
		cli->pool_given = true;
		return 0;
	case 'W':
		cli->no_pool = true;
		return 0;
	case 'J':
		cli->pool_jobs = true;
		return 0;
	case 'S':
		if (uvs_parse_duration(arg, &cli->slow_syscall_ns) || cli->slow_syscall_ns < 1000ULL)
			return bad(err, "invalid value for --slow-syscall: '%s'%s", arg,
				   " (a duration of at least 1us, such as 5ms)");
		return 0;
	case 'R':
		if (uvs_parse_duration(arg, &cli->fd_rescan_ns) || cli->fd_rescan_ns < 10000000ULL)
			return bad(err, "invalid value for --fd-rescan: '%s'%s", arg,
				   " (a duration of at least 10ms, such as 30s)");
		return 0;
	case 'N':
		cli->syscalls = true;
		return 0;
	case 'K':
		cli->no_sockets = true;
		return 0;
	case 'o':
		if (!*arg)
			return bad(err, "invalid value for -o/--output: '%s'%s", arg,
				   " (a file path)");
		if (!cli->output)
			cli->output = arg;
		if (cli->nflame_files == UVS_FLAME_FILES)
			return bad(err, "too many -o files: '%s'%s", arg, " (at most 4)");
		cli->flame_files[cli->nflame_files++] = arg;
		return 0;
	case 'Q':
		cli->no_phases = true;
		return 0;
	case 'G':
		cli->no_gc = true;
		return 0;
	case 'j':
		cli->json = true;
		return 0;
	case 'F':
		if (!*arg)
			return bad(err, "invalid value for --json-file: '%s'%s", arg, " (a file path)");
		cli->json_file = arg;
		return 0;
	case 'X':
		cli->no_stacks = true;
		return 0;
	case 'H':
	case 'b':
		if (uvs_parse_uint(arg, 1, 4999, &v))
			return bad(err, "invalid value for %s: '%s' (samples per second, 1 to 4999)",
				   c == 'H' ? "--sample-hz" : "--blocked-hz", arg);
		if (c == 'H')
			cli->sample_hz = (uint32_t)v;
		else
			cli->blocked_hz = (uint32_t)v;
		return 0;
	case 'M':
		if (uvs_parse_uint(arg, 100, 1000000000, &cli->max_probe_rate))
			return bad(err, "invalid value for --max-probe-rate: '%s'%s", arg,
				   " (probe hits per second, 100 to 1000000000)");
		return 0;
	case 'O':
		if (parse_percent_ppm(arg, &cli->max_overhead_ppm))
			return bad(err, "invalid value for --max-overhead: '%s'%s", arg,
				   " (a percentage of the target's CPU time, 0.1 to 100)");
		cli->max_overhead_set = true;
		return 0;
	case 'U':
		cli->no_guard = true;
		return 0;
	case 'f':
		cli->flame_format = uvs_flame_format_from_name(arg);
		if (cli->flame_format == UVS_FLAME_UNKNOWN)
			return bad(err, "invalid value for --format: '%s'%s", arg,
				   " (folded, svg or pprof)");
		return 0;
	case 'm':
		if (strcmp(arg, "cpu") == 0)
			cli->flame_mode = UVS_FLAME_CPU;
		else if (strcmp(arg, "offcpu") == 0)
			cli->flame_mode = UVS_FLAME_OFF_CPU;
		else if (strcmp(arg, "loop") == 0)
			cli->flame_mode = UVS_FLAME_LOOP;
		else
			return bad(err, "invalid value for --mode: '%s'%s", arg,
				   " (cpu, loop or offcpu)");
		return 0;
	case 'L':
		if (uvs_listen_addr_parse(arg, &cli->listen_addr))
			return bad(err, "invalid value for --listen: '%s'%s", arg,
				   " (ADDR:PORT with a numeric address, such as 127.0.0.1:9464,"
				   " 0.0.0.0:9464 or [::1]:9464)");
		cli->listen = arg;
		return 0;
	case 'v':
		cli->verbose++;
		return 0;
	case OPT_RULES:
		if (!*arg)
			return bad(err, "invalid value for --rules: '%s'%s", arg, " (a file path)");
		cli->rules_file = arg;
		return 0;
	case OPT_ON_ALERT: {
		char why[200], **words;
		size_t n;

		/* Split now only to check it: a command that cannot run is a usage error. */
		if (uvs_split_words(arg, &words, &n, why, sizeof(why)))
			return bad(err, "invalid value for --on-alert: '%s': %s", arg, why);
		free(words);
		cli->on_alert = arg;
		return 0;
	}
	case OPT_ON_ALERT_TIMEOUT:
		if (uvs_parse_duration(arg, &cli->on_alert_timeout_ns) ||
		    cli->on_alert_timeout_ns < 10000000ULL ||
		    cli->on_alert_timeout_ns > 3600000000000ULL)
			return bad(err, "invalid value for --on-alert-timeout: '%s'%s", arg,
				   " (a duration from 10ms to 1h, such as 30s)");
		cli->on_alert_timeout_given = true;
		return 0;
	case OPT_EXIT_ON_ALERT:
		cli->exit_on_alert = true;
		return 0;
	case OPT_BACKEND:
		if (!strcmp(arg, "bpf"))
			cli->backend = UVS_BACKEND_BPF;
		else if (!strcmp(arg, "proc"))
			cli->backend = UVS_BACKEND_PROC;
		else if (!strcmp(arg, "auto"))
			cli->backend = UVS_BACKEND_AUTO;
		else
			return bad(err, "invalid value for --backend: '%s'%s", arg,
				   " (bpf, proc or auto)");
		cli->backend_given = true;
		return 0;
	}
	return UVS_CLI_USAGE;
}

static const char *command_name(enum uvs_command c)
{
	static const char *const names[] = {
		[UVS_CMD_NONE] = "uvscope", [UVS_CMD_TOP] = "top",     [UVS_CMD_WATCH] = "watch",
		[UVS_CMD_SOCKETS] = "sockets", [UVS_CMD_FLAME] = "flame", [UVS_CMD_TRACE] = "trace",
		[UVS_CMD_SERVE] = "serve",
	};

	return (unsigned int)c < sizeof(names) / sizeof(names[0]) ? names[c] : "uvscope";
}

/*
 * Which processes: -p (one, or a list for watch and serve) or --all. The other commands draw
 * one process's screen, profile or timeline: they take one pid.
 */
static int check_targets(const struct uvs_cli *cli, FILE *err)
{
	bool many = cli->command == UVS_CMD_WATCH || cli->command == UVS_CMD_SERVE;

	if (cli->all && cli->npids)
		return bad(err, "-p/--pid and %s contradict each other%s",
			   cli->match ? "--match" : "--all",
			   " (--all takes every node process, --match REGEX chooses among them)");
	if (!cli->all && !cli->npids)
		return bad(err, "-p/--pid is required%s%s", "", many ?
			   " (the id of the process to watch, a list of them, or --all)" :
			   " (the id of the process to watch)");
	if (!many && (cli->all || cli->npids > 1)) {
		fprintf(err, "uvscope: %s takes one process (-p PID), not %s: watch and serve take"
			" several\n(see uvscope --help)\n", command_name(cli->command),
			cli->match ? "--match" : cli->all ? "--all" : "a list");
		return UVS_CLI_USAGE;
	}
	return UVS_CLI_OK;
}

/* -o and --no-phases belong to trace, and trace needs -o (its output is a file, not stdout). */
static int check_trace(const struct uvs_cli *cli, FILE *err)
{
	if (cli->command != UVS_CMD_TRACE) {
		if (cli->output || cli->no_phases)
			return bad(err, "%s is an option of trace and flame%s", cli->output ?
				   "-o/--output" : "--no-phases", " (uvscope trace -p PID -o FILE)");
		return UVS_CLI_OK;
	}
	if (!cli->output)
		return bad(err, "trace needs -o FILE%s%s", "",
			   " (the trace file to write, e.g. -o trace.json)");
	if (cli->json)
		return bad(err, "trace writes its file, not JSON lines on stdout%s%s", "",
			   " (use --json-file PATH for those as well)");
	if (cli->phases && cli->no_phases)
		return bad(err, "--phases and --no-phases contradict each other%s%s", "", "");
	return UVS_CLI_OK;
}

/* Rules belong to the commands that judge windows; actions to those that run a while. */
static int check_alert_options(const struct uvs_cli *cli, FILE *err)
{
	bool watching = cli->command == UVS_CMD_WATCH || cli->command == UVS_CMD_TOP ||
			cli->command == UVS_CMD_SERVE;

	if (cli->rules_file && !watching && cli->command != UVS_CMD_TRACE)
		return bad(err, "--rules is an option of watch, top, serve and trace%s%s", "", "");
	if ((cli->on_alert || cli->exit_on_alert || cli->on_alert_timeout_given) && !watching)
		return bad(err, "%s is an option of watch, top and serve%s", cli->on_alert ?
			   "--on-alert" : cli->exit_on_alert ? "--exit-on-alert" :
			   "--on-alert-timeout", "");
	if (cli->on_alert_timeout_given && !cli->on_alert)
		return bad(err, "--on-alert-timeout needs --on-alert%s%s", "",
			   " (the command whose run time it limits)");
	return UVS_CLI_OK;
}

/*
 * The messages quote the arguments, which may hold escape sequences: each line goes to the
 * terminal through the one sanitizer (util/text.h).
 */
static void put_sanitized(FILE *err, char *text, size_t len)
{
	char *line = text, *end = text + len;

	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);

		uvs_sanitize(line, n);
		fwrite(line, 1, n, err);
		if (nl)
			fputc('\n', err);
		line += n + 1;
	}
}

static int parse(int argc, char **argv, struct uvs_cli *cli, FILE *out, FILE *err);

int uvs_cli_parse(int argc, char **argv, struct uvs_cli *cli, FILE *out, FILE *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *buf = open_memstream(&text, &len);
	int ret;

	if (!buf)
		return parse(argc, argv, cli, out, err);
	ret = parse(argc, argv, cli, out, buf);
	fclose(buf);
	put_sanitized(err, text, len);
	free(text);
	return ret;
}

static int parse(int argc, char **argv, struct uvs_cli *cli, FILE *out, FILE *err)
{
	int c, ret;

	memset(cli, 0, sizeof(*cli));
	cli->interval_ns = 1000000000ULL;
	cli->block_ns = 100000000ULL;
	cli->slow_syscall_ns = 10000000ULL;
	cli->fd_rescan_ns = 10000000000ULL;
	cli->sample_hz = 99;
	cli->blocked_hz = 997;
	cli->on_alert_timeout_ns = 10000000000ULL;
	optind = 1;
	opterr = 0;
	if (argc >= 2 && argv[1][0] != '-') {
		if (strcmp(argv[1], "top") == 0)
			cli->command = UVS_CMD_TOP;
		else if (strcmp(argv[1], "watch") == 0)
			cli->command = UVS_CMD_WATCH;
		else if (strcmp(argv[1], "sockets") == 0)
			cli->command = UVS_CMD_SOCKETS;
		else if (strcmp(argv[1], "flame") == 0)
			cli->command = UVS_CMD_FLAME;
		else if (strcmp(argv[1], "trace") == 0)
			cli->command = UVS_CMD_TRACE;
		else if (strcmp(argv[1], "serve") == 0)
			cli->command = UVS_CMD_SERVE;
		else if (strcmp(argv[1], "help") == 0) {
			fputs(usage_text, out);
			return UVS_CLI_EXIT;
		} else
			return bad(err, "unknown command '%s'%s", argv[1],
				   " (commands: top, watch, sockets, flame, trace, serve)");
		optind = 2;
	}
	while ((c = getopt_long(argc, argv, ":p:d:i:o:vhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(cli->command == UVS_CMD_SERVE ? serve_usage_text : usage_text, out);
			return UVS_CLI_EXIT;
		case 'V':
			fprintf(out, "uvscope %s\n", UVSCOPE_VERSION);
			return UVS_CLI_EXIT;
		case ':':
			return bad(err, "option '%s' needs a value%s", argv[optind - 1], "");
		case '?':
			return bad(err, "unknown option '%s'%s", argv[optind - 1], "");
		default:
			ret = parse_option(c, optarg, cli, err);
			if (ret)
				return ret;
		}
	}
	if (optind < argc)
		return bad(err, "unexpected argument '%s'%s", argv[optind], "");
	if (cli->command == UVS_CMD_NONE)
		return bad(err, "no command given%s%s", "",
			   " (commands: top, watch, sockets, flame, trace, serve)");
	ret = check_targets(cli, err);
	if (ret)
		return ret;
	if (cli->no_guard && (cli->max_probe_rate || cli->max_overhead_set))
		return bad(err, "--no-guard and %s contradict each other%s",
			   cli->max_probe_rate ? "--max-probe-rate" : "--max-overhead", "");
	if ((cli->no_guard || cli->max_probe_rate || cli->max_overhead_set) &&
	    cli->command != UVS_CMD_WATCH && cli->command != UVS_CMD_TOP &&
	    cli->command != UVS_CMD_SERVE)
		return bad(err, "%s is an option of watch, top and serve%s",
			   cli->no_guard ? "--no-guard" : cli->max_probe_rate ? "--max-probe-rate" :
								  "--max-overhead",
			   " (flame and trace keep the probes they are given: their output must be"
			   " uniform)");
	if (!cli->max_probe_rate)
		cli->max_probe_rate = UVS_GUARD_DEFAULT_BUDGET;
	if (!cli->max_overhead_set)
		cli->max_overhead_ppm = UVS_GUARD_DEFAULT_OVERHEAD_PPM;
	if (cli->listen && cli->command != UVS_CMD_SERVE)
		return bad(err, "--listen is an option of serve%s%s", "",
			   " (uvscope serve -p PID --listen ADDR:PORT)");
	if (cli->command == UVS_CMD_SERVE && !cli->listen)
		uvs_listen_addr_parse(UVS_LISTEN_DEFAULT, &cli->listen_addr);
	ret = check_alert_options(cli, err);
	if (ret)
		return ret;
	if (cli->no_pool && (cli->pool_given || cli->pool_jobs || cli->pool_delay))
		return bad(err, "--no-pool contradicts %s%s",
			   cli->pool_jobs ? "--pool-jobs" : cli->pool_delay ? "--pool-delay" : "--pool",
			   "");
	cli->pool = !cli->no_pool;
	if (cli->command == UVS_CMD_SOCKETS &&
	    (cli->phases || cli->pool_given || cli->no_pool || cli->pool_jobs || cli->pool_delay ||
	     cli->syscalls ||
	     cli->duration_ns || cli->no_sockets || cli->json_file))
		return bad(err, "sockets takes only -p, --json and -v%s%s", "",
			   " (it prints the table once)");
	if (cli->command == UVS_CMD_FLAME) {
		if (!cli->output)
			return bad(err, "flame needs -o FILE%s%s", "",
				   " (name.svg, name.folded or name.pb.gz)");
		if (cli->no_stacks)
			return bad(err, "flame samples stacks: --no-stacks makes no sense here%s%s",
				   "", "");
		if (cli->flame_format != UVS_FLAME_UNKNOWN && cli->nflame_files > 1)
			return bad(err, "--format names one format, for one -o FILE%s%s", "",
				   " (with several -o, each file's name gives its format)");
		for (size_t i = 0; i < cli->nflame_files; i++) {
			cli->flame_formats[i] = cli->flame_format;
			if (cli->flame_formats[i] == UVS_FLAME_UNKNOWN)
				cli->flame_formats[i] = uvs_flame_format_from_path(cli->flame_files[i]);
			if (cli->flame_formats[i] == UVS_FLAME_UNKNOWN)
				return bad(err, "cannot tell the format of '%s'%s", cli->flame_files[i],
					   " (end it in .svg, .folded, .pb.gz or .pprof, or give --format)");
		}
		if (cli->json || cli->no_phases)
			return bad(err, "flame writes its file: %s is not one of its options%s",
				   cli->json ? "--json" : "--no-phases", "");
		return UVS_CLI_OK;
	}
	if (cli->flame_format || cli->flame_mode)
		return bad(err, "--format and --mode are options of flame%s%s", "", "");
	if (cli->nflame_files > 1)
		return bad(err, "-o is given once for %s%s", cli->command == UVS_CMD_TRACE ?
			   "trace" : "this command", "");
	return check_trace(cli, err);
}

