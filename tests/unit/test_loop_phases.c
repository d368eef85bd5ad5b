// SPDX-License-Identifier: MIT
/*
 * Unit tests for agent/unwind/loop_phases.c: the phase of a return address into uv_run.
 *
 * The references are binutils, not the code under test: `nm -S` gives uv_run's address and
 * size, and `objdump -d` over that range lists every call instruction, the address after it
 * (the next instruction) and its callee. Each call the map lists must be one of those, each
 * of those must be in the map, and its phase must be the one its callee runs (a phase
 * function), or the one its callee belongs to (the I/O watchers run by the inlined pending,
 * the close callbacks of the inlined closing), or none (time keeping between phases).
 *
 * Real builds: Node 18, 20, 22 and 24 (official, with libuv's DWARF), from /usr/bin/node and
 * the builds scripts/fetch-node.sh left in .output/node; a missing one is skipped by name
 * (tests/integration/loop_phases.test.mjs fetches them). The fake libuv of
 * tests/fixtures/elf/fake_libuv.c covers DWARF 5 call sites (-O2), the disassembly path
 * (-O0: no call sites, nothing inlined), and objects without DWARF.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture_files.h"
#include "unwind/loop_phases.h"
#include "uvscope/loop.h"

#define CALLS_MAX 256

/* One call instruction of uv_run as objdump shows it. */
struct ref_call {
	uint64_t ret;      /* the next instruction's address */
	char callee[128];  /* "uv__io_poll", "__assert_fail", or "*" for an indirect call */
};

struct ref {
	uint64_t start, end; /* uv_run per nm -S */
	struct ref_call calls[CALLS_MAX];
	size_t ncalls;
	uint64_t insns[8192]; /* every instruction start, for range bounds */
	size_t ninsns;
};

static FILE *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");

	cr_assert(p, "popen %s: %s", cmd, strerror(errno));
	return p;
}

/* uv_run's address and size from `nm -S` (the .symtab or, failing that, .dynsym). */
static void nm_uv_run(const char *path, struct ref *r)
{
	char cmd[4300], line[512], name[256], type[4];
	unsigned long long addr, size;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -S '%s' 2>/dev/null; nm -S -D '%s' 2>/dev/null", path, path);
	p = run(cmd);
	r->start = r->end = 0;
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%llx %llx %3s %255s", &addr, &size, type, name) == 4 &&
		    strcmp(name, "uv_run") == 0 && !r->start) {
			r->start = addr;
			r->end = addr + size;
		}
	}
	pclose(p);
	cr_assert(r->start, "nm finds no uv_run in %s", path);
}

/* The callee text of an objdump call line: "<name>" or "<name@plt>" -> name, "*..." -> "*". */
static void callee_of(const char *operands, char *out, size_t cap)
{
	const char *lt = strchr(operands, '<');
	size_t n;

	if (operands[0] == '*' || !lt) {
		snprintf(out, cap, "*");
		return;
	}
	n = strcspn(lt + 1, "@+>");
	snprintf(out, cap, "%.*s", (int)n, lt + 1);
}

static void objdump_calls(const char *path, struct ref *r)
{
	char cmd[4300], line[1024], mnem[32];
	unsigned long long addr;
	bool pending_call = false;
	int off;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "objdump -d --no-show-raw-insn --start-address=0x%" PRIx64
		 " --stop-address=0x%" PRIx64 " '%s'",
		 r->start, r->end, path);
	p = run(cmd);
	r->ncalls = r->ninsns = 0;
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, " %llx:\t%31s %n", &addr, mnem, &off) != 2)
			continue;
		cr_assert_lt(r->ninsns, sizeof(r->insns) / sizeof(r->insns[0]));
		r->insns[r->ninsns++] = addr;
		if (pending_call)
			r->calls[r->ncalls - 1].ret = addr;
		pending_call = strcmp(mnem, "call") == 0;
		if (pending_call) {
			cr_assert_lt(r->ncalls, CALLS_MAX);
			line[strcspn(line, "\n")] = '\0';
			callee_of(line + off, r->calls[r->ncalls].callee,
				  sizeof(r->calls[r->ncalls].callee));
			r->calls[r->ncalls++].ret = r->end;
		}
	}
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
	cr_assert_gt(r->ninsns, 10, "objdump decoded %zu instructions of uv_run", r->ninsns);
}

