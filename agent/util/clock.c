// SPDX-License-Identifier: MIT
#include <errno.h>
#include <time.h>

#include "util/clock.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t uvs_now_mono(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t uvs_now_real(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t uvs_mono_to_real(uint64_t mono_ns)
{
	uint64_t now_mono = uvs_now_mono(), now_real = uvs_now_real();

	/* An event is never from the future; clamp rather than wrap on a clock oddity. */
	return mono_ns <= now_mono ? now_real - (now_mono - mono_ns) : now_real;
}

void uvs_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL),
			       .tv_nsec = (long)(ns % 1000000000ULL) };

	/* A signal cuts it short: sleep the rest. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
