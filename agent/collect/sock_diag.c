// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>

#include "collect/sock_diag.h"

int uvs_sock_diag_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	return fd < 0 ? -errno : fd;
}

int uvs_sock_diag_open_for(int pid)
{
	char path[64];
	int mine, theirs, fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	theirs = open(path, O_RDONLY | O_CLOEXEC);
	if (theirs < 0)
		return -errno;
	mine = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (mine < 0) {
		err = -errno;
		close(theirs);
		return err;
	}
	if (setns(theirs, CLONE_NEWNET)) {
		err = -errno;
		goto out;
	}
	fd = uvs_sock_diag_open();
	/* Back home whatever happened: the rest of the agent lives in its own namespace. */
	if (setns(mine, CLONE_NEWNET)) {
		if (fd >= 0)
			close(fd);
		err = -errno;
		goto out;
	}
	err = fd;
out:
	close(mine);
	close(theirs);
	return err;
}

bool uvs_diag_has_port(const uint16_t *ports, size_t n, uint16_t port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

bool uvs_diag_add_port(uint16_t *ports, size_t *n, uint16_t port)
{
	if (uvs_diag_has_port(ports, *n, port))
		return true;
	if (*n == UVS_DIAG_MAX_PORTS)
		return false;
	ports[(*n)++] = port;
	return true;
}

/*
 * The bytecode's tests (below): S_EQ compares the socket's local port, D_EQ its remote port,
 * the same numbers a dump's message carries in idiag_sport and idiag_dport.
 */
bool uvs_diag_filter_passes(const struct uvs_diag_filter *f, const struct uvs_sock *s)
{
	return !f || uvs_diag_has_port(f->local, f->nlocal, s->local_port) ||
	       uvs_diag_has_port(f->remote, f->nremote, s->remote_port);
}

/* One port equality: the op, then the port in the `no` field of a second op (as ss does). */
static size_t put_port(struct inet_diag_bc_op *op, uint8_t code, uint16_t port)
{
	/* yes: go on to what follows (a jump to accept); no: skip it, to the next test. */
	op[0] = (struct inet_diag_bc_op){ .code = code, .yes = 8, .no = 12 };
	op[1] = (struct inet_diag_bc_op){ .no = port };
	return 2;
}

int uvs_sock_diag_bytecode(const struct uvs_diag_filter *f, void *buf, size_t cap)
{
	size_t n = f->nlocal + f->nremote, i, at = 0;
	struct inet_diag_bc_op *op = buf;
	size_t len = n ? n * 12 - 4 : 0;

	/*
	 * An OR of n tests, each followed by a jump over the rest to the end (accept). The last
	 * test has no jump: its `no` lands 4 bytes past the end, which the kernel takes as reject.
	 * The kernel's audit walks the `yes` chain, so every op is on it.
	 */
	if (f->nlocal > UVS_DIAG_MAX_PORTS || f->nremote > UVS_DIAG_MAX_PORTS)
		return -ENOSPC;
	if (len > cap)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		bool local = i < f->nlocal;

		at += put_port(op + at, local ? INET_DIAG_BC_S_EQ : INET_DIAG_BC_D_EQ,
			       local ? f->local[i] : f->remote[i - f->nlocal]);
		if (i + 1 < n) {
			size_t rest = (n - i - 1) * 12 - 4; /* bytes after this jump */

			op[at++] = (struct inet_diag_bc_op){ .code = INET_DIAG_BC_JMP, .yes = 4,
							     .no = (unsigned short)(rest + 4) };
		}
	}
	return (int)len;
}

