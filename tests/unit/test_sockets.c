// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include "collect/sock_diag.h"
#include "collect/socket_table.h"

/* A reply buffer built by hand, as the kernel would send it. */
static uint64_t buf[1024];
static size_t used;

static struct nlmsghdr *add_msg(uint16_t type, size_t payload)
{
	struct nlmsghdr *h = (struct nlmsghdr *)((char *)buf + used);

	memset(h, 0, NLMSG_SPACE(payload));
	h->nlmsg_len = NLMSG_LENGTH(payload);
	h->nlmsg_type = type;
	used += NLMSG_SPACE(payload);
	return h;
}

static struct inet_diag_msg *add_inet(uint8_t state, uint16_t sport, uint32_t rq, uint32_t wq,
				      uint32_t inode, bool with_info)
{
	size_t attr = with_info ? RTA_SPACE(sizeof(struct tcp_info)) : 0;
	struct nlmsghdr *h = add_msg(SOCK_DIAG_BY_FAMILY, NLMSG_ALIGN(sizeof(struct inet_diag_msg)) + attr);
	struct inet_diag_msg *m = NLMSG_DATA(h);

	m->idiag_family = AF_INET;
	m->idiag_state = state;
	m->id.idiag_sport = htons(sport);
	m->id.idiag_src[0] = htonl(0x7f000001);
	m->idiag_rqueue = rq;
	m->idiag_wqueue = wq;
	m->idiag_inode = inode;
	m->id.idiag_cookie[0] = 5;
	m->id.idiag_cookie[1] = 1;
	if (with_info) {
		struct rtattr *a = (struct rtattr *)((char *)m + NLMSG_ALIGN(sizeof(*m)));
		struct tcp_info ti = { .tcpi_rtt = 1234, .tcpi_total_retrans = 7,
				       .tcpi_last_data_recv = 50, .tcpi_last_data_sent = 20 };

		a->rta_type = INET_DIAG_INFO;
		a->rta_len = RTA_LENGTH(sizeof(ti));
		memcpy(RTA_DATA(a), &ti, sizeof(ti));
	}
	return m;
}

static struct uvs_sock got[8];
static size_t ngot;

static int collect(const struct uvs_sock *s, void *ctx)
{
	(void)ctx;
	if (ngot < 8)
		got[ngot++] = *s;
	return 0;
}

static void reset(void)
{
	used = 0;
	ngot = 0;
	memset(buf, 0, sizeof(buf));
}

Test(sock_diag, parses_a_dump)
{
	reset();
	add_inet(UVS_TCP_LISTEN, 3000, 3, 511, 100, true);
	add_inet(UVS_TCP_ESTABLISHED, 3000, 0, 10, 101, true);
	*(int *)NLMSG_DATA(add_msg(NLMSG_DONE, sizeof(int))) = 0;
	cr_assert_eq(uvs_sock_diag_parse(buf, used, AF_INET, IPPROTO_TCP, collect, NULL), 0);
	cr_assert_eq(ngot, 2);
	cr_expect_eq(got[0].state, UVS_TCP_LISTEN);
	cr_expect_eq(got[0].local_port, 3000);
	cr_expect_eq(got[0].rqueue, 3);
	cr_expect_eq(got[0].wqueue, 511);
	cr_expect(!got[0].has_info, "a listener's tcp_info means nothing");
	cr_expect_eq(got[1].inode, 101);
	cr_expect_eq(got[1].cookie, (1ULL << 32) | 5);
	cr_expect(got[1].has_info);
	cr_expect_eq(got[1].rtt_us, 1234);
	cr_expect_eq(got[1].retrans, 7);
	cr_expect_eq(got[1].last_send_ms, 20);
	cr_expect_eq(memcmp(got[1].local, "\x7f\0\0\x01", 4), 0);
}

Test(sock_diag, more_to_come_without_done)
{
	reset();
	add_inet(UVS_TCP_ESTABLISHED, 1, 0, 0, 1, false);
	cr_assert_eq(uvs_sock_diag_parse(buf, used, AF_INET, IPPROTO_TCP, collect, NULL), 1);
	cr_assert_eq(ngot, 1);
}

