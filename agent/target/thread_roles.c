// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "target/procfs.h"
#include "target/process.h"
#include "target/thread_roles.h"

static bool in_range(const struct uvs_range *r, uint64_t v)
{
	return r->start < r->end && v >= r->start && v < r->end;
}

enum uvs_role uvs_role_from_stack(const struct uvs_target *t, pid_t tid, const uint64_t *words,
				  size_t nwords)
{
	bool pool = false, loop = false;
	size_t i;

	if (tid == t->pid)
		return UVS_ROLE_MAIN;
	for (i = 0; i < nwords; i++) {
		if (in_range(&t->fn_worker_run, words[i]))
			return UVS_ROLE_WORKER;
		if (in_range(&t->fn_pool_worker, words[i]))
			pool = true;
		if (in_range(&t->fn_uv_run, words[i]))
			loop = true;
	}
	if (pool)
		return UVS_ROLE_THREADPOOL;
	return loop ? UVS_ROLE_LOOP : UVS_ROLE_OTHER;
}

bool uvs_role_by_loop_metrics(const struct uvs_target *t, pid_t tid, enum uvs_role role,
			      bool known, bool metrics_on)
{
	return metrics_on && t->node_version[0] && tid != t->pid &&
	       (!known || role == UVS_ROLE_OTHER);
}

/* The end of the readable mapping that holds addr, from a sorted list; 0 when none does. */
static uint64_t mapping_end(const struct uvs_ranges *maps, uint64_t addr)
{
	size_t lo = 0, hi = maps->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < maps->r[mid].start)
			hi = mid;
		else if (addr >= maps->r[mid].end)
			lo = mid + 1;
		else
			return maps->r[mid].end;
	}
	return 0;
}

int uvs_thread_stopped_sp(pid_t pid, pid_t tid, uint64_t *sp)
{
	char path[96], text[512];
	uint64_t pc;
	long nr;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	err = (int)uvs_read_file(path, text, sizeof(text));
	if (err < 0)
		return err;
	return uvs_parse_syscall_file(text, &nr, sp, &pc);
}

int uvs_classify_thread(const struct uvs_target *t, const struct uvs_ranges *maps, pid_t tid,
			uint64_t sp, enum uvs_role *role)
{
	uint64_t pos = sp & ~7ULL, end, limit, len;
	bool pool = false, loop = false, worker = false;
	uint64_t *words;
	int err = 0;

	if (tid == t->pid) {
		*role = UVS_ROLE_MAIN;
		return 0;
	}
	/* Only the thread's own stack mapping: past its end lies unrelated memory. */
	end = mapping_end(maps, sp);
	if (!end || end <= pos)
		return -EFAULT;
	limit = end - pos > UVS_STACK_SCAN_MAX_BYTES ? pos + UVS_STACK_SCAN_MAX_BYTES : end;
	words = malloc(UVS_STACK_SCAN_BYTES);
	if (!words)
		return -ENOMEM;
	/*
	 * A chunk at a time from the stack pointer up. A pool thread or another loop shows itself
	 * within the first (its stack is shallow); only a thread with none of the three so far is
	 * read deeper, up to its stack's top: a Worker deep in recursion has Worker::Run far up.
	 */
	while (pos < limit && !pool && !loop && !worker) {
		enum uvs_role r;

		len = (limit - pos < UVS_STACK_SCAN_BYTES ? limit - pos : UVS_STACK_SCAN_BYTES) & ~7ULL;
		if (len == 0)
			break;
		err = uvs_read_mem(t->pid, pos, words, len);
		if (err)
			break;
		r = uvs_role_from_stack(t, tid, words, len / 8);
		worker = r == UVS_ROLE_WORKER;
		pool = r == UVS_ROLE_THREADPOOL;
		loop = r == UVS_ROLE_LOOP;
		pos += len;
	}
	free(words);
	/* A read that failed past the first chunk still tells what the chunks before it showed. */
	if (err && pos == (sp & ~7ULL))
		return err;
	*role = worker ? UVS_ROLE_WORKER : pool ? UVS_ROLE_THREADPOOL :
		loop ? UVS_ROLE_LOOP : UVS_ROLE_OTHER;
	return 0;
}

static int add_readable(const struct uvs_map *m, void *arg)
{
	struct uvs_ranges *maps = arg;
	struct uvs_range *grown;

	if (!m->read)
		return 0;
	if (maps->n == maps->cap) {
		size_t cap = maps->cap ? maps->cap * 2 : 256;

		/* A bound on what one target can make us hold: far above any real process. */
		if (cap > (1u << 20) || !(grown = realloc(maps->r, cap * sizeof(*grown))))
			return -ENOMEM;
		maps->r = grown;
		maps->cap = cap;
	}
	maps->r[maps->n].start = m->start;
	maps->r[maps->n++].end = m->end;
	return 0;
}

int uvs_ranges_read_maps(pid_t pid, struct uvs_ranges *maps)
{
	maps->n = 0;
	/* /proc/PID/maps is sorted by address: the list is too. */
	return uvs_maps_foreach(pid, add_readable, maps);
}

void uvs_ranges_free(struct uvs_ranges *maps)
{
	free(maps->r);
	maps->r = NULL;
	maps->n = maps->cap = 0;
}
