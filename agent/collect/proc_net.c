// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collect/proc_net.h"
#include "collect/socket_table.h"

/* Hex digits to a value: exactly n of them (n <= 16), ending at a non-hex byte. */
static const char *hex(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (d < 0)
			return NULL;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return p + n;
}

/*
 * "0100007F:1F90": the address as the kernel prints it, each 32-bit word of the address in
 * network order printed as a host-order number (%08X), then the port in host order.
 */
static const char *endpoint(const char *p, int family, uint8_t addr[16], uint16_t *port)
{
	size_t words = family == AF_INET ? 1 : 4, i;
	uint64_t v;

	memset(addr, 0, 16);
	for (i = 0; i < words; i++) {
		uint32_t w;

		p = hex(p, 8, &v);
		if (!p)
			return NULL;
		w = (uint32_t)v;
		memcpy(addr + 4 * i, &w, 4);
	}
	if (*p++ != ':' || !(p = hex(p, 4, &v)))
		return NULL;
	*port = (uint16_t)v;
	return p;
}

static const char *spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* A decimal field, then the spaces after it. */
static const char *decimal(const char *p, uint64_t *out)
{
	char *end;

	if (*p < '0' || *p > '9')
		return NULL;
	errno = 0;
	*out = strtoull(p, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end != '\0'))
		return NULL;
	return spaces(end);
}

/* "12:": the slot number of the row. */
static const char *decimal_colon(const char *p)
{
	const char *start = p;

	while (*p >= '0' && *p <= '9')
		p++;
	return p > start && *p == ':' ? p + 1 : NULL;
}

/* A hex word of any length (a kernel pointer, %pK: zeros for us), then the spaces after it. */
static const char *hex_word(const char *p)
{
	const char *start = p;

	while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))
		p++;
	return p > start && *p == ' ' ? spaces(p) : NULL;
}

int uvs_proc_net_parse_line(const char *line, int family, int protocol, struct uvs_sock *out)
{
	const char *p = spaces(line);
	uint64_t st, tx, rx, skip, inode, drops;

	memset(out, 0, sizeof(*out));
	out->family = (uint8_t)family;
	out->protocol = (uint8_t)protocol;
	/* "sl:" */
	if (!(p = decimal_colon(p)))
		return -EINVAL;
	p = spaces(p);
	if (!(p = endpoint(p, family, out->local, &out->local_port)) || *p++ != ' ' ||
	    !(p = endpoint(p, family, out->remote, &out->remote_port)) || *p++ != ' ' ||
	    !(p = hex(p, 2, &st)) || *p++ != ' ' || !(p = hex(p, 8, &tx)) || *p++ != ':' ||
	    !(p = hex(p, 8, &rx)) || *p++ != ' ')
		return -EINVAL;
	/* tr:tm->when, retrnsmt: hex we do not need. */
	if (!(p = hex(p, 2, &skip)) || *p++ != ':' || !(p = hex(p, 8, &skip)) || *p++ != ' ' ||
	    !(p = hex(p, 8, &skip)))
		return -EINVAL;
	p = spaces(p);
	/* uid, timeout, inode */
	if (!(p = decimal(p, &skip)) || !(p = decimal(p, &skip)) || !(p = decimal(p, &inode)))
		return -EINVAL;
	if (st == 0 || st >= UVS_TCP_STATES || inode > UINT32_MAX)
		return -EINVAL;
	out->state = (uint8_t)st;
	out->rqueue = (uint32_t)rx;
	out->wqueue = (uint32_t)tx;
	out->inode = (uint32_t)inode;
	/* UDP lines end in "ref pointer drops". */
	if (protocol == IPPROTO_UDP) {
		uint64_t ref;

		if ((p = decimal(p, &ref)) && (p = hex_word(p)) && decimal(p, &drops)) {
			out->has_drops = true;
			out->drops = (uint32_t)drops;
		}
	}
	return 0;
}

/* The tables of /proc/PID/net, and which protocol of the fds each holds. */
static const struct {
	const char *name;
	int family, protocol;
	enum uvs_sock_proto proto;
} tables[] = {
	{ "tcp", AF_INET, IPPROTO_TCP, UVS_PROTO_TCP },
	{ "tcp6", AF_INET6, IPPROTO_TCP, UVS_PROTO_TCP6 },
	{ "udp", AF_INET, IPPROTO_UDP, UVS_PROTO_UDP },
	{ "udp6", AF_INET6, IPPROTO_UDP, UVS_PROTO_UDP6 },
};

/* Whether the fds have a socket the table may hold (its protocol, or one not known). */
static bool wanted(const struct uvs_fd_table *fds, enum uvs_sock_proto proto)
{
	for (size_t i = 0; i < fds->nsockets; i++)
		if (fds->sockets[i].proto == proto || fds->sockets[i].proto == UVS_PROTO_UNKNOWN)
			return true;
	return false;
}

/* One table: the rows whose inode is one of the target's sockets. */
static int read_table(pid_t pid, size_t k, const struct uvs_fd_table *fds,
		      struct uvs_socket_table *t, bool *seen)
{
	char path[64], line[512];
	struct uvs_sock s;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, tables[k].name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		const struct uvs_fd_socket *fs;

		if (uvs_proc_net_parse_line(line, tables[k].family, tables[k].protocol, &s))
			continue; /* the header, or a line cut at our buffer */
		fs = uvs_fd_table_socket(fds, s.inode);
		if (!fs || !s.inode)
			continue;
		seen[fs - fds->sockets] = true;
		/* The backlog is not in these tables: no limit rather than a false "full". */
		if (s.protocol == IPPROTO_TCP && s.state == UVS_TCP_LISTEN)
			s.wqueue = UINT32_MAX;
		err = uvs_socket_table_add(t, &s);
	}
	fclose(f);
	return err;
}

int uvs_proc_net_read(pid_t pid, const struct uvs_fd_table *fds, struct uvs_socket_table *t)
{
	bool *seen = calloc(fds->nsockets ? fds->nsockets : 1, sizeof(*seen));
	int err = 0, read = 0;
	size_t k, i;

	if (!seen)
		return -ENOMEM;
	t->n = 0;
	t->unix_count = t->other_count = 0;
	for (k = 0; k < sizeof(tables) / sizeof(tables[0]) && err != -ENOMEM; k++) {
		if (!wanted(fds, tables[k].proto))
			continue;
		err = read_table(pid, k, fds, t, seen);
		read += err == 0;
	}
	/* Unix sockets are counted from the fds, as the netlink table does; the rest are other. */
	for (i = 0; i < fds->nsockets; i++) {
		if (seen[i])
			continue;
		if (fds->sockets[i].proto == UVS_PROTO_UNIX)
			t->unix_count++;
		else
			t->other_count++;
	}
	free(seen);
	if (err == -ENOMEM)
		return err;
	return read || !err ? 0 : err;
}
