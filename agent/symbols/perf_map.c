// SPDX-License-Identifier: MIT
/*
 * The perf map of a target: incremental reading, parsing, and the overlap resolution that
 * lets later lines win. See perf_map.h.
 *
 * Lookups use a flat table of disjoint ranges sorted by address. Lines fed since the last
 * commit wait in a pending list; a commit sweeps the table and the pending lines together
 * (O(n log n)) and keeps, at every address, the range from the latest line.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/sorted_array.h"
#include "symbols/name_arena.h"
#include "symbols/perf_map.h"
#include "target/container.h"
#include "target/procfs.h"

/* Bytes read from the file in one refresh: a map growing without end must not hold us. */
#define UVS_PERF_MAP_MAX_READ (16u << 20)

struct range {
	uint64_t start, end;
	uint64_t seq;     /* line number: the larger wins */
	const char *name; /* in the arena */
};

struct ranges {
	struct range *v;
	size_t n, cap;
};

struct uvs_perf_map {
	struct ranges table;   /* disjoint, sorted by start: what lookups see */
	struct ranges pending; /* fed, not yet committed, in file order */
	struct uvs_name_arena names;
	char line[UVS_PERF_MAP_MAX_LINE];
	size_t line_len;
	bool skipping;         /* inside an overlong line: drop bytes up to its newline */
	uint64_t seq;
	struct uvs_perf_map_stats stats;
	/* The target's file. */
	int fd;
	dev_t dev;
	ino_t ino;
};

struct uvs_perf_map *uvs_perf_map_new(void)
{
	struct uvs_perf_map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	uvs_name_arena_init(&m->names, UVS_PERF_MAP_MAX_NAME_BYTES);
	m->fd = -1;
	return m;
}

void uvs_perf_map_free(struct uvs_perf_map *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->table.v);
	free(m->pending.v);
	uvs_name_arena_free(&m->names);
	free(m);
}

static int push(struct ranges *r, const struct range *x)
{
	if (uvs_array_reserve((void **)&r->v, &r->cap, r->n, sizeof(*r->v), 256))
		return -ENOMEM;
	r->v[r->n++] = *x;
	return 0;
}

/* Parses a hex field of 1-16 digits (an optional 0x allowed, as perf does) ending at a space. */
static bool hex_field(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s != ' '; s++, digits++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		if (digits == 16)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (!digits)
		return false;
	*p = s + 1;
	*out = v;
	return true;
}

/* One complete line, NUL-terminated, without its newline. */
static void parse_line(struct uvs_perf_map *m, char *line, size_t len)
{
	const char *p = line;
	struct range r;
	uint64_t start, size;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (strlen(line) != len || !hex_field(&p, &start) || !hex_field(&p, &size) || !size ||
	    start + size < start || !*p) {
		m->stats.bad_lines++;
		return;
	}
	if (m->table.n + 2 * (m->pending.n + 1) > UVS_PERF_MAP_MAX_ENTRIES) {
		m->stats.full = true; /* a commit may split each range in two: keep room for that */
		return;
	}
	r = (struct range){ .start = start, .end = start + size, .seq = ++m->seq };
	r.name = uvs_name_arena_add(&m->names, p, len - (size_t)(p - line));
	if (!r.name || push(&m->pending, &r)) {
		m->stats.full = true;
		return;
	}
	m->stats.lines++;
}

void uvs_perf_map_feed(struct uvs_perf_map *m, const char *buf, size_t len)
{
	size_t pos = 0;

	m->stats.bytes_read += len;
	while (pos < len && !m->stats.full) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - buf) : len) - pos;

		if (!m->skipping && m->line_len + n < sizeof(m->line)) {
			memcpy(m->line + m->line_len, buf + pos, n);
			m->line_len += n;
		} else if (!m->skipping) {
			m->skipping = true;
			m->stats.bad_lines++;
		}
		pos += n;
		if (!nl)
			break;
		pos++; /* the newline */
		if (!m->skipping) {
			m->line[m->line_len] = '\0';
			parse_line(m, m->line, m->line_len);
		}
		m->line_len = 0;
		m->skipping = false;
	}
}

/* A max-heap of range indexes by seq, for the sweep. */
struct heap {
	size_t *v;
	size_t n;
	const struct range *r;
};

static void heap_push(struct heap *h, size_t x)
{
	size_t i = h->n++;

	h->v[i] = x;
	while (i && h->r[h->v[(i - 1) / 2]].seq < h->r[h->v[i]].seq) {
		size_t p = (i - 1) / 2, t = h->v[p];

		h->v[p] = h->v[i];
		h->v[i] = t;
		i = p;
	}
}

static void heap_pop(struct heap *h)
{
	size_t i = 0;

	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, top = i, t;

		if (l < h->n && h->r[h->v[l]].seq > h->r[h->v[top]].seq)
			top = l;
		if (r < h->n && h->r[h->v[r]].seq > h->r[h->v[top]].seq)
			top = r;
		if (top == i)
			return;
		t = h->v[top];
		h->v[top] = h->v[i];
		h->v[i] = t;
		i = top;
	}
}

