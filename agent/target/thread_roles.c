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

struct stack_map_search {
	uint64_t sp;
	uint64_t end;
};

static int find_stack_end(const struct uvs_map *m, void *arg)
{
	struct stack_map_search *s = arg;

	if (s->sp >= m->start && s->sp < m->end) {
		s->end = m->end;
		return 1;
	}
	return 0;
}

int uvs_classify_thread(const struct uvs_target *t, pid_t tid, enum uvs_role *role)
{
	struct stack_map_search search = { 0 };
	char path[96], text[512];
	uint64_t sp, pc, len;
	uint64_t *words;
	long nr;
	int err;

	if (tid == t->pid) {
		*role = UVS_ROLE_MAIN;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)t->pid, (int)tid);
	err = (int)uvs_read_file(path, text, sizeof(text));
	if (err < 0)
		return err;
	err = uvs_parse_syscall_file(text, &nr, &sp, &pc);
	if (err)
		return err;
	search.sp = sp;
	if (uvs_maps_foreach(t->pid, find_stack_end, &search) != 1)
		return -EFAULT;
	len = search.end - sp;
	if (len > UVS_STACK_SCAN_BYTES)
		len = UVS_STACK_SCAN_BYTES;
	len &= ~7ULL;
	if (len == 0)
		return -EFAULT;
	words = malloc(len);
	if (!words)
		return -ENOMEM;
	err = uvs_read_mem(t->pid, sp & ~7ULL, words, len);
	if (!err)
		*role = uvs_role_from_stack(t, tid, words, len / 8);
	free(words);
	return err;
}
