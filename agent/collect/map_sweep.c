// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/map_sweep.h"

#define KEY_MAX 128

static bool holds(const unsigned char *key, size_t tgid_off, __u32 tgid)
{
	__u32 v;

	memcpy(&v, key + tgid_off, sizeof(v));
	return v == tgid;
}

int uvs_map_drop_process(const struct bpf_map *m, size_t tgid_off, __u32 tgid)
{
	unsigned char key[KEY_MAX], next[KEY_MAX];
	size_t size = bpf_map__key_size(m);
	/*
	 * A key the programs evict (LRU) between two steps sends the walk back to the first key:
	 * the bound keeps such a walk finite; what it leaves is evicted in its turn.
	 */
	size_t steps = 2 * (size_t)bpf_map__max_entries(m) + 1;
	int fd = bpf_map__fd(m), dropped = 0;
	bool more;

	if (fd < 0)
		return -EBADF;
	if (size > KEY_MAX || tgid_off + sizeof(__u32) > size)
		return -EINVAL;
	more = bpf_map_get_next_key(fd, NULL, key) == 0;
	while (more && steps--) {
		/* The next key before the delete: a deleted key would restart the walk. */
		more = bpf_map_get_next_key(fd, key, next) == 0;
		if (holds(key, tgid_off, tgid) && bpf_map_delete_elem(fd, key) == 0)
			dropped++;
		memcpy(key, next, size);
	}
	return dropped;
}