static int cmp_range_start(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Disjoint ranges from all of in[0..n) (sorted by start), the latest (largest seq) one at
 * every address; adjacent pieces of one range stay one piece.
 */
static int sweep(const struct range *in, size_t n, struct ranges *out)
{
	uint64_t *points = malloc((2 * n + 1) * sizeof(*points));
	struct heap h = { .v = malloc((n + 1) * sizeof(size_t)), .r = in };
	size_t np = 0, k, j = 0, i;
	int err = 0;

	if (!points || !h.v) {
		free(points);
		free(h.v);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		points[np++] = in[i].start;
		points[np++] = in[i].end;
	}
	qsort(points, np, sizeof(*points), cmp_u64);
	for (k = 0; k < np && !err; k++) {
		uint64_t x = points[k];
		const struct range *top;
		struct range piece;

		if (k && points[k - 1] == x)
			continue;
		while (j < n && in[j].start <= x)
			heap_push(&h, j++);
		while (h.n && in[h.v[0]].end <= x)
			heap_pop(&h);
		if (!h.n)
			continue;
		top = &in[h.v[0]];
		piece = *top;
		piece.start = x;
		/* Up to the next distinct point (points has duplicates), at most to top's end. */
		for (i = k + 1; i < np && points[i] == x; i++)
			;
		piece.end = i < np && points[i] < top->end ? points[i] : top->end;
		if (out->n && out->v[out->n - 1].seq == piece.seq && out->v[out->n - 1].end == x)
			out->v[out->n - 1].end = piece.end;
		else
			err = push(out, &piece);
	}
	free(points);
	free(h.v);
	return err;
}

int uvs_perf_map_commit(struct uvs_perf_map *m)
{
	struct ranges all = { 0 }, out = { 0 };
	size_t i;
	int err = 0;

	if (!m->pending.n)
		return 0;
	for (i = 0; i < m->table.n && !err; i++)
		err = push(&all, &m->table.v[i]);
	for (i = 0; i < m->pending.n && !err; i++)
		err = push(&all, &m->pending.v[i]);
	if (!err) {
		qsort(all.v, all.n, sizeof(*all.v), cmp_range_start);
		err = sweep(all.v, all.n, &out);
	}
	free(all.v);
	if (err) {
		free(out.v);
		return err;
	}
	free(m->table.v);
	m->table = out;
	m->pending.n = 0;
	m->stats.entries = out.n;
	return 0;
}

int uvs_perf_map_lookup(const struct uvs_perf_map *m, uint64_t addr, const char **name,
			uint64_t *start)
{
	size_t lo;

	if (!m)
		return -ENOENT;
	lo = uvs_array_count_le(m->table.v, m->table.n, sizeof(*m->table.v),
				offsetof(struct range, start), addr);
	if (lo == 0 || addr >= m->table.v[lo - 1].end)
		return -ENOENT;
	if (name)
		*name = m->table.v[lo - 1].name;
	if (start)
		*start = m->table.v[lo - 1].start;
	return 0;
}

void uvs_perf_map_stats(const struct uvs_perf_map *m, struct uvs_perf_map_stats *out)
{
	*out = m->stats;
}

/* Forgets the table (not the names: pointers handed out stay valid) for a new file. */
static void restart(struct uvs_perf_map *m)
{
	m->table.n = 0;
	m->pending.n = 0;
	m->line_len = 0;
	m->skipping = false;
	m->stats.entries = 0;
	m->stats.bytes_read = 0;
}

static int open_target_file(struct uvs_perf_map *m, int pid)
{
	char path[96];
	struct stat st;
	int nspid = uvs_nspid(pid), fd;

	if (nspid < 0)
		return nspid;
	snprintf(path, sizeof(path), "/proc/%d/root/tmp/perf-%d.map", pid, nspid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (m->fd >= 0)
		close(m->fd);
	if (m->dev != st.st_dev || m->ino != st.st_ino)
		restart(m);
	m->fd = fd;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	return 0;
}

int uvs_perf_map_refresh(struct uvs_perf_map *m, int pid)
{
	char buf[64 * 1024];
	uint64_t budget = UVS_PERF_MAP_MAX_READ;
	struct stat st;
	int err;

	/* Reopened each time: a target restarted with the same pid writes a new file. */
	err = open_target_file(m, pid);
	if (err)
		return err;
	if (fstat(m->fd, &st))
		return -errno;
	if ((uint64_t)st.st_size < m->stats.bytes_read)
		restart(m);
	while (budget && !m->stats.full) {
		ssize_t n = pread(m->fd, buf, sizeof(buf), (off_t)m->stats.bytes_read);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		uvs_perf_map_feed(m, buf, (size_t)n);
		budget = (uint64_t)n < budget ? budget - (uint64_t)n : 0;
	}
	return uvs_perf_map_commit(m);
}
