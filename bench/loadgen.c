// SPDX-License-Identifier: MIT
/*
 * loadgen: a small HTTP/1.1 load generator for the uvscope benchmark.
 *
 *   loadgen -p PORT [-c CONNS] [-d SECONDS] [-r RATE] [-g GRACE_SECONDS] [-b EVERY]
 *
 * Connects CONNS keep-alive connections to 127.0.0.1:PORT (never anywhere else) and sends
 * "GET /" on them, one request in flight per connection (no pipelining), for SECONDS.
 *
 *   -r RATE  open loop: request k is scheduled at start + k/RATE, whatever the server does.
 *            It is sent on the first idle connection, at once if one is idle, else as soon as
 *            one frees up, and its latency runs from its *scheduled* time, not from when it
 *            could be sent: a server that stalls is charged for every request it delayed
 *            (no coordinated omission).
 *   no -r    closed loop (saturation): every connection sends its next request as soon as
 *            the previous response is in; latency runs from the send.
 *
 *   -b EVERY every EVERY-th request (the EVERY-th, 2*EVERY-th, ...) is "GET /spin": the blocking
 *            server (bench/server-block.js) blocks its loop on it. Besides the percentiles of
 *            every request, those of the requests that did not wait for a block are given
 *            ("nonblock_us"): a /spin request and every request that overlapped it, directly
 *            or through others, until the server was idle again (the backlog the block
 *            left), are left out of them (see nonblocking()).
 *
 * After SECONDS no new request is scheduled; the ones already scheduled are still sent and
 * awaited for up to GRACE_SECONDS (default 2), and whatever is still missing then counts as
 * a timeout. An alarm kills the process if even that fails, so every run ends by itself.
 *
 * Prints one JSON line: counts, duration, throughput, latency percentiles (exact: every
 * latency is kept and sorted), and in open loop how late requests went out (send lag).
 * Exit status: 0 ran (check "errors"), 1 could not run, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NSEC 1000000000ULL
#define BUF_CAP 4096
#define MAX_CONNS 4096

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
static const char spin_request[] = "GET /spin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

enum conn_state { C_CONNECTING, C_IDLE, C_BUSY, C_DEAD };

struct conn {
	int fd;
	enum conn_state state;
	uint64_t t0;	/* when this request's latency clock started */
	bool spin;	/* this request is a /spin (-b) */
	size_t len;	/* bytes in buf */
	char buf[BUF_CAP];
};

/* Every latency (or send lag), kept whole so the percentiles are exact. */
struct samples {
	uint64_t *v;
	size_t n, cap;
};

static struct {
	uint16_t port;
	int nconns;
	double seconds, grace, rate;
	uint64_t spin_every;	/* -b: 0, none */
} opt = { .nconns = 50, .seconds = 5, .grace = 2 };

/* -b: each answered request's [start, answer], and the /spin requests' among them. */
struct span {
	uint64_t t0, t1;
	bool spin;
};
static struct span *spans;
static size_t nspans, cap_spans, nspins;

static struct conn *conns;
static int *idle;		/* FIFO ring of idle connection indexes */
static int idle_head, idle_count;
static struct samples lat, lag;
static uint64_t completed, in_window, errors, timeouts, unsent, non200;
static int live;		/* connections not dead */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void push(struct samples *s, uint64_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1 << 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("realloc");
	}
	s->v[s->n++] = v;
}

static int cmp_u64(const void *a, const void *b);

static void push_span(uint64_t t0, uint64_t t1, bool spin)
{
	if (nspans == cap_spans) {
		cap_spans = cap_spans ? cap_spans * 2 : 1 << 16;
		spans = realloc(spans, cap_spans * sizeof(*spans));
		if (!spans)
			die("realloc");
	}
	spans[nspans++] = (struct span){ t0, t1, spin };
	nspins += spin;
}

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

/*
 * The latencies of the requests that did not wait for a block (sorted into out). Requests
 * whose [start, answer] overlap, directly or through others (sorted by start, each joins the
 * group while it starts before the group's last answer), form a busy group: a group with a
 * /spin in it is the block and the backlog it left, which drains until the server is idle
 * again; all of its requests are left out.
 */
