/* SPDX-License-Identifier: MIT */
/*
 * Where the target lives: its pid inside its own PID namespace, and the container it runs in,
 * named by the id container runtimes put in its cgroup path. uvscope is given the host pid;
 * what the operator knows the process by inside a container (its pid there, the container's
 * id as `docker ps` and `crictl ps` show it) comes from here. Files of the target are opened
 * through /proc/PID (exe, map_files, root), so they are the container's own.
 */
#ifndef UVSCOPE_CONTAINER_H
#define UVSCOPE_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>

/* A container id as shown: the first 12 hex digits of the runtime's 64. */
#define UVS_CONTAINER_ID_LEN 12

struct uvs_container {
	int ns_pid;                            /* the pid in its innermost PID namespace */
	char id[UVS_CONTAINER_ID_LEN + 1];     /* "" when no container id is in its cgroup */
};

/* The target's pid in its innermost PID namespace (the last NSpid field), or -errno. */
int uvs_nspid(int pid);

/*
 * The container id in /proc/PID/cgroup text: the first run of exactly 64 hex digits in a
 * cgroup path (docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>,
 * /docker/<id>, /kubepods/.../<id>), cut to UVS_CONTAINER_ID_LEN. false (out "") when none.
 */
bool uvs_container_id_from_cgroup(const char *text, char *out, size_t cap);

/* Both, for process pid. 0, or -errno when its status cannot be read. */
int uvs_container_read(int pid, struct uvs_container *out);

/*
 * The cgroup path in /proc/PID/cgroup text: the v2 one ("0::PATH") when controller is NULL,
 * else v1's hierarchy holding that controller ("N:cpu,freezer:PATH"). false when there is none,
 * or the path is not absolute, goes up ("/..") or does not fit cap.
 */
bool uvs_cgroup_path_of(const char *text, const char *controller, char *out, size_t cap);

/*
 * Whether process pid's cgroup is frozen (docker pause, `cgroup.freeze`, v1's freezer.state):
 * its threads do not run, whatever their state says. v2's cgroup.events and v1's freezer, as
 * mounted in uvscope's own mount namespace; false when neither can be read.
 */
bool uvs_cgroup_frozen(int pid);

#endif
