// SPDX-License-Identifier: MIT
/*
 * jsstack: the stack of one thread of a node process with JavaScript frames named by
 * agent/v8 (a test tool, not part of uvscope; the real sampler walks stacks in BPF).
 *
 *   jsstack PID [TID] [--bench N]
 *
 * It PTRACE_SEIZEs the thread, PTRACE_INTERRUPTs it, reads its registers, walks its frame
 * pointers into uvs_raw_frame[] (pc, fp, *(fp-8), *(fp-16)) while it is stopped, detaches at
 * once, and only then names the frames, as the agent will (the heap is read while the target
 * runs). One line per frame, innermost first:
 *
 *   JS <name> <file>:<line>     TYPED <type>     JS_UNKNOWN     NATIVE <symbol>|?
 *
 * --bench N names the JS frames N times with an empty cache (a new namer each time) and N
 * times with a warm one, and prints names per second for both.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/types.h>

#include "target/elf.h"
#include "target/memory.h"
#include "uvscope/stacks.h"
#include "v8/metadata.h"
#include "v8/v8.h"

#define MAPS_MAX 4096

struct mapping {
	uint64_t start, end;
	uint64_t offset; /* file offset of start */
	bool exec, anon, node;
};

static struct mapping maps[MAPS_MAX];
static size_t nmaps;

static void read_maps(int pid, const char *exe)
{
	char path[64], line[4096], perms[8], file[4096];
	unsigned long long start, end, off;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(1);
	}
	while (nmaps < MAPS_MAX && fgets(line, sizeof(line), f)) {
		file[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &start, &end, perms, &off,
			   file) < 4)
			continue;
		struct mapping *m = &maps[nmaps++];
		char *p = file;

		while (*p == ' ')
			p++;
		m->start = start;
		m->end = end;
		m->exec = perms[2] == 'x';
		m->anon = *p == '\0';
		m->node = strcmp(p, exe) == 0;
		m->offset = off;
	}
	fclose(f);
}

static const struct mapping *mapping_of(uint64_t pc)
{
	for (size_t i = 0; i < nmaps; i++)
		if (pc >= maps[i].start && pc < maps[i].end)
			return &maps[i];
	return NULL;
}

/*
 * The node binary's own address of pc in one of its mappings. Node 22+ remaps its embedded
 * builtins next to the JIT code: a second, file-backed mapping of the same file offsets.
 */
static bool node_addr(struct uvs_elf *elf, uint64_t pc, uint64_t *addr)
{
	const struct mapping *m = mapping_of(pc);

	if (!m || !m->node)
		return false;
	*addr = pc - m->start + m->offset + uvs_elf_load_base(elf);
	return true;
}

/* The pc is V8's: JIT code (anonymous executable memory) or a Builtins_* of node. */
static bool in_v8_code(struct uvs_elf *elf, uint64_t pc, char *sym, size_t cap)
{
	const struct mapping *m = mapping_of(pc);
	uint64_t addr;

	sym[0] = '\0';
	if (!m || !m->exec)
		return false;
	if (m->anon)
		return true;
	if (!node_addr(elf, pc, &addr) || uvs_elf_symbol_at(elf, addr, sym, cap, NULL))
		return false;
	return strncmp(sym, "Builtins_", 9) == 0;
}

static size_t walk(int pid, int tid, struct uvs_raw_frame *frames, size_t max)
{
	struct uvs_mem_reader mem = uvs_mem_reader_pid(pid);
	struct user_regs_struct regs;
	uint64_t pc, fp;
	size_t n = 0;
	int status;

	if (ptrace(PTRACE_SEIZE, tid, 0, 0) || ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
		fprintf(stderr, "jsstack: cannot seize thread %d: %s\n", tid, strerror(errno));
		exit(1);
	}
	if (waitpid(tid, &status, __WALL) < 0 || ptrace(PTRACE_GETREGS, tid, 0, &regs)) {
		fprintf(stderr, "jsstack: cannot stop thread %d: %s\n", tid, strerror(errno));
		ptrace(PTRACE_DETACH, tid, 0, 0);
		exit(1);
	}
	pc = regs.rip;
	fp = regs.rbp;
	while (n < max && fp) {
		struct uvs_raw_frame *f = &frames[n++];
		uint64_t next[2];

		f->pc = pc;
		f->fp = fp;
		uvs_mem_read_u64(&mem, fp - 8, (uint64_t *)&f->slot_m8);
		uvs_mem_read_u64(&mem, fp - 16, (uint64_t *)&f->slot_m16);
		/* [fp] = the caller's fp, [fp + 8] = the return address. */
		if (uvs_mem_read_exact(&mem, fp, next, sizeof(next)) || next[0] <= fp)
			break;
		fp = next[0];
		pc = next[1];
	}
	ptrace(PTRACE_DETACH, tid, 0, 0);
	return n;
}

