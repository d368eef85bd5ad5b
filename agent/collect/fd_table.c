// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "collect/fd_table.h"
#include "collect/fds.h"

/* Bounds what one target can make us allocate: far above any real process (fs.nr_open). */
#define MAX_SOCKETS (1u << 21)

enum uvs_sock_proto uvs_sock_proto_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum uvs_sock_proto proto;
	} names[] = {
		{ "TCP", UVS_PROTO_TCP },   { "TCPv6", UVS_PROTO_TCP6 },
		{ "UDP", UVS_PROTO_UDP },   { "UDPv6", UVS_PROTO_UDP6 },
	};
	size_t i;

	if (!name || !*name)
		return UVS_PROTO_UNKNOWN;
	/* "UNIX", "UNIX-STREAM" (kernels since 5.15 name the stream protocol apart). */
	if (strncmp(name, "UNIX", 4) == 0)
		return UVS_PROTO_UNIX;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return names[i].proto;
	return UVS_PROTO_OTHER;
}

static int by_inode(const void *a, const void *b)
{
	const struct uvs_fd_socket *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

const struct uvs_fd_socket *uvs_fd_table_socket(const struct uvs_fd_table *t, uint32_t inode)
{
	struct uvs_fd_socket key = { .inode = inode };

	return t->nsockets ? bsearch(&key, t->sockets, t->nsockets, sizeof(key), by_inode) : NULL;
}

static const struct uvs_fd_socket *old_socket(const struct uvs_fd_table *t, uint32_t inode)
{
	struct uvs_fd_socket key = { .inode = inode };

	return t->nold ? bsearch(&key, t->old, t->nold, sizeof(key), by_inode) : NULL;
}

/* The protocol of socket fd `name`: known from the last read, else asked of sockfs. */
static uint8_t socket_proto(struct uvs_fd_table *t, const char *dir, const char *name,
			    uint32_t inode)
{
	const struct uvs_fd_socket *old = old_socket(t, inode);
	char path[96], value[32];
	ssize_t n;

	if (old && old->proto != UVS_PROTO_UNKNOWN)
		return old->proto;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	t->proto_reads++;
	n = getxattr(path, "system.sockprotoname", value, sizeof(value) - 1);
	if (n <= 0)
		return UVS_PROTO_UNKNOWN;
	value[n] = '\0'; /* the kernel's value carries its own NUL, or not: either way */
	return (uint8_t)uvs_sock_proto_from_name(value);
}

static int add_socket(struct uvs_fd_table *t, uint32_t inode, uint8_t proto)
{
	struct uvs_fd_socket *grown;

	if (t->nsockets == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;

		if (cap > MAX_SOCKETS || !(grown = realloc(t->sockets, cap * sizeof(*grown))))
			return -ENOMEM;
		t->sockets = grown;
		t->cap = cap;
	}
	t->sockets[t->nsockets].inode = inode;
	t->sockets[t->nsockets++].proto = proto;
	return 0;
}

/* One fd: its type, and for a socket its inode and protocol. */
static int add_fd(struct uvs_fd_table *t, const char *dir, int dfd, const char *name)
{
	char link[256], end;
	unsigned long ino;
	struct stat st = { 0 };
	ssize_t n;
	enum uvs_fd_type type;

	/* The fd may close between readdir and here: then it is simply not counted. */
	n = readlinkat(dfd, name, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	/* Only a path needs its mode: sockets, pipes and anon inodes say what they are. */
	if (link[0] == '/' && fstatat(dfd, name, &st, 0))
		st.st_mode = 0;
	type = uvs_fd_classify(link, st.st_mode);
	t->by_type[type]++;
	t->open++;
	if (type == UVS_FD_ANON && strcmp(link, "anon_inode:[io_uring]") == 0)
		t->io_uring = true;
	if (type != UVS_FD_SOCKET || sscanf(link, "socket:[%lu%c", &ino, &end) != 2 || end != ']' ||
	    ino > UINT32_MAX)
		return 0;
	return add_socket(t, (uint32_t)ino, socket_proto(t, dir, name, (uint32_t)ino));
}

/* Sorts the sockets by inode and keeps one entry per inode (dup'd fds share a socket). */
static void sort_sockets(struct uvs_fd_table *t)
{
	size_t i, n = 0;

	if (!t->nsockets)
		return; /* qsort is not given a null array, even for nothing to sort */
	qsort(t->sockets, t->nsockets, sizeof(*t->sockets), by_inode);
	for (i = 0; i < t->nsockets; i++)
		if (!n || t->sockets[n - 1].inode != t->sockets[i].inode)
			t->sockets[n++] = t->sockets[i];
	t->nsockets = n;
}

int uvs_fd_table_read(pid_t pid, struct uvs_fd_table *t)
{
	struct uvs_fd_socket *swap;
	char dir[64];
	struct dirent *de;
	size_t cap;
	int err = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	t->available = false;
	d = opendir(dir);
	if (!d)
		return -errno;
	/* The last read's sockets become the cache of known protocols. */
	swap = t->old, t->old = t->sockets, t->sockets = swap;
	cap = t->oldcap, t->oldcap = t->cap, t->cap = cap;
	t->nold = t->nsockets;
	t->nsockets = 0;
	t->open = 0;
	memset(t->by_type, 0, sizeof(t->by_type));
	t->io_uring = false;
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		err = add_fd(t, dir, dirfd(d), de->d_name);
		if (t->keep_up && t->open % UVS_FD_TABLE_KEEP_UP == 0)
			t->keep_up(t->keep_up_ctx);
	}
	closedir(d);
	if (err)
		return err;
	sort_sockets(t);
	t->available = true;
	return 0;
}

void uvs_fd_table_free(struct uvs_fd_table *t)
{
	void (*keep_up)(void *) = t->keep_up;
	void *ctx = t->keep_up_ctx;

	free(t->sockets);
	free(t->old);
	memset(t, 0, sizeof(*t));
	t->keep_up = keep_up;
	t->keep_up_ctx = ctx;
}
