/* SPDX-License-Identifier: MIT */
/* `--listen ADDR:PORT`: a numeric IPv4 or bracketed IPv6 address and a port, nothing looked up. */
#ifndef UVSCOPE_LISTEN_ADDR_H
#define UVSCOPE_LISTEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define UVS_LISTEN_DEFAULT "127.0.0.1:9464"

struct uvs_listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Parses "127.0.0.1:9464", "0.0.0.0:9464" or "[::1]:9464" (port 1-65535). No host names: a
 * name resolves differently over time, and a listener must be on the address the operator
 * meant. Returns 0, or -EINVAL.
 */
int uvs_listen_addr_parse(const char *s, struct uvs_listen_addr *out);

/* Whether only this host can reach the address (127.0.0.0/8, ::1, ::ffff:127.x). */
bool uvs_listen_addr_is_loopback(const struct uvs_listen_addr *a);

/* "127.0.0.1:9464" or "[::1]:9464" into buf. */
void uvs_listen_addr_format(const struct uvs_listen_addr *a, char *buf, size_t cap);

#endif
