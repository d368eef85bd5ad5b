// SPDX-License-Identifier: MIT
#include <string.h>

#include "collect/fd_tracker.h"

void uvs_fd_tracker_estimate(const struct uvs_fd_tracker *t, const struct uvs_sys_counters *now,
			     uint64_t out[UVS_FD_TYPES])
{
	int i;

	for (i = 0; i < UVS_FD_TYPES; i++) {
		/* Counters only grow; differences are taken first so wrap-around cannot bite. */
		int64_t opened = (int64_t)(now->fd_opened[i] - t->mark.fd_opened[i]);
		int64_t closed = (int64_t)(now->fd_closed[i] - t->mark.fd_closed[i]);
		int64_t v = (int64_t)t->base[i] + opened - closed;

		/* A close of an fd opened before the scan but seen after it can dip below 0. */
		out[i] = v > 0 ? (uint64_t)v : 0;
	}
}

bool uvs_fd_tracker_needs_scan(const struct uvs_fd_tracker *t, const struct uvs_sys_counters *now,
			       uint64_t now_mono)
{
	if (!t->have_base || now->fd_untracked != t->mark.fd_untracked)
		return true;
	return t->rescan_ns && now_mono - t->scanned_mono >= t->rescan_ns;
}

int64_t uvs_fd_tracker_rebase(struct uvs_fd_tracker *t, const struct uvs_sys_counters *before,
			      const struct uvs_fd_snapshot *scan, uint64_t now_mono)
{
	uint64_t est[UVS_FD_TYPES];
	int64_t drift = 0;
	int i;

	if (t->have_base && before->fd_untracked == t->mark.fd_untracked) {
		uvs_fd_tracker_estimate(t, before, est);
		for (i = 0; i < UVS_FD_TYPES; i++)
			drift += (int64_t)est[i] - (int64_t)scan->by_type[i];
	}
	memcpy(t->base, scan->by_type, sizeof(t->base));
	t->limit = scan->limit;
	t->mark = *before;
	t->scanned_mono = now_mono;
	t->have_base = true;
	return drift;
}
