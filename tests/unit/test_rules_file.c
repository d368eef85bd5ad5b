// SPDX-License-Identifier: MIT
/* The rules file: every key, [defaults], and each kind of mistake named with its line and key. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/alert_rules.h"
#include "core/rules_file.h"

#define S 1000000000ULL
#define MS 1000000ULL

static struct uvs_alert_config c;
static char why[512];

static void setup(void)
{
	uvs_alert_config_default(&c);
	why[0] = '\0';
}

TestSuite(rules_file, .init = setup);

static int parse(const char *text)
{
	return uvs_rules_parse("rules.ini", text, strlen(text), &c, why, sizeof(why));
}

Test(rules_file, every_key)
{
	int err = parse("; uvscope rules\n"
			"# a comment too\n"
			"[loop_blocked]\n"
			"threshold = 250ms\n"
			"severity = warning\n"
			"rate_limit = 5/1m\n"
			"\n"
			"[loop_utilization]\n"
			"enabled = true\n"
			"threshold = 95%\n"
			"for = 1m\n"
			"hold = 30s\n"
			"[pool_queue_wait]\n"
			"threshold = 50ms ; inline comment\n"
			"[gc_share]\n"
			"enabled = false\n"
			"[retransmit_rate]\n"
			"threshold = 2.5\n"
			"rate_limit = none\n"
			"[fd_limit]\n"
			"threshold = 0.9\n"
			"severity = info\n"
			"[close_wait_growth]\n"
			"threshold = 4\n"
			"for = 0\n");

	cr_assert_eq(err, 0, "%s", why);
	cr_expect_eq(uvs_alert_config_block_ns(&c), 250 * MS);
	cr_expect_eq(c.rule[UVS_ALERT_LOOP_BLOCKED].severity, UVS_SEVERITY_WARNING);
	cr_expect_eq(c.rule[UVS_ALERT_LOOP_BLOCKED].rate_max, 5);
	cr_expect_eq(c.rule[UVS_ALERT_LOOP_BLOCKED].rate_per_ns, 60 * S);
	cr_expect_float_eq(c.rule[UVS_ALERT_LOOP_UTILIZATION].threshold, 0.95, 1e-9);
	cr_expect_eq(c.rule[UVS_ALERT_LOOP_UTILIZATION].for_ns, 60 * S);
	cr_expect_eq(c.rule[UVS_ALERT_LOOP_UTILIZATION].hold_ns, 30 * S);
	cr_expect_float_eq(c.rule[UVS_ALERT_POOL_QUEUE_WAIT].threshold, 50e6, 1e-3);
	cr_expect(!c.rule[UVS_ALERT_GC_SHARE].enabled);
	cr_expect_float_eq(c.rule[UVS_ALERT_RETRANSMIT_RATE].threshold, 2.5, 1e-9);
	cr_expect_eq(c.rule[UVS_ALERT_RETRANSMIT_RATE].rate_max, 0);
	cr_expect_float_eq(c.rule[UVS_ALERT_FD_LIMIT].threshold, 0.9, 1e-9);
	cr_expect_eq(c.rule[UVS_ALERT_FD_LIMIT].severity, UVS_SEVERITY_INFO);
	cr_expect_float_eq(c.rule[UVS_ALERT_CLOSE_WAIT_GROWTH].threshold, 4, 1e-9);
	cr_expect_eq(c.rule[UVS_ALERT_CLOSE_WAIT_GROWTH].for_ns, 0);
	/* What the file does not name keeps its default. */
	cr_expect(c.rule[UVS_ALERT_POOL_SATURATED].enabled);
	cr_expect_float_eq(c.rule[UVS_ALERT_POOL_SATURATED].threshold, 0.5, 1e-9);
}

/* [defaults] gives hold and rate_limit to every rule that does not set its own, wherever it is. */
Test(rules_file, defaults_section)
{
	cr_assert_eq(parse("[fd_growth]\nhold = 1s\n[defaults]\nhold = 20s\nrate_limit = 3/1h\n"),
		     0, "%s", why);
	cr_expect_eq(c.rule[UVS_ALERT_FD_GROWTH].hold_ns, S);
	cr_expect_eq(c.rule[UVS_ALERT_FD_LIMIT].hold_ns, 20 * S);
	cr_expect_eq(c.rule[UVS_ALERT_LOOP_BLOCKED].hold_ns, 0, "loop_blocked has no hold");
	cr_expect_eq(c.rule[UVS_ALERT_FD_GROWTH].rate_max, 3);
	cr_expect_eq(c.rule[UVS_ALERT_LOOP_BLOCKED].rate_max, 3);
	cr_expect_eq(c.rule[UVS_ALERT_GC_SHARE].rate_per_ns, 3600 * S);
}