/* CPU time of this process: the target competes for the CPU, and wall time would count
 * the waits for it. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench(const struct uvs_v8_meta *meta, int pid, const struct uvs_raw_frame *frames,
		  const bool *v8, size_t n, int rounds)
{
	struct uvs_js_name out;
	uint64_t cold = 0, warm = 0;
	struct uvs_v8 *v = NULL;
	double t0, t_cold, t_warm;
	char why[256];

	t0 = now();
	for (int r = 0; r < rounds; r++) {
		uvs_v8_free(v);
		v = uvs_v8_new(meta, uvs_mem_reader_pid(pid), why, sizeof(why));
		for (size_t i = 0; i < n; i++)
			cold += uvs_v8_name_frame(v, &frames[i], v8[i], &out) == UVS_V8_FRAME_JS;
	}
	t_cold = now() - t0;
	if (v) {
		struct uvs_v8_stats st;

		uvs_v8_get_stats(v, &st);
		printf("bench one cold pass: %" PRIu64 " names read with %" PRIu64
		       " reads of the target\n", st.names_read, st.reads);
	}
	t0 = now();
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++)
			warm += uvs_v8_name_frame(v, &frames[i], v8[i], &out) == UVS_V8_FRAME_JS;
	t_warm = now() - t0;
	printf("bench cold %" PRIu64 " names in %.3f s of CPU: %.0f names/s\n", cold, t_cold,
	       cold / t_cold);
	printf("bench warm %" PRIu64 " names in %.3f s of CPU: %.0f names/s\n", warm, t_warm,
	       warm / t_warm);
	uvs_v8_free(v);
}

int main(int argc, char **argv)
{
	struct uvs_raw_frame frames[UVS_USER_FRAMES_MAX];
	bool v8[UVS_USER_FRAMES_MAX];
	char exe[4096], path[64], why[512], sym[256];
	struct uvs_v8_meta meta;
	struct uvs_js_name out;
	struct uvs_elf *elf;
	struct uvs_v8 *v;
	int pid, tid, rounds = 0;
	uint64_t addr;
	ssize_t len;
	size_t n;

	if (argc < 2) {
		fprintf(stderr, "usage: jsstack PID [TID] [--bench N]\n");
		return 2;
	}
	pid = atoi(argv[1]);
	tid = argc > 2 && argv[2][0] != '-' ? atoi(argv[2]) : pid;
	for (int i = 2; i + 1 < argc; i++)
		if (strcmp(argv[i], "--bench") == 0)
			rounds = atoi(argv[i + 1]);
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	len = readlink(path, exe, sizeof(exe) - 1);
	if (len < 0) {
		perror(path);
		return 1;
	}
	exe[len] = '\0';
	elf = uvs_elf_open(path);
	if (!elf || uvs_v8_meta_read(elf, &meta, why, sizeof(why))) {
		fprintf(stderr, "jsstack: %s\n", elf ? why : strerror(errno));
		return 1;
	}
	v = uvs_v8_open(pid, path, why, sizeof(why));
	if (!v) {
		fprintf(stderr, "jsstack: %s\n", why);
		return 1;
	}
	if (why[0])
		fprintf(stderr, "jsstack: %s\n", why);
	printf("v8 %s\n", uvs_v8_version(v));
	n = walk(pid, tid, frames, UVS_USER_FRAMES_MAX);
	/* After the walk: V8 maps new code pages as it compiles. */
	read_maps(pid, exe);
	for (size_t i = 0; i < n; i++) {
		v8[i] = in_v8_code(elf, frames[i].pc, sym, sizeof(sym));
		switch (uvs_v8_name_frame(v, &frames[i], v8[i], &out)) {
		case UVS_V8_FRAME_JS:
			printf("JS\t%s\t%s\t%u\t%#llx\n", out.name, out.file, out.line,
			       (unsigned long long)frames[i].pc);
			break;
		case UVS_V8_FRAME_JS_UNKNOWN:
			printf("JS_UNKNOWN\t%#llx\n", (unsigned long long)frames[i].pc);
			break;
		case UVS_V8_FRAME_TYPED:
			printf("TYPED\t%s\t%#llx\n", out.frame_type, (unsigned long long)frames[i].pc);
			break;
		case UVS_V8_FRAME_NOT_V8:
			if (!sym[0] && node_addr(elf, frames[i].pc, &addr))
				uvs_elf_symbol_at(elf, addr, sym, sizeof(sym), NULL);
			printf("NATIVE\t%s\t%#llx\n", sym[0] ? sym : "?",
			       (unsigned long long)frames[i].pc);
			break;
		}
	}
	if (rounds > 0)
		bench(&meta, pid, frames, v8, n, rounds);
	uvs_v8_free(v);
	uvs_elf_close(elf);
	return 0;
}
