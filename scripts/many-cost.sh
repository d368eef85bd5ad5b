#!/usr/bin/env bash
# scripts/many-cost.sh: what one uvscope agent costs itself while it watches many Node
# processes at once (`--all`, `-p A,B,...`). (`make bench` runs it as one of its sections; see
# bench/README.md.)
#
# One agent watches N targets with one set of BPF programs (maps keyed by process); each
# interval it reads every target's maps, /proc/PID/fd, socket tables and threads, and with
# --all it also looks through /proc for node processes that appeared. This measures, for one
# agent per run:
#   - its CPU: utime+stime from /proc/AGENT/stat over BENCH_MANY_COST_SECONDS worth of whole
#     intervals after all N targets are attached, as % of one CPU, ms per interval, and ms per
#     interval per target. The span runs from the end of one interval's work to the end of the
#     one NSPAN intervals later: each interval writes one "interval" line per target, all in
#     one go, so the span starts when the interval lines since the N-th attach line are a
#     multiple of N, and ends NSPAN x N lines later;
#   - its RSS (VmRSS) when the N-th target is attached and at the end of the span (steady
#     state; also split into RssAnon, its own memory, and RssFile, pages of mapped files), its
#     peak RSS (VmHWM);
#   - how long attaching all N took: from starting it to its N-th "attach" line, and the CPU
#     it used until then; and how long it took to exit after SIGINT (every target's summary);
#   - what it holds in the kernel, from /proc/AGENT/fdinfo: the BPF programs (distinct
#     prog_id: one set, whatever N is), the BPF links (by link_type), the perf events, the BPF
#     maps and the kernel memory they are charged (memlock, as `bpftool map show` gives it).
# The targets, bench/many_cost_target.js: small server-like processes, each with a timer every
# BENCH_MANY_COST_TICK_MS ms (a loop iteration each), an fs.promises.stat every
# BENCH_MANY_COST_STAT_MS ms (a pool job), one listening socket, and a tag unique to the run
# on its command line, which `--match` selects: the agent takes exactly these, never another
# Node process on the machine. What the targets pay is scripts/op-cost.sh's question, not
# this one's.
# The runs (BENCH_MANY_COST_RUNS), each with N fresh targets and a fresh agent:
#   all:N    uvscope watch --all --match TAG --json -i INTERVAL  (--all: /proc looked through
#            every interval)
#   pids:N   uvscope watch -p PID1,...,PIDN --json -i INTERVAL
#
#   sudo scripts/many-cost.sh [DIR]        (DIR: default bench/runs/STAMP-many-cost)
# writes DIR/many-cost.jsonl (one JSON line per run), DIR/many-cost-meta.json, each run's
# agent output (many-cost-RUN.agent.jsonl, .agent.err) and the targets' output, and the table,
# DIR/many-cost.md, which it also prints. bench/report.mjs puts that table into the report of a
# `make bench` run directory that holds it.
#
# Environment (defaults in brackets):
#   BENCH_MANY_COST_RUNS ["all:1 all:5 all:20 pids:20"]  (HOW:N, HOW all or pids, N 1 to 64)
#   BENCH_MANY_COST_SECONDS [20]  BENCH_MANY_COST_INTERVAL [1s] (uvscope's -i: Nms or Ns)
#   BENCH_MANY_COST_TICK_MS [5]  BENCH_MANY_COST_STAT_MS [100]  (each target's work)
#   BENCH_MANY_COST_REPEAT [1]  runs of each (taking turns); the table gives min / median / max
#   BENCH_MANY_COST [yes]  read by scripts/bench.sh: no leaves this section out of make bench
#   BENCH_SERVER_CPU [1] (the targets)  BENCH_AGENT_CPU [0]
#   BENCH_QUIET_PCT [5]  BENCH_QUIET_WAIT [10]  (before each run, see wait_quiet)
#   BENCH_MAX_OTHER_PCT [25]  BENCH_RETRIES [1]  a run during which the rest of the machine
#     (all but the agent and the targets) used more than this % of a CPU, or another uvscope
#     was loaded, is redone; the discarded one stays in many-cost.jsonl with "kept":false
#   UVSCOPE [./uvscope]  NODE [node]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS_WANTED=${BENCH_MANY_COST_RUNS:-all:1 all:5 all:20 pids:20}
SPAN_S=${BENCH_MANY_COST_SECONDS:-20}
INTERVAL=${BENCH_MANY_COST_INTERVAL:-1s}
TICK_MS=${BENCH_MANY_COST_TICK_MS:-5}
STAT_MS=${BENCH_MANY_COST_STAT_MS:-100}
REPEAT=${BENCH_MANY_COST_REPEAT:-1}
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
# uvscope watches at most this many processes (UVS_MAX_TARGETS).
MAX_TARGETS=64

