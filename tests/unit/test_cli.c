// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "core/overhead_guard.h"

struct parsed {
	int ret;
	struct uvs_cli cli;
	char out[16384];
	char err[1024];
};

static struct parsed parse(int argc, const char **argv)
{
	static struct parsed p;
	FILE *out, *err;

	memset(&p, 0, sizeof(p));
	out = fmemopen(p.out, sizeof(p.out) - 1, "w");
	err = fmemopen(p.err, sizeof(p.err) - 1, "w");
	p.ret = uvs_cli_parse(argc, (char **)argv, &p.cli, out, err);
	fclose(out);
	fclose(err);
	return p;
}

#define PARSE(...)                                                         \
	({                                                                 \
		const char *argv_[] = { "uvscope", __VA_ARGS__, NULL };    \
		parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_); \
	})

Test(cli, defaults)
{
	struct parsed p = PARSE("watch", "-p", "42");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert_eq(p.cli.command, UVS_CMD_WATCH);
	cr_assert_eq(p.cli.pid, 42);
	cr_assert_eq(p.cli.interval_ns, 1000000000ULL);
	cr_assert_eq(p.cli.block_ns, 100000000ULL);
	cr_assert_eq(p.cli.duration_ns, 0);
	cr_assert(!p.cli.json);
	cr_assert(!p.cli.phases);
	cr_assert(!p.cli.syscalls);
	cr_assert(p.cli.pool, "the thread pool is watched by default");
	cr_assert(!p.cli.pool_jobs);
	cr_assert_eq(p.cli.slow_syscall_ns, 10000000ULL);
	cr_assert_eq(p.cli.fd_rescan_ns, 10000000000ULL);
}

Test(cli, every_option)
{
	struct parsed p = PARSE("top", "--pid", "7", "-d", "2m", "--interval", "500ms",
				"--block-ms", "250", "--phases", "--pool", "--json", "-v", "-v",
				"--slow-syscall", "2ms", "--fd-rescan", "1m", "--syscalls", "--no-sockets");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert_eq(p.cli.command, UVS_CMD_TOP);
	cr_assert_eq(p.cli.pid, 7);
	cr_assert_eq(p.cli.duration_ns, 120000000000ULL);
	cr_assert_eq(p.cli.interval_ns, 500000000ULL);
	cr_assert_eq(p.cli.block_ns, 250000000ULL);
	cr_assert(p.cli.json);
	cr_assert(p.cli.phases);
	cr_assert(p.cli.pool);
	cr_assert_eq(p.cli.verbose, 2);
	cr_assert(p.cli.syscalls);
	cr_assert(p.cli.no_sockets);
	cr_assert_eq(p.cli.slow_syscall_ns, 2000000ULL);
	cr_assert_eq(p.cli.fd_rescan_ns, 60000000000ULL);
}

struct bad_case {
	const char *argv[8];
	const char *message;
};

Test(cli, no_pool_leaves_the_pool_out_and_pool_is_kept_as_a_no_op)
{
	struct parsed p = PARSE("watch", "-p", "42", "--no-pool");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert(!p.cli.pool);
	p = PARSE("watch", "-p", "42", "--pool");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert(p.cli.pool);
	p = PARSE("watch", "-p", "42", "--pool-jobs");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert(p.cli.pool && p.cli.pool_jobs);
	p = PARSE("watch", "-p", "42", "--pool-delay");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert(p.cli.pool && p.cli.pool_delay && !p.cli.pool_jobs);
	p = PARSE("top", "-p", "42", "--no-pool", "--phases");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert(!p.cli.pool && p.cli.phases);
	p = PARSE("--help");
	cr_assert_eq(p.ret, UVS_CLI_EXIT);
	cr_assert(strstr(p.out, "--no-pool"), "the help names --no-pool");
	cr_assert(strstr(p.out, "--pool           no effect, kept for compatibility"));
}

Test(cli, backend)
{
	struct parsed p = PARSE("watch", "-p", "42");

	cr_assert_eq(p.cli.backend, UVS_BACKEND_AUTO, "auto by default");
	p = PARSE("watch", "-p", "42", "--backend", "proc");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert_eq(p.cli.backend, UVS_BACKEND_PROC);
	p = PARSE("serve", "-p", "42", "--backend", "bpf");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert_eq(p.cli.backend, UVS_BACKEND_BPF);
	p = PARSE("watch", "-p", "42", "--backend", "ebpf");
	cr_assert_eq(p.ret, UVS_CLI_USAGE);
	cr_assert(strstr(p.err, "invalid value for --backend: 'ebpf' (bpf, proc or auto)"), "%s",
		  p.err);
	p = PARSE("flame", "-p", "42", "-o", "x.svg", "--backend", "proc");
	cr_assert_eq(p.ret, UVS_CLI_OK, "flame samples stacks without BPF too: %s", p.err);
	p = PARSE("--help");
	cr_assert(strstr(p.out, "CAP_SYS_PTRACE"), "the help says what the proc backend needs");
}

