#!/usr/bin/env bash
# scripts/agent-cost.sh: what uvscope's own work per interval costs the agent, at scale.
# (`make bench` runs it as one of its sections; see bench/README.md.)
#
# Every interval the agent, on its single thread, reads /proc/PID/fd (one readlink per fd),
# asks the kernel's socket tables (NETLINK_SOCK_DIAG, filtered to the target's ports) for the
# target's sockets, and lists the target's threads; the cost grows with the target's fds and
# a little with the sockets of the whole network namespace. Its blocked-loop check runs on that
# same thread. This measures, for one agent per run:
#   - its CPU: utime+stime from /proc/AGENT/stat over a fixed span after attaching, as % of
#     one CPU and ms per interval. The span is whole intervals (BENCH_AGENT_COST_SECONDS
#     worth), from one of its interval lines to another, so it holds exactly that many
#     intervals' work;
#   - its RSS (VmRSS) at its attach line, at the end of the span (steady state) and after the
#     blocks (whose stacks it named), its peak RSS (VmHWM), its attach time and the CPU it
#     took to attach;
#   - after the span, how late its blocked-loop alert comes: the target blocks its loop
#     BENCH_AGENT_COST_BLOCKS times for BENCH_AGENT_COST_BLOCK_MS ms (the block starts step
#     through the agent's interval), printing each block's start (wall clock, ns); the delay
#     is from there to the ts_ns of the agent's "loop_blocked" alert with "ongoing":true.
#     Reported, not judged.
# The runs (BENCH_AGENT_COST_RUNS), each with a fresh target, bench/agent_cost_target.js (an
# idle Node process that always holds one listening TCP socket, as any server does):
#   baseline       the target and nothing else
#   fds            the target holds BENCH_AGENT_COST_CONNS loopback TCP connections to itself
#                  (2 socket fds each) and BENCH_AGENT_COST_FILES open files
#   host-sockets   the target small; other Node processes, not watched, hold
#                  BENCH_AGENT_COST_HOST_CONNS loopback connections to themselves (2 sockets
#                  each) in the same network namespace
# CASE is `uvscope watch -p PID --json -i INTERVAL`, CASE:syscalls adds --syscalls.
#
#   sudo scripts/agent-cost.sh [DIR]        (DIR: default bench/runs/STAMP-agent-cost)
# writes DIR/agent-cost.jsonl (one JSON line per run), DIR/agent-cost-meta.json, each run's
# agent output (agent-cost-RUN.agent.jsonl, .agent.err) and target output, and the table,
# DIR/agent-cost.md, which it also prints. bench/report.mjs puts that table into the report
# of a `make bench` run directory that holds it.
#
# Environment (defaults in brackets):
#   BENCH_AGENT_COST_RUNS ["baseline fds fds:syscalls host-sockets"]
#   BENCH_AGENT_COST_SECONDS [20]  BENCH_AGENT_COST_INTERVAL [1s] (uvscope's -i: Nms or Ns)
#   BENCH_AGENT_COST_CONNS [8500]  BENCH_AGENT_COST_FILES [1000]  (fds: 18,000 fds + a few)
#   BENCH_AGENT_COST_HOST_CONNS [10000]  (host-sockets: 20,000 sockets)
#   BENCH_AGENT_COST_BLOCKS [10]  BENCH_AGENT_COST_BLOCK_MS [300]
#   BENCH_AGENT_COST_REPEAT [1]  runs of each (taking turns); the table gives min / median / max
#   BENCH_SERVER_CPU [1] (the Node processes)  BENCH_AGENT_CPU [0]
#   BENCH_QUIET_PCT [5]  BENCH_QUIET_WAIT [10]  (before each run, see wait_quiet)
#   BENCH_MAX_OTHER_PCT [25]  BENCH_RETRIES [1]  a run during which the rest of the machine
#     used more than this % of a CPU, or another uvscope was loaded (its syscall programs
#     would run in this agent's own syscalls), is redone; the discarded one stays in
#     agent-cost.jsonl with "kept":false
#   UVSCOPE [./uvscope]  NODE [node]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS_WANTED=${BENCH_AGENT_COST_RUNS:-baseline fds fds:syscalls host-sockets}
SPAN_S=${BENCH_AGENT_COST_SECONDS:-20}
INTERVAL=${BENCH_AGENT_COST_INTERVAL:-1s}
CONNS=${BENCH_AGENT_COST_CONNS:-8500}
FILES=${BENCH_AGENT_COST_FILES:-1000}
HOST_CONNS=${BENCH_AGENT_COST_HOST_CONNS:-10000}
BLOCKS=${BENCH_AGENT_COST_BLOCKS:-10}
BLOCK_MS=${BENCH_AGENT_COST_BLOCK_MS:-300}
REPEAT=${BENCH_AGENT_COST_REPEAT:-1}
NODE_CPU=${BENCH_SERVER_CPU:-1}
AGENT_CPU=${BENCH_AGENT_CPU:-0}
QUIET_PCT=${BENCH_QUIET_PCT:-5}
QUIET_WAIT=${BENCH_QUIET_WAIT:-10}
MAX_OTHER_PCT=${BENCH_MAX_OTHER_PCT:-25}
RETRIES=${BENCH_RETRIES:-1}
UVSCOPE=${UVSCOPE:-$ROOT/uvscope}
NODE=${NODE:-node}
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc --all)
# fds of a Node process beyond the ones it is asked to open (about 20: stdio, epoll, the
# inspector's and the platform's pipes and eventfds), with room to spare.
BASE_FDS=200

