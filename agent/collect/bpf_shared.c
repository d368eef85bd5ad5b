// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "collect/bpf_shared.h"
#include "collect/sock_census.h"

struct slot {
	pid_t tgid; /* 0: free */
	void *inst[UVS_OBJ_COUNT];
};

struct uvs_bpf_shared {
	void *obj[UVS_OBJ_COUNT];
	void (*destroy[UVS_OBJ_COUNT])(void *skel);
	int targets_fd, index_fd, loop_state_fd;
	struct slot slots[UVS_MAX_TARGETS];
	uint32_t rings_added[UVS_OBJ_COUNT]; /* bit n: ring n of the object is in the reader */
	/* The epoll syscall hooks, while some target holds them (bpf_shared.h). */
	const char *syscall_hooks;
	struct bpf_link *hook_links[6];
	size_t nhook_links;
	unsigned int hook_holders;
	struct bpf_link *links[32];
	size_t nlinks;
	struct ring_buffer *rb;
	struct uvs_sock_census *census;
};

struct uvs_bpf_shared *uvs_bpf_shared_new(void)
{
	struct uvs_bpf_shared *sh = calloc(1, sizeof(*sh));

	if (!sh)
		return NULL;
	sh->targets_fd = sh->index_fd = sh->loop_state_fd = -1;
	sh->census = uvs_sock_census_new(NULL);
	return sh;
}

static void detach_syscall_hooks(struct uvs_bpf_shared *sh)
{
	while (sh->nhook_links)
		bpf_link__destroy(sh->hook_links[--sh->nhook_links]);
	sh->hook_holders = 0;
	sh->syscall_hooks = NULL;
}

void uvs_bpf_shared_free(struct uvs_bpf_shared *sh)
{
	int i;

	if (!sh)
		return;
	/* The reader first (it reads maps of the objects), then the objects, the loop's last. */
	ring_buffer__free(sh->rb);
	detach_syscall_hooks(sh);
	while (sh->nlinks)
		bpf_link__destroy(sh->links[--sh->nlinks]);
	for (i = UVS_OBJ_COUNT - 1; i >= 0; i--)
		if (sh->obj[i] && sh->destroy[i])
			sh->destroy[i](sh->obj[i]);
	uvs_sock_census_free(sh->census);
	free(sh);
}

void *uvs_bpf_shared_object(const struct uvs_bpf_shared *sh, enum uvs_bpf_obj which)
{
	return sh->obj[which];
}

void uvs_bpf_shared_set_object(struct uvs_bpf_shared *sh, enum uvs_bpf_obj which, void *skel,
			       void (*destroy)(void *skel))
{
	sh->obj[which] = skel;
	sh->destroy[which] = destroy;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int uvs_bpf_shared_set_maps(struct uvs_bpf_shared *sh, struct bpf_object *loop_obj)
{
	sh->targets_fd = map_fd(loop_obj, "targets");
	sh->index_fd = map_fd(loop_obj, "target_index");
	sh->loop_state_fd = map_fd(loop_obj, "loop_state");
	if (sh->targets_fd < 0 || sh->index_fd < 0 || sh->loop_state_fd < 0)
		return -ENOENT;
	return 0;
}

int uvs_bpf_shared_reuse(const struct uvs_bpf_shared *sh, struct bpf_object *obj)
{
	static const char *const names[] = { "targets", "target_index", "loop_state" };
	const int fds[] = { sh->targets_fd, sh->index_fd, sh->loop_state_fd };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, names[i]);

		if (!m)
			continue;
		if (fds[i] < 0)
			return -EBADF;
		if (bpf_map__reuse_fd(m, fds[i]))
			return -errno;
	}
	return 0;
}

int uvs_bpf_shared_loop_state_fd(const struct uvs_bpf_shared *sh)
{
	return sh->loop_state_fd;
}

int uvs_bpf_shared_slot_of(const struct uvs_bpf_shared *sh, pid_t tgid)
{
	int i;

	if (tgid <= 0)
		return -1;
	for (i = 0; i < UVS_MAX_TARGETS; i++)
		if (sh->slots[i].tgid == tgid)
			return i;
	return -1;
}

int uvs_bpf_shared_claim(struct uvs_bpf_shared *sh, pid_t tgid)
{
	int i;

	if (tgid <= 0)
		return -EINVAL;
	if (uvs_bpf_shared_slot_of(sh, tgid) >= 0)
		return -EEXIST;
	for (i = 0; i < UVS_MAX_TARGETS; i++)
		if (!sh->slots[i].tgid) {
			memset(&sh->slots[i], 0, sizeof(sh->slots[i]));
			sh->slots[i].tgid = tgid;
			return i;
		}
	return -ENOSPC;
}

void uvs_bpf_shared_release(struct uvs_bpf_shared *sh, int slot)
{
	if (slot >= 0 && slot < UVS_MAX_TARGETS)
		memset(&sh->slots[slot], 0, sizeof(sh->slots[slot]));
}

void uvs_bpf_shared_set_inst(struct uvs_bpf_shared *sh, int slot, enum uvs_bpf_obj which,
			     void *inst)
{
	if (slot >= 0 && slot < UVS_MAX_TARGETS)
		sh->slots[slot].inst[which] = inst;
}

void *uvs_bpf_shared_inst_of(const struct uvs_bpf_shared *sh, pid_t tgid, enum uvs_bpf_obj which)
{
	int slot = uvs_bpf_shared_slot_of(sh, tgid);

	return slot < 0 ? NULL : sh->slots[slot].inst[which];
}

