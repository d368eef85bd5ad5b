/* SPDX-License-Identifier: MIT */
/*
 * The /metrics endpoint: libmicrohttpd with no thread of its own, driven from the agent's
 * event loop (its epoll fd is one source, its next timeout a deadline), so nothing in it runs
 * at the same time as the collector. It serves the last page it was given, from memory:
 * building a page is the output's job, once per interval, never per request.
 *
 * GET and HEAD of /metrics only (405 for other methods, 404 for other paths); MHD parses the
 * requests. At most UVS_HTTP_MAX_CONNECTIONS connections, each closed after
 * UVS_HTTP_IDLE_TIMEOUT_S seconds without traffic, and UVS_HTTP_MAX_PER_HOST from one
 * address when listening beyond loopback; a request's headers must fit in
 * UVS_HTTP_CONNECTION_MEMORY bytes.
 */
#ifndef UVSCOPE_HTTP_H
#define UVSCOPE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "render/prom_writer.h"
#include "util/listen_addr.h"

#define UVS_HTTP_MAX_CONNECTIONS 256
#define UVS_HTTP_IDLE_TIMEOUT_S 10
#define UVS_HTTP_CONNECTION_MEMORY (16 * 1024)
#define UVS_HTTP_MAX_PER_HOST 64 /* connections from one address, when not on loopback */

struct uvs_http;

/* Listens on addr (bound now). NULL with `why` set on failure. */
struct uvs_http *uvs_http_start(const struct uvs_listen_addr *addr, char *why, size_t cap);

/*
 * Makes the server one more source of el: MHD runs when its epoll fd is readable and when its
 * next timeout comes (a deadline of el, armed after every run), and once at the next wait for
 * the requests that queued up before. 0 or -errno.
 */
int uvs_http_join_loop(struct uvs_http *h, struct uvs_event_loop *el);

/*
 * The page to serve from now on in one format: buf (malloc'd, len bytes) is the server's;
 * a connection still sending the previous page keeps it until it is done. 0 or -errno (buf
 * freed either way).
 */
int uvs_http_set_page(struct uvs_http *h, enum uvs_prom_format format, char *buf, size_t len);

/* Closes every connection and the listener; safe with NULL. */
void uvs_http_stop(struct uvs_http *h);

#endif
