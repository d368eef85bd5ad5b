// SPDX-License-Identifier: MIT
/*
 * hw_breakpoint_cost: what one hit of a hardware execute breakpoint costs on this machine,
 * beside one hit of an entry uprobe, the same empty BPF program run by each.
 *
 *   hw_breakpoint_cost [CALLS] [ROUNDS]      (defaults 200000 and 5; run as root)
 *
 * The question it answers: could a probe that traps through the CPU's debug registers (a
 * perf event of type PERF_TYPE_BREAKPOINT, HW_BREAKPOINT_X, on one thread, with a BPF
 * program attached by PERF_EVENT_IOC_SET_BPF) be cheaper than a uprobe's int3 for the one
 * probe the loop thread passes per iteration? It traps as #DB instead of #BP and needs no
 * uprobe lookup, no emulation and no out-of-line step; but under a hypervisor that
 * intercepts #DB every hit is a VM exit. Measured, not guessed: bench/README.md ("History",
 * 2026-12-07 evening).
 *
 * Three functions with the same body, their first instruction `push %rbp` (which the kernel
 * emulates for a uprobe), in assembly so that no compiler changes it:
 *   cost_plain  never probed: the cost of the call itself
 *   cost_hwbp   a hardware execute breakpoint on its first byte, for this thread
 *   cost_uprobe an entry uprobe (the perf uprobe PMU, this process only)
 * Prints one JSON line per round: the CPU time per call of each, CALLS calls each, in turn,
 *   {"round":R,"plain":NS,"hwbp":NS,"uprobe":NS,"hwbp_hits":N,"uprobe_hits":N}
 * a probe's cost per hit being its function's time per call minus cost_plain's. A probe that
 * cannot be opened here is reported ({"hwbp":null,"hwbp_error":"..."}) and the rest measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "hw_breakpoint_cost: the probed instructions are x86-64 ones"
#endif

#define COST_FN(name)                                                                              \
	".globl " #name "\n"                                                                       \
	".type " #name ", @function\n"                                                             \
	".p2align 4\n" #name ":\n"                                                                 \
	"\tpush %rbp\n"                                                                            \
	"\tmov %rdi, %rax\n"                                                                       \
	"\tmov %rsp, %rbp\n"                                                                       \
	"\tpop %rbp\n"                                                                             \
	"\tret\n"                                                                                  \
	".size " #name ", . - " #name "\n"

// clang-format off
__asm__(".text\n"
	COST_FN(cost_plain)
	COST_FN(cost_hwbp)
	COST_FN(cost_uprobe));
// clang-format on

long cost_plain(long);
long cost_hwbp(long);
long cost_uprobe(long);

static double thread_cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double ns_per_call(long (*fn)(long), long calls)
{
	volatile long sink = 0;
	double start = thread_cpu_ns();
	for (long i = 0; i < calls; i++)
		sink += fn(i);
	(void)sink;
	return (thread_cpu_ns() - start) / (double)calls;
}

/* `r0 = 0; exit`: the same empty program on both probes, so that the difference is the trap's. */
static int load_empty_program(enum bpf_prog_type type)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.insn_cnt = 2;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}


