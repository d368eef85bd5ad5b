// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "target/cmdline_match.h"

int uvs_cmdline_match_init(struct uvs_cmdline_match *m, const char *regex, char *why, size_t cap)
{
	int rc;

	memset(m, 0, sizeof(*m));
	rc = regcomp(&m->re, regex, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &m->re, why, cap);
		/* regcomp leaves nothing to free on failure. */
		return rc == REG_ESPACE ? -ENOMEM : -EINVAL;
	}
	m->compiled = true;
	return 0;
}

bool uvs_cmdline_match(const struct uvs_cmdline_match *m, const char *raw, size_t len)
{
	char line[UVS_CMDLINE_MATCH_MAX + 1];
	size_t i;

	if (!m->compiled)
		return false;
	if (len > UVS_CMDLINE_MATCH_MAX)
		len = UVS_CMDLINE_MATCH_MAX;
	/* The last argument ends in a NUL too: it is not a space at the end of the line. */
	while (len && raw[len - 1] == '\0')
		len--;
	for (i = 0; i < len; i++)
		line[i] = raw[i] ? raw[i] : ' ';
	line[len] = '\0';
	return regexec(&m->re, line, 0, NULL, 0) == 0;
}

void uvs_cmdline_match_free(struct uvs_cmdline_match *m)
{
	if (m->compiled)
		regfree(&m->re);
	m->compiled = false;
}
