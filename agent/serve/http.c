// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve/http.h"
#include "util/log.h"

struct uvs_http {
	struct MHD_Daemon *d;
	/* The pages, one per format (NULL until the first): MHD counts their references, so a
	 * page replaced while a connection still sends it lives until that connection is done. */
	struct MHD_Response *page[2];
	struct MHD_Response *not_found, *not_allowed, *not_ready;
	char last_log[256]; /* MHD's last message: why starting failed */
	struct uvs_event_loop *el; /* the loop that runs it, and its deadline there */
	int deadline;
};

/*
 * MHD's messages are about clients (a malformed request, a connection reset) or about
 * starting: kept for the second, said only with -v, so a client cannot fill the log.
 */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct uvs_http *h = cls;
	size_t n;

	vsnprintf(h->last_log, sizeof(h->last_log), fmt, ap);
	n = strlen(h->last_log);
	while (n && (h->last_log[n - 1] == '\n' || h->last_log[n - 1] == '.'))
		h->last_log[--n] = '\0';
	uvs_debug("http: %s", h->last_log);
}

static struct MHD_Response *fixed(const char *body, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								  MHD_RESPMEM_PERSISTENT);

	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return r;
}

/*
 * MHD's own decoding of %HH, with one change: a decoded NUL ("/metrics%00.txt") becomes '?',
 * so that the path compared below is the whole path, not the part before the NUL.
 */
static size_t unescape_without_nul(void *cls, struct MHD_Connection *c, char *s)
{
	size_t len = MHD_http_unescape(s), i;

	(void)cls;
	(void)c;
	for (i = 0; i < len; i++)
		if (s[i] == '\0')
			s[i] = '?';
	return len;
}

/* Every request is answered from its headers: /metrics takes no body, and none is read. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct uvs_http *h = cls;
	enum uvs_prom_format f;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, h->not_allowed);
	if (strcmp(url, "/metrics"))
		return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, h->not_found);
	f = uvs_prom_negotiate(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							   MHD_HTTP_HEADER_ACCEPT));
	if (!h->page[f])
		return MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, h->not_ready);
	return MHD_queue_response(c, MHD_HTTP_OK, h->page[f]);
}

/*
 * The listening socket, made here rather than by MHD: a failure is then said with the real
 * address (MHD's own message named port 0, the port it was given beside the address). IPv6
 * alone on an IPv6 address, as MHD does; SO_REUSEADDR, so a restart binds at once.
 */
static int listen_on(const struct uvs_listen_addr *addr, char *why, size_t cap)
{
	int one = 1, fd, err;

	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(why, cap, "cannot make a socket: %s", strerror(errno));
		return -1;
	}
	/* An IPv4-mapped address ([::ffff:127.0.0.1]) takes IPv4 connections: not IPv6 alone. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (addr->ss.ss_family == AF_INET6 &&
	     !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)&addr->ss)->sin6_addr) &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)&addr->ss, addr->len) || listen(fd, 128)) {
		err = errno;
		close(fd);
		snprintf(why, cap, "%s", strerror(err));
		return -1;
	}
	return fd;
}

struct uvs_http *uvs_http_start(const struct uvs_listen_addr *addr, char *why, size_t cap)
{
	struct uvs_http *h = calloc(1, sizeof(*h));
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int fd;

	if (!h) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	h->not_found = fixed("not found: uvscope serves /metrics only\n", NULL);
	h->not_allowed = fixed("method not allowed: GET or HEAD /metrics\n", "GET, HEAD");
	h->not_ready = fixed("no figures yet\n", NULL);
	if (!h->not_found || !h->not_allowed || !h->not_ready) {
		snprintf(why, cap, "out of memory");
		uvs_http_stop(h);
		return NULL;
	}
	if (addr->ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	fd = listen_on(addr, why, cap);
	if (fd < 0) {
		uvs_http_stop(h);
		return NULL;
	}
	/* No MHD_USE_INTERNAL_POLLING_THREAD: MHD runs only inside uvs_http_run, on our thread. */
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
				MHD_OPTION_UNESCAPE_CALLBACK, unescape_without_nul, NULL,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)UVS_HTTP_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)UVS_HTTP_IDLE_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)UVS_HTTP_CONNECTION_MEMORY,
				/* Beyond loopback, one host cannot take every slot (0: no limit). */
				MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				(unsigned int)(uvs_listen_addr_is_loopback(addr) ? 0 :
					       UVS_HTTP_MAX_PER_HOST),
				MHD_OPTION_END);
	if (!h->d) {
		snprintf(why, cap, "%s", h->last_log[0] ? h->last_log : "libmicrohttpd cannot start");
		close(fd); /* MHD closes it once it runs, not when it did not start */
		uvs_http_stop(h);
		return NULL;
	}
	return h;
}

/* MHD does what is ready, then says when it must run again at the latest. */
static void on_ready(void *ctx)
{
	struct uvs_http *h = ctx;
	MHD_UNSIGNED_LONG_LONG ms;
	uint64_t next = UINT64_MAX;

	MHD_run(h->d);
	/* MHD_YES with 0: data is ready that epoll will not announce again (edge-triggered). */
	if (MHD_get_timeout(h->d, &ms) == MHD_YES)
		next = ms > UINT64_MAX / 1000000ULL ? UINT64_MAX - 1 : (uint64_t)ms * 1000000ULL;
	if (uvs_event_loop_arm(h->el, h->deadline, next))
		uvs_warn("http: cannot arm its timer: connection timeouts wait for the next request");
}

int uvs_http_join_loop(struct uvs_http *h, struct uvs_event_loop *el)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	int err;

	if (!i)
		return -EINVAL;
	err = uvs_event_loop_add(el, i->epoll_fd, false, on_ready, h);
	if (err)
		return err;
	h->el = el;
	h->deadline = uvs_event_loop_add_deadline(el, on_ready, h);
	if (h->deadline < 0)
		return h->deadline;
	return uvs_event_loop_arm(el, h->deadline, 0);
}

int uvs_http_set_page(struct uvs_http *h, enum uvs_prom_format format, char *buf, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);

	if (!r) {
		free(buf);
		return -ENOMEM;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, format == UVS_PROM_OPENMETRICS ?
				UVS_PROM_OPENMETRICS_TYPE : UVS_PROM_TEXT_TYPE);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (h->page[format])
		MHD_destroy_response(h->page[format]);
	h->page[format] = r;
	return 0;
}

void uvs_http_stop(struct uvs_http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	for (size_t i = 0; i < 2; i++)
		if (h->page[i])
			MHD_destroy_response(h->page[i]);
	if (h->not_found)
		MHD_destroy_response(h->not_found);
	if (h->not_allowed)
		MHD_destroy_response(h->not_allowed);
	if (h->not_ready)
		MHD_destroy_response(h->not_ready);
	free(h);
}
