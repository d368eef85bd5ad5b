# shellcheck shell=bash
# scripts/bench-lib.sh: helpers shared by the benchmark scripts (scripts/bench.sh,
# scripts/agent-cost.sh, scripts/op-cost.sh, scripts/many-cost.sh), sourced, never run. No
# forks where timing matters. They read these globals of the script that sources them: CLK_TCK
# (getconf CLK_TCK), NCPU (CPUs), QUIET_PCT and QUIET_WAIT (wait_quiet).

# A sleep that does not fork: read with a timeout on a pipe nobody ever writes.
exec {NAP_FD}<> <(:)
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }

now_us() { REPLY=${EPOCHREALTIME/./}; }

# stop_pids SECONDS PID...: SIGTERM, then SIGKILL for any still there after SECONDS; reaped.
stop_pids() {
	local secs=$1 pid i alive
	shift
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for ((i = 0; i < secs * 20; i++)); do
		alive=0
		for pid in "$@"; do
			if kill -0 "$pid" 2>/dev/null; then alive=1; fi
		done
		(( alive )) || break
		nap 0.05
	done
	for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
	for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# REPLY = nanoseconds on CPU, summed over all threads of PID (schedstat's first field).
sched_ns() {
	local f a rest sum=0
	for f in /proc/"$1"/task/*/schedstat; do
		if read -r a rest <"$f" 2>/dev/null; then sum=$((sum + a)); fi
	done
	REPLY=$sum
}

# REPLY = "UTIME STIME" of PID in clock ticks (fields 14 and 15 of /proc/PID/stat).
proc_ticks() {
	local line rest
	local -a f
	IFS= read -r line <"/proc/$1/stat"
	rest=${line##*) }	# the command name may hold spaces and parentheses
	read -r -a f <<<"$rest"
	REPLY="${f[11]} ${f[12]}"
}

# REPLY = ms all CPUs together spent idle (idle + iowait in /proc/stat). Busy time is
# elapsed x CPUs minus this. Not the user/system columns: those are sampled at the tick,
# and a load that wakes 5000 times a second in step with the 250 Hz tick makes them
# wrong by up to +-50% of a CPU, depending on the phase; with a tickless idle the kernel
# measures idle time exactly.
cpu_idle_ms() {
	local idle iowait
	read -r _ _ _ _ idle iowait _ </proc/stat
	REPLY=$(( (idle + iowait) * 1000 / CLK_TCK ))
}

# REPLY = the first line of FILE that contains PATTERN, waiting up to TIMEOUT s while PID
# lives. Polls every millisecond: the attach time it gives is at most ~1 ms late.
wait_line() {
	local file=$1 pattern=$2 timeout=$3 pid=$4 line deadline
	now_us; deadline=$((REPLY + timeout * 1000000))
	while :; do
		if [[ -s $file ]]; then
			while IFS= read -r line; do
				if [[ $line == *"$pattern"* ]]; then
					REPLY=$line
					return 0
				fi
			done <"$file"
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		now_us; (( REPLY < deadline )) || return 1
		nap 0.001
	done
}

# status_kb PID KEY: REPLY = the KEY (VmRSS, VmHWM, RssAnon, ...) of /proc/PID/status in kB.
status_kb() {
	local key val rest
	REPLY=0
	while read -r key val rest; do
		if [[ $key == "$2:" ]]; then REPLY=$val; fi
	done <"/proc/$1/status"
}

# REPLY = VmHWM (peak RSS) of PID in kB.
hwm_kb() {
	status_kb "$1" VmHWM
}

# REPLY = VmRSS (RSS now) of PID in kB.
rss_kb() {
	status_kb "$1" VmRSS
}

# OURS = the ids of the BPF programs PID (an agent) holds, as keys: the prog_id in the fdinfo
# of its BPF file descriptors.
declare -A OURS=()
agent_prog_ids() {
	local f key val
	OURS=()
	for f in /proc/"$1"/fdinfo/*; do
		while read -r key val; do
			if [[ $key == prog_id: ]]; then OURS[$val]=1; fi
		done <"$f" 2>/dev/null || true
	done
}

# REPLY = the names of the BPF programs the agent PID holds, space-separated (needs bpftool).
agent_progs() {
	local line names=""
	agent_prog_ids "$1"
	while IFS= read -r line; do
		if [[ $line =~ ^([0-9]+):\ .*\ name\ ([^ ]+) && -n ${OURS[${BASH_REMATCH[1]}]:-} ]]; then
			names+="${BASH_REMATCH[2]} "
		fi
	done < <(bpftool prog show 2>/dev/null || true)
	REPLY=${names% }
}

# REPLY = how many uvscope BPF programs (named uvs_*) are loaded that are not AGENT_PID's
# (if given): another uvscope (someone's tests) runs its syscall programs in our server's
# syscalls too, and would make the runs without uvscope look slower than they are.
# shellcheck disable=SC2120  # the sourcing scripts pass the agent's PID
other_uvscopes() {
	local agent=${1:-} line n=0
	OURS=()
	if [[ -n $agent ]]; then agent_prog_ids "$agent"; fi
	REPLY=0
	command -v bpftool >/dev/null || return 0
	while IFS= read -r line; do
		if [[ $line =~ ^([0-9]+):\ .*\ name\ uvs_ && -z ${OURS[${BASH_REMATCH[1]}]:-} ]]; then
			n=$((n + 1))
		fi
	done < <(bpftool prog show 2>/dev/null || true)
	REPLY=$n
}

# wait_quiet: before a pair, wait (up to BENCH_QUIET_WAIT s) for a 1 s window in which the
# machine, with nothing of ours running, is less than BENCH_QUIET_PCT % busy and no
# other uvscope is loaded. On a shared machine this turns other people's work into waiting
# rather than noise.
wait_quiet() {
	local waited=0 i0 i1 w0 w1 pct
	while (( waited < QUIET_WAIT )); do
		cpu_idle_ms; i0=$REPLY
		now_us; w0=$REPLY
		nap 1
		cpu_idle_ms; i1=$REPLY
		now_us; w1=$REPLY
		pct=$(( ((w1 - w0) * NCPU / 1000 - (i1 - i0)) * 100 / ((w1 - w0) / 1000) ))
		other_uvscopes ""
		if (( pct <= QUIET_PCT && REPLY == 0 )); then
			return 0
		fi
		if (( waited == 0 )); then
			echo "  machine busy (${pct}% of a CPU, $REPLY other uvscope programs)," \
				"waiting up to ${QUIET_WAIT}s" >&2
		fi
		waited=$((waited + 1))
	done
	echo "  still busy after ${QUIET_WAIT}s, going on" >&2
}

# span_intervals NAME INTERVAL SPAN_S: INTERVAL_MS = INTERVAL (uvscope's -i, Nms or Ns; NAME, the
# variable it came from, for the message) in ms, and NSPAN = the whole intervals in about SPAN_S
# seconds (at least one). Dies (the sourcing script's die) on a bad INTERVAL.
span_intervals() {
	if [[ $2 =~ ^([0-9]+)ms$ ]]; then
		INTERVAL_MS=$((10#${BASH_REMATCH[1]}))
	elif [[ $2 =~ ^([0-9]+)s$ ]]; then
		INTERVAL_MS=$((10#${BASH_REMATCH[1]} * 1000))
	else
		die "$1 must be Nms or Ns (got '$2')"
	fi
	(( INTERVAL_MS >= 10 )) || die "$1 must be at least 10ms"
	NSPAN=$(( $3 * 1000 / INTERVAL_MS ))
	(( NSPAN >= 1 )) || NSPAN=1
}

# meta_versions: the closing fields of a run's meta JSON (node's and uvscope's versions, the
# binary's hash, the source's git revision), from NODE and UVSCOPE.
meta_versions() {
	echo ",\"node\":\"$("$NODE" --version)\",\"uvscope\":\"$("$UVSCOPE" --version | head -1)\""
	echo ",\"uvscope_sha256\":\"$(sha256sum <"$UVSCOPE" | cut -c1-16)\""
	echo ",\"git\":\"$(git describe --tags --always --dirty 2>/dev/null || echo unknown)\"}"
}