static int send_request(int nl, int family, int protocol, const struct uvs_diag_filter *filter,
			uint32_t seq)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr nlh;
		union {
			struct inet_diag_req_v2 inet;
			struct unix_diag_req un;
		};
		struct rtattr bc_attr;
		struct inet_diag_bc_op bc[3 * 2 * UVS_DIAG_MAX_PORTS];
	} req;
	size_t body;
	int bc = 0;

	memset(&req, 0, sizeof(req));
	if (family == AF_UNIX) {
		body = sizeof(req.un);
		req.un.sdiag_family = AF_UNIX;
		req.un.udiag_states = ~0u;
	} else {
		body = sizeof(req.inet);
		req.inet.sdiag_family = (uint8_t)family;
		req.inet.sdiag_protocol = (uint8_t)protocol;
		req.inet.idiag_states = ~0u;
		req.inet.idiag_ext = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_SKMEMINFO - 1));
		if (filter)
			bc = uvs_sock_diag_bytecode(filter, req.bc, sizeof(req.bc));
		if (bc < 0)
			return bc;
	}
	_Static_assert(offsetof(__typeof__(req), bc_attr) ==
			       NLMSG_LENGTH(sizeof(struct inet_diag_req_v2)),
		       "the bytecode attribute follows the request");
	req.nlh.nlmsg_len = NLMSG_LENGTH(body);
	if (bc > 0) {
		req.bc_attr.rta_type = INET_DIAG_REQ_BYTECODE;
		req.bc_attr.rta_len = RTA_LENGTH(bc);
		req.nlh.nlmsg_len += RTA_ALIGN(req.bc_attr.rta_len);
	}
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nlh.nlmsg_seq = seq;
	if (sendto(nl, &req, req.nlh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

/* Copies the fields we use out of a tcp_info of any kernel's length. */
static void take_tcp_info(struct uvs_sock *s, const void *data, size_t len)
{
	struct tcp_info ti;

	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, data, len < sizeof(ti) ? len : sizeof(ti));
	if (len < offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(ti.tcpi_total_retrans))
		return;
	s->has_info = true;
	s->rtt_us = ti.tcpi_rtt;
	s->retrans = ti.tcpi_total_retrans;
	s->last_recv_ms = ti.tcpi_last_data_recv;
	s->last_send_ms = ti.tcpi_last_data_sent;
}

static int parse_inet(const struct nlmsghdr *h, int protocol, uvs_sock_fn fn, void *ctx)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a;
	struct uvs_sock s;
	int alen;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	memset(&s, 0, sizeof(s));
	s.family = m->idiag_family;
	s.protocol = (uint8_t)protocol;
	s.state = m->idiag_state;
	memcpy(s.local, m->id.idiag_src, sizeof(s.local));
	memcpy(s.remote, m->id.idiag_dst, sizeof(s.remote));
	s.local_port = ntohs(m->id.idiag_sport);
	s.remote_port = ntohs(m->id.idiag_dport);
	s.rqueue = m->idiag_rqueue;
	s.wqueue = m->idiag_wqueue;
	s.inode = m->idiag_inode;
	s.cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
	a = (const struct rtattr *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));
	alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		size_t plen = RTA_PAYLOAD(a);

		if (a->rta_type == INET_DIAG_INFO && protocol == IPPROTO_TCP &&
		    s.state != UVS_TCP_LISTEN) {
			take_tcp_info(&s, RTA_DATA(a), plen);
		} else if (a->rta_type == INET_DIAG_SKMEMINFO &&
			   plen >= (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t)) {
			memcpy(&s.drops, (const uint32_t *)RTA_DATA(a) + SK_MEMINFO_DROPS,
			       sizeof(s.drops));
			s.has_drops = true;
		}
	}
	return fn(&s, ctx);
}

static int parse_unix(const struct nlmsghdr *h, uvs_sock_fn fn, void *ctx)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	struct uvs_sock s;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	memset(&s, 0, sizeof(s));
	s.family = AF_UNIX;
	s.state = m->udiag_state;
	s.inode = m->udiag_ino;
	return fn(&s, ctx);
}

/*
 * NLMSG_OK, without comparing the unsigned nlmsg_len with a left that NLMSG_NEXT may have made
 * negative (clang's -Wsign-compare sees that in the macro): left is compared only once it is
 * known to be at least a header.
 */
static bool msg_ok(const struct nlmsghdr *h, int left)
{
	return left >= (int)sizeof(*h) && h->nlmsg_len >= sizeof(*h) &&
	       h->nlmsg_len <= (unsigned int)left;
}

int uvs_sock_diag_parse(const void *buf, size_t len, int family, int protocol, uvs_sock_fn fn,
			void *ctx)
{
	const struct nlmsghdr *h = buf;
	int left = len > (size_t)INT32_MAX ? INT32_MAX : (int)len, ret;

	for (; msg_ok(h, left); h = NLMSG_NEXT(h, left)) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 0;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EPROTO;
			/* The kernel sends -errno (0 for an ACK); 1 would read as "more to come". */
			return e->error < 0 ? e->error : -EPROTO;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			continue;
		ret = family == AF_UNIX ? parse_unix(h, fn, ctx) : parse_inet(h, protocol, fn, ctx);
		if (ret)
			return ret;
	}
	/* A partial message left over means the reply was cut: say so rather than guess. */
	return left == 0 ? 1 : -EPROTO;
}

int uvs_sock_diag_dump(int nl, int family, int protocol, const struct uvs_diag_filter *filter,
		       uvs_sock_fn fn, void *ctx)
{
	static uint32_t seq;
	/* Aligned for struct nlmsghdr; 32 KiB holds many messages per read. */
	static __thread uint64_t buf[4096];
	int ret;

	ret = send_request(nl, family, protocol, filter, ++seq);
	if (ret)
		return ret;
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPROTO;
		ret = uvs_sock_diag_parse(buf, (size_t)n, family, protocol, fn, ctx);
		if (ret != 1)
			return ret;
	}
}

int uvs_sock_diag_dump_on(void *src, int family, int protocol,
			  const struct uvs_diag_filter *filter, uvs_sock_fn fn, void *ctx)
{
	return uvs_sock_diag_dump(*(const int *)src, family, protocol, filter, fn, ctx);
}