/*
 * The phase a call with this callee must have: -2 any (a failed assertion), -3 pending or
 * close (an indirect call: a pending callback or a close callback), else an enum uvs_phase.
 */
#define ANY_PHASE -2
#define PENDING_OR_CLOSE -3
static int expected_phase(const char *callee)
{
	static const struct {
		const char *name;
		int phase;
	} table[] = {
		{ "uv__run_timers", UVS_PHASE_TIMERS },
		{ "uv__run_pending", UVS_PHASE_PENDING },
		{ "uv__run_idle", UVS_PHASE_IDLE },
		{ "uv__run_prepare", UVS_PHASE_PREPARE },
		{ "uv__io_poll", UVS_PHASE_POLL_IO },
		{ "uv__run_check", UVS_PHASE_CHECK },
		{ "uv__run_closing_handles", UVS_PHASE_CLOSE },
		/* libuv 1.52 inlines uv__io_cb into uv__run_pending: the watchers' I/O functions. */
		{ "uv__io_cb", UVS_PHASE_PENDING },
		{ "uv__stream_io", UVS_PHASE_PENDING },
		{ "uv__server_io", UVS_PHASE_PENDING },
		{ "uv__udp_io", UVS_PHASE_PENDING },
		{ "uv__poll_io", UVS_PHASE_PENDING },
		{ "uv__async_io", UVS_PHASE_PENDING },
		{ "uv__inotify_read", UVS_PHASE_PENDING },
		/* uv__finish_close, inlined into uv__run_closing_handles. */
		{ "uv__stream_destroy", UVS_PHASE_CLOSE },
		{ "uv__udp_finish_close", UVS_PHASE_CLOSE },
		/* Bookkeeping between phases. */
		{ "uv__hrtime", UVS_PHASE_NONE },
		{ "uv__update_time", UVS_PHASE_NONE },
		{ "uv__metrics_update_idle_time", UVS_PHASE_NONE },
		{ "uv__next_timeout", UVS_PHASE_NONE },
		{ "uv__loop_alive", UVS_PHASE_NONE },
		{ "__assert_fail", ANY_PHASE },
		{ "*", PENDING_OR_CLOSE },
	};
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].name, callee) == 0)
			return table[i].phase;
	}
	cr_expect_fail("uv_run calls %s, which this test does not know: classify it", callee);
	return ANY_PHASE;
}

static const struct uvs_phase_entry *find_call(const struct uvs_phase_entry *e, size_t n,
					       uint64_t ret)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (e[i].kind == UVS_PHASE_ENTRY_CALL && e[i].start == ret)
			return &e[i];
	}
	return NULL;
}

static bool is_insn(const struct ref *r, uint64_t addr)
{
	size_t i;

	for (i = 0; i < r->ninsns; i++) {
		if (r->insns[i] == addr)
			return true;
	}
	return addr == r->end;
}

/* Every call in the map is one objdump sees, and the other way round; phases as expected. */
static void check_calls(const char *path, const struct uvs_phase_map *m, const struct ref *r,
			const struct uvs_phase_entry *e, size_t n, size_t *close_indirect)
{
	size_t i, ncalls = 0;

	for (i = 0; i < n; i++) {
		if (e[i].kind != UVS_PHASE_ENTRY_CALL)
			continue;
		ncalls++;
		cr_expect_eq(e[i].end, e[i].start + 1);
		cr_expect_eq(uvs_phase_map_lookup(m, e[i].start), e[i].phase);
	}
	cr_expect_eq(ncalls, r->ncalls, "%s: the map has %zu calls, objdump %zu", path, ncalls,
		     r->ncalls);
	for (i = 0; i < r->ncalls; i++) {
		const struct uvs_phase_entry *got = find_call(e, n, r->calls[i].ret);
		int want = expected_phase(r->calls[i].callee);

		cr_expect(got, "%s: no entry for the call to %s returning to 0x%" PRIx64, path,
			  r->calls[i].callee, r->calls[i].ret);
		if (!got)
			continue;
		if (want == PENDING_OR_CLOSE) {
			cr_expect(got->phase == UVS_PHASE_PENDING || got->phase == UVS_PHASE_CLOSE,
				  "%s: indirect call returning to 0x%" PRIx64 " in phase %d", path,
				  r->calls[i].ret, got->phase);
			*close_indirect += got->phase == UVS_PHASE_CLOSE;
		} else if (want != ANY_PHASE) {
			cr_expect_eq(got->phase, want, "%s: call to %s returning to 0x%" PRIx64
				     ": phase %d, expected %d", path, r->calls[i].callee,
				     r->calls[i].ret, got->phase, want);
		}
	}
}