Test(sock_diag, malformed_and_errors)
{
	struct nlmsghdr *h;

	reset();
	add_inet(UVS_TCP_ESTABLISHED, 1, 0, 0, 1, true);
	cr_expect_eq(uvs_sock_diag_parse(buf, used - 8, AF_INET, IPPROTO_TCP, collect, NULL),
		     -EPROTO, "a cut message");
	reset();
	h = add_msg(SOCK_DIAG_BY_FAMILY, 4); /* shorter than an inet_diag_msg */
	(void)h;
	cr_expect_eq(uvs_sock_diag_parse(buf, used, AF_INET, IPPROTO_TCP, collect, NULL), -EPROTO);
	reset();
	((struct nlmsgerr *)NLMSG_DATA(add_msg(NLMSG_ERROR, sizeof(struct nlmsgerr))))->error =
		-EACCES;
	cr_expect_eq(uvs_sock_diag_parse(buf, used, AF_INET, IPPROTO_TCP, collect, NULL), -EACCES);
	cr_expect_eq(ngot, 0);
	reset();
	((struct nlmsgerr *)NLMSG_DATA(add_msg(NLMSG_ERROR, sizeof(struct nlmsgerr))))->error = 1;
	cr_expect_eq(uvs_sock_diag_parse(buf, used, AF_INET, IPPROTO_TCP, collect, NULL), -EPROTO,
		     "a positive error, which no kernel sends (found by tests/fuzz/fuzz_sock_diag)");
}

Test(sockets, summary)
{
	struct uvs_sock rows[4] = {
		{ .protocol = IPPROTO_TCP, .state = UVS_TCP_LISTEN, .rqueue = 5, .wqueue = 4 },
		{ .protocol = IPPROTO_TCP, .state = UVS_TCP_LISTEN, .rqueue = 1, .wqueue = 511 },
		{ .protocol = IPPROTO_TCP, .state = UVS_TCP_CLOSE_WAIT },
		{ .protocol = IPPROTO_UDP, .state = UVS_TCP_CLOSE, .has_drops = true, .drops = 9 },
	};
	struct uvs_socket_table t = { .rows = rows, .n = 4, .unix_count = 2, .other_count = 1 };
	struct uvs_sockets_snapshot k = { 0 };

	uvs_socket_table_summarize(&t, &k);
	cr_expect(k.available);
	cr_expect_eq(k.tcp_open, 3);
	cr_expect_eq(k.listeners, 2);
	cr_expect_eq(k.tcp_states[UVS_TCP_CLOSE_WAIT], 1);
	cr_expect_eq(k.accept_queue_max, 5);
	cr_expect_eq(k.accept_queue_limit, 4);
	cr_expect_eq(k.accept_queue_full, 1, "5 waiting over a backlog of 4");
	cr_expect_eq(k.udp_open, 1);
	cr_expect_eq(k.udp_drops, 9);
	cr_expect_eq(k.unix_open, 2);
	cr_expect_eq(k.other_open, 1);
}

Test(sockets, endpoints)
{
	uint8_t a[16] = { 0 };
	char out[64];

	uvs_format_endpoint(AF_INET, a, 0, out, sizeof(out));
	cr_expect_str_eq(out, "0.0.0.0:*");
	uvs_format_endpoint(AF_INET, a, 80, out, sizeof(out));
	cr_expect_str_eq(out, "0.0.0.0:80");
	/* Two listeners on one port, IPv4 and IPv6: told apart, as ss does. */
	uvs_format_endpoint(AF_INET6, a, 80, out, sizeof(out));
	cr_expect_str_eq(out, "[::]:80");
	uvs_format_endpoint(AF_INET6, a, 0, out, sizeof(out));
	cr_expect_str_eq(out, "[::]:*");
	/* JSON keeps its form, the family beside it. */
	uvs_format_endpoint_json(AF_INET6, a, 80, out, sizeof(out));
	cr_expect_str_eq(out, "*:80");
	uvs_format_endpoint_json(AF_INET, a, 0, out, sizeof(out));
	cr_expect_str_eq(out, "*:*");
	inet_pton(AF_INET, "10.1.2.3", a);
	uvs_format_endpoint(AF_INET, a, 443, out, sizeof(out));
	cr_expect_str_eq(out, "10.1.2.3:443");
	inet_pton(AF_INET6, "::1", a);
	uvs_format_endpoint(AF_INET6, a, 8080, out, sizeof(out));
	cr_expect_str_eq(out, "[::1]:8080");
	cr_expect_str_eq(uvs_tcp_state_name(UVS_TCP_CLOSE_WAIT), "CLOSE_WAIT");
	cr_expect_str_eq(uvs_tcp_state_name(99), "UNKNOWN");
}
