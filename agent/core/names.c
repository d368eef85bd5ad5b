// SPDX-License-Identifier: MIT
/*
 * Names of roles and phases as every output spells them. They are part of the JSON schema
 * (docs/json.md), so changing one is a schema change.
 */
#include "core/snapshot.h"

static const char *const role_names[] = {
	[UVS_ROLE_OTHER] = "other",
	[UVS_ROLE_MAIN] = "main",
	[UVS_ROLE_WORKER] = "worker",
	[UVS_ROLE_THREADPOOL] = "threadpool",
	[UVS_ROLE_LOOP] = "loop",
};

static const char *const phase_names[UVS_PHASE_COUNT] = {
	[UVS_PHASE_TIMERS] = "timers",
	[UVS_PHASE_PENDING] = "pending",
	[UVS_PHASE_IDLE] = "idle",
	[UVS_PHASE_PREPARE] = "prepare",
	[UVS_PHASE_POLL_WAIT] = "poll_wait",
	[UVS_PHASE_POLL_IO] = "poll_io",
	[UVS_PHASE_CHECK] = "check",
	[UVS_PHASE_CLOSE] = "close",
};

/* An out-of-range role is a thread we could not place: report it as "other", a schema value. */
const char *uvs_role_name(enum uvs_role role)
{
	if ((unsigned int)role >= sizeof(role_names) / sizeof(role_names[0]))
		return role_names[UVS_ROLE_OTHER];
	return role_names[role];
}

const char *uvs_phase_name(enum uvs_phase phase)
{
	if ((unsigned int)phase >= UVS_PHASE_COUNT)
		return "unknown";
	return phase_names[phase];
}

/* uv_fs_type of libuv 1.x (uv.h); the values are part of libuv's ABI. */
static const char *const fs_ops[] = {
	"custom", "open", "close", "read", "write", "sendfile", "stat", "lstat", "fstat",
	"ftruncate", "utime", "futime", "access", "chmod", "fchmod", "fsync", "fdatasync",
	"unlink", "rmdir", "mkdir", "mkdtemp", "rename", "scandir", "link", "symlink",
	"readlink", "chown", "fchown", "realpath", "copyfile", "lchown", "opendir", "readdir",
	"closedir", "statfs", "mkstemp", "lutime",
};

const char *uvs_fs_op_name(unsigned int type)
{
	return type < sizeof(fs_ops) / sizeof(fs_ops[0]) ? fs_ops[type] : NULL;
}

const char *uvs_pool_kind_name(enum uvs_pool_kind kind)
{
	static const char *const names[UVS_POOL_KINDS] = { "fs", "dns", "crypto", "zlib", "other",
							   "random" };

	return kind < UVS_POOL_KINDS ? names[kind] : "?";
}

const char *uvs_fd_type_name(enum uvs_fd_type type)
{
	static const char *const names[UVS_FD_TYPES] = { "file", "socket", "pipe", "anon",
							 "other" };

	return (unsigned int)type < UVS_FD_TYPES ? names[type] : "other";
}

const char *uvs_sys_role_name(enum uvs_sys_role role)
{
	static const char *const names[UVS_SYS_ROLES] = { "loop", "pool", "other" };

	return (unsigned int)role < UVS_SYS_ROLES ? names[role] : "other";
}