/* Inlined ranges: inside uv_run, on instruction boundaries, only pending and close here. */
static void check_ranges(const char *path, const struct uvs_phase_map *m, const struct ref *r,
			 const struct uvs_phase_entry *e, size_t n, bool *pending, bool *close)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (e[i].kind != UVS_PHASE_ENTRY_INLINED)
			continue;
		cr_expect(e[i].start >= r->start && e[i].end <= r->end && e[i].start < e[i].end);
		cr_expect(is_insn(r, e[i].start) && is_insn(r, e[i].end),
			  "%s: %s range 0x%" PRIx64 "-0x%" PRIx64 " not on instruction boundaries",
			  path, e[i].callee, e[i].start, e[i].end);
		if (strcmp(e[i].callee, "uv__run_pending") == 0 && e[i].phase == UVS_PHASE_PENDING)
			*pending = true;
		else if (strcmp(e[i].callee, "uv__run_closing_handles") == 0 &&
			 e[i].phase == UVS_PHASE_CLOSE)
			*close = true;
		else
			cr_expect_fail("%s: unexpected inlined range %s phase %d", path, e[i].callee,
				e[i].phase);
		/* Frame 0 convention: a pc inside the range, passed as pc + 1. */
		if (!find_call(e, n, e[i].start + 1))
			cr_expect_eq(uvs_phase_map_lookup(m, e[i].start + 1), e[i].phase);
	}
}

/* Checks the map of path against binutils; expects the inlined ranges when inlined is set. */
static void check_object(const char *path, bool inlined)
{
	static struct ref r; /* large: not on the stack */
	const struct uvs_phase_entry *e;
	struct uvs_phase_map *m;
	bool pending = false, close = false;
	size_t n, close_indirect = 0;
	uint64_t start, end;
	char why[512];

	nm_uv_run(path, &r);
	objdump_calls(path, &r);
	m = uvs_phase_map_new(-1, path, why, sizeof(why));
	cr_assert(m, "%s: %s", path, why);
	uvs_phase_map_uv_run(m, &start, &end);
	cr_expect_eq(start, r.start);
	cr_expect_eq(end, r.end);
	n = uvs_phase_map_entries(m, &e);
	check_calls(path, m, &r, e, n, &close_indirect);
	check_ranges(path, m, &r, e, n, &pending, &close);
	if (inlined) {
		cr_expect(pending, "%s: no inlined uv__run_pending range", path);
		cr_expect(close, "%s: no inlined uv__run_closing_handles range", path);
		cr_expect_gt(close_indirect, 0, "%s: no close callback call in close", path);
	}
	cr_log_info("%s: %s", path, uvs_phase_map_describe(m, why, sizeof(why)));
	uvs_phase_map_free(m);
}

/* An official build of this Node major: /usr/bin/node or one in .output/node; NULL if none. */
static char *node_build(int major)
{
	static char found[4200];
	char pattern[4200], cmd[4300], out[64];
	const char *cands[64];
	size_t n = 0, i;
	glob_t g = { 0 };

	cands[n++] = "/usr/bin/node";
	snprintf(pattern, sizeof(pattern), "%s/../node/*/bin/node", fx(""));
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc && n < 64; i++)
			cands[n++] = g.gl_pathv[i];
	}
	found[0] = '\0';
	for (i = 0; i < n && !found[0]; i++) {
		FILE *p;

		if (access(cands[i], X_OK))
			continue;
		snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", cands[i]);
		p = popen(cmd, "r");
		if (p && fgets(out, sizeof(out), p) && atoi(out + 1) == major)
			snprintf(found, sizeof(found), "%s", cands[i]);
		if (p)
			pclose(p);
	}
	globfree(&g);
	return found[0] ? found : NULL;
}

