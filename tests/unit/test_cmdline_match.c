// SPDX-License-Identifier: MIT
/* --match: a POSIX extended regex against the command line, its NULs read as spaces. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "target/cmdline_match.h"

/* A command line as /proc/PID/cmdline gives it: each argument ends in a NUL. */
#define RAW(s) s, sizeof(s) - 1

Test(cmdline_match, arguments_are_joined_by_spaces)
{
	struct uvs_cmdline_match m;
	char why[128];

	cr_assert_eq(uvs_cmdline_match_init(&m, "^node --max-old-space-size=[0-9]+ server\\.js$",
					    why, sizeof(why)), 0, "%s", why);
	cr_expect(uvs_cmdline_match(&m, RAW("node\0--max-old-space-size=512\0server.js\0")));
	cr_expect(!uvs_cmdline_match(&m, RAW("node\0--max-old-space-size=512\0serverXjs\0")));
	cr_expect(!uvs_cmdline_match(&m, RAW("node\0server.js\0")));
	uvs_cmdline_match_free(&m);
}

Test(cmdline_match, anywhere_in_the_line)
{
	struct uvs_cmdline_match m;
	char why[128];

	cr_assert_eq(uvs_cmdline_match_init(&m, "api|worker", why, sizeof(why)), 0, "%s", why);
	cr_expect(uvs_cmdline_match(&m, RAW("/usr/bin/node\0/srv/api/index.js\0")));
	cr_expect(uvs_cmdline_match(&m, RAW("node\0worker.js\0")));
	cr_expect(!uvs_cmdline_match(&m, RAW("node\0cron.js\0")));
	cr_expect(!uvs_cmdline_match(&m, "", 0), "an empty command line (kernel thread)");
	/* A process that rewrote its cmdline may leave no NUL at the end. */
	cr_expect(uvs_cmdline_match(&m, "node api", 8));
	uvs_cmdline_match_free(&m);
}

Test(cmdline_match, only_the_first_4096_bytes)
{
	static char raw[UVS_CMDLINE_MATCH_MAX + 64];
	struct uvs_cmdline_match m;
	char why[128];

	memset(raw, 'a', sizeof(raw));
	memcpy(raw + UVS_CMDLINE_MATCH_MAX + 10, "needle", 6);
	cr_assert_eq(uvs_cmdline_match_init(&m, "needle", why, sizeof(why)), 0, "%s", why);
	cr_expect(!uvs_cmdline_match(&m, raw, sizeof(raw)));
	memcpy(raw + UVS_CMDLINE_MATCH_MAX - 6, "needle", 6);
	cr_expect(uvs_cmdline_match(&m, raw, sizeof(raw)));
	uvs_cmdline_match_free(&m);
}

Test(cmdline_match, a_bad_regex_says_why)
{
	struct uvs_cmdline_match m;
	char why[128] = "";

	cr_expect_eq(uvs_cmdline_match_init(&m, "node[", why, sizeof(why)), -EINVAL);
	cr_expect(why[0], "regerror's words");
	cr_expect(!uvs_cmdline_match(&m, RAW("node[\0")), "a failed regex matches nothing");
	uvs_cmdline_match_free(&m);
	uvs_cmdline_match_free(&m);
}