/*
 * Entry `key` of the index, recomputed from the published targets (include/uvscope/targets.h):
 * the first in slot order whose tgid falls on it, `more` when another does too. `skip`: a
 * process being unpublished. A reader may see an entry while it is written: the entry is
 * cleared (tgid 0) before another process's configuration goes in, and a configuration is
 * written before its tgid.
 */
static int write_index_entry(struct uvs_bpf_shared *sh, __u32 key, pid_t skip)
{
	struct uvs_target_entry e, old;
	struct uvs_target_cfg cfg;
	bool found = false;
	int i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < UVS_MAX_TARGETS; i++) {
		__u32 tgid = (__u32)sh->slots[i].tgid;

		if (!tgid || (pid_t)tgid == skip || tgid % UVS_TARGET_INDEX != key ||
		    bpf_map_lookup_elem(sh->targets_fd, &tgid, &cfg))
			continue;
		if (found) {
			e.more = 1;
			continue;
		}
		found = true;
		e.tgid = tgid;
		e.cfg = cfg;
	}
	if (bpf_map_lookup_elem(sh->index_fd, &key, &old))
		return -errno;
	if (old.tgid && old.tgid != e.tgid) {
		old.tgid = 0;
		old.more = e.more || old.more;
		if (bpf_map_update_elem(sh->index_fd, &key, &old, BPF_ANY))
			return -errno;
	}
	if (e.tgid && old.tgid != e.tgid) {
		__u32 tgid = e.tgid;

		e.tgid = 0;
		if (bpf_map_update_elem(sh->index_fd, &key, &e, BPF_ANY))
			return -errno;
		e.tgid = tgid;
	}
	return bpf_map_update_elem(sh->index_fd, &key, &e, BPF_ANY) ? -errno : 0;
}

int uvs_bpf_shared_publish(struct uvs_bpf_shared *sh, pid_t tgid, const struct uvs_target_cfg *cfg)
{
	__u32 key = (__u32)tgid;

	if (sh->targets_fd < 0)
		return -EBADF;
	/* The hash first: an index entry that says `more` sends the programs there. */
	if (bpf_map_update_elem(sh->targets_fd, &key, cfg, BPF_ANY))
		return -errno;
	return write_index_entry(sh, key % UVS_TARGET_INDEX, 0);
}

void uvs_bpf_shared_unpublish(struct uvs_bpf_shared *sh, pid_t tgid)
{
	__u32 key = (__u32)tgid;

	if (sh->targets_fd < 0)
		return;
	/* The index first: the programs stop at it before the hash changes. */
	write_index_entry(sh, key % UVS_TARGET_INDEX, tgid);
	bpf_map_delete_elem(sh->targets_fd, &key);
}

int uvs_bpf_shared_add_ring(struct uvs_bpf_shared *sh, enum uvs_bpf_obj which, unsigned int nth,
			    int map_fd, ring_buffer_sample_fn fn, void *ctx)
{
	if (nth >= 32)
		return -EINVAL;
	if (sh->rings_added[which] & (1U << nth))
		return 0;
	if (!sh->rb) {
		sh->rb = ring_buffer__new(map_fd, fn, ctx, NULL);
		if (!sh->rb)
			return -errno;
	} else if (ring_buffer__add(sh->rb, map_fd, fn, ctx)) {
		return -errno;
	}
	sh->rings_added[which] |= 1U << nth;
	return 0;
}

int uvs_bpf_shared_keep_link(struct uvs_bpf_shared *sh, struct bpf_link *link)
{
	if (sh->nlinks == sizeof(sh->links) / sizeof(sh->links[0])) {
		bpf_link__destroy(link);
		return -ENOSPC;
	}
	sh->links[sh->nlinks++] = link;
	return 0;
}

int uvs_bpf_shared_set_syscall_hooks(struct uvs_bpf_shared *sh, struct bpf_link **links, size_t n,
				     const char *kind)
{
	size_t i;

	if (sh->nhook_links || n > sizeof(sh->hook_links) / sizeof(sh->hook_links[0])) {
		for (i = 0; i < n; i++)
			bpf_link__destroy(links[i]);
		return sh->nhook_links ? -EEXIST : -ENOSPC;
	}
	for (i = 0; i < n; i++)
		sh->hook_links[i] = links[i];
	sh->nhook_links = n;
	sh->hook_holders = 1;
	sh->syscall_hooks = kind;
	return 0;
}

const char *uvs_bpf_shared_hold_syscall_hooks(struct uvs_bpf_shared *sh)
{
	if (!sh->hook_holders)
		return NULL;
	sh->hook_holders++;
	return sh->syscall_hooks;
}

void uvs_bpf_shared_let_go_syscall_hooks(struct uvs_bpf_shared *sh)
{
	if (sh->hook_holders && !--sh->hook_holders)
		detach_syscall_hooks(sh);
}

struct uvs_sock_census *uvs_bpf_shared_census(const struct uvs_bpf_shared *sh)
{
	return sh->census;
}

int uvs_bpf_shared_event_fd(const struct uvs_bpf_shared *sh)
{
	return sh->rb ? ring_buffer__epoll_fd(sh->rb) : -1;
}

void uvs_bpf_shared_poll(struct uvs_bpf_shared *sh)
{
	if (sh->rb)
		ring_buffer__consume(sh->rb);
}