die() { echo "many-cost: $*" >&2; exit 1; }

# nap, now_us, stop_pids, sched_ns, cpu_idle_ms, wait_line, status_kb, hwm_kb, rss_kb,
# proc_ticks, other_uvscopes, wait_quiet, span_intervals, meta_versions
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

# ---- preconditions ----------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root: uvscope loads BPF programs"
[[ -x $UVSCOPE ]] || die "$UVSCOPE is not built (run make uvscope)"
command -v "$NODE" >/dev/null || die "no $NODE"
command -v taskset >/dev/null || die "no taskset (apt-get install util-linux)"
for v in SPAN_S TICK_MS STAT_MS REPEAT NODE_CPU AGENT_CPU QUIET_PCT QUIET_WAIT MAX_OTHER_PCT \
	RETRIES; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( SPAN_S >= 1 && REPEAT >= 1 && TICK_MS >= 1 && STAT_MS >= 1 )) ||
	die "BENCH_MANY_COST_SECONDS, _REPEAT, _TICK_MS and _STAT_MS must be at least 1"
# INTERVAL_MS, and NSPAN: the span is whole intervals, about SPAN_S seconds.
span_intervals BENCH_MANY_COST_INTERVAL "$INTERVAL" "$SPAN_S"
RUNS_LIST=()
for r in $RUNS_WANTED; do
	if ! [[ $r =~ ^(all|pids):([0-9]+)$ ]] ||
		(( 10#${BASH_REMATCH[2]} < 1 || 10#${BASH_REMATCH[2]} > MAX_TARGETS )); then
		die "unknown run '$r' in BENCH_MANY_COST_RUNS (HOW:N, HOW all or pids," \
			"N from 1 to $MAX_TARGETS)"
	fi
	RUNS_LIST+=("$r")
done
(( ${#RUNS_LIST[@]} )) || die "BENCH_MANY_COST_RUNS is empty"

DIR=${1:-$ROOT/bench/runs/$(date +%Y%m%d-%H%M%S)-many-cost}
mkdir -p "$DIR"
OUT=$DIR/many-cost.jsonl
: >"$OUT"

# ---- cleanup: whatever happens, no process of ours outlives the script ---------------------
AGENT_PID=
FOLLOW_FD=
RUN_NO=0			# runs so far, attempts included: names each run's files
NODE_PIDS=()			# the targets, running
stop_nodes() {
	if (( ${#NODE_PIDS[@]} )); then stop_pids 10 "${NODE_PIDS[@]}"; fi
	NODE_PIDS=()
}
cleanup() {
	if [[ -n $AGENT_PID ]]; then
		stop_pids 30 "$AGENT_PID"
		AGENT_PID=
	fi
	stop_nodes
	if [[ -n $FOLLOW_FD ]]; then exec {FOLLOW_FD}<&-; FOLLOW_FD=; fi
}
trap cleanup EXIT
trap 'echo "many-cost: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo "many-cost: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# The script itself (polling files, reading /proc) stays off the targets' CPU.
taskset -cp "$AGENT_CPU" $$ >/dev/null

# ---- the targets ----------------------------------------------------------------------------
# start_targets TAG N: N of bench/many_cost_target.js, pinned to NODE_CPU, started together;
# waits for every ready line. Sets TARGETS to their pids.
start_targets() {
	local tag=$1 n=$2 i pid out
	TARGETS=()
	for ((i = 0; i < n; i++)); do
		out=$DIR/$tag-target$i.out
		: >"$out"	# here, not in the child: wait_line must never see an older run's lines
		taskset -c "$NODE_CPU" "$NODE" "$ROOT/bench/many_cost_target.js" "$tag" "$TICK_MS" \
			"$STAT_MS" >"$out" 2>&1 &
		pid=$!
		NODE_PIDS+=("$pid")
		TARGETS+=("$pid")
	done
	for ((i = 0; i < n; i++)); do
		wait_line "$DIR/$tag-target$i.out" '"ready":true' 120 "${TARGETS[i]}" ||
			die "target $i of $tag (bench/many_cost_target.js) did not get ready:" \
				"$(head -c 2000 "$DIR/$tag-target$i.out")"
	done
}

# ---- the agent's output, read as it comes ------------------------------------------------------
# The agent writes several KiB a second per target: rather than read the whole file again at
# every poll, keep it open and read what was added (no forks: the script shares the agent's
# CPU). A line the agent has not finished writing is kept until its end comes.
# FOLLOW_FD: the file, open; PART: the unfinished line; ATTACHES: "attach" lines so far, their
# pids in ATTACHED (pid -> its attach line); INTERVALS: "interval" lines after the N-th attach
# line; LAST_LINE[pid]: each target's latest interval line.
follow_open() {
	exec {FOLLOW_FD}<"$1"
	PART='' ATTACHES=0 INTERVALS=0
	ATTACHED=() LAST_LINE=()
}
declare -A ATTACHED=() LAST_LINE=()
# follow_read N: reads every line added since the last call (N: the targets wanted).
follow_read() {
	local n=$1 line pid
	while :; do
		line=''
		if ! IFS= read -r -u "$FOLLOW_FD" line; then
			PART+=$line	# at the end of the file: an unfinished line, or nothing
			return 0
		fi
		line=$PART$line PART=''
		# The pid is the first one in the line, after the type, schema and window.
		[[ $line =~ ^\{\"type\":\"(attach|interval)\",\"schema\":[0-9]+,(\"ts_ns\":[0-9]+,\"window_ns\":[0-9]+,)?\"pid\":([0-9]+), ]] ||
			continue
		pid=${BASH_REMATCH[3]}
		if [[ ${BASH_REMATCH[1]} == attach ]]; then
			ATTACHES=$((ATTACHES + 1))
			ATTACHED[$pid]=$line
		elif (( ATTACHES >= n )); then
			INTERVALS=$((INTERVALS + 1))
			LAST_LINE[$pid]=$line
		fi
	done
}

# follow_until N WHAT TIMEOUT: reads the agent's output every POLL s until WHAT (an arithmetic
# condition on ATTACHES, INTERVALS) holds, for up to TIMEOUT s while the agent lives.
POLL=0.001
follow_until() {
	local n=$1 cond=$2 deadline
	now_us; deadline=$((REPLY + $3 * 1000000))
	while :; do
		follow_read "$n"
		if (( cond )); then return 0; fi	# cond holds an expression: evaluated
		kill -0 "$AGENT_PID" 2>/dev/null || return 1
		now_us; (( REPLY < deadline )) || return 1
		nap "$POLL"
	done
}

# ---- what the agent holds in the kernel --------------------------------------------------------
# From the fdinfo of its file descriptors: PROGS distinct BPF programs (prog_id of its bpf-prog
# fds and of its links), LINKS bpf_link fds and LINK_TYPES (type -> count), PERF perf_event
# fds, MAPS distinct BPF maps and MEMLOCK_KB the kernel memory charged to them, FDS every fd.
bpf_inventory() {
	local f fd target key rest val type id
	local -A progs=() maps=()
	PERF=0 LINKS=0 MEMLOCK_KB=0 FDS=0
	LINK_TYPES=()
	for f in /proc/"$1"/fd/*; do
		fd=${f##*/}
		target=$(readlink "$f" 2>/dev/null) || continue
		FDS=$((FDS + 1))
		case $target in
		anon_inode:bpf-prog | anon_inode:bpf_link | anon_inode:bpf-map) ;;
		anon_inode:\[perf_event\]) PERF=$((PERF + 1)); continue ;;
		*) continue ;;
		esac
		type='' id='' val=0
		while read -r key rest; do
			case $key in
			prog_id:) progs[$rest]=1 ;;
			link_type:) type=$rest ;;
			map_id:) id=$rest ;;
			memlock:) val=$rest ;;
			esac
		done <"/proc/$1/fdinfo/$fd" 2>/dev/null || true
		if [[ $target == anon_inode:bpf_link ]]; then
			LINKS=$((LINKS + 1))
			LINK_TYPES[${type:-unknown}]=$(( ${LINK_TYPES[${type:-unknown}]:-0} + 1 ))
		fi
		if [[ $target == anon_inode:bpf-map && -n $id && -z ${maps[$id]:-} ]]; then
			maps[$id]=1
			MEMLOCK_KB=$((MEMLOCK_KB + val / 1024))
		fi
	done
	PROGS=${#progs[@]} MAPS=${#maps[@]}
}
declare -A LINK_TYPES=()

# REPLY = the processes on the host (what --all looks through each interval).
host_processes() {
	local -a p=(/proc/[0-9]*)
	REPLY=${#p[@]}
}

# REPLY = CPU ns of all the targets (schedstat, every thread).
targets_ns() {
	local pid sum=0
	for pid in "${TARGETS[@]}"; do
		sched_ns "$pid"; sum=$((sum + REPLY))
	done
	REPLY=$sum
}

# ---- one run ------------------------------------------------------------------------------
# run_case RUN ATTEMPT: N fresh targets, one agent; appends the run's JSON line to OUT. Sets
# REDO to 1 if the run was disturbed (see BENCH_MAX_OTHER_PCT) and may be redone.
run_case() {
	local run=$1 attempt=$2 how=${1%%:*} n=$((10#${1##*:})) kept=true tag pid i rc=0
	local t0 attach_us first_us=0 attach_ticks ut0 st0 ut1 st1 a0 a1 i0 i1 w0 w1 g0 g1 m0
	local rss_attach rss_steady rss_anon rss_file hwm detach_us procs other_ms other_pct foreign iters=() line
	local link_json='' k
	local -a how_args
	RUN_NO=$((RUN_NO + 1))
	tag=many-cost-$$-$RUN_NO-${how}$n
	wait_quiet

	start_targets "$tag" "$n"
	if [[ $how == all ]]; then
		# The tag ends at a space or the end of the line: run 1's never selects run 10's.
		how_args=(--all --match "many_cost_target\\.js $tag( |\$)")
	else
		how_args=(-p "$(IFS=,; echo "${TARGETS[*]}")")
	fi
	host_processes; procs=$REPLY

	: >"$DIR/$tag.agent.jsonl"
	follow_open "$DIR/$tag.agent.jsonl"
	now_us; t0=$REPLY
	taskset -c "$AGENT_CPU" "$UVSCOPE" watch "${how_args[@]}" --json -i "$INTERVAL" \
		>"$DIR/$tag.agent.jsonl" 2>"$DIR/$tag.agent.err" &
	AGENT_PID=$!
	# Every target's attach line; each must have everything attached.
	POLL=0.001
	if ! follow_until "$n" 'ATTACHES >= 1' 60; then
		wait "$AGENT_PID" || rc=$?
		AGENT_PID=
		die "$run: uvscope printed no attach line (status $rc):" \
			"$(head -c 2000 "$DIR/$tag.agent.err")"
	fi
	now_us; first_us=$((REPLY - t0))
	follow_until "$n" "ATTACHES >= $n" $((60 + 5 * n)) ||
		die "$run: uvscope attached $ATTACHES of $n targets:" \
			"$(head -c 2000 "$DIR/$tag.agent.err")"
	now_us; attach_us=$((REPLY - t0))
	proc_ticks "$AGENT_PID"; read -r ut0 st0 <<<"$REPLY"
	attach_ticks=$((ut0 + st0))
	rss_kb "$AGENT_PID"; rss_attach=$REPLY
	(( ATTACHES == n )) || die "$run: uvscope attached $ATTACHES processes, not $n"
	for pid in "${TARGETS[@]}"; do
		line=${ATTACHED[$pid]:-}
		[[ -n $line ]] || die "$run: target $pid was not attached; uvscope attached" \
			"${!ATTACHED[*]}"
		[[ $line == *'"unavailable":[]'* ]] ||
			die "$run: uvscope is missing something in $pid: $line"
	done

	# The span: from the end of one interval's work (its N interval lines all written) to the
	# end of the one NSPAN intervals later. A plain wait but for its last half interval.
	POLL=0.01
	follow_until "$n" "INTERVALS >= $n && INTERVALS % $n == 0" $((3 * INTERVAL_MS / 1000 + 10)) ||
		die "$run: uvscope wrote no interval for all $n: $(head -c 2000 "$DIR/$tag.agent.err")"
	m0=$INTERVALS
	proc_ticks "$AGENT_PID"; read -r ut0 st0 <<<"$REPLY"
	sched_ns "$AGENT_PID"; a0=$REPLY
	targets_ns; g0=$REPLY
	cpu_idle_ms; i0=$REPLY
	now_us; w0=$REPLY
	i=$(( NSPAN * INTERVAL_MS - INTERVAL_MS / 2 ))
	nap "$((i / 1000)).$(printf %03d $((i % 1000)))"
	follow_until "$n" "INTERVALS >= m0 + NSPAN * $n" $((INTERVAL_MS / 1000 + 10)) ||
		die "$run: uvscope stopped writing interval lines: $(head -c 2000 "$DIR/$tag.agent.err")"
	now_us; w1=$REPLY
	cpu_idle_ms; i1=$REPLY
	targets_ns; g1=$REPLY
	sched_ns "$AGENT_PID"; a1=$REPLY
	proc_ticks "$AGENT_PID"; read -r ut1 st1 <<<"$REPLY"
	rss_kb "$AGENT_PID"; rss_steady=$REPLY
	status_kb "$AGENT_PID" RssAnon; rss_anon=$REPLY
	status_kb "$AGENT_PID" RssFile; rss_file=$REPLY
	hwm_kb "$AGENT_PID"; hwm=$REPLY
	(( INTERVALS == m0 + NSPAN * n )) ||
		die "$run: $((INTERVALS - m0)) interval lines in the span, not $NSPAN x $n"
	bpf_inventory "$AGENT_PID"
	other_uvscopes "$AGENT_PID"; foreign=$REPLY
	# Every target in the last interval, with its loop iterations (a check that each was
	# really watched, and what they did).
	for pid in "${TARGETS[@]}"; do
		line=${LAST_LINE[$pid]:-}
		[[ $line =~ \"iterations\":([0-9]+) ]] ||
			die "$run: no interval line with iterations for target $pid in the span"
		iters+=("${BASH_REMATCH[1]}")
	done

	# Exit: SIGINT, then every target's summary.
	now_us; t0=$REPLY
	kill -INT "$AGENT_PID"
	for ((i = 0; i < 6000; i++)); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		nap 0.005
	done
	now_us; detach_us=$((REPLY - t0))
	(( i < 6000 )) || die "$run: uvscope did not exit within 30 s of SIGINT"
	wait "$AGENT_PID" || rc=$?
	AGENT_PID=
	exec {FOLLOW_FD}<&-; FOLLOW_FD=
	(( rc == 0 )) || die "$run: uvscope exited with $rc: $(head -c 2000 "$DIR/$tag.agent.err")"
	i=$(grep -c '^{"type":"summary"' "$DIR/$tag.agent.jsonl" || true)
	(( i == n )) || die "$run: uvscope wrote $i summaries, not $n"
	stop_nodes

	# Everything else that ran meanwhile: all busy CPU time minus the agent's and the targets'.
	other_ms=$(( (w1 - w0) * NCPU / 1000 - (i1 - i0) - (a1 - a0) / 1000000 - (g1 - g0) / 1000000 ))
	if (( other_ms < 0 )); then other_ms=0; fi
	other_pct=$(( other_ms * 100 / ((w1 - w0) / 1000) ))
	REDO=0
	if (( (other_pct > MAX_OTHER_PCT || foreign > 0) && attempt <= RETRIES )); then
		kept=false REDO=1
		echo "  $run: other processes used ${other_pct}% of a CPU ($foreign other uvscope" \
			"programs loaded), redoing" >&2
	fi
	for k in "${!LINK_TYPES[@]}"; do link_json+=",\"$k\":${LINK_TYPES[$k]}"; done
	{
		printf '{"kept":%s,"attempt":%d,"run":"%s","how":"%s","targets":%d,' \
			"$kept" "$attempt" "$run" "$how" "$n"
		printf '"seconds":%d,' "$SPAN_S"
		printf '"interval_ms":%d,"intervals":%d,"elapsed_ns":%d,' "$INTERVAL_MS" "$NSPAN" \
			$(( (w1 - w0) * 1000 ))
		printf '"tick_ms":%d,"stat_ms":%d,"host_processes":%d,' "$TICK_MS" "$STAT_MS" "$procs"
		printf '"cpu_ms":%d,"user_ms":%d,"sys_ms":%d,"sched_ns":%d,' \
			$(( (ut1 + st1 - ut0 - st0) * 1000 / CLK_TCK )) $(( (ut1 - ut0) * 1000 / CLK_TCK )) \
			$(( (st1 - st0) * 1000 / CLK_TCK )) $((a1 - a0))
		printf '"first_attach_us":%d,"attach_us":%d,"attach_cpu_ms":%d,"detach_us":%d,' \
			"$first_us" "$attach_us" $((attach_ticks * 1000 / CLK_TCK)) "$detach_us"
		printf '"rss_attach_kb":%d,"rss_steady_kb":%d,"rss_anon_kb":%d,"rss_file_kb":%d,' \
			"$rss_attach" "$rss_steady" "$rss_anon" "$rss_file"
		printf '"hwm_kb":%d,' "$hwm"
		printf '"bpf_progs":%d,"bpf_links":%d,"link_types":{%s},"perf_events":%d,' \
			"$PROGS" "$LINKS" "${link_json#,}" "$PERF"
		printf '"bpf_maps":%d,"map_memlock_kb":%d,"agent_fds":%d,' "$MAPS" "$MEMLOCK_KB" "$FDS"
		printf '"target_iterations":[%s],"targets_cpu_ns":%d,' "$(IFS=,; echo "${iters[*]}")" \
			$((g1 - g0))
		printf '"other_cpu_ms":%d,"other_uvscope_progs":%d}\n' "$other_ms" "$foreign"
	} >>"$OUT"
	tail -1 "$OUT" | "$NODE" "$ROOT/bench/many_cost.mjs" --line
}

# ---- main ---------------------------------------------------------------------------------
echo "many-cost: ${#RUNS_LIST[@]} runs (${RUNS_LIST[*]}) x $REPEAT, ${SPAN_S}s measured each;" \
	"raw data in ${DIR#"$ROOT"/}"
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
	echo ",\"tick_ms\":$TICK_MS,\"stat_ms\":$STAT_MS,\"repeat\":$REPEAT"
	echo ",\"node_cpu\":$NODE_CPU,\"agent_cpu\":$AGENT_CPU,\"kernel\":\"$(uname -r)\""
	meta_versions
} >"$DIR/many-cost-meta.json"
"$NODE" "$ROOT/bench/many_cost.mjs" "$DIR" "$DIR/many-cost.md"
echo "many-cost: done in ${SECONDS}s"
cat "$DIR/many-cost.md"
