// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: uvs_sock_diag_parse() (agent/collect/sock_diag.h) on any reply buffer,
 * read as each kind of dump the agent asks for. The agent receives into a buffer aligned for
 * struct nlmsghdr, so the input is copied into one: libFuzzer's data need not be aligned.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "collect/sock_diag.h"

static const struct {
	int family, protocol;
} dumps[] = {
	{ AF_INET, IPPROTO_TCP },  { AF_INET, IPPROTO_UDP }, { AF_INET6, IPPROTO_TCP },
	{ AF_INET6, IPPROTO_UDP }, { AF_UNIX, 0 },
};

/* Where take() leaves its sum, so that reading every field is not optimised away. */
static volatile unsigned int sink;

/* Reads every field, as the agent's callbacks do: UBSan checks the bools as they are loaded. */
static int take(const struct uvs_sock *s, void *ctx)
{
	unsigned int *sum = ctx;

	*sum += s->family + s->protocol + s->state + s->local[15] + s->remote[15] + s->local_port +
		s->remote_port + s->rqueue + s->wqueue + s->inode + (unsigned int)s->cookie +
		s->has_info + s->rtt_us + s->retrans + s->last_recv_ms + s->last_send_ms +
		s->has_drops + s->drops;
	if (strlen(uvs_tcp_state_name(s->state)) == 0)
		abort();
	/* Stop the dump now and then, as a callback may. */
	return s->inode == 0xdead ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* malloc aligns for any type; exactly size bytes, so ASan sees a read past the end. */
	uint32_t *buf = malloc(size ? size : 1);
	unsigned int sum = 0;
	size_t i;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
		int ret = uvs_sock_diag_parse(buf, size, dumps[i].family, dumps[i].protocol, take,
					      &sum);

		if (ret > 1)
			abort(); /* 1, 0, the callback's -1 or -errno: nothing else */
	}
	free(buf);
	sink = sum;
	return 0;
}