/* Attaches the empty program of `type` to the event and enables it; -1 with why on failure. */
static int arm(int fd, enum bpf_prog_type type, char *why, size_t why_len)
{
	int prog = load_empty_program(type);
	if (prog < 0) {
		snprintf(why, why_len, "BPF_PROG_LOAD: %s", strerror(errno));
		return -1;
	}
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) != 0) {
		snprintf(why, why_len, "PERF_EVENT_IOC_SET_BPF: %s", strerror(errno));
		return -1;
	}
	if (ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
		snprintf(why, why_len, "PERF_EVENT_IOC_ENABLE: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Opens the event (what: its name in a failure), for this thread only (pid 0, any CPU: nothing
 * else on the host is touched), with the empty program of `type` on it: its fd, or -1 with why.
 */
static int open_armed(struct perf_event_attr *attr, const char *what, enum bpf_prog_type type,
		      char *why, size_t why_len)
{
	int fd = (int)syscall(SYS_perf_event_open, attr, 0, -1, -1, 0);

	if (fd < 0) {
		snprintf(why, why_len, "perf_event_open(%s): %s", what, strerror(errno));
		return -1;
	}
	if (arm(fd, type, why, why_len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int open_hw_breakpoint(void *addr, char *why, size_t why_len)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_BREAKPOINT;
	attr.size = sizeof(attr);
	attr.bp_type = HW_BREAKPOINT_X;
	attr.bp_addr = (uint64_t)(uintptr_t)addr;
	attr.bp_len = sizeof(long);
	attr.sample_period = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	attr.disabled = 1;
	return open_armed(&attr, "PERF_TYPE_BREAKPOINT", BPF_PROG_TYPE_PERF_EVENT, why, why_len);
}

/* The uprobe PMU's type, from sysfs; -1 where the kernel has none. */
static int uprobe_pmu_type(void)
{
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
	int type = -1;
	if (f) {
		if (fscanf(f, "%d", &type) != 1)
			type = -1;
		fclose(f);
	}
	return type;
}

/* The file and file offset of code at addr, from /proc/self/maps. */
static int file_offset_of(void *addr, char *path, size_t path_len, uint64_t *offset)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	if (!maps)
		return -1;
	char line[4096];
	int found = -1;
	uintptr_t a = (uintptr_t)addr;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, pgoff;
		char perms[8];
		int name_at = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &start, &end, perms, &pgoff, &name_at) < 4)
			continue;
		if (a < start || a >= end || name_at == 0)
			continue;
		char *name = line + name_at;
		name[strcspn(name, "\n")] = '\0';
		snprintf(path, path_len, "%s", name);
		*offset = (uint64_t)(a - start + pgoff);
		found = 0;
		break;
	}
	fclose(maps);
	return found;
}

static int open_uprobe(void *addr, char *why, size_t why_len)
{
	int type = uprobe_pmu_type();
	if (type < 0) {
		snprintf(why, why_len, "no uprobe PMU in /sys/bus/event_source/devices");
		return -1;
	}
	static char path[4096];
	uint64_t offset;
	if (file_offset_of(addr, path, sizeof(path), &offset) != 0) {
		snprintf(why, why_len, "the function's file offset is not in /proc/self/maps");
		return -1;
	}
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.type = (uint32_t)type;
	attr.size = sizeof(attr);
	attr.config1 = (uint64_t)(uintptr_t)path;
	attr.config2 = offset;
	attr.disabled = 1;
	return open_armed(&attr, "uprobe", BPF_PROG_TYPE_KPROBE, why, why_len);
}

static void print_probe(const char *name, int fd, double fn_ns, const char *why)
{
	if (fd < 0) {
		printf(",\"%s\":null,\"%s_error\":\"%s\"", name, name, why);
		return;
	}
	printf(",\"%s\":%.1f", name, fn_ns);
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 5;
	if (calls <= 0 || rounds <= 0) {
		fprintf(stderr, "usage: hw_breakpoint_cost [CALLS] [ROUNDS]\n");
		return 2;
	}
	char hw_why[200] = "", up_why[200] = "";
	int hw = open_hw_breakpoint((void *)cost_hwbp, hw_why, sizeof(hw_why));
	int up = open_uprobe((void *)cost_uprobe, up_why, sizeof(up_why));
	for (long r = 0; r < rounds; r++) {
		double plain = ns_per_call(cost_plain, calls);
		double hwbp = ns_per_call(cost_hwbp, calls);
		double uprobe = ns_per_call(cost_uprobe, calls);
		printf("{\"round\":%ld,\"plain\":%.1f", r, plain);
		print_probe("hwbp", hw, hwbp, hw_why);
		print_probe("uprobe", up, uprobe, up_why);
		printf("}\n");
	}
	/* The hits each event counted: every call, or the figures above are not per hit. */
	uint64_t hw_hits = 0;
	if (hw >= 0 && read(hw, &hw_hits, sizeof(hw_hits)) != sizeof(hw_hits))
		hw_hits = 0;
	printf("{\"calls\":%ld,\"hwbp_hits\":%" PRIu64 "}\n", calls * rounds, hw_hits);
	return 0;
}
