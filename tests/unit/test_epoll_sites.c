// SPDX-License-Identifier: MIT
/*
 * The epoll wait call sites of uv__io_poll in the official node on this machine, against an
 * independent reference: objdump's disassembly of the same function, which names each call's
 * PLT target (`call ... <epoll_pwait@plt>`).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "target/epoll_sites.h"

#define NODE_PATH "/usr/bin/node"

/* The addresses objdump shows for calls to an epoll wait PLT entry in uv__io_poll. */
static size_t objdump_sites(const struct uvs_elf_symbol *fn, uint64_t *out, size_t cap)
{
	char cmd[512], line[512];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "objdump -d --no-show-raw-insn --start-address=0x%" PRIx64
		 " --stop-address=0x%" PRIx64 " " NODE_PATH " | grep -E 'call.*<epoll_p?wait2?@plt>'",
		 fn->addr, fn->addr + fn->size);
	p = popen(cmd, "r");
	cr_assert(p, "popen: %s", strerror(errno));
	while (n < cap && fgets(line, sizeof(line), p))
		out[n++] = strtoull(line, NULL, 16);
	pclose(p);
	return n;
}

/* The official node's ELF and its uv__io_poll, or the test is skipped. */
static struct uvs_elf *open_official_node(struct uvs_elf_symbol *fn)
{
	struct uvs_elf *elf;

	if (access(NODE_PATH, R_OK) != 0)
		cr_skip_test(NODE_PATH " is not here: no real-world check");
	elf = uvs_elf_open(NODE_PATH);
	cr_assert(elf);
	if (uvs_elf_find_function(elf, "uv__io_poll", fn) != 0 || fn->from_dynsym) {
		uvs_elf_close(elf);
		cr_skip_test(NODE_PATH " has no uv__io_poll in .symtab (not an official build)");
	}
	return elf;
}

Test(epoll_sites, official_node_matches_objdump)
{
	struct uvs_epoll_site sites[UVS_EPOLL_SITES_MAX];
	struct uvs_elf_symbol fn;
	uint64_t ref[UVS_EPOLL_SITES_MAX];
	struct uvs_elf *elf;
	char why[256] = "";
	size_t nref, i;
	int n;

	elf = open_official_node(&fn);
	n = uvs_epoll_sites_find(elf, NODE_PATH, sites, UVS_EPOLL_SITES_MAX, why, sizeof(why));
	cr_assert_gt(n, 0, "no sites: %s", why);
	nref = objdump_sites(&fn, ref, UVS_EPOLL_SITES_MAX);
	cr_assert_eq((size_t)n, nref, "uvscope %d sites, objdump %zu", n, nref);
	for (i = 0; i < nref; i++) {
		uint8_t op;

		cr_expect_eq(sites[i].call_addr, ref[i], "site %zu: 0x%" PRIx64 " vs 0x%" PRIx64, i,
			     sites[i].call_addr, ref[i]);
		/* The entry is the `call rel32` itself; the hook lies past it, in the function. */
		cr_assert_eq(uvs_elf_read(elf, sites[i].call_offset, &op, 1), 0);
		cr_expect_eq(op, 0xe8);
		cr_expect_gt(sites[i].hook_addr, sites[i].call_addr + 4);
		cr_expect_lt(sites[i].hook_addr, fn.addr + fn.size);
		cr_expect(sites[i].nr == 232 || sites[i].nr == 281 || sites[i].nr == 441);
	}
	uvs_elf_close(elf);
}

/* A non-libuv ELF: no uv__io_poll, said so. */
Test(epoll_sites, no_uv_io_poll)
{
	struct uvs_epoll_site sites[UVS_EPOLL_SITES_MAX];
	struct uvs_elf *elf = uvs_elf_open("/bin/true");
	char why[256] = "";

	cr_assert(elf);
	cr_expect_eq(uvs_epoll_sites_find(elf, "/bin/true", sites, UVS_EPOLL_SITES_MAX, why,
					  sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "uv__io_poll") != NULL, "%s", why);
	uvs_elf_close(elf);
}