static void nonblocking(struct samples *out)
{
	size_t g = 0;	/* the current group's first request */
	uint64_t end = 0;
	bool spin = false;

	qsort(spans, nspans, sizeof(*spans), cmp_span);
	for (size_t i = 0; i <= nspans; i++) {
		if (i < nspans && i > g && spans[i].t0 <= end) {
			if (spans[i].t1 > end)
				end = spans[i].t1;
			spin |= spans[i].spin;
			continue;
		}
		for (size_t k = g; k < i && !spin; k++)
			push(out, spans[k].t1 - spans[k].t0);
		if (i == nspans)
			break;
		g = i;
		end = spans[i].t1;
		spin = spans[i].spin;
	}
	qsort(out->v, out->n, sizeof(*out->v), cmp_u64);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double pct_us(const struct samples *s, double p)
{
	size_t rank;

	if (!s->n)
		return 0;
	rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return (double)s->v[rank - 1] / 1e3;
}

static void idle_put(int i)
{
	conns[i].state = C_IDLE;
	idle[(idle_head + idle_count++) % opt.nconns] = i;
}

static int idle_get(void)
{
	int i = idle[idle_head];

	idle_head = (idle_head + 1) % opt.nconns;
	idle_count--;
	return i;
}

static void kill_conn(int epfd, struct conn *c)
{
	if (c->state == C_BUSY)
		errors++;	/* the request on it is lost */
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
	live--;
}

/* A request is ~40 bytes on an idle keep-alive socket: it goes out whole or the socket is
 * broken. A short write is treated as a broken connection rather than buffered. */
static bool send_request(int epfd, struct conn *c, uint64_t t0, bool spin)
{
	const char *req = spin ? spin_request : request;
	size_t len = spin ? sizeof(spin_request) - 1 : sizeof(request) - 1;
	ssize_t n = send(c->fd, req, len, MSG_NOSIGNAL);

	c->t0 = t0;
	c->spin = spin;
	c->len = 0;
	c->state = C_BUSY;
	if (n != (ssize_t)len) {
		kill_conn(epfd, c);
		return false;
	}
	return true;
}

/*
 * Length of the first complete response in buf, 0 if not complete yet, -1 if it is not a
 * response we understand. Our server always sends Content-Length and no chunked bodies.
 */
static ssize_t response_len(const char *buf, size_t len, int *status)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *p;
	size_t head;
	long body = -1;

	if (!end)
		return len >= BUF_CAP ? -1 : 0;
	head = (size_t)(end - buf) + 4;
	if (len < 12 || memcmp(buf, "HTTP/1.", 7))
		return -1;
	*status = atoi(buf + 9);
	/* Each header line starts after a CRLF; the last one ends where end starts. */
	for (p = memmem(buf, (size_t)(end - buf), "\r\n", 2); p;
	     p = memmem(p, (size_t)(end - p), "\r\n", 2)) {
		p += 2;
		if ((size_t)(end - p) > 15 && !strncasecmp(p, "Content-Length:", 15))
			body = strtol(p + 15, NULL, 10);
	}
	if (body < 0 || head + (size_t)body > BUF_CAP)
		return -1;
	return len >= head + (size_t)body ? (ssize_t)(head + (size_t)body) : 0;
}

/* Reads what the server sent; returns true when a whole response completed. */
static bool on_readable(int epfd, struct conn *c, uint64_t end)
{
	int status = 0;
	ssize_t n, rlen;

	for (;;) {
		n = recv(c->fd, c->buf + c->len, BUF_CAP - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			if (c->len == BUF_CAP)
				break;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		kill_conn(epfd, c);	/* closed or reset by the server */
		return false;
	}
	if (c->state != C_BUSY) {	/* bytes nobody asked for */
		kill_conn(epfd, c);
		return false;
	}
	rlen = response_len(c->buf, c->len, &status);
	if (rlen == 0)
		return false;
	if (rlen < 0 || (size_t)rlen != c->len) {	/* garbage, or more than one response */
		kill_conn(epfd, c);
		return false;
	}
	{
		uint64_t t = now_ns();

		completed++;
		if (t <= end)
			in_window++;
		if (status != 200) {
			non200++;
			errors++;
		} else {
			push(&lat, t - c->t0);
			if (opt.spin_every)
				push_span(c->t0, t, c->spin);
		}
	}
	return true;
}

static void connect_all(int epfd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(opt.port) };
	struct epoll_event ev;
	int i, pending = opt.nconns, one = 1;
	uint64_t deadline = now_ns() + 5 * NSEC;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < opt.nconns; i++) {
		struct conn *c = &conns[i];

		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			die("socket");
		/* Small requests must leave at once, not wait for Nagle. */
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS)
			die("connect to 127.0.0.1");
		c->state = C_CONNECTING;
		ev.events = EPOLLOUT;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev))
			die("epoll_ctl");
	}
	/* Wait until every connection is up, then watch them for input only. */
	while (pending) {
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, 64, 100), k, err;
		socklen_t el = sizeof(err);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (k = 0; k < n; k++) {
			struct conn *c = &conns[evs[k].data.u32];

			if (c->state != C_CONNECTING)
				continue;
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
				errno = err;
				die("connect to 127.0.0.1");
			}
			ev.events = EPOLLIN;
			ev.data.u32 = evs[k].data.u32;
			epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
			idle_put((int)evs[k].data.u32);
			pending--;
		}
		if (pending && now_ns() > deadline) {
			fprintf(stderr, "loadgen: %d connections still not up after 5 s\n", pending);
			exit(1);
		}
	}
}

