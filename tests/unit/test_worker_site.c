// SPDX-License-Identifier: MIT
/*
 * The end-of-service site in libuv's worker() (target/worker_site.c): on every official node
 * here against objdump's disassembly, and on worker()'s bytes changed so that each step of the
 * proof fails.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/worker_site.h"

/*
 * Node 20.20.2's worker() around the job's call (0x18a7b39):
 *   lea -0x18(%rbx),%rdi; call *-0x18(%rbx); mov -0x8(%rbx),%rax; lea 0x88(%rax),%rdi;
 *   call uv_mutex_lock; ret
 */
static const uint8_t around_20[] = {
	0x48, 0x8d, 0x7b, 0xe8,                   /* 0x1000 lea -0x18(%rbx),%rdi */
	0xff, 0x53, 0xe8,                         /* 0x1004 call *-0x18(%rbx) */
	0x48, 0x8b, 0x43, 0xf8,                   /* 0x1007 mov -0x8(%rbx),%rax */
	0x48, 0x8d, 0xb8, 0x88, 0x00, 0x00, 0x00, /* 0x100b lea 0x88(%rax),%rdi */
	0xe8, 0x00, 0x01, 0x00, 0x00,             /* 0x1012 call 0x1117 */
	0xc3,                                     /* 0x1017 ret */
};

static int find(const uint8_t *bytes, size_t len, struct uvs_worker_site *s, char *why, size_t cap)
{
	struct uvs_code fn = { .bytes = bytes, .len = len, .addr = 0x1000 };

	return uvs_worker_site_find(&fn, NULL, s, why, cap);
}

Test(worker_site, node_20s_worker)
{
	struct uvs_worker_site s;
	char why[200];

	cr_assert_eq(find(around_20, sizeof(around_20), &s, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(s.addr, 0x1012);
	cr_expect_eq(s.job_call, 0x1004);
	cr_expect_eq(s.reg, UVS_PT_RBX);
	cr_expect_eq(s.disp, -0x18);
	cr_expect_str_eq(s.reg_name, "rbx");
}

Test(worker_site, each_step_of_the_proof_can_fail)
{
	uint8_t code[sizeof(around_20)];
	struct uvs_worker_site s;
	char why[200];

	/* R written between the job's call and the site: mov -0x8(%rbx),%rbx. */
	memcpy(code, around_20, sizeof(code));
	code[9] = 0x5b;
	cr_expect_eq(find(code, sizeof(code), &s, why, sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "writes rbx"), "%s", why);
	/* R not callee-saved: lea -0x18(%rcx),%rdi; call *-0x18(%rcx). */
	memcpy(code, around_20, sizeof(code));
	code[2] = 0x79;
	code[5] = 0x51;
	cr_expect_eq(find(code, sizeof(code), &s, why, sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "callee-saved"), "%s", why);
	/* The argument is not the address called through: lea -0x10(%rbx),%rdi. */
	memcpy(code, around_20, sizeof(code));
	code[3] = 0xf0;
	cr_expect_eq(find(code, sizeof(code), &s, why, sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "w->work(w)"), "%s", why);
	/* Two indirect calls: which one runs the job cannot be told. */
	{
		uint8_t two[2 * sizeof(around_20)];

		memcpy(two, around_20, sizeof(around_20));
		memcpy(two + sizeof(around_20), around_20, sizeof(around_20));
		cr_expect_eq(find(two, sizeof(two), &s, why, sizeof(why)), -ENOENT);
		cr_expect(strstr(why, "2 indirect calls"), "%s", why);
	}
	/* A branch to the instruction right after the job's call: the site without a job. */
	{
		static const uint8_t jump_in[] = {
			0x74, 0x07,                   /* 0x1000 je 0x1009 */
			0x48, 0x8d, 0x7b, 0xe8,       /* 0x1002 lea -0x18(%rbx),%rdi */
			0xff, 0x53, 0xe8,             /* 0x1006 call *-0x18(%rbx) */
			0x48, 0x8b, 0x43, 0xf8,       /* 0x1009 mov -0x8(%rbx),%rax */
			0xe8, 0x00, 0x01, 0x00, 0x00, /* 0x100d call 0x1112 */
			0xc3,
		};

		cr_expect_eq(find(jump_in, sizeof(jump_in), &s, why, sizeof(why)), -ENOENT);
		cr_expect(strstr(why, "lands at 0x1009"), "%s", why);
	}
}

/* The first direct call after objdump's only `call *` line of worker(), and that line. */
static int objdump_site(const char *node, const struct uvs_elf_symbol *sym, uint64_t *site,
			char *job, size_t cap)
{
	char cmd[512], line[256];
	int state = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn --start-address=0x%" PRIx64
		 " --stop-address=0x%" PRIx64 " %s", sym->addr, sym->addr + sym->size, node);
	p = popen(cmd, "r");
	cr_assert(p);
	while (fgets(line, sizeof(line), p)) {
		char *tab = strchr(line, '\t');

		if (!tab || state == 2)
			continue;
		if (state == 0 && strncmp(tab + 1, "call   *", 8) == 0) {
			snprintf(job, cap, "%s", tab + 9);
			job[strcspn(job, "\n")] = '\0';
			state = 1;
		} else if (state == 1 && strncmp(tab + 1, "call   ", 7) == 0) {
			*site = strtoull(line, NULL, 16);
			state = 2;
		}
	}
	pclose(p);
	return state == 2 ? 0 : -1;
}

Test(worker_site, official_nodes_match_objdump)
{
	static const char *const nodes[] = { "/usr/bin/node", ".output/node/18/bin/node",
					     ".output/node/22/bin/node", ".output/node/24/bin/node",
					     ".output/node/26/bin/node" };
	size_t i, checked = 0;

	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		struct uvs_elf *elf = access(nodes[i], R_OK) == 0 ? uvs_elf_open(nodes[i]) : NULL;
		struct uvs_elf_symbol sym;
		struct uvs_worker_site s;
		char why[200], job[64], want[64];
		uint64_t site = 0, off = 0;

		if (!elf || uvs_elf_find_function(elf, "worker", &sym) || sym.from_dynsym) {
			uvs_elf_close(elf);
			continue;
		}
		cr_assert_eq(uvs_worker_site_of(elf, &sym, &s, &off, why, sizeof(why)), 0, "%s: %s",
			     nodes[i], why);
		cr_assert_eq(objdump_site(nodes[i], &sym, &site, job, sizeof(job)), 0, "%s", nodes[i]);
		cr_expect_eq(s.addr, site, "%s: 0x%" PRIx64 " vs objdump 0x%" PRIx64, nodes[i], s.addr,
			     site);
		snprintf(want, sizeof(want), "-0x%" PRIx64 "(%%%s)", (uint64_t)-s.disp, s.reg_name);
		cr_expect_str_eq(job, want, "%s", nodes[i]);
		cr_expect_eq(off - sym.file_offset, s.addr - sym.addr);
		uvs_elf_close(elf);
		checked++;
	}
	if (!checked)
		cr_skip_test("no official node build here: no real-world check");
}