static void check_node(int major, const char *fetch)
{
	char *path = node_build(major);

	if (!path)
		cr_skip_test("SKIPPED: no Node %d build here (scripts/fetch-node.sh %s)", major,
			     fetch);
	check_object(path, true);
}

Test(loop_phases, node18) { check_node(18, "18.20.8"); }
Test(loop_phases, node20) { check_node(20, "20.20.2"); }
Test(loop_phases, node22) { check_node(22, "22.23.5"); }
Test(loop_phases, node24) { check_node(24, "24.22.3"); }

/* DWARF 5 call sites (gcc 12 default) and inlined pending / closing. */
Test(loop_phases, fake_libuv_optimized)
{
	const struct uvs_phase_entry *e;
	struct uvs_phase_map *m;
	size_t n, i, from_dwarf = 0;
	char why[256];

	check_object(fx("fake-libuv.so"), true);
	m = uvs_phase_map_new(-1, fx("fake-libuv.so"), why, sizeof(why));
	cr_assert(m, "%s", why);
	n = uvs_phase_map_entries(m, &e);
	for (i = 0; i < n; i++)
		from_dwarf += e[i].kind == UVS_PHASE_ENTRY_CALL && e[i].source == UVS_PHASE_FROM_DWARF;
	cr_expect_gt(from_dwarf, 5, "DWARF call sites used: %zu", from_dwarf);
	uvs_phase_map_free(m);
}

/* No call sites, nothing inlined: every call comes from the disassembly, named by .symtab. */
Test(loop_phases, fake_libuv_unoptimized)
{
	const struct uvs_phase_entry *e;
	struct uvs_phase_map *m;
	size_t n, i;
	char why[256];

	check_object(fx("fake-libuv-O0.so"), false);
	m = uvs_phase_map_new(-1, fx("fake-libuv-O0.so"), why, sizeof(why));
	cr_assert(m, "%s", why);
	n = uvs_phase_map_entries(m, &e);
	cr_assert_gt(n, 0);
	for (i = 0; i < n; i++) {
		cr_expect_eq(e[i].kind, UVS_PHASE_ENTRY_CALL);
		cr_expect_eq(e[i].source, UVS_PHASE_FROM_DISASM);
	}
	uvs_phase_map_free(m);
}

Test(loop_phases, outside_uv_run_is_no_phase)
{
	struct uvs_phase_map *m;
	uint64_t start, end;
	char why[256];

	m = uvs_phase_map_new(-1, fx("fake-libuv.so"), why, sizeof(why));
	cr_assert(m, "%s", why);
	uvs_phase_map_uv_run(m, &start, &end);
	/* A return address stands for the byte before it. */
	cr_expect_not(uvs_phase_map_in_uv_run(m, start));
	cr_expect(uvs_phase_map_in_uv_run(m, start + 1));
	cr_expect(uvs_phase_map_in_uv_run(m, end));
	cr_expect_not(uvs_phase_map_in_uv_run(m, end + 1));
	cr_expect_eq(uvs_phase_map_lookup(m, start), UVS_PHASE_NONE);
	cr_expect_eq(uvs_phase_map_lookup(m, end + 1), UVS_PHASE_NONE);
	cr_expect_eq(uvs_phase_map_lookup(m, 0), UVS_PHASE_NONE);
	cr_expect_eq(uvs_phase_map_lookup(m, UINT64_MAX), UVS_PHASE_NONE);
	uvs_phase_map_free(m);
}

/* The Debian case: libuv without DWARF. No map, and a reason that says what to do. */
Test(loop_phases, without_dwarf)
{
	char why[512];

	errno = 0;
	cr_expect_null(uvs_phase_map_new(-1, fx("fake-libuv-nodebug.so"), why, sizeof(why)));
	cr_expect_eq(errno, ENODATA);
	cr_expect(strstr(why, "no DWARF for libuv in ") && strstr(why, "fake-libuv-nodebug.so"),
		  "%s", why);
	cr_expect(strstr(why, "sampled phases are unavailable; use --phases"), "%s", why);

	/* Stripped to .dynsym: the phase functions are gone too, so no --phases either. */
	cr_expect_null(uvs_phase_map_new(-1, fx("fake-libuv-stripped.so"), why, sizeof(why)));
	cr_expect(strstr(why, "no DWARF for libuv in "), "%s", why);
	cr_expect_null(strstr(why, "--phases"), "%s", why);
}