Test(cli, sockets_command)
{
	struct parsed p = PARSE("sockets", "-p", "42", "--json");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert_eq(p.cli.command, UVS_CMD_SOCKETS);
	cr_assert_eq(p.cli.pid, 42);
	cr_assert(p.cli.json);
}

Test(cli, trace_command)
{
	struct parsed p = PARSE("trace", "-p", "42", "-d", "10s", "-o", "t.json", "--pool");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert_eq(p.cli.command, UVS_CMD_TRACE);
	cr_assert_str_eq(p.cli.output, "t.json");
	cr_assert(p.cli.pool);
	cr_assert(!p.cli.no_phases, "trace turns phases on unless told not to (in the session)");
	p = PARSE("trace", "-p", "42", "--output", "t.json", "--no-phases");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert(p.cli.no_phases);
}

/* An argument's escape sequences never reach the terminal: every message is sanitized. */
Test(cli, errors_quote_arguments_without_control_bytes)
{
	const char *hostile[][6] = {
		{ "watch", "-p", "4\x1b[2J" },
		{ "watch", "-p", "1", "-d", "1\x1b]0;pwned\x07s" },
		{ "watch", "--match", "(\x1b" },
		{ "serve", "-p", "1", "--listen", "127.0.0.1:1\r\x1b[2J" },
		{ "wat\x1b[2Jch", "-p", "1" },
		{ "watch", "-p", "1", "--\x9b" "2Jbad" },
	};

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		int argc = 1;
		const char *argv[8] = { "uvscope" };
		struct parsed p;

		while (argc <= 6 && hostile[i][argc - 1])
			argv[argc] = hostile[i][argc - 1], argc++;
		p = parse(argc, argv);
		cr_assert_eq(p.ret, UVS_CLI_USAGE, "case %zu", i);
		cr_assert(strlen(p.err) > 0, "case %zu says why", i);
		for (const char *c = p.err; *c; c++)
			cr_assert(*c == '\n' || ((unsigned char)*c >= 0x20 && *c != 0x7f &&
						   (unsigned char)*c < 0x80),
				  "case %zu: byte 0x%02x in %s", i, (unsigned char)*c, p.err);
	}
}

