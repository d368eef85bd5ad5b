// SPDX-License-Identifier: MIT
/*
 * Names of roles and phases as every output spells them. They are part of the JSON schema
 * (docs/json.md), so changing one is a schema change.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/snapshot.h"
#include "core/socket_list.h"

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

static const struct {
	const char *name;
	const char *text;
} loop_stops[] = {
	[UVS_LOOP_STOPPED_SIGNAL] = { "signal", "the process is stopped by a signal (SIGSTOP, "
						"SIGTSTP), its loop not running" },
	[UVS_LOOP_STOPPED_DEBUGGER] = { "debugger", "the thread is stopped by a debugger (a "
						    "ptrace stop), its loop not running" },
	[UVS_LOOP_FROZEN] = { "frozen", "the process's cgroup is frozen (docker pause, the cgroup "
					"freezer), its loop not running" },
};

const char *uvs_loop_stop_name(enum uvs_loop_stop stop)
{
	return (unsigned int)stop < sizeof(loop_stops) / sizeof(loop_stops[0]) ?
		       loop_stops[stop].name : NULL;
}

const char *uvs_loop_stop_text(enum uvs_loop_stop stop)
{
	return (unsigned int)stop < sizeof(loop_stops) / sizeof(loop_stops[0]) ?
		       loop_stops[stop].text : NULL;
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

const char *uvs_alert_kind_name(enum uvs_alert_kind kind)
{
	switch (kind) {
	case UVS_ALERT_LOOP_BLOCKED:
		return "loop_blocked";
	case UVS_ALERT_POOL_SATURATED:
		return "threadpool_saturated";
	case UVS_ALERT_SYNC_IO_ON_LOOP:
		return "sync_io_on_loop";
	case UVS_ALERT_FD_LIMIT:
		return "fd_limit";
	case UVS_ALERT_FD_GROWTH:
		return "fd_growth";
	case UVS_ALERT_CLOSE_WAIT_GROWTH:
		return "close_wait_growth";
	case UVS_ALERT_ACCEPT_QUEUE_FULL:
		return "accept_queue_full";
	case UVS_ALERT_RETRANSMIT_RATE:
		return "retransmit_rate";
	case UVS_ALERT_LOOP_UTILIZATION:
		return "loop_utilization";
	case UVS_ALERT_POOL_QUEUE_WAIT:
		return "pool_queue_wait";
	case UVS_ALERT_GC_SHARE:
		return "gc_share";
	}
	/* Only a value outside the enum gets here: a bug, never a name to print. */
	return "invalid";
}

const char *uvs_alert_status_name(enum uvs_alert_status state)
{
	return state == UVS_ALERT_RESOLVED ? "resolved" : "firing";
}

const char *uvs_severity_name(enum uvs_severity severity)
{
	switch (severity) {
	case UVS_SEVERITY_INFO:
		return "info";
	case UVS_SEVERITY_WARNING:
		return "warning";
	case UVS_SEVERITY_CRITICAL:
		return "critical";
	}
	return "warning";
}

uint64_t uvs_agent_losses(const struct uvs_snapshot *s)
{
	const struct uvs_agent_snapshot *a = &s->agent;

	return a->drops + a->insert_failures + a->pool_jobs_lost + a->pool_jobs_unfollowed +
	       a->pool_jobs_unseen + a->pool_records_dropped +
	       a->slow_syscalls_dropped + a->syscall_pairs_unfit + a->sockets_lost +
	       a->stack_samples_lost + a->gc_threads_lost + a->gc_records_dropped +
	       s->syscalls.lost;
}

const char *uvs_tcp_state_name(unsigned int state)
{
	static const char *const names[UVS_TCP_STATES] = {
		[UVS_TCP_ESTABLISHED] = "ESTABLISHED", [UVS_TCP_SYN_SENT] = "SYN_SENT",
		[UVS_TCP_SYN_RECV] = "SYN_RECV",       [UVS_TCP_FIN_WAIT1] = "FIN_WAIT1",
		[UVS_TCP_FIN_WAIT2] = "FIN_WAIT2",     [UVS_TCP_TIME_WAIT] = "TIME_WAIT",
		[UVS_TCP_CLOSE] = "CLOSE",             [UVS_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
		[UVS_TCP_LAST_ACK] = "LAST_ACK",       [UVS_TCP_LISTEN] = "LISTEN",
		[UVS_TCP_CLOSING] = "CLOSING",         [UVS_TCP_NEW_SYN_RECV] = "NEW_SYN_RECV",
	};

	return state < UVS_TCP_STATES && names[state] ? names[state] : "UNKNOWN";
}

bool uvs_addr_unspecified(int family, const uint8_t addr[16])
{
	static const uint8_t zero[16];

	return memcmp(addr, zero, family == AF_INET6 ? 16 : 4) == 0;
}

void uvs_format_endpoint_json(int family, const uint8_t addr[16], uint16_t port, char *buf,
			      size_t cap)
{
	if (!uvs_addr_unspecified(family, addr)) {
		uvs_format_endpoint(family, addr, port, buf, cap);
		return;
	}
	if (port)
		snprintf(buf, cap, "*:%u", port);
	else
		snprintf(buf, cap, "*:*");
}

/*
 * As ss writes them: the unspecified address keeps its family (0.0.0.0 and [::] are different
 * listeners, and a table that showed both as * hid which one the process has), a zero port is *.
 */
void uvs_format_endpoint(int family, const uint8_t addr[16], uint16_t port, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?", p[8] = "*";

	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	if (port)
		snprintf(p, sizeof(p), "%u", port);
	if (family == AF_INET6)
		snprintf(buf, cap, "[%s]:%s", a, p);
	else
		snprintf(buf, cap, "%s:%s", a, p);
}