/* The cookie keeps the return value's place when the place of `lfields` is added. */
Test(epoll_sites, lfields_cookie_round_trip)
{
	unsigned long long ret = UVS_EPOLL_RET_COOKIE(UVS_EPOLL_RET_RBP_SLOT, 0, -15632);
	unsigned long long c;

	c = UVS_EPOLL_COOKIE_WITH_LFIELDS(ret, UVS_EPOLL_REG_R14);
	cr_expect_eq(UVS_EPOLL_COOKIE_LFIELDS(c), UVS_EPOLL_REG_R14 + 1);
	cr_expect_eq(c & 0xffff, ret & 0xffff);
	cr_expect_eq(c >> 32, ret >> 32);
	c = UVS_EPOLL_COOKIE_WITH_LFIELDS_SLOT(UVS_EPOLL_RET_COOKIE(UVS_EPOLL_RET_REG,
								  UVS_EPOLL_REG_RBX, 0), -144);
	cr_expect_eq(UVS_EPOLL_COOKIE_LFIELDS(c), UVS_EPOLL_LFIELDS_RBP_SLOT);
	cr_expect_eq(UVS_EPOLL_COOKIE_LFIELDS_SLOT(c), -144);
	cr_expect_eq((c >> 8) & 0xff, UVS_EPOLL_REG_RBX);
	c = UVS_EPOLL_COOKIE_WITH_LFIELDS_SLOT(c, 1016);
	cr_expect_eq(UVS_EPOLL_COOKIE_LFIELDS_SLOT(c), 1016);
}

/*
 * Where uv__io_poll keeps `lfields` at each return hook, against gdb's reading of the same
 * DWARF (`info scope`): "a variable in $r14", or a DW_OP_breg6 slot.
 */
static bool gdb_says(uint64_t hook, char *where, size_t cap)
{
	char cmd[512], line[512];
	bool in_lfields = false, found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "gdb -batch -ex 'info scope *0x%" PRIx64 "' " NODE_PATH
		 " 2>/dev/null", hook);
	p = popen(cmd, "r");
	cr_assert(p, "popen: %s", strerror(errno));
	while (fgets(line, sizeof(line), p)) {
		unsigned long long lo, hi;
		char *reg;

		if (strncmp(line, "Symbol ", 7) == 0)
			in_lfields = strncmp(line, "Symbol lfields ", 15) == 0;
		if (!in_lfields || found)
			continue;
		if (sscanf(line, " Range 0x%llx-0x%llx:", &lo, &hi) != 2 || hook < lo || hook >= hi)
			continue;
		if ((reg = strstr(line, "a variable in $")) != NULL) {
			snprintf(where, cap, "%s", reg + 15);
			where[strcspn(where, "\n")] = 0;
			found = true;
		} else if (fgets(line, sizeof(line), p) && (reg = strstr(line, "DW_OP_breg6 "))) {
			snprintf(where, cap, "rbp%+d", atoi(reg + 12));
			found = true;
		}
	}
	pclose(p);
	return found;
}

Test(epoll_sites, official_node_lfields_matches_gdb)
{
	static const char *const regs[] = { "rax", "rbx", "r12", "r13", "r14", "r15" };
	struct uvs_epoll_site sites[UVS_EPOLL_SITES_MAX];
	struct uvs_elf_symbol fn;
	struct uvs_elf *elf;
	char why[256] = "", want[64], got[64];
	int n, i;

	if (system("gdb --version >/dev/null 2>&1") != 0)
		cr_skip_test("gdb is not here: no reference");
	elf = open_official_node(&fn);
	n = uvs_epoll_sites_find(elf, NODE_PATH, sites, UVS_EPOLL_SITES_MAX, why, sizeof(why));
	cr_assert_gt(n, 0, "no sites: %s", why);
	uvs_epoll_sites_find_lfields(NODE_PATH, fn.addr, sites, n);
	for (i = 0; i < n; i++) {
		int where = UVS_EPOLL_COOKIE_LFIELDS(sites[i].ret_cookie);

		if (!gdb_says(sites[i].hook_addr, want, sizeof(want))) {
			cr_expect_eq(where, 0, "gdb knows no place for lfields, uvscope has one");
			continue;
		}
		if (where == UVS_EPOLL_LFIELDS_RBP_SLOT)
			snprintf(got, sizeof(got), "rbp%+ld",
				 UVS_EPOLL_COOKIE_LFIELDS_SLOT(sites[i].ret_cookie));
		else if (where >= 1 && where <= 6)
			snprintf(got, sizeof(got), "%s", regs[where - 1]);
		else
			snprintf(got, sizeof(got), "none");
		cr_expect_str_eq(got, want, "site at 0x%" PRIx64, sites[i].hook_addr);
	}
	uvs_elf_close(elf);
}
