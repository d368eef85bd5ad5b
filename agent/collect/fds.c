// SPDX-License-Identifier: MIT
#include <dirent.h>
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

int uvs_parse_limits_nofile(const char *text, uint64_t *soft, uint64_t *hard)
{
	static const char row[] = "Max open files";
	const char *p = strstr(text, row);
	char s[32], h[32];

	if (!p || sscanf(p + sizeof(row) - 1, " %31s %31s", s, h) != 2)
		return -ENOENT;
	*soft = strcmp(s, "unlimited") == 0 ? UINT64_MAX : strtoull(s, NULL, 10);
	*hard = strcmp(h, "unlimited") == 0 ? UINT64_MAX : strtoull(h, NULL, 10);
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

int uvs_fds_scan(pid_t pid, struct uvs_fd_snapshot *out)
{
	char dir[64], link[256];
	struct dirent *de;
	int dfd;
	DIR *d;

	memset(out, 0, sizeof(*out));
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		struct stat st = { 0 };
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		/* The fd may close between readdir and here: then it is simply not counted. */
		n = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "anon_inode:", 11) != 0 && fstatat(dfd, de->d_name, &st, 0))
			st.st_mode = 0;
		out->by_type[uvs_fd_classify(link, st.st_mode)]++;
		out->open++;
	}
	closedir(d);
	out->limit = uvs_fds_limit(pid);
	out->available = true;
	return 0;
}