die() { echo "agent-cost: $*" >&2; exit 1; }

# nap, now_us, stop_pids, sched_ns, proc_ticks, cpu_idle_ms, wait_line, hwm_kb, rss_kb,
# agent_progs, other_uvscopes, wait_quiet, span_intervals, meta_versions
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

# ---- preconditions ----------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root: uvscope loads BPF programs"
[[ -x $UVSCOPE ]] || die "$UVSCOPE is not built (run make uvscope)"
command -v "$NODE" >/dev/null || die "no $NODE"
command -v taskset >/dev/null || die "no taskset (apt-get install util-linux)"
for v in SPAN_S CONNS FILES HOST_CONNS BLOCKS BLOCK_MS REPEAT NODE_CPU AGENT_CPU QUIET_PCT \
	QUIET_WAIT MAX_OTHER_PCT RETRIES; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( SPAN_S >= 1 && REPEAT >= 1 )) ||
	die "BENCH_AGENT_COST_SECONDS and BENCH_AGENT_COST_REPEAT must be at least 1"
# INTERVAL_MS, and NSPAN: the span is whole intervals, about SPAN_S seconds.
span_intervals BENCH_AGENT_COST_INTERVAL "$INTERVAL" "$SPAN_S"
RUNS_LIST=()
for r in $RUNS_WANTED; do
	[[ $r =~ ^(baseline|fds|host-sockets)(:syscalls)?$ ]] ||
		die "unknown run '$r' in BENCH_AGENT_COST_RUNS (known: baseline, fds," \
			"host-sockets, each alone or with :syscalls)"
	RUNS_LIST+=("$r")