Test(cli, errors_name_the_option)
{
	static const struct bad_case cases[] = {
		{ { "watch" }, "-p/--pid is required" },
		{ { "watch", "-p", "abc" }, "invalid value for -p/--pid: 'abc'" },
		{ { "watch", "-p", "12abc" }, "invalid value for -p/--pid: '12abc'" },
		{ { "watch", "-p", "-1" }, "invalid value for -p/--pid: '-1'" },
		{ { "watch", "-p", "0" }, "invalid value for -p/--pid: '0'" },
		{ { "watch", "-p", "99999999999" }, "invalid value for -p/--pid" },
		{ { "watch", "-p", "1", "-d", "0" }, "invalid value for -d/--duration: '0'" },
		{ { "watch", "-p", "1", "-d", "soon" }, "invalid value for -d/--duration: 'soon'" },
		{ { "watch", "-p", "1", "-i", "5ms" }, "invalid value for -i/--interval: '5ms'" },
		{ { "watch", "-p", "1", "--block-ms", "x" }, "invalid value for --block-ms: 'x'" },
		{ { "watch", "-p", "1", "--block-ms", "0" }, "invalid value for --block-ms: '0'" },
		{ { "watch", "-p", "1", "--slow-syscall", "0" }, "invalid value for --slow-syscall" },
		{ { "watch", "-p", "1", "--fd-rescan", "1ms" }, "invalid value for --fd-rescan: '1ms'" },
		{ { "watch", "-p" }, "option '-p' needs a value" },
		{ { "sockets", "-p", "1", "--pool" }, "sockets takes only -p, --json and -v" },
		{ { "sockets", "-p", "1", "--no-pool" }, "sockets takes only -p, --json and -v" },
		{ { "watch", "-p", "1", "--no-pool", "--pool" }, "--no-pool contradicts --pool" },
		{ { "watch", "-p", "1", "--pool-jobs", "--no-pool" },
		  "--no-pool contradicts --pool-jobs" },
		{ { "watch", "-p", "1", "--no-pool", "--pool-delay" },
		  "--no-pool contradicts --pool-delay" },
		{ { "sockets", "-p", "1", "--pool-delay" }, "sockets takes only -p, --json and -v" },
		{ { "sockets", "-p", "1", "-d", "5s" }, "sockets takes only -p, --json and -v" },
		{ { "watch", "-p", "1", "--nope" }, "unknown option '--nope'" },
		{ { "watch", "-p", "1", "extra" }, "unexpected argument 'extra'" },
		{ { "launch", "-p", "1" }, "unknown command 'launch'" },
		{ { "-p", "1" }, "no command given" },
		{ { "trace", "-p", "1" }, "trace needs -o FILE" },
		{ { "trace", "-p", "1", "-o", "" }, "invalid value for -o/--output: ''" },
		{ { "trace", "-p", "1", "-o", "t", "--json" }, "trace writes its file" },
		{ { "trace", "-p", "1", "-o", "t", "--phases", "--no-phases" }, "contradict" },
		{ { "watch", "-p", "1", "-o", "t" }, "-o/--output is an option of trace" },
		{ { "top", "-p", "1", "--no-phases" }, "--no-phases is an option of trace" },
		{ { "watch", "-p", "1", "--max-probe-rate", "99" },
		  "invalid value for --max-probe-rate: '99'" },
		{ { "watch", "-p", "1", "--max-probe-rate", "10k" },
		  "invalid value for --max-probe-rate: '10k'" },
		{ { "watch", "-p", "1", "--max-probe-rate", "1000", "--no-guard" }, "contradict" },
		{ { "watch", "-p", "1", "--max-overhead", "0.05" },
		  "invalid value for --max-overhead: '0.05'" },
		{ { "watch", "-p", "1", "--max-overhead", "101" },
		  "invalid value for --max-overhead: '101'" },
		{ { "watch", "-p", "1", "--max-overhead", "3%" },
		  "invalid value for --max-overhead: '3%'" },
		{ { "watch", "-p", "1", "--max-overhead", "2.00001" },
		  "invalid value for --max-overhead: '2.00001'" },
		{ { "watch", "-p", "1", "--max-overhead", "." }, "invalid value for --max-overhead: '.'" },
		{ { "watch", "-p", "1", "--max-overhead", "2", "--no-guard" }, "contradict" },
		{ { "flame", "-p", "1", "-o", "f.svg", "--max-overhead", "2" },
		  "--max-overhead is an option of watch, top and serve" },
		{ { "trace", "-p", "1", "-o", "t", "--no-guard" },
		  "--no-guard is an option of watch, top and serve" },
		{ { "flame", "-p", "1", "-o", "f.svg", "--max-probe-rate", "500" },
		  "--max-probe-rate is an option of watch, top and serve" },
		{ { "sockets", "-p", "1", "--no-guard" }, "--no-guard is an option of watch, top and serve" },
		{ { "watch", "-p", "1", "--rules", "" }, "invalid value for --rules: ''" },
		{ { "flame", "-p", "1", "-o", "f.svg", "--rules", "r.ini" },
		  "--rules is an option of watch, top, serve and trace" },
		{ { "watch", "-p", "1", "--on-alert", "notify $HOST" },
		  "invalid value for --on-alert: 'notify $HOST': unquoted '$'" },
		{ { "watch", "-p", "1", "--on-alert", "" }, "invalid value for --on-alert: '': no command" },
		{ { "trace", "-p", "1", "-o", "t", "--on-alert", "x" },
		  "--on-alert is an option of watch, top and serve" },
		{ { "trace", "-p", "1", "-o", "t", "--exit-on-alert" },
		  "--exit-on-alert is an option of watch, top and serve" },
		{ { "watch", "-p", "1", "--on-alert-timeout", "5s" },
		  "--on-alert-timeout needs --on-alert" },
		{ { "watch", "-p", "1", "--on-alert", "x", "--on-alert-timeout", "1ms" },
		  "invalid value for --on-alert-timeout: '1ms'" },
		{ { "watch", "-p", "12,,3" }, "invalid value for -p/--pid: an empty entry in '12,,3'" },
		{ { "watch", "-p", "12," }, "invalid value for -p/--pid: an empty entry in '12,'" },
		{ { "watch", "-p", ",12" }, "invalid value for -p/--pid: an empty entry in ',12'" },
		{ { "watch", "-p", "12,abc" }, "invalid value for -p/--pid: 'abc' in '12,abc'" },
		{ { "watch", "-p", "12,0" }, "invalid value for -p/--pid: '0' in '12,0'" },
		{ { "watch", "-p", "12,-3" }, "invalid value for -p/--pid: '-3' in '12,-3'" },
		{ { "watch", "-p", "12, 3" }, "invalid value for -p/--pid: ' 3' in '12, 3'" },
		{ { "watch", "-p", "1,99999999999999999999" },
		  "invalid value for -p/--pid: '99999999999999999999' in '1,99999999999999999999'" },
		{ { "watch", "-p", "12,34,12" }, "invalid value for -p/--pid: pid 12 is given twice" },
		{ { "serve", "-p", "12", "-p", "12" }, "invalid value for -p/--pid: pid 12 is given twice" },
		{ { "watch", "-p", "12", "--all" }, "-p/--pid and --all contradict each other" },
		{ { "serve", "--all", "-p", "12,13" }, "-p/--pid and --all contradict each other" },
		{ { "watch", "--match", "node", "-p", "12" }, "-p/--pid and --match contradict" },
		{ { "watch", "--match", "(" }, "invalid value for --match: '(': " },
		{ { "watch", "--match", "a{2,1}" }, "invalid value for --match: 'a{2,1}': " },
		{ { "watch", "--match", "" }, "invalid value for --match: ''" },
		{ { "top", "-p", "1,2" }, "top takes one process (-p PID), not a list" },
		{ { "top", "-p", "1", "-p", "2" }, "top takes one process (-p PID), not a list" },
		{ { "top", "--all" }, "top takes one process (-p PID), not --all" },
		{ { "flame", "-p", "1,2", "-o", "f.svg" }, "flame takes one process (-p PID)" },
		{ { "trace", "--all", "-o", "t.json" }, "trace takes one process (-p PID), not --all" },
		{ { "sockets", "--match", "x" }, "sockets takes one process (-p PID), not --match" },
		{ { "serve" }, "-p/--pid is required (the id of the process to watch, a list of them, "
			      "or --all)" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[10] = { "uvscope" };
		int argc = 1;

		while (cases[i].argv[argc - 1])
			argv[argc] = cases[i].argv[argc - 1], argc++;
		struct parsed p = parse(argc, argv);

		cr_assert_eq(p.ret, UVS_CLI_USAGE, "case %zu accepted", i);
		cr_assert(strstr(p.err, cases[i].message), "case %zu: got '%s', want '%s'", i,
			  p.err, cases[i].message);
	}
}

Test(cli, alert_options)
{
	struct parsed p = PARSE("watch", "-p", "42");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.on_alert_timeout_ns, 10000000000ULL);
	cr_expect(!p.cli.block_ms_given && !p.cli.exit_on_alert && !p.cli.rules_file);
	p = PARSE("top", "-p", "42", "--rules", "r.ini", "--on-alert", "logger -t 'uv scope'",
		  "--on-alert-timeout", "30s", "--exit-on-alert", "--block-ms", "50");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_str_eq(p.cli.rules_file, "r.ini");
	cr_expect_str_eq(p.cli.on_alert, "logger -t 'uv scope'");
	cr_expect_eq(p.cli.on_alert_timeout_ns, 30000000000ULL);
	cr_expect(p.cli.exit_on_alert && p.cli.block_ms_given);
	p = PARSE("trace", "-p", "42", "-o", "t.json", "--rules", "r.ini");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	p = PARSE("watch", "--help");
	for (const char *o = "--rules FILE\0--on-alert CMD\0--on-alert-timeout TIME\0"
			     "--exit-on-alert\0uvscope-rules.ini\0""3 an alert fired\0"; *o;
	     o += strlen(o) + 1)
		cr_expect_not_null(strstr(p.out, o), "watch --help lacks %s", o);
}