Test(loop_phases, objects_that_are_not_libuv)
{
	char why[512];
	int fd;

	cr_expect_null(uvs_phase_map_new(-1, fx("pie"), why, sizeof(why)));
	cr_expect(strstr(why, "no uv_run symbol in "), "%s", why);
	cr_expect_null(uvs_phase_map_new(-1, fx("not-elf.txt"), why, sizeof(why)));
	cr_expect(strstr(why, "cannot read "), "%s", why);
	cr_expect_null(uvs_phase_map_new(-1, fx("truncated"), why, sizeof(why)));
	cr_expect_null(uvs_phase_map_new(-1, "/nonexistent/libuv.so.1", why, sizeof(why)));
	cr_expect(strstr(why, "cannot open /nonexistent/libuv.so.1"), "%s", why);
	cr_expect_null(uvs_phase_map_new(-1, NULL, why, sizeof(why)));
	/* A tiny why buffer is truncated, not overrun. */
	cr_expect_null(uvs_phase_map_new(-1, fx("pie"), why, 8));
	cr_expect_eq(strlen(why), 7);
	uvs_phase_map_free(NULL);

	/* An open fd is read; the path only names it. */
	fd = open(fx("fake-libuv.so"), O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	{
		struct uvs_phase_map *m = uvs_phase_map_new(fd, "/proc/1/map_files/x", why,
							    sizeof(why));

		cr_assert(m, "%s", why);
		cr_expect(strstr(uvs_phase_map_describe(m, why, sizeof(why)), "/proc/1/map_files/x"));
		uvs_phase_map_free(m);
	}
	cr_expect_eq(fcntl(fd, F_GETFD), FD_CLOEXEC, "the caller's fd stays open");
	close(fd);
}

static uint64_t ret_of_call_to(const struct uvs_phase_map *m, const char *callee)
{
	const struct uvs_phase_entry *e;
	size_t n = uvs_phase_map_entries(m, &e), i;

	for (i = 0; i < n; i++) {
		if (e[i].kind == UVS_PHASE_ENTRY_CALL && e[i].callee && !strcmp(e[i].callee, callee))
			return e[i].start;
	}
	cr_assert_fail("no call to %s", callee);
	return 0;
}

static uint64_t start_of_inlined(const struct uvs_phase_map *m, const char *fn)
{
	const struct uvs_phase_entry *e;
	size_t n = uvs_phase_map_entries(m, &e), i;

	for (i = 0; i < n; i++) {
		if (e[i].kind == UVS_PHASE_ENTRY_INLINED && !strcmp(e[i].callee, fn))
			return e[i].start;
	}
	cr_assert_fail("no inlined %s", fn);
	return 0;
}

/* Stacks as BPF gives them: runtime addresses, innermost first, frame 0 the pc itself. */
Test(loop_phases, stack_phase)
{
	const uint64_t bias = 0x7f0000000000ull;
	struct uvs_raw_frame f[6] = { 0 };
	struct uvs_phase_map *m;
	char why[256];
	int idx;

	m = uvs_phase_map_new(-1, fx("fake-libuv.so"), why, sizeof(why));
	cr_assert(m, "%s", why);

	/* A callback run by uv__io_poll: frame 2 returns into uv_run after the call. */
	f[0].pc = bias + 0x10;
	f[1].pc = bias + 0x20;
	f[2].pc = bias + ret_of_call_to(m, "uv__io_poll");
	f[3].pc = bias + 0x30;
	cr_expect_eq(uvs_phase_map_stack_phase(m, f, 4, bias, &idx), UVS_PHASE_POLL_IO);
	cr_expect_eq(idx, 2);
	/* The wrong bias finds no uv_run frame. */
	cr_expect_eq(uvs_phase_map_stack_phase(m, f, 4, 0, &idx), UVS_PHASE_NONE);
	cr_expect_eq(idx, -1);

	/* A nested uv_run (spawnSync's private loop) inside a timer: the outer loop decides. */
	f[4].pc = bias + ret_of_call_to(m, "uv__run_timers");
	f[5].pc = bias + 0x40;
	cr_expect_eq(uvs_phase_map_stack_phase(m, f, 6, bias, &idx), UVS_PHASE_TIMERS);
	cr_expect_eq(idx, 4);

	/* Interrupted inside the inlined pending code: frame 0 counts as pc + 1. */
	f[0].pc = bias + start_of_inlined(m, "uv__run_pending");
	cr_expect_eq(uvs_phase_map_stack_phase(m, f, 1, bias, NULL), UVS_PHASE_PENDING);
	f[0].pc = bias + start_of_inlined(m, "uv__run_closing_handles");
	cr_expect_eq(uvs_phase_map_stack_phase(m, f, 1, bias, &idx), UVS_PHASE_CLOSE);
	cr_expect_eq(idx, 0);
	cr_expect_eq(uvs_phase_map_stack_phase(m, f, 0, bias, &idx), UVS_PHASE_NONE);
	uvs_phase_map_free(m);
}

/* The build id of path as readelf prints it (hex). */
static void readelf_build_id(const char *path, char *hex, size_t cap)
{
	char cmd[4300], line[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -n '%s'", path);
	p = run(cmd);
	hex[0] = '\0';
	while (fgets(line, sizeof(line), p)) {
		char *id = strstr(line, "Build ID: ");

		if (id)
			snprintf(hex, cap, "%.*s", (int)strcspn(id + 10, "\n"), id + 10);
	}
	pclose(p);
	cr_assert(hex[0], "readelf finds no build id in %s", path);
}

/* Puts the DWARF of debug_of (objcopy --only-keep-debug) where the build id of obj says. */
static void install_debug_file(const char *root, const char *obj, const char *debug_of)
{
	char hex[128], cmd[9000];

	readelf_build_id(obj, hex, sizeof(hex));
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/.build-id/%.2s' && objcopy --only-keep-debug '%s' "
		 "'%s/.build-id/%.2s/%s.debug'",
		 root, hex, debug_of, root, hex, hex + 2);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Debian's case with libuv1-dbgsym: a stripped libuv.so.1 and its debug file by build id. */
Test(loop_phases, separate_debug_file)
{
	char root[] = "/tmp/uvs-debug-XXXXXX", why[512], cmd[4200];
	const struct uvs_phase_entry *want, *got;
	struct uvs_phase_map *with, *m;
	size_t nwant, ngot, i;

	cr_assert(mkdtemp(root));
	install_debug_file(root, fx("fake-libuv-stripped.so"), fx("fake-libuv.so"));
	m = uvs_phase_map_new_debug(-1, fx("fake-libuv-stripped.so"), root, why, sizeof(why));
	cr_expect(m, "%s", why);
	with = uvs_phase_map_new(-1, fx("fake-libuv.so"), why, sizeof(why));
	cr_assert(with, "%s", why);
	if (m) {
		/* The same map as from the unstripped object, callees named by the DWARF. */
		nwant = uvs_phase_map_entries(with, &want);
		ngot = uvs_phase_map_entries(m, &got);
		cr_expect_eq(ngot, nwant);
		for (i = 0; i < ngot && i < nwant; i++) {
			cr_expect_eq(got[i].start, want[i].start);
			cr_expect_eq(got[i].phase, want[i].phase, "entry %zu", i);
		}
		cr_expect(strstr(uvs_phase_map_describe(m, why, sizeof(why)), ", DWARF from /tmp/uvs-"),
			  "%s", why);
	}
	uvs_phase_map_free(m);
	uvs_phase_map_free(with);

	/* A debug file of another build at that path is not used. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
	strcpy(root, "/tmp/uvs-debug-XXXXXX");
	cr_assert(mkdtemp(root));
	install_debug_file(root, fx("fake-libuv-stripped.so"), fx("fake-libuv-O0.so"));
	errno = 0;
	cr_expect_null(uvs_phase_map_new_debug(-1, fx("fake-libuv-stripped.so"), root, why,
					       sizeof(why)));
	cr_expect_eq(errno, ENODATA);
	cr_expect(strstr(why, "(nor in /tmp/uvs-debug-"), "%s", why);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}
