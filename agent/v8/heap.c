// SPDX-License-Identifier: MIT
/*
 * Validated V8 heap reads and string decoding. See heap.h for the contract.
 *
 * Strings: a V8 string is a tree of representations (sequential one-byte or two-byte, cons =
 * first + second, sliced = a range of a parent, thin = a forward to an internalized copy,
 * external = characters outside the heap). One walker visits the characters of a range of any
 * of them, in order, as runs of one encoding; what to do with them (decode a name, count lines)
 * is the visitor's business. Depth and the number of characters visited are bounded.
 */
#include <errno.h>
#include <string.h>

#include "util/text.h"
#include "v8/heap.h"

#define STRING_DEPTH_MAX 48        /* cons/sliced/thin nesting followed */
#define STRING_LENGTH_MAX (1 << 30) /* V8's String::kMaxLength on 64-bit is 2^29 - 24 */
#define CHUNK_BYTES 4096           /* bytes of characters read per call */

int uvs_v8_read_field(struct uvs_v8_heap *h, uint64_t obj, uint32_t off, uint64_t *out)
{
	int err;

	if (!UVS_V8_IS_HEAP_OBJECT(obj))
		return -EINVAL;
	h->reads++;
	err = uvs_mem_read_u64(&h->mem, obj - 1 + off, out);
	if (err)
		h->read_errors++;
	return err;
}

static int read_u16(struct uvs_v8_heap *h, uint64_t addr, uint16_t *out)
{
	int err;

	h->reads++;
	err = uvs_mem_read_u16(&h->mem, addr, out);
	if (err)
		h->read_errors++;
	return err;
}

static int read_bytes(struct uvs_v8_heap *h, uint64_t addr, void *buf, size_t len)
{
	int err;

	h->reads++;
	err = uvs_mem_read_exact(&h->mem, addr, buf, len);
	if (err)
		h->read_errors++;
	return err;
}

void uvs_v8_heap_forget(struct uvs_v8_heap *h)
{
	memset(h->maps, 0, sizeof(h->maps));
}

static struct uvs_v8_known_map *known_map(struct uvs_v8_heap *h, uint64_t map)
{
	return &h->maps[((map >> 3) * 0x9e3779b97f4a7c15ull) >> 58];
}

int uvs_v8_instance_type(struct uvs_v8_heap *h, uint64_t obj, uint16_t *type)
{
	const struct uvs_v8_meta *m = h->meta;
	struct uvs_v8_known_map *k;
	uint64_t map, meta_map;
	uint16_t map_type;
	int err;

	err = uvs_v8_read_field(h, obj, 0, &map);
	if (err)
		return err;
	if (!UVS_V8_IS_HEAP_OBJECT(map))
		return -EINVAL;
	k = known_map(h, map);
	if (k->map == map) {
		*type = k->type;
		return 0;
	}
	/* The map of a Map is the meta map, itself a Map: a random word rarely passes both. */
	if (m->type_map) {
		err = uvs_v8_read_field(h, map, 0, &meta_map);
		if (err)
			return err;
		if (!UVS_V8_IS_HEAP_OBJECT(meta_map))
			return -EINVAL;
		err = read_u16(h, meta_map - 1 + m->map_instance_type, &map_type);
		if (err)
			return err;
		if (map_type != m->type_map)
			return -EINVAL;
	}
	err = read_u16(h, map - 1 + m->map_instance_type, type);
	if (err)
		return err;
	k->map = map;
	k->type = *type;
	return 0;
}

bool uvs_v8_is_type(struct uvs_v8_heap *h, uint64_t obj, uint16_t type)
{
	uint16_t t;

	return uvs_v8_instance_type(h, obj, &t) == 0 && t == type;
}

bool uvs_v8_type_is_string(const struct uvs_v8_heap *h, uint16_t t)
{
	return t < h->meta->first_nonstring_type;
}

/* ---- the walker ----------------------------------------------------------------------- */

struct visitor {
	/* Called with n characters (bytes, or uint16 units when two_byte); nonzero stops. */
	int (*run)(struct visitor *v, const void *chars, size_t n, bool two_byte);
	uint64_t budget; /* characters still allowed */
};

static int string_length(struct uvs_v8_heap *h, uint64_t str, uint32_t *len)
{
	int32_t n;
	int err;

	h->reads++;
	err = uvs_mem_read_exact(&h->mem, str - 1 + h->meta->string_length, &n, sizeof(n));
	if (err) {
		h->read_errors++;
		return err;
	}
	if (n < 0 || n > STRING_LENGTH_MAX)
		return -EINVAL;
	*len = (uint32_t)n;
	return 0;
}

