// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/fds.h"
#include "target/procfs.h"

enum uvs_fd_type uvs_fd_classify(const char *link, mode_t mode)
{
	/* anon inodes have no file type bits worth trusting: the link names them. */
	if (strncmp(link, "anon_inode:", 11) == 0)
		return UVS_FD_ANON;
	if (S_ISSOCK(mode) || strncmp(link, "socket:[", 8) == 0)
		return UVS_FD_SOCKET;
	if (S_ISFIFO(mode) || strncmp(link, "pipe:[", 6) == 0)
		return UVS_FD_PIPE;
	if (S_ISREG(mode) || S_ISDIR(mode) || S_ISCHR(mode) || S_ISBLK(mode) || S_ISLNK(mode))
		return UVS_FD_FILE;
	return UVS_FD_OTHER;
}

/* "unlimited" or a whole decimal number, nothing else (a limit of "abc" is not 0). */
static int limit_value(const char *word, uint64_t *out)
{
	char *end;

	if (strcmp(word, "unlimited") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (word[0] < '0' || word[0] > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(word, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

int uvs_parse_limits_nofile(const char *text, uint64_t *soft, uint64_t *hard)
{
	static const char row[] = "Max open files";
	const char *p = strstr(text, row);
	char s[32], h[32];

	if (!p || sscanf(p + sizeof(row) - 1, " %31s %31s", s, h) != 2)
		return -ENOENT;
	if (limit_value(s, soft) || limit_value(h, hard))
		return -EINVAL;
	return 0;
}

uint64_t uvs_fds_limit(pid_t pid)
{
	char path[64], text[4096];
	uint64_t soft, hard;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if (uvs_read_file(path, text, sizeof(text)) < 0 ||
	    uvs_parse_limits_nofile(text, &soft, &hard))
		return 0;
	return soft;
}

void uvs_fds_init(struct uvs_fds *f, uint64_t rescan_ns)
{
	memset(f, 0, sizeof(*f));
	f->tracker.rescan_ns = rescan_ns;
}

bool uvs_fds_need_table(const struct uvs_fds *f, const struct uvs_sys_counters *counters,
			uint64_t now_mono)
{
	return !counters || uvs_fd_tracker_needs_scan(&f->tracker, counters, now_mono);
}

static void from_table(const struct uvs_fd_table *table, struct uvs_fd_snapshot *scan)
{
	memset(scan, 0, sizeof(*scan));
	scan->open = table->open;
	memcpy(scan->by_type, table->by_type, sizeof(scan->by_type));
}

int64_t uvs_fds_rebase(struct uvs_fds *f, const struct uvs_sys_counters *counters,
		       const struct uvs_fd_table *table, uint64_t now_mono)
{
	struct uvs_fd_snapshot scan;

	from_table(table, &scan);
	return uvs_fd_tracker_rebase(&f->tracker, counters, &scan, now_mono);
}

void uvs_fds_window(struct uvs_fds *f, const struct uvs_sys_counters *counters,
		    const struct uvs_fd_table *table, uint64_t limit, uint64_t now_mono,
		    struct uvs_fd_snapshot *out)
{
	int t;

	memset(out, 0, sizeof(*out));
	if (table && table->available) {
		from_table(table, out);
		if (counters) {
			out->drift = uvs_fds_rebase(f, counters, table, now_mono);
			out->rescanned = true;
		}
	} else if (counters && f->tracker.have_base) {
		uvs_fd_tracker_estimate(&f->tracker, counters, out->by_type);
		for (t = 0; t < UVS_FD_TYPES; t++)
			out->open += out->by_type[t];
		out->from_syscalls = true;
	} else {
		return; /* neither a table nor a baseline: nothing to say */
	}
	out->available = true;
	out->limit = limit;
	out->growth = f->seen ? (int64_t)out->open - (int64_t)f->prev_open : 0;
	f->seen = true;
	f->prev_open = out->open;
}
