// SPDX-License-Identifier: MIT
#include "collect/stack_beyond.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "target/memory.h"
#include "target/procfs.h"

bool uvs_stack_beyond_same_place(const char *syscall_text, uint64_t sp, uint64_t pc)
{
	uint64_t at_sp, at_pc;
	long nr;

	/* nr -1: blocked, but not in a system call (a page fault): not a place that holds. */
	return uvs_parse_syscall_file(syscall_text, &nr, &at_sp, &at_pc) == 0 && nr >= 0 &&
	       at_sp == sp && at_pc == pc;
}

/*
 * Tries for a thread seen running: one just let go by a ptrace grab runs for a moment (its
 * system call restarted) before it sleeps again where it was.
 */
#define RUNNING_RETRIES 8

static bool at_sampled_place(const struct uvs_stack_beyond_reader *b)
{
	char path[64], text[256];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", b->pid, b->tid);
	for (int i = 0; i < RUNNING_RETRIES; i++) {
		if (uvs_read_file(path, text, sizeof(text)) <= 0)
			return false;
		if (strncmp(text, "running", 7))
			return uvs_stack_beyond_same_place(text, b->sp, b->ip);
		sched_yield();
	}
	return false;
}

/* The page at page_addr, read once per sample; NULL when it cannot be read. */
static const uint8_t *page_at(struct uvs_stack_beyond_reader *b, uint64_t page_addr)
{
	size_t i;

	for (i = 0; i < b->npages; i++)
		if (b->page_addr[i] == page_addr)
			return b->page[i];
	if (b->npages == UVS_STACK_BEYOND_PAGES)
		return NULL;
	if (uvs_mem_read(b->pid, page_addr, b->page[b->npages], UVS_STACK_BEYOND_PAGE) !=
	    (ssize_t)UVS_STACK_BEYOND_PAGE)
		return NULL;
	b->page_addr[b->npages] = page_addr;
	return b->page[b->npages++];
}

static bool read_word(void *ctx, uint64_t addr, uint64_t *out)
{
	struct uvs_stack_beyond_reader *b = ctx;
	uint64_t page_addr = addr & ~(uint64_t)(UVS_STACK_BEYOND_PAGE - 1);
	size_t off = addr - page_addr;
	const uint8_t *p;

	if (addr < b->from || addr > UINT64_MAX - 8 || (addr & 7))
		return false;
	if (!b->checked) {
		b->checked = true;
		b->held = at_sampled_place(b);
	}
	if (!b->held)
		return false;
	/* 8-aligned: a word never straddles two pages. */
	p = page_at(b, page_addr);
	if (!p)
		return false;
	memcpy(out, p + off, sizeof(*out));
	return true;
}

bool uvs_stack_beyond_init(struct uvs_stack_beyond_reader *b, int pid,
			   const struct uvs_stack_sample *raw, uint64_t copy_end)
{
	if (raw->kind != UVS_SAMPLE_OFF_CPU || pid <= 0 || raw->tid == 0)
		return false;
	b->pid = pid;
	b->tid = (int)raw->tid;
	b->sp = raw->sp;
	b->ip = raw->ip;
	b->from = copy_end;
	b->checked = false;
	b->held = false;
	b->npages = 0;
	b->source = (struct uvs_stack_beyond){ .read = read_word, .ctx = b };
	return true;
}

bool uvs_stack_beyond_used(const struct uvs_stack_beyond_reader *b)
{
	return b->checked;
}

bool uvs_stack_beyond_held(const struct uvs_stack_beyond_reader *b)
{
	return b->checked && b->held && at_sampled_place(b);
}