static int walk(struct uvs_v8_heap *h, uint64_t str, uint32_t start, uint32_t len, int depth,
		struct visitor *v);

/* Visits the characters [start, start + len) of a flat array of them at base. */
static int walk_chars(struct uvs_v8_heap *h, uint64_t base, uint32_t start, uint32_t len,
		      bool two_byte, struct visitor *v)
{
	size_t unit = two_byte ? 2 : 1, chunk = CHUNK_BYTES / unit;
	uint16_t buf[CHUNK_BYTES / 2];
	int err, stop;

	if (base + ((uint64_t)start + len) * unit < base)
		return -EINVAL;
	while (len > 0) {
		size_t n = len < chunk ? len : chunk;

		if (v->budget < n)
			return -E2BIG;
		err = read_bytes(h, base + (uint64_t)start * unit, buf, n * unit);
		if (err)
			return err;
		v->budget -= n;
		stop = v->run(v, buf, n, two_byte);
		if (stop)
			return stop;
		start += (uint32_t)n;
		len -= (uint32_t)n;
	}
	return 0;
}

static int walk_seq(struct uvs_v8_heap *h, uint64_t str, uint32_t start, uint32_t len,
		    bool two_byte, struct visitor *v)
{
	const struct uvs_v8_meta *m = h->meta;
	uint64_t base = str - 1 + (two_byte ? m->seq_two_byte_chars : m->seq_one_byte_chars);

	return walk_chars(h, base, start, len, two_byte, v);
}

static int walk_cons(struct uvs_v8_heap *h, uint64_t str, uint32_t start, uint32_t len,
		     int depth, struct visitor *v)
{
	uint64_t first, second;
	uint32_t first_len;
	int err;

	err = uvs_v8_read_field(h, str, h->meta->cons_first, &first);
	if (!err)
		err = uvs_v8_read_field(h, str, h->meta->cons_second, &second);
	if (!err)
		err = string_length(h, first, &first_len);
	if (err)
		return err;
	if (start < first_len) {
		uint32_t n = first_len - start < len ? first_len - start : len;

		err = walk(h, first, start, n, depth + 1, v);
		if (err)
			return err;
		start += n;
		len -= n;
	}
	if (len == 0)
		return 0;
	return walk(h, second, start - first_len, len, depth + 1, v);
}

/*
 * An external string's characters are outside the V8 heap (node's own module sources are
 * external one-byte strings over its .rodata). Without the V8 sandbox (official Node builds),
 * ExternalString is: resource (a C++ object) at v8dbg's offset, then resource_data, the cached
 * pointer to the characters, 8 bytes further. "Uncached" external strings
 * (kUncachedExternalStringMask, 0x10 in the instance type) have no resource_data: only the
 * resource's virtual data() knows, which we cannot call.
 */
#define UNCACHED_EXTERNAL_STRING_MASK 0x10

static int walk_external(struct uvs_v8_heap *h, uint64_t str, uint16_t type, uint32_t start,
			 uint32_t len, struct visitor *v)
{
	bool two_byte = (type & h->meta->string_encoding_mask) != h->meta->one_byte_string_tag;
	uint64_t data;
	int err;

	if (type & UNCACHED_EXTERNAL_STRING_MASK)
		return -ENOTSUP;
	err = uvs_v8_read_field(h, str, h->meta->external_resource + 8, &data);
	if (err)
		return err;
	if (data == 0)
		return -EINVAL;
	return walk_chars(h, data, start, len, two_byte, v);
}

static int walk(struct uvs_v8_heap *h, uint64_t str, uint32_t start, uint32_t len, int depth,
		struct visitor *v)
{
	const struct uvs_v8_meta *m = h->meta;
	uint64_t next, offset;
	uint32_t length;
	uint16_t type, repr;
	int err;

	if (depth > STRING_DEPTH_MAX)
		return -ELOOP;
	err = uvs_v8_instance_type(h, str, &type);
	if (err)
		return err;
	if (!uvs_v8_type_is_string(h, type))
		return -EINVAL;
	err = string_length(h, str, &length);
	if (err)
		return err;
	if (start > length || len > length - start)
		return -EINVAL;
	if (len == 0)
		return 0;
	repr = type & m->string_representation_mask;
	if (repr == m->seq_string_tag)
		return walk_seq(h, str, start, len,
				(type & m->string_encoding_mask) != m->one_byte_string_tag, v);
	if (repr == m->cons_string_tag)
		return walk_cons(h, str, start, len, depth, v);
	if (repr == m->thin_string_tag) {
		err = uvs_v8_read_field(h, str, m->thin_actual, &next);
		return err ? err : walk(h, next, start, len, depth + 1, v);
	}
	if (repr == m->sliced_string_tag) {
		err = uvs_v8_read_field(h, str, m->sliced_parent, &next);
		if (!err)
			err = uvs_v8_read_field(h, str, m->sliced_offset, &offset);
		if (err)
			return err;
		if (!UVS_V8_IS_SMI(offset) || UVS_V8_SMI_VALUE(offset) < 0)
			return -EINVAL;
		if ((uint64_t)start + (uint32_t)UVS_V8_SMI_VALUE(offset) > UINT32_MAX)
			return -EINVAL;
		return walk(h, next, start + (uint32_t)UVS_V8_SMI_VALUE(offset), len, depth + 1, v);
	}
	if (repr == m->external_string_tag)
		return walk_external(h, str, type, start, len, v);
	return -EINVAL;
}