done
(( ${#RUNS_LIST[@]} )) || die "BENCH_AGENT_COST_RUNS is empty"

# File descriptors: every Node process raises its soft RLIMIT_NOFILE to the hard one at start,
# so the hard limit is what counts. The target of "fds" needs all its fds in one process;
# the other processes of "host-sockets" share theirs out (PER_HOST connections each at most).
ulimit -Sn "$(ulimit -Hn)"
NOFILE=$(ulimit -Hn)
need=$((2 * CONNS + FILES + BASE_FDS))
if [[ " ${RUNS_LIST[*]} " == *" fds"* && $NOFILE != unlimited ]] && (( need > NOFILE )); then
	ulimit -n "$need" 2>/dev/null ||
		die "the fds target needs $need fds in one process, but RLIMIT_NOFILE's hard limit" \
			"is $NOFILE and cannot be raised here (that needs CAP_SYS_RESOURCE): lower" \
			"BENCH_AGENT_COST_CONNS or BENCH_AGENT_COST_FILES, or raise the limit first"
	NOFILE=$need
fi
if [[ $NOFILE == unlimited ]]; then NOFILE=1048576; fi
PER_HOST=$(( (NOFILE - BASE_FDS) / 2 ))
(( PER_HOST >= 1 )) || die "RLIMIT_NOFILE ($NOFILE) is too low for any connection"

DIR=${1:-$ROOT/bench/runs/$(date +%Y%m%d-%H%M%S)-agent-cost}
mkdir -p "$DIR"
OUT=$DIR/agent-cost.jsonl
: >"$OUT"

# ---- cleanup: whatever happens, no process of ours outlives the script ---------------------
AGENT_PID=
RUN_NO=0			# runs so far, attempts included: names each run's files
NODE_PIDS=()			# the target and the other processes, running
declare -A STDIN_FD=()		# pid -> the write end of its stdin (a fifo)
stop_nodes() {
	local pid fd
	if (( ${#NODE_PIDS[@]} )); then stop_pids 10 "${NODE_PIDS[@]}"; fi
	for pid in "${NODE_PIDS[@]}"; do
		fd=${STDIN_FD[$pid]:-}
		if [[ -n $fd ]]; then exec {fd}>&-; fi
		unset "STDIN_FD[$pid]"
	done
	NODE_PIDS=()
}
cleanup() {
	if [[ -n $AGENT_PID ]]; then
		stop_pids 10 "$AGENT_PID"
		AGENT_PID=
	fi
	stop_nodes
	rm -f "$DIR"/*.fifo
}
trap cleanup EXIT
trap 'echo "agent-cost: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo "agent-cost: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# The script itself (polling files, reading /proc) stays off the Node processes' CPU.
taskset -cp "$AGENT_CPU" $$ >/dev/null

# ---- the Node processes ---------------------------------------------------------------------
# start_node NAME CONNS FILES: bench/agent_cost_target.js, pinned to NODE_CPU, its stdin a fifo
# this script holds open; waits for its ready line and checks that it holds the fds it was
# asked for. Sets REPLY to its pid and READY to its ready line.
start_node() {
	local name=$1 conns=$2 files=$3 out=$DIR/$1.out fifo=$DIR/$1.fifo pid fd n
	local -a fds
	rm -f "$fifo"
	mkfifo "$fifo"
	: >"$out"	# here, not in the child: wait_line must never see an older run's lines
	taskset -c "$NODE_CPU" "$NODE" "$ROOT/bench/agent_cost_target.js" "$conns" "$files" \
		<"$fifo" >"$out" 2>&1 &
	pid=$!
	NODE_PIDS+=("$pid")
	exec {fd}>"$fifo"
	STDIN_FD[$pid]=$fd
	if ! wait_line "$out" '"ready":true' 120 "$pid"; then
		die "$name (bench/agent_cost_target.js $conns $files) did not get ready:" \
			"$(head -c 2000 "$out")"
	fi
	READY=$REPLY
	# Its own count, checked against /proc: the fds must really be there.
	fds=(/proc/"$pid"/fd/*)
	n=${#fds[@]}
	if (( n < 2 * conns + files + 1 )); then
		die "$name holds $n fds, expected at least $((2 * conns + files + 1))" \
			"($conns connections, $files files, its listener): $READY"
	fi
	REPLY=$pid
}

# REPLY = TCP sockets in this network namespace, all processes', every state (what one dump
# of the table walks through).
netns_tcp() {
	local n4 n6
	n4=$(wc -l </proc/net/tcp)
	n6=$(wc -l </proc/net/tcp6 2>/dev/null || echo 1)
	REPLY=$((n4 - 1 + n6 - 1))
}

# wait_intervals FILE N TIMEOUT: wait (up to TIMEOUT s, while the agent lives) for FILE to
# hold N interval lines; REPLY = how many it holds. Polls every 10 ms.
wait_intervals() {
	local file=$1 n=$2 deadline
	now_us; deadline=$((REPLY + $3 * 1000000))
	while :; do
		REPLY=$(grep -c '^{"type":"interval"' "$file" || true)
		(( REPLY < n )) || return 0
		kill -0 "$AGENT_PID" 2>/dev/null || return 1
		now_us; (( REPLY < deadline )) || return 1
		nap 0.01
	done
}

# ALERT_TS = the ts_ns of the agent's loop_blocked alerts (in FILE) for the loop of thread TID
# whose "ongoing" is ONGOING (true or false), in order.
blocked_alerts() {
	local file=$1 tid=$2 ongoing=$3 line
	ALERT_TS=()
	while IFS= read -r line; do
		if [[ $line == '{"type":"alert"'*'"kind":"loop_blocked"'*"\"tid\":$tid,"* &&
			$line == *"\"ongoing\":$ongoing,"* && $line =~ \"ts_ns\":([0-9]+) ]]; then
			ALERT_TS+=("${BASH_REMATCH[1]}")
		fi
	done <"$file"
}

# ---- one run ------------------------------------------------------------------------------
# run_case RUN ATTEMPT: one fresh target (and, for host-sockets, the other processes), one
# agent; appends the run's JSON line to OUT. Sets REDO to 1 if the run was disturbed (see
# BENCH_MAX_OTHER_PCT) and may be redone.
run_case() {
	local run=$1 attempt=$2 case=${1%%:*} kept=true other_pct mode=default flags=() tag target
	local t0 first ut0 st0 ut1 st1
	local a0 a1 i0 i1 w0 w1 attach_us attach_ticks hwm tcp agent_fds=null agent_tcp=null
	local rss_attach rss_steady rss_named
	local intervals=0 line i n hosts=0 host_sockets=0 per left conns=0 files=0 rc=0
	local gap blocks_json="" target_fds nblocks ts start end lat other_ms foreign
	local -a starts=() ends=()
	if [[ $run == *:syscalls ]]; then mode=syscalls flags=(--syscalls); fi
	RUN_NO=$((RUN_NO + 1))
	tag=agent-cost-$RUN_NO-${run/:/-}
	wait_quiet

	if [[ $case == host-sockets ]]; then
		# As few processes as the fd limit allows, with equal shares.
		n=$(( (HOST_CONNS + PER_HOST - 1) / PER_HOST ))
		left=$HOST_CONNS
		while (( left > 0 )); do
			per=$(( (left + n - hosts - 1) / (n - hosts) ))
			start_node "$tag-host$hosts" "$per" 0
			hosts=$((hosts + 1)) host_sockets=$((host_sockets + 2 * per)) left=$((left - per))
		done
	fi
	if [[ $case == fds ]]; then conns=$CONNS files=$FILES; fi
	start_node "$tag-target" "$conns" "$files"
	target=$REPLY
	[[ $READY =~ \"fds\":([0-9]+) ]] || die "$run: no fds in the target's ready line: $READY"
	target_fds=${BASH_REMATCH[1]}
	netns_tcp; tcp=$REPLY

	: >"$DIR/$tag.agent.jsonl"
	now_us; t0=$REPLY
	taskset -c "$AGENT_CPU" "$UVSCOPE" watch -p "$target" --json -i "$INTERVAL" "${flags[@]}" \
		>"$DIR/$tag.agent.jsonl" 2>"$DIR/$tag.agent.err" &
	AGENT_PID=$!
	# The first line must be the attach line, with everything asked for attached.
	if ! wait_line "$DIR/$tag.agent.jsonl" '}' 60 "$AGENT_PID"; then
		if kill -0 "$AGENT_PID" 2>/dev/null; then
			die "$run: uvscope printed nothing in 60 s: $(head -c 2000 "$DIR/$tag.agent.err")"
		fi
		wait "$AGENT_PID" || rc=$?
		AGENT_PID=
		die "$run: uvscope exited (status $rc) before attaching:" \
			"$(head -c 2000 "$DIR/$tag.agent.err")"
	fi
	now_us; attach_us=$((REPLY - t0))
	rss_kb "$AGENT_PID"; rss_attach=$REPLY
	proc_ticks "$AGENT_PID"; read -r ut0 st0 <<<"$REPLY"
	attach_ticks=$((ut0 + st0))
	IFS= read -r first <"$DIR/$tag.agent.jsonl"
	[[ $first == '{"type":"attach"'* ]] ||
		die "$run: uvscope's first line is not its attach line: $first" \
			"$(head -c 2000 "$DIR/$tag.agent.err")"
	[[ $first == *'"unavailable":[]'* ]] || die "$run: uvscope is missing something: $first"

	# The measured span: NSPAN of the agent's intervals, from one interval line to the one
	# NSPAN intervals later. The agent writes an interval line when that interval's work is
	# done, so both ends fall just after the work, and the span holds exactly NSPAN
	# intervals' work, however long each takes. A plain wait but for its last half interval.
	wait_intervals "$DIR/$tag.agent.jsonl" 1 $((3 * INTERVAL_MS / 1000 + 10)) ||
		die "$run: uvscope printed no interval line: $(head -c 2000 "$DIR/$tag.agent.err")"
	intervals=$REPLY
	proc_ticks "$AGENT_PID"; read -r ut0 st0 <<<"$REPLY"
	sched_ns "$AGENT_PID"; a0=$REPLY
	cpu_idle_ms; i0=$REPLY
	now_us; w0=$REPLY
	i=$(( NSPAN * INTERVAL_MS - INTERVAL_MS / 2 ))
	nap "$((i / 1000)).$(printf %03d $((i % 1000)))"
	wait_intervals "$DIR/$tag.agent.jsonl" $((intervals + NSPAN)) $((INTERVAL_MS / 1000 + 10)) ||
		die "$run: uvscope stopped writing interval lines: $(head -c 2000 "$DIR/$tag.agent.err")"
	now_us; w1=$REPLY
	cpu_idle_ms; i1=$REPLY
	sched_ns "$AGENT_PID"; a1=$REPLY
	proc_ticks "$AGENT_PID"; read -r ut1 st1 <<<"$REPLY"
	rss_kb "$AGENT_PID"; rss_steady=$REPLY
	other_uvscopes "$AGENT_PID"; foreign=$REPLY

	# What the agent saw: its last interval line of the span.
	while IFS= read -r line; do
		if [[ $line == '{"type":"interval"'* ]]; then
			if [[ $line =~ \"fds\":\{\"open\":([0-9]+) ]]; then agent_fds=${BASH_REMATCH[1]}; fi
			if [[ $line =~ \"sockets\":\{\"tcp\":\{\"open\":([0-9]+) ]]; then
				agent_tcp=${BASH_REMATCH[1]}
			fi
		fi
	done <"$DIR/$tag.agent.jsonl"
	if [[ $mode == syscalls && $(<"$DIR/$tag.agent.jsonl") != *'"syscalls":{'* ]]; then
		die "$run: uvscope's interval lines have no syscalls object"
	fi

	# The blocks. Their starts are BLOCK_MS + gap apart: one interval and a BLOCKS-th of one,
	# so they step through the agent's interval (and the moment it does its per-interval work).
	if (( BLOCKS > 0 )); then
		gap=$(( INTERVAL_MS + INTERVAL_MS / BLOCKS - BLOCK_MS ))
		if (( gap < 200 )); then gap=200; fi
		echo "block $BLOCK_MS $BLOCKS $gap" >&"${STDIN_FD[$target]}"
		wait_line "$DIR/$tag-target.out" '"blocks_done"' \
			$(( BLOCKS * (BLOCK_MS + gap) / 1000 + 30 )) "$target" ||
			die "$run: the target did not finish its blocks: $(tail -c 1000 "$DIR/$tag-target.out")"
		# Wait for the agent to report the end of every block (an alert with "ongoing":false):
		# an agent that lags is then done with all of them.
		for ((i = 0; i < 100; i++)); do
			blocked_alerts "$DIR/$tag.agent.jsonl" "$target" false
			(( ${#ALERT_TS[@]} < BLOCKS )) || break
			nap 0.05
		done
	fi
	# After the blocks their stacks were named: the symbol indexes are built by now.
	rss_kb "$AGENT_PID"; rss_named=$REPLY
	hwm_kb "$AGENT_PID"; hwm=$REPLY

	kill -INT "$AGENT_PID"
	for ((i = 0; i < 600; i++)); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		nap 0.05
	done
	(( i < 600 )) || die "$run: uvscope did not exit within 30 s of SIGINT"
	wait "$AGENT_PID" || rc=$?
	AGENT_PID=
	(( rc == 0 )) || die "$run: uvscope exited with $rc: $(cat "$DIR/$tag.agent.err")"
	stop_nodes

	# Each block's delay: from its start to the first "ongoing" alert of the main loop after it.
	while IFS= read -r line; do
		if [[ $line =~ \"start_ns\":([0-9]+),\"end_ns\":([0-9]+) ]]; then
			starts+=("${BASH_REMATCH[1]}") ends+=("${BASH_REMATCH[2]}")
		fi
	done <"$DIR/$tag-target.out"
	blocked_alerts "$DIR/$tag.agent.jsonl" "$target" true
	nblocks=${#starts[@]}
	(( nblocks == BLOCKS )) || die "$run: the target printed $nblocks blocks, not $BLOCKS"
	for ((i = 0; i < nblocks; i++)); do
		start=${starts[i]} end=${ends[i]} lat=null
		for ts in "${ALERT_TS[@]}"; do
			# An ongoing alert is raised while the loop is blocked: by the block's end, give or
			# take the loop's way back to its wait and the two clocks (100 ms, well before the
			# next block, 200 ms or more later). One after that belongs to no block.
			if (( ts >= start && ts <= end + 100000000 )); then lat=$((ts - start)); break; fi
		done
		blocks_json+=",{\"start_ns\":$start,\"end_ns\":$end,\"alert_after_ns\":$lat}"
	done

	# Everything else that ran meanwhile: all busy CPU time minus the agent's (the Node
	# processes sit idle).
	other_ms=$(( (w1 - w0) * NCPU / 1000 - (i1 - i0) - (a1 - a0) / 1000000 ))
	if (( other_ms < 0 )); then other_ms=0; fi
	other_pct=$(( other_ms * 100 / ((w1 - w0) / 1000) ))
	REDO=0
	if (( (other_pct > MAX_OTHER_PCT || foreign > 0) && attempt <= RETRIES )); then
		kept=false REDO=1
		echo "  $run: other processes used ${other_pct}% of a CPU ($foreign other uvscope" \
			"programs loaded), redoing" >&2
	fi
	{
		printf '{"kept":%s,"attempt":%d,"run":"%s","case":"%s","mode":"%s","flags":"%s",' \
			"$kept" "$attempt" "$run" "$case" "$mode" "${flags[*]}"
		printf '"seconds":%d,' "$SPAN_S"
		printf '"interval_ms":%d,"elapsed_ns":%d,' "$INTERVAL_MS" $(( (w1 - w0) * 1000 ))
		printf '"target_conns":%d,"target_files":%d,' "$conns" "$files"
		printf '"target_fds":%d,' "$target_fds"
		printf '"host_processes":%d,"host_sockets":%d,"netns_tcp":%d,' "$hosts" "$host_sockets" "$tcp"
		printf '"cpu_ms":%d,"user_ms":%d,"sys_ms":%d,"sched_ns":%d,' \
			$(( (ut1 + st1 - ut0 - st0) * 1000 / CLK_TCK )) $(( (ut1 - ut0) * 1000 / CLK_TCK )) \
			$(( (st1 - st0) * 1000 / CLK_TCK )) $((a1 - a0))
		printf '"attach_us":%d,"attach_cpu_ms":%d,"hwm_kb":%d,' \
			"$attach_us" $((attach_ticks * 1000 / CLK_TCK)) "$hwm"
		printf '"rss_attach_kb":%d,"rss_steady_kb":%d,"rss_named_kb":%d,' \
			"$rss_attach" "$rss_steady" "$rss_named"
		printf '"intervals":%d,"agent_fds":%s,"agent_tcp":%s,' "$NSPAN" "$agent_fds" "$agent_tcp"
		printf '"block_ms":%d,"blocks":[%s],' "$BLOCK_MS" "${blocks_json#,}"
		printf '"other_cpu_ms":%d,"other_uvscope_progs":%d}\n' "$other_ms" "$foreign"
	} >>"$OUT"
	tail -1 "$OUT" | "$NODE" "$ROOT/bench/agent_cost.mjs" --line
}

# ---- main ---------------------------------------------------------------------------------
echo "agent-cost: ${#RUNS_LIST[@]} runs (${RUNS_LIST[*]}) x $REPEAT, ${SPAN_S}s measured each," \
	"then $BLOCKS blocks of ${BLOCK_MS}ms; raw data in ${DIR#"$ROOT"/}"
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
SECONDS=0
for ((rep = 1; rep <= REPEAT; rep++)); do
	for r in "${RUNS_LIST[@]}"; do
		for ((attempt = 1; attempt <= RETRIES + 1; attempt++)); do
			run_case "$r" "$attempt"
			(( REDO )) || break
		done
	done
done
{
	echo "{\"started\":\"$STARTED\",\"took_s\":$SECONDS,\"seconds\":$SPAN_S,\"interval\":\"$INTERVAL\""
	echo ",\"conns\":$CONNS,\"files\":$FILES,\"host_conns\":$HOST_CONNS,\"per_host\":$PER_HOST"
	echo ",\"repeat\":$REPEAT,\"blocks\":$BLOCKS,\"block_ms\":$BLOCK_MS,\"node_cpu\":$NODE_CPU,\"agent_cpu\":$AGENT_CPU"
	meta_versions
} >"$DIR/agent-cost-meta.json"
"$NODE" "$ROOT/bench/agent_cost.mjs" "$DIR" "$DIR/agent-cost.md"
echo "agent-cost: done in ${SECONDS}s"
cat "$DIR/agent-cost.md"
