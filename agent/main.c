// SPDX-License-Identifier: MIT
/* uvscope: attach to a running Node.js process and measure its event loops. */
#include <stdio.h>

#include "cli/alert_rules.h"
#include "cli/options.h"
#include "core/flame_proc.h"
#include "core/session.h"
#include "core/sockets_command.h"
#include "util/heap.h"

int main(int argc, char **argv)
{
	struct uvs_alert_config rules;
	struct uvs_cli cli;
	int ret;

	uvs_heap_setup();
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = uvs_cli_parse(argc, argv, &cli, stdout, stderr);
	if (ret == UVS_CLI_EXIT)
		return 0;
	if (ret != UVS_CLI_OK)
		return 2;
	if (cli.command == UVS_CMD_SOCKETS)
		return uvs_sockets_command(&cli);
	if (cli.command == UVS_CMD_FLAME && uvs_flame_proc_wanted(&cli))
		return uvs_flame_proc_run(&cli);
	if (uvs_cli_alert_rules(&cli, &rules, stderr) != UVS_CLI_OK)
		return 2;
	ret = uvs_session_run(&cli, &rules);
	/* BPF passed the privilege check but was refused at attach: said in one line already. */
	if (ret == UVS_SESSION_FLAME_PROC)
		return uvs_flame_proc_run(&cli);
	return ret;
}