Test(cli, overhead_guard)
{
	struct parsed p = PARSE("watch", "-p", "42");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.max_probe_rate, UVS_GUARD_DEFAULT_BUDGET);
	cr_expect(!p.cli.no_guard);
	cr_expect_eq(p.cli.max_overhead_ppm, UVS_GUARD_DEFAULT_OVERHEAD_PPM);
	p = PARSE("top", "-p", "42", "--max-probe-rate", "2500");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.max_probe_rate, 2500);
	p = PARSE("watch", "-p", "42", "--max-overhead", "2.5");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.max_overhead_ppm, 25000);
	p = PARSE("serve", "-p", "42", "--max-overhead", "100");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.max_overhead_ppm, 1000000);
	p = PARSE("watch", "-p", "42", "--max-overhead", "0.1");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.max_overhead_ppm, 1000);
	p = PARSE("watch", "-p", "42", "--no-guard");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect(p.cli.no_guard);
	p = PARSE("--help");
	cr_expect_not_null(strstr(p.out, "--max-probe-rate N"), "%s", p.out);
	cr_expect_not_null(strstr(p.out, "--max-overhead PCT"), "%s", p.out);
	cr_expect_not_null(strstr(p.out, "--no-guard"), "%s", p.out);
}

Test(cli, help_and_version)
{
	struct parsed p = PARSE("--help");

	cr_assert_eq(p.ret, UVS_CLI_EXIT);
	cr_assert(strstr(p.out, "usage: uvscope COMMAND -p PID"));
	cr_assert(strstr(p.out, "--block-ms"));
	p = PARSE("-V");
	cr_assert_eq(p.ret, UVS_CLI_EXIT);
	cr_assert(strncmp(p.out, "uvscope ", 8) == 0);
	p = PARSE("help");
	cr_assert_eq(p.ret, UVS_CLI_EXIT);
}

