// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: what /metrics reads from a request and from the target. The input's first
 * byte chooses: even, the rest is an Accept header for the format negotiation (render/
 * prom_writer.c parses it itself; MHD parses the rest of the request); odd, the rest is a
 * process name written as a label value, which must come out as exactly one sample line of
 * valid UTF-8 whose label value ends at its first unescaped '"'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/prom_writer.h"
#include "util/text.h"

static const struct uvs_prom_family fam = { "uvscope_f", UVS_PROM_GAUGE, "f" };

static void check_label(const char *value)
{
	char *buf = NULL, *line, *v;
	size_t len = 0, i, lines = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct uvs_prom_writer w;

	if (!mem)
		abort();
	uvs_prom_begin(&w, mem, UVS_PROM_TEXT);
	if (uvs_prom_base_label(&w, "comm", value, 15))
		abort(); /* 15 bytes, escaped, always fit */
	uvs_prom_family(&w, &fam);
	uvs_prom_u64(&w, NULL, 1);
	uvs_prom_end(&w);
	fclose(mem);
	for (i = 0; i < len; i++)
		lines += buf[i] == '\n';
	if (lines != 3 || buf[len - 1] != '\n')
		abort();
	/* Valid UTF-8 (uvs_utf8_len takes multi-byte sequences), no control byte but '\n'. */
	for (i = 0; i < len;) {
		unsigned char c = (unsigned char)buf[i];
		size_t n = c < 0x80 ? 1 : uvs_utf8_len((const unsigned char *)buf + i, len - i);

		if (!n || (c < 0x20 && c != '\n') || c == 0x7f)
			abort();
		i += n;
	}
	line = strstr(buf, "\nuvscope_f{comm=\"");
	if (!line)
		abort();
	v = line + strlen("\nuvscope_f{comm=\"");
	/* The value ends at the first '"' not escaped; after it comes "} 1". */
	for (i = 0; v[i] && !(v[i] == '"'); i++)
		if (v[i] == '\\' && (v[++i] != '\\' && v[i] != '"' && v[i] != 'n'))
			abort();
	if (strcmp(v + i, "\"} 1\n"))
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = malloc(size);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] % 2 == 0) {
		enum uvs_prom_format f = uvs_prom_negotiate(s);

		if (f != UVS_PROM_TEXT && f != UVS_PROM_OPENMETRICS)
			abort();
		/* Only a header that names OpenMetrics can ask for it. */
		if (f == UVS_PROM_OPENMETRICS && !strcasestr(s, "application/openmetrics-text"))
			abort();
	} else {
		check_label(s);
	}
	free(s);
	return 0;
}