Test(rules_file, empty_file_is_the_defaults)
{
	struct uvs_alert_config d;

	uvs_alert_config_default(&d);
	cr_assert_eq(parse(""), 0);
	cr_expect_eq(memcmp(&c, &d, sizeof(c)), 0);
	cr_assert_eq(parse("\xef\xbb\xbf; a BOM and a comment\n"), 0, "%s", why);
}

/* Each mistake: the file, its line and the key in the message; nothing applied. */
Test(rules_file, errors_name_file_line_and_key)
{
	static const struct {
		const char *text, *message;
	} bad[] = {
		{ "[loop_blocked]\nthreshold = 100\n", "rules.ini:2: [loop_blocked] threshold: '100'" },
		{ "[loop_blocked]\nthreshold = 0ms\n", "rules.ini:2: [loop_blocked] threshold: '0ms'" },
		{ "threshold = 1\n", "rules.ini:1: threshold: a key before any [section]" },
		{ "\n[loop_blokced]\nenabled = true\n", "rules.ini:2: [loop_blokced]: no such rule" },
		{ "[fd_limit]\nthreshold = 80\n", "rules.ini:2: [fd_limit] threshold: '80' is not a share" },
		{ "[fd_limit]\nthreshold = 0\n", "rules.ini:2: [fd_limit] threshold: '0'" },
		{ "[fd_limit]\nthreshold = 101%\n", "rules.ini:2: [fd_limit] threshold: '101%'" },
		{ "[fd_limit]\nthreshold = -0.5\n", "rules.ini:2: [fd_limit] threshold: '-0.5'" },
		{ "[fd_limit]\nthreshold = 1e-1\n", "rules.ini:2: [fd_limit] threshold: '1e-1'" },
		{ "[fd_limit]\nthreshold = nan\n", "rules.ini:2: [fd_limit] threshold: 'nan'" },
		{ "[fd_growth]\nthreshold = 1.5\n", "rules.ini:2: [fd_growth] threshold: '1.5'" },
		{ "[fd_growth]\nthreshold =\n", "rules.ini:2: [fd_growth] threshold: ''" },
		{ "[retransmit_rate]\nthreshold = 0\n", "rules.ini:2: [retransmit_rate] threshold: '0'" },
		{ "[gc_share]\nenabled = yes\n", "rules.ini:2: [gc_share] enabled: 'yes' is not true or false" },
		{ "[gc_share]\nseverity = high\n", "rules.ini:2: [gc_share] severity: 'high'" },
		{ "[gc_share]\nfor = 10 s\n", "rules.ini:2: [gc_share] for: '10 s'" },
		{ "[gc_share]\nhold = 2d\n", "rules.ini:2: [gc_share] hold: '2d'" },
		{ "[gc_share]\nfor = 25h\n", "rules.ini:2: [gc_share] for: '25h'" },
		{ "[gc_share]\nfor = 30\n", "rules.ini:2: [gc_share] for: '30' is not a duration" },
		{ "[gc_share]\nrate_limit = 5/60\n", "rules.ini:2: [gc_share] rate_limit: '5/60'" },
		{ "[gc_share]\nrate_limit = 10\n", "rules.ini:2: [gc_share] rate_limit: '10'" },
		{ "[gc_share]\nrate_limit = 0/1h\n", "rules.ini:2: [gc_share] rate_limit: '0/1h'" },
		{ "[gc_share]\nrate_limit = 5/0s\n", "rules.ini:2: [gc_share] rate_limit: '5/0s'" },
		{ "[gc_share]\ncolour = red\n", "rules.ini:2: [gc_share] colour: no such key" },
		{ "[gc_share]\nfor = 1s\nfor = 2s\n", "rules.ini:3: [gc_share] for: given twice" },
		{ "[gc_share]\nfor = 1s\n  2s\n", "rules.ini:3: [gc_share] for: given twice" },
		{ "[loop_blocked]\nfor = 1s\n", "rules.ini:2: [loop_blocked] for: loop_blocked has no for" },
		{ "[defaults]\nthreshold = 1\n", "rules.ini:2: [defaults] threshold: no such key" },
		{ "[gc_share\nfor = 1s\n", "rules.ini:1: not a [section] or a key = value line" },
		{ "[gc_share]\njust words\n", "rules.ini:2: not a [section] or a key = value line" },
		{ "[gc_share]\n\nfor = 1s\nx\n[nope]\na=b\n", "rules.ini:4: not a [section]" },
		{ "[a]\n", "rules.ini:1: [a]: no such rule" },
		{ "[fd_limit]\n[defaults]\n[b]\n", "rules.ini:3: [b]: no such rule" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct uvs_alert_config before = c;

		cr_expect_eq(parse(bad[i].text), -EINVAL, "accepted: %s", bad[i].text);
		cr_expect(!strncmp(why, bad[i].message, strlen(bad[i].message)),
			  "%s\n  said:     %s\n  expected: %s", bad[i].text, why, bad[i].message);
		cr_expect_eq(memcmp(&before, &c, sizeof(c)), 0, "changed by a bad file: %s",
			     bad[i].text);
	}
}

Test(rules_file, nul_bytes_and_long_lines)
{
	char text[400];

	cr_expect_eq(uvs_rules_parse("r", "[gc_share]\nfor = 1\0s\n", 20, &c, why, sizeof(why)),
		     -EINVAL);
	cr_expect(strstr(why, "r:2: a NUL byte"), "%s", why);
	memset(text, 'x', sizeof(text));
	memcpy(text, "[gc_share]\n; ", 13);
	cr_expect_eq(uvs_rules_parse("r", text, sizeof(text), &c, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "r:2: line longer than"), "%s", why);
}

/* An error quotes the file: its control bytes never reach the operator's terminal raw. */
Test(rules_file, errors_quote_no_control_byte)
{
	const char *p;

	cr_expect_eq(parse("\033]0;pwned\007\033[2J\033[31mkey = 1\n"), -EINVAL);
	cr_expect(strstr(why, "rules.ini:1: "), "%s", why);
	for (p = why; *p; p++)
		cr_expect((unsigned char)*p >= 0x20 && *p != 0x7f, "byte 0x%02x in: %s",
			  (unsigned char)*p, why);
	cr_expect_eq(parse("[loop_blocked]\nthreshold_ms\x1b[2J = 5\n"), -EINVAL);
	for (p = why; *p; p++)
		cr_expect((unsigned char)*p >= 0x20 && *p != 0x7f, "byte 0x%02x in: %s",
			  (unsigned char)*p, why);
}

Test(rules_file, files)
{
	char path[] = "/tmp/uvscope-rules-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	cr_assert(fd >= 0);
	f = fdopen(fd, "w");
	fputs("[sync_io_on_loop]\nthreshold = 3\n", f);
	fclose(f);
	cr_expect_eq(uvs_rules_load(path, &c, why, sizeof(why)), 0, "%s", why);
	cr_expect_float_eq(c.rule[UVS_ALERT_SYNC_IO_ON_LOOP].threshold, 3, 1e-9);
	unlink(path);
	cr_expect_eq(uvs_rules_load(path, &c, why, sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "No such file"), "%s", why);
	cr_expect_eq(uvs_rules_load("/tmp", &c, why, sizeof(why)), -EISDIR, "%s", why);
}

/* The example file that ships with uvscope is valid, and says every default as it is. */
Test(rules_file, shipped_example_is_the_defaults)
{
	struct uvs_alert_config d;
	const char *root = getenv("ROOT");
	char path[4096];

	cr_assert(root, "ROOT is not set (make unit sets it)");
	snprintf(path, sizeof(path), "%s/deploy/uvscope-rules.ini", root);
	uvs_alert_config_default(&d);
	cr_assert_eq(uvs_rules_load(path, &c, why, sizeof(why)), 0, "%s", why);
	for (int k = UVS_ALERT_LOOP_BLOCKED; k <= UVS_ALERT_KIND_LAST; k++) {
		cr_expect_eq(c.rule[k].enabled, d.rule[k].enabled, "%d", k);
		cr_expect_eq(c.rule[k].severity, d.rule[k].severity, "%d", k);
		cr_expect_float_eq(c.rule[k].threshold, d.rule[k].threshold, 1e-6, "%d", k);
		cr_expect_eq(c.rule[k].for_ns, d.rule[k].for_ns, "%d", k);
		cr_expect_eq(c.rule[k].hold_ns, d.rule[k].hold_ns, "%d", k);
		cr_expect_eq(c.rule[k].rate_max, d.rule[k].rate_max, "%d", k);
		cr_expect_eq(c.rule[k].rate_per_ns, d.rule[k].rate_per_ns, "%d", k);
	}
}

/* The command line wins over the file; the file wins over the defaults. */
Test(rules_file, block_ms_wins)
{
	char path[] = "/tmp/uvscope-rules-XXXXXX";
	int fd = mkstemp(path);
	struct uvs_cli cli = { .block_ns = 100 * MS };
	FILE *f, *err = fopen("/dev/null", "w");

	cr_assert(fd >= 0 && err);
	f = fdopen(fd, "w");
	fputs("[loop_blocked]\nthreshold = 300ms\n", f);
	fclose(f);
	cli.rules_file = path;
	cr_assert_eq(uvs_cli_alert_rules(&cli, &c, err), UVS_CLI_OK);
	cr_expect_eq(cli.block_ns, 300 * MS, "the file's threshold is the collector's");
	cli.block_ns = 50 * MS;
	cli.block_ms_given = true;
	cr_assert_eq(uvs_cli_alert_rules(&cli, &c, err), UVS_CLI_OK);
	cr_expect_eq(uvs_alert_config_block_ns(&c), 50 * MS, "--block-ms wins");
	unlink(path);
	cr_expect_eq(uvs_cli_alert_rules(&cli, &c, err), UVS_CLI_USAGE, "a missing file");
	fclose(err);
}