Test(cli, serve_listens_on_loopback_by_default)
{
	struct parsed p = PARSE("serve", "-p", "42");
	char where[64];

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_assert_eq(p.cli.command, UVS_CMD_SERVE);
	uvs_listen_addr_format(&p.cli.listen_addr, where, sizeof(where));
	cr_expect_str_eq(where, "127.0.0.1:9464");
	cr_expect(uvs_listen_addr_is_loopback(&p.cli.listen_addr));
	cr_expect(p.cli.pool, "serve watches the pool like watch");
}

Test(cli, serve_listen_addresses)
{
	static const char *const ok[][2] = {
		{ "0.0.0.0:9464", "0.0.0.0:9464" }, { "[::1]:80", "[::1]:80" },
		{ "[::]:9464", "[::]:9464" },       { "127.0.0.2:65535", "127.0.0.2:65535" },
		{ "10.1.2.3:1", "10.1.2.3:1" },
	};
	static const char *const bad[] = { "localhost:9464", "127.0.0.1", "127.0.0.1:0",
					   "127.0.0.1:65536", ":9464", "::1:9464", "[::1]9464",
					   "[::1]:", "1.2.3.4:x", "[127.0.0.1]:80", "" };
	char where[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct parsed p = PARSE("serve", "-p", "1", "--listen", ok[i][0]);

		cr_assert_eq(p.ret, UVS_CLI_OK, "%s: %s", ok[i][0], p.err);
		uvs_listen_addr_format(&p.cli.listen_addr, where, sizeof(where));
		cr_expect_str_eq(where, ok[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct parsed p = PARSE("serve", "-p", "1", "--listen", bad[i]);

		cr_expect_eq(p.ret, UVS_CLI_USAGE, "--listen '%s' accepted", bad[i]);
		cr_expect(strstr(p.err, "invalid value for --listen"), "%s", p.err);
	}
}

Test(cli, serve_loopback_or_not)
{
	struct uvs_listen_addr a;

	cr_assert_eq(uvs_listen_addr_parse("127.9.9.9:1", &a), 0);
	cr_expect(uvs_listen_addr_is_loopback(&a));
	cr_assert_eq(uvs_listen_addr_parse("[::ffff:127.0.0.1]:1", &a), 0);
	cr_expect(uvs_listen_addr_is_loopback(&a));
	cr_assert_eq(uvs_listen_addr_parse("0.0.0.0:1", &a), 0);
	cr_expect(!uvs_listen_addr_is_loopback(&a));
	cr_assert_eq(uvs_listen_addr_parse("[::]:1", &a), 0);
	cr_expect(!uvs_listen_addr_is_loopback(&a));
}

Test(cli, listen_belongs_to_serve)
{
	struct parsed p = PARSE("watch", "-p", "1", "--listen", "127.0.0.1:9464");

	cr_expect_eq(p.ret, UVS_CLI_USAGE);
	cr_expect(strstr(p.err, "--listen is an option of serve"), "%s", p.err);
	p = PARSE("serve", "-p", "1", "--max-probe-rate", "5000");
	cr_expect_eq(p.ret, UVS_CLI_OK, "serve has the overhead guard: %s", p.err);
}

Test(cli, serve_help)
{
	struct parsed p = PARSE("serve", "--help");

	cr_assert_eq(p.ret, UVS_CLI_EXIT);
	cr_expect(strstr(p.out, "uvscope serve -p PID"), "%s", p.out);
	cr_expect(strstr(p.out, "--listen ADDR:PORT"));
	cr_expect(strstr(p.out, "127.0.0.1:9464"));
	cr_expect(strstr(p.out, "application/openmetrics-text"));
	p = PARSE("--help");
	cr_expect(strstr(p.out, "serve   Prometheus metrics"), "the main help names serve");
}

Test(cli, many_processes)
{
	struct parsed p = PARSE("watch", "-p", "42,43", "-p", "7");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.npids, 3);
	cr_expect_eq(p.cli.pids[0], 42);
	cr_expect_eq(p.cli.pids[1], 43);
	cr_expect_eq(p.cli.pids[2], 7);
	cr_expect_eq(p.cli.pid, 42, "pid is the first of the list");
	cr_expect(!p.cli.all && !p.cli.match);
	p = PARSE("top", "-p", "42");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.npids, 1);
	cr_expect_eq(p.cli.pids[0], 42);
	p = PARSE("serve", "--all");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect(p.cli.all && !p.cli.match);
	cr_expect_eq(p.cli.npids, 0);
	cr_expect_eq(p.cli.pid, 0);
	p = PARSE("watch", "--match", "server\\.js|^node .*api");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect(p.cli.all, "--match implies --all");
	cr_expect_str_eq(p.cli.match, "server\\.js|^node .*api");
	p = PARSE("serve", "--all", "--match", "x");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect(p.cli.all);
}

