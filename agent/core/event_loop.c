// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/event_loop.h"

int uvs_event_loop_init(struct uvs_event_loop *el)
{
	memset(el, 0, sizeof(*el));
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	return el->epfd < 0 ? -errno : 0;
}

static int add(struct uvs_event_loop *el, int fd, bool owned, bool timer, uvs_source_fn fn,
	       void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = el->n };

	if (el->n == UVS_MAX_SOURCES)
		return -E2BIG;
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	el->src[el->n++] = (struct uvs_event_source){ fd, owned, timer, fn, ctx };
	return 0;
}

int uvs_event_loop_add(struct uvs_event_loop *el, int fd, bool owned, uvs_source_fn fn, void *ctx)
{
	return add(el, fd, owned, false, fn, ctx);
}

int uvs_event_loop_add_timer(struct uvs_event_loop *el, uint64_t first_ns, uint64_t period_ns,
			     uvs_source_fn fn, void *ctx)
{
	struct itimerspec its = {
		.it_value = { first_ns / 1000000000ULL, first_ns % 1000000000ULL },
		.it_interval = { period_ns / 1000000000ULL, period_ns % 1000000000ULL },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), err;

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		err = -errno;
		close(fd);
		return err;
	}
	err = add(el, fd, true, true, fn, ctx);
	if (err)
		close(fd);
	return err;
}

int uvs_event_loop_add_deadline(struct uvs_event_loop *el, uvs_source_fn fn, void *ctx)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), err;

	if (fd < 0)
		return -errno;
	err = add(el, fd, true, true, fn, ctx);
	if (err) {
		close(fd);
		return err;
	}
	return (int)el->n - 1;
}

int uvs_event_loop_arm(struct uvs_event_loop *el, int id, uint64_t ns)
{
	struct itimerspec its = { 0 };

	if (id < 0 || (size_t)id >= el->n || !el->src[id].timer)
		return -EINVAL;
	/* A zero it_value disarms a timerfd: "now" is the shortest wait that still fires. */
	if (ns != UINT64_MAX) {
		if (!ns)
			ns = 1;
		its.it_value.tv_sec = (time_t)(ns / 1000000000ULL);
		its.it_value.tv_nsec = (long)(ns % 1000000000ULL);
	}
	return timerfd_settime(el->src[id].fd, 0, &its, NULL) ? -errno : 0;
}

static void drain(int fd)
{
	uint64_t buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int uvs_event_loop_run(struct uvs_event_loop *el)
{
	struct epoll_event evs[UVS_MAX_SOURCES];
	int i, n;

	while (!el->stop) {
		n = epoll_wait(el->epfd, evs, UVS_MAX_SOURCES, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !el->stop; i++) {
			struct uvs_event_source *s = &el->src[evs[i].data.u64];

			if (s->timer)
				drain(s->fd);
			s->fn(s->ctx);
		}
	}
	return 0;
}

void uvs_event_loop_free(struct uvs_event_loop *el)
{
	size_t i;

	for (i = 0; i < el->n; i++)
		if (el->src[i].owned)
			close(el->src[i].fd);
	if (el->epfd > 0)
		close(el->epfd);
	el->n = 0;
	el->epfd = -1;
}