/* ---- decoding to UTF-8 ------------------------------------------------------------------ */

struct utf8_out {
	struct visitor v;
	char *out;
	size_t n, max;     /* bytes written, bytes allowed (without the NUL) */
	uint16_t pending;  /* a high surrogate waiting for its low half */
	bool cut;          /* the string did not fit whole */
};

/* Appends code point cp; 1 (stop) when it does not fit whole. */
static int put_cp(struct utf8_out *o, uint32_t cp)
{
	char b[4];
	size_t k;

	if (cp < 0x80) {
		b[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (o->n + k > o->max) {
		o->cut = true;
		return 1;
	}
	memcpy(o->out + o->n, b, k);
	o->n += k;
	return 0;
}

static int utf8_run(struct visitor *v, const void *chars, size_t n, bool two_byte)
{
	struct utf8_out *o = (struct utf8_out *)v;
	const uint8_t *c8 = chars;
	const uint16_t *c16 = chars;

	for (size_t i = 0; i < n; i++) {
		uint32_t cp = two_byte ? c16[i] : c8[i];

		if (o->pending) {
			uint16_t hi = o->pending;

			o->pending = 0;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				if (put_cp(o, 0x10000 + ((uint32_t)(hi - 0xd800) << 10) + (cp - 0xdc00)))
					return 1;
				continue;
			}
			if (put_cp(o, 0xfffd))
				return 1;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			o->pending = (uint16_t)cp;
			continue;
		}
		if (cp >= 0xdc00 && cp <= 0xdfff)
			cp = 0xfffd; /* a lone low surrogate */
		if (put_cp(o, cp))
			return 1;
	}
	return 0;
}

int uvs_v8_read_string(struct uvs_v8_heap *h, uint64_t str, char *out, size_t cap)
{
	struct utf8_out o = { .v = { .run = utf8_run }, .out = out };
	uint32_t length;
	int err;

	if (cap == 0)
		return -EINVAL;
	out[0] = '\0';
	o.max = cap - 1 < UVS_V8_STRING_MAX ? cap - 1 : UVS_V8_STRING_MAX;
	if (!UVS_V8_IS_HEAP_OBJECT(str))
		return -EINVAL;
	err = string_length(h, str, &length);
	if (err)
		return err;
	/* Never more characters than could fill the output. */
	if (length > o.max) {
		length = (uint32_t)o.max;
		o.cut = true;
	}
	o.v.budget = length;
	err = walk(h, str, 0, length, 0, &o.v);
	if (err < 0)
		return err;
	if (o.pending && o.n + 3 <= o.max)
		put_cp(&o, 0xfffd);
	/* A string cut to fit says so. */
	if (o.cut)
		o.n = uvs_utf8_end_cut(out, o.n, o.max);
	out[o.n] = '\0';
	return (int)o.n;
}

/* ---- counting lines --------------------------------------------------------------------- */

struct line_counter {
	struct visitor v;
	int64_t lines;
	bool after_cr; /* the previous character was \r (a \n right after it ends no new line) */
};

static int count_run(struct visitor *v, const void *chars, size_t n, bool two_byte)
{
	struct line_counter *c = (struct line_counter *)v;
	const uint8_t *c8 = chars;
	const uint16_t *c16 = chars;

	for (size_t i = 0; i < n; i++) {
		uint32_t ch = two_byte ? c16[i] : c8[i];

		if (ch == '\n') {
			if (!c->after_cr)
				c->lines++;
		} else if (ch == '\r' || ch == 0x2028 || ch == 0x2029) {
			c->lines++;
		}
		c->after_cr = ch == '\r';
	}
	return 0;
}

int64_t uvs_v8_count_lines(struct uvs_v8_heap *h, uint64_t str, uint32_t upto, uint32_t budget)
{
	struct line_counter c = { .v = { .run = count_run, .budget = budget } };
	int err;

	if (upto > budget)
		return -E2BIG;
	err = walk(h, str, 0, upto, 0, &c.v);
	return err ? err : c.lines;
}