Test(cli, at_most_64_pids)
{
	char list[UVS_MAX_PIDS * 8 + 16];
	size_t n = 0;
	struct parsed p;

	for (int i = 1; i <= UVS_MAX_PIDS; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", i > 1 ? "," : "", 1000 + i);
	p = PARSE("serve", "-p", list);
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.npids, UVS_MAX_PIDS);
	cr_expect_eq(p.cli.pids[UVS_MAX_PIDS - 1], 1000 + UVS_MAX_PIDS);
	p = PARSE("serve", "-p", list, "-p", "9");
	cr_assert_eq(p.ret, UVS_CLI_USAGE);
	cr_expect(strstr(p.err, "too many processes for -p/--pid: at most 64"), "%s", p.err);
	snprintf(list + n, sizeof(list) - n, ",9");
	p = PARSE("watch", "-p", list);
	cr_assert_eq(p.ret, UVS_CLI_USAGE);
	cr_expect(strstr(p.err, "too many processes for -p/--pid: at most 64"), "%s", p.err);
}

Test(cli, help_teaches_many_processes)
{
	struct parsed p = PARSE("--help");

	cr_assert_eq(p.ret, UVS_CLI_EXIT);
	for (const char *o = "-p 4242,4250\0--all \0--match REGEX\0watch -p 4242,4250\0"
			     "watch --all --match\0serve --all\0"; *o; o += strlen(o) + 1)
		cr_expect_not_null(strstr(p.out, o), "--help lacks %s", o);
	p = PARSE("serve", "--help");
	cr_assert_eq(p.ret, UVS_CLI_EXIT);
	cr_expect_not_null(strstr(p.out, "serve --all --match"), "%s", p.out);
	cr_expect_not_null(strstr(p.out, "pid label"), "%s", p.out);
}

Test(cli, flame_backend)
{
	struct parsed p = PARSE("flame", "-p", "42", "-o", "f.folded", "--backend", "proc");

	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.backend, UVS_BACKEND_PROC);
	cr_expect(p.cli.backend_given);
	p = PARSE("flame", "-p", "42", "-o", "f.folded");
	cr_assert_eq(p.ret, UVS_CLI_OK, "%s", p.err);
	cr_expect_eq(p.cli.backend, UVS_BACKEND_AUTO, "BPF unless told (auto)");
	cr_expect(!p.cli.backend_given);
	p = PARSE("flame", "-p", "42", "-o", "f.folded", "--backend", "ebpf");
	cr_assert_eq(p.ret, UVS_CLI_USAGE);
	cr_expect(strstr(p.err, "invalid value for --backend: 'ebpf' (bpf, proc or auto)"), "%s",
		  p.err);
	p = PARSE("--help");
	cr_expect(strstr(p.out, "--backend B") != NULL);
}
