// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the rules file (core/rules_file.h) on any bytes. It must either accept the
 * text, leaving every rule within its documented bounds, or refuse it with a message that names
 * the file and a line, leaving the settings as they were.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/rules_file.h"

static void check_rules(const struct uvs_alert_config *c)
{
	for (int k = UVS_ALERT_LOOP_BLOCKED; k <= UVS_ALERT_KIND_LAST; k++) {
		const struct uvs_rule *r = &c->rule[k];
		const struct uvs_rule_info *info = uvs_rule_info((enum uvs_alert_kind)k);

		if (r->threshold < info->min || r->threshold > info->max || !(r->threshold > 0))
			abort();
		if (r->for_ns > 86400ULL * 1000000000ULL || r->hold_ns > 86400ULL * 1000000000ULL)
			abort();
		if (r->rate_max > 1000000 || (r->rate_max && !r->rate_per_ns))
			abort();
		if (r->severity > UVS_SEVERITY_CRITICAL)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uvs_alert_config c, before;
	char why[512];
	int err;

	uvs_alert_config_default(&c);
	before = c;
	why[0] = '\0';
	err = uvs_rules_parse("f.ini", (const char *)data, size, &c, why, sizeof(why));
	if (err == 0) {
		check_rules(&c);
	} else {
		if (err != -EINVAL || strncmp(why, "f.ini:", 6) || memcmp(&c, &before, sizeof(c)))
			abort();
		if (!memchr(why, '\0', sizeof(why)))
			abort();
	}
	return 0;
}