static void sleep_until(int epfd, struct epoll_event *evs, int cap, int *n, uint64_t when)
{
	uint64_t t = now_ns();
	struct timespec ts = { 0, 0 };

	if (when > t) {
		ts.tv_sec = (time_t)((when - t) / NSEC);
		ts.tv_nsec = (long)((when - t) % NSEC);
	}
	*n = epoll_pwait2(epfd, evs, cap, &ts, NULL);
	if (*n < 0) {
		if (errno != EINTR)
			die("epoll_pwait2");
		*n = 0;
	}
}

static void usage(void)
{
	fputs("usage: loadgen -p PORT [-c CONNS] [-d SECONDS] [-r RATE] [-g GRACE_SECONDS] "
	      "[-b EVERY]\n"
	      "  -r RATE   open loop at RATE requests/s; without it, closed loop (saturation)\n"
	      "  -b EVERY  every EVERY-th request is GET /spin (open loop only)\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	uint64_t start, end, hard_end, scheduled = 0, sent = 0, first_done;
	int o, epfd, n, k;
	double elapsed;
	bool open_loop;

	while ((o = getopt(argc, argv, "p:c:d:r:g:b:")) != -1) {
		switch (o) {
		case 'p': opt.port = (uint16_t)atoi(optarg); break;
		case 'c': opt.nconns = atoi(optarg); break;
		case 'd': opt.seconds = atof(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'g': opt.grace = atof(optarg); break;
		case 'b': opt.spin_every = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!opt.port || opt.nconns < 1 || opt.nconns > MAX_CONNS || opt.seconds <= 0 ||
	    opt.rate < 0 || opt.grace < 0 || optind != argc)
		usage();
	open_loop = opt.rate > 0;
	if (opt.spin_every && !open_loop)
		usage();

	/* The last resort bound: connect (5 s) + run + grace + slack, then SIGALRM kills us. */
	alarm((unsigned)(opt.seconds + opt.grace) + 10);
	/* Sleep to the scheduled send time exactly: the default 50 us timer slack would make
	 * every open-loop request late by up to 50 us and add that to its latency. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	conns = calloc((size_t)opt.nconns, sizeof(*conns));
	idle = calloc((size_t)opt.nconns, sizeof(*idle));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || !idle || epfd < 0)
		die("setup");
	connect_all(epfd);
	live = opt.nconns;

	start = now_ns();
	end = start + (uint64_t)(opt.seconds * 1e9);
	hard_end = end + (uint64_t)(opt.grace * 1e9);

	if (!open_loop) {	/* closed loop: fill every connection */
		while (idle_count && send_request(epfd, &conns[idle_get()], now_ns(), false))
			sent++;
	}
	for (;;) {
		uint64_t t = now_ns(), next;

		if (open_loop) {
			/* Request k is due at start + k/rate (k from 0): schedule what is due. */
			for (;;) {
				uint64_t due = start + (uint64_t)((double)scheduled * 1e9 / opt.rate);

				if (due > t || due >= end)
					break;
				scheduled++;
			}
			/* Send due requests, oldest first, while a connection is idle. */
			while (sent < scheduled && idle_count) {
				uint64_t due = start + (uint64_t)((double)sent * 1e9 / opt.rate);
				uint64_t ts = now_ns();

				push(&lag, ts - due);
				sent++;
				send_request(epfd, &conns[idle_get()], due,
					     opt.spin_every && sent % opt.spin_every == 0);
			}
		}
		if (t >= hard_end)
			break;
		/* Done: nothing more to schedule, nothing waiting to be sent, nothing in flight. */
		if (idle_count == live &&
		    (open_loop ? (sent == scheduled &&
				  start + (uint64_t)((double)scheduled * 1e9 / opt.rate) >= end)
			       : t >= end))
			break;
		if (!live)
			break;

		next = hard_end;
		if (open_loop && sent == scheduled) {
			uint64_t due = start + (uint64_t)((double)scheduled * 1e9 / opt.rate);

			if (due < end && due < next)
				next = due;
		}
		sleep_until(epfd, evs, 256, &n, next);
		for (k = 0; k < n; k++) {
			struct conn *c = &conns[evs[k].data.u32];

			if (c->state == C_DEAD)
				continue;
			if (on_readable(epfd, c, end)) {
				idle_put((int)evs[k].data.u32);
				if (!open_loop && now_ns() < end) {
					int i = idle_get();

					if (send_request(epfd, &conns[i], now_ns(), false))
						sent++;
				}
			}
		}
	}
	first_done = now_ns();

	for (k = 0; k < opt.nconns; k++) {
		if (conns[k].state == C_BUSY)
			timeouts++;
		if (conns[k].fd >= 0)
			close(conns[k].fd);
	}
	errors += timeouts;
	if (open_loop)
		unsent = scheduled - sent;

	qsort(lat.v, lat.n, sizeof(*lat.v), cmp_u64);
	qsort(lag.v, lag.n, sizeof(*lag.v), cmp_u64);
	elapsed = (double)(first_done - start) / 1e9;
	{
		double mean = 0;
		size_t i;

		for (i = 0; i < lat.n; i++)
			mean += (double)lat.v[i];
		mean = lat.n ? mean / (double)lat.n / 1e3 : 0;
		printf("{\"mode\":\"%s\",\"rate\":%.0f,\"connections\":%d,\"duration_s\":%.3f,"
		       "\"elapsed_s\":%.3f,\"scheduled\":%" PRIu64 ",\"sent\":%" PRIu64
		       ",\"completed\":%" PRIu64 ",\"completed_in_window\":%" PRIu64
		       ",\"errors\":%" PRIu64 ",\"non200\":%" PRIu64 ",\"timeouts\":%" PRIu64
		       ",\"unsent\":%" PRIu64 ",\"throughput_rps\":%.1f,"
		       "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
		       "\"max\":%.1f,\"mean\":%.1f}",
		       open_loop ? "rate" : "saturation", opt.rate, opt.nconns, opt.seconds,
		       elapsed, open_loop ? scheduled : sent, sent, completed, in_window, errors,
		       non200, timeouts, unsent, (double)in_window / opt.seconds,
		       pct_us(&lat, 50), pct_us(&lat, 90), pct_us(&lat, 99), pct_us(&lat, 99.9),
		       lat.n ? (double)lat.v[lat.n - 1] / 1e3 : 0.0, mean);
		if (opt.spin_every) {
			struct samples nb = { 0 };

			nonblocking(&nb);
			printf(",\"spins\":%zu,\"nonblock_us\":{\"n\":%zu,\"p50\":%.1f,"
			       "\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}", nspins, nb.n,
			       pct_us(&nb, 50), pct_us(&nb, 99), pct_us(&nb, 99.9),
			       nb.n ? (double)nb.v[nb.n - 1] / 1e3 : 0.0);
			free(nb.v);
		}
		if (open_loop)
			printf(",\"send_lag_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}",
			       pct_us(&lag, 50), pct_us(&lag, 99),
			       lag.n ? (double)lag.v[lag.n - 1] / 1e3 : 0.0);
		/* Our own CPU, so the script can tell what else ran on the machine meanwhile. */
		{
			struct rusage ru;

			getrusage(RUSAGE_SELF, &ru);
			printf(",\"cpu_ms\":%.1f",
			       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
				       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
		}
		printf("}\n");
	}
	return 0;
}
