#!/usr/bin/env bash
# scripts/bench.sh: what does watching a Node process with uvscope cost that process?
# (`make bench` builds uvscope, then runs this; see bench/README.md for the method.)
#
# A plain Node HTTP server (bench/server.js) is driven by bench/loadgen.c in two
# configurations:
#   rate        open loop at BENCH_RATE (5000) requests/s on a fixed schedule, latency from
#               each request's scheduled send time (no coordinated omission)
#   saturation  closed loop, as fast as the server answers, on BENCH_CONNS connections
# and for each in three modes, as PAIRS of runs, one without and one with uvscope attached:
#   control     nothing attached to either run of the pair: the machine's own noise
#   default     uvscope watch -p PID --json
#   phases      uvscope watch -p PID --json --phases (uprobes in libuv)
# Overhead = per pair, the ratio with / without; reported as min / median / max over pairs.
#
# Environment (defaults in brackets):
#   BENCH_PAIRS [7]  BENCH_SECONDS [6]  BENCH_WARMUP [1]  BENCH_RATE [5000]  BENCH_CONNS [50]
#   BENCH_CONFIGS ["rate saturation"]  BENCH_MODES ["control default phases"]
#   BENCH_SERVER_CPU [1]  BENCH_LOAD_CPU [0]  BENCH_AGENT_CPU [= BENCH_LOAD_CPU]
#   BENCH_MAX_OTHER_PCT [5]  BENCH_RETRIES [2]  BENCH_QUIET_WAIT [60]  (see run_pair)
#   BENCH_RESULTS [bench/results.md when BENCH_PAIRS >= 7, else the run's own directory]
#   UVSCOPE [./uvscope]  NODE [node]  CC [cc]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

PAIRS=${BENCH_PAIRS:-7}
RUN_S=${BENCH_SECONDS:-6}
WARMUP_S=${BENCH_WARMUP:-1}
RATE=${BENCH_RATE:-5000}
CONNS=${BENCH_CONNS:-50}
CONFIGS=${BENCH_CONFIGS:-rate saturation}
MODES=${BENCH_MODES:-control default phases}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
# uvscope runs beside the load generator, not beside the server: its own work (a wakeup
# per interval, reading maps, formatting JSON) would otherwise be charged to the server's
# CPU as extra latency and lost throughput that no real deployment forces on the target.
# What the target pays for being watched (the BPF programs run in the target's own
# syscalls and uprobes) is measured wherever the agent runs. The load generator keeps
# most of its CPU idle even at saturation (check load.cpu_ms in bench/runs/), so sharing
# it disturbs the load very little; the agent's own CPU is reported separately.
AGENT_CPU=${BENCH_AGENT_CPU:-$LOAD_CPU}
MAX_OTHER_PCT=${BENCH_MAX_OTHER_PCT:-5}
RETRIES=${BENCH_RETRIES:-2}
QUIET_WAIT=${BENCH_QUIET_WAIT:-60}
UVSCOPE=${UVSCOPE:-$ROOT/uvscope}
NODE=${NODE:-node}
CC=${CC:-cc}
LOADGEN=$ROOT/.output/loadgen
CLK_TCK=$(getconf CLK_TCK)

die() { echo "bench: $*" >&2; exit 1; }

# ---- preconditions ----------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root: uvscope loads BPF programs"
[[ -x $UVSCOPE ]] || die "$UVSCOPE is not built (run make uvscope)"
command -v "$NODE" >/dev/null || die "no $NODE"
command -v taskset >/dev/null || die "no taskset (apt-get install util-linux)"
(( $(nproc) >= 2 )) || die "needs 2 CPUs: the server and the load generator each get one"
[[ $SERVER_CPU != "$LOAD_CPU" ]] || die "BENCH_SERVER_CPU and BENCH_LOAD_CPU must differ"
for v in PAIRS RUN_S WARMUP_S RATE CONNS RETRIES MAX_OTHER_PCT QUIET_WAIT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( PAIRS >= 1 && RUN_S >= 1 )) || die "BENCH_PAIRS and BENCH_SECONDS must be at least 1"

# The script itself (polling files, reading /proc, forking) stays off the server's CPU.
taskset -cp "$LOAD_CPU" $$ >/dev/null

mkdir -p "$ROOT/.output"
$CC -O2 -Wall -Wextra -Werror -o "$LOADGEN" "$ROOT/bench/loadgen.c"

STAMP=$(date +%Y%m%d-%H%M%S)
RUNDIR=$ROOT/bench/runs/$STAMP
mkdir -p "$RUNDIR"
RUNS=$RUNDIR/runs.jsonl
: >"$RUNS"
if [[ -n ${BENCH_RESULTS:-} ]]; then
	RESULTS=$BENCH_RESULTS
elif (( PAIRS >= 7 )); then
	RESULTS=$ROOT/bench/results.md
else
	# A quick check must not replace the committed report.
	RESULTS=$RUNDIR/results.md
fi

# ---- cleanup: whatever happens, no server or agent outlives the script --------------------
SERVER_PID=
AGENT_PID=
cleanup() {
	local pid
	for pid in $AGENT_PID $SERVER_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $AGENT_PID $SERVER_PID; do
		wait "$pid" 2>/dev/null || true
	done
	AGENT_PID= SERVER_PID=
}
trap cleanup EXIT
# set -e stops at the first failing command; say which, or a failure looks like success.
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ---- small helpers (no forks where timing matters) -----------------------------------------

# A sleep that does not fork: read with a timeout on a pipe nobody ever writes.
exec {NAP_FD}<> <(:)
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }

now_us() { REPLY=${EPOCHREALTIME/./}; }

# REPLY = nanoseconds on CPU, summed over all threads of PID (schedstat's first field).
sched_ns() {
	local f a rest sum=0
	for f in /proc/"$1"/task/*/schedstat; do
		if read -r a rest <"$f" 2>/dev/null; then sum=$((sum + a)); fi
	done
	REPLY=$sum
}

# REPLY = busy ticks of all CPUs (user nice system irq softirq) from /proc/stat.
cpu_busy_ticks() {
	local name user nice sys idle iowait irq softirq rest
	read -r name user nice sys idle iowait irq softirq rest </proc/stat
	REPLY=$((user + nice + sys + irq + softirq))
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

# REPLY = VmHWM (peak RSS) of PID in kB.
hwm_kb() {
	local key val rest
	REPLY=0
	while read -r key val rest; do
		if [[ $key == VmHWM: ]]; then REPLY=$val; fi
	done <"/proc/$1/status"
}

# ---- one run ------------------------------------------------------------------------------
# run_one CONFIG MODE ATTACHED(0|1) PAIR SLOT ATTEMPT: sets REC to the run's JSON record
# and OTHER_PCT to how much of the machine something else used meanwhile.
run_one() {
	local config=$1 mode=$2 attached=$3 pair=$4 slot=$5 attempt=$6
	local tag="p${pair}-${config}-${mode}-${slot}-a${attempt}" port load_args warm
	local t_start attach_us=null s0 s1 a0=0 a1=0 b0 b1 w0 w1 hwm=null agent_rc=null
	local detach_us=null summary=null agent_ns=null agent_total_ns=null load lg_ms other_ms

	taskset -c "$SERVER_CPU" "$NODE" "$ROOT/bench/server.js" 0 >"$RUNDIR/$tag.server.out" 2>&1 &
	SERVER_PID=$!
	wait_line "$RUNDIR/$tag.server.out" '"ready":true' 10 "$SERVER_PID" ||
		die "server did not start: $(cat "$RUNDIR/$tag.server.out")"
	[[ $REPLY =~ \"port\":([0-9]+) ]] || die "no port in: $REPLY"
	port=${BASH_REMATCH[1]}

	if (( attached )); then
		local flags=(watch -p "$SERVER_PID" --json)
		if [[ $mode == phases ]]; then flags+=(--phases); fi
		now_us; t_start=$REPLY
		taskset -c "$AGENT_CPU" "$UVSCOPE" "${flags[@]}" \
			>"$RUNDIR/$tag.agent.jsonl" 2>"$RUNDIR/$tag.agent.err" &
		AGENT_PID=$!
		wait_line "$RUNDIR/$tag.agent.jsonl" '"type":"attach"' 30 "$AGENT_PID" ||
			die "uvscope did not attach: $(cat "$RUNDIR/$tag.agent.err")"
		local hello=$REPLY
		now_us; attach_us=$((REPLY - t_start))
		# Without its uprobes the phases runs would measure the default mode twice.
		[[ $hello == *'"unavailable":[]'* ]] ||
			die "uvscope attached with something unavailable: $hello"
		if [[ $mode == phases ]]; then
			[[ $hello == *'"mode":"exact-phases"'* ]] || die "no exact phases: $hello"
		fi
	fi

	load_args=(-p "$port" -c "$CONNS")
	if [[ $config == rate ]]; then load_args+=(-r "$RATE"); fi
	# Warm-up: JIT-compile the request path and let the heap settle before measuring. It
	# runs on its own connections; the measured run makes new ones.
	warm=$(taskset -c "$LOAD_CPU" "$LOADGEN" "${load_args[@]}" -d "$WARMUP_S")

	sched_ns "$SERVER_PID"; s0=$REPLY
	if (( attached )); then sched_ns "$AGENT_PID"; a0=$REPLY; fi
	cpu_busy_ticks; b0=$REPLY
	now_us; w0=$REPLY
	load=$(taskset -c "$LOAD_CPU" "$LOADGEN" "${load_args[@]}" -d "$RUN_S")
	now_us; w1=$REPLY
	cpu_busy_ticks; b1=$REPLY
	sched_ns "$SERVER_PID"; s1=$REPLY

	if (( attached )); then
		sched_ns "$AGENT_PID"; a1=$REPLY
		agent_ns=$((a1 - a0))
		agent_total_ns=$a1
		hwm_kb "$AGENT_PID"; hwm=$REPLY
		# Detaching is part of the cost of using the tool: time it too.
		now_us; t_start=$REPLY
		kill -INT "$AGENT_PID"
		agent_rc=0
		wait "$AGENT_PID" || agent_rc=$?
		now_us; detach_us=$((REPLY - t_start))
		AGENT_PID=
		(( agent_rc == 0 )) || die "uvscope exited with $agent_rc: $(cat "$RUNDIR/$tag.agent.err")"
		local line
		while IFS= read -r line; do
			if [[ $line == '{"type":"summary"'* ]]; then summary=$line; fi
		done <"$RUNDIR/$tag.agent.jsonl"
	fi
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=

	# Everything else that ran on the machine during the measured window: all busy CPU
	# time minus the server's, the load generator's and the agent's. /proc/stat counts in
	# ticks (1/CLK_TCK s), so this is only good to ~20 ms.
	[[ $load =~ \"cpu_ms\":([0-9]+) ]] || die "loadgen printed no cpu_ms: $load"
	lg_ms=${BASH_REMATCH[1]}
	other_ms=$(( (b1 - b0) * 1000 / CLK_TCK - (s1 - s0) / 1000000 - lg_ms -
		${agent_ns/null/0} / 1000000 ))
	(( other_ms > 0 )) || other_ms=0
	OTHER_PCT=$(( other_ms * 100 / ((w1 - w0) / 1000) ))

	REC="{\"pair\":$pair,\"config\":\"$config\",\"mode\":\"$mode\",\"slot\":\"$slot\""
	local json_attached=false
	if (( attached )); then json_attached=true; fi
	REC+=",\"attached\":$json_attached,\"attempt\":$attempt"
	REC+=",\"tag\":\"$tag\",\"elapsed_ns\":$(( (w1 - w0) * 1000 )),\"server_cpu_ns\":$((s1 - s0))"
	REC+=",\"other_cpu_ms\":$other_ms,\"attach_us\":$attach_us,\"detach_us\":$detach_us"
	REC+=",\"agent_cpu_ns\":$agent_ns,\"agent_total_cpu_ns\":$agent_total_ns"
	REC+=",\"agent_hwm_kb\":$hwm,\"agent_rc\":$agent_rc"
	REC+=",\"load\":$load,\"warmup\":$warm,\"agent_summary\":$summary}"
}

# ---- one pair -----------------------------------------------------------------------------
# REPLY = how many uvscope BPF programs (named uvs_*) are loaded: another uvscope (someone's
# tests) would run its syscall programs in our server's syscalls too and bias the runs
# without uvscope. Between our runs, none of ours is loaded.
other_uvscopes() {
	REPLY=0
	if command -v bpftool >/dev/null; then
		REPLY=$(bpftool prog show 2>/dev/null | grep -c ' name uvs_' || true)
	fi
}

# wait_quiet: before a pair, wait (up to BENCH_QUIET_WAIT s) for a 1 s window in which the
# machine, with nothing of ours running, is less than BENCH_MAX_OTHER_PCT % busy and no
# other uvscope is loaded. On a shared machine this turns other people's work into waiting
# rather than noise.
wait_quiet() {
	local waited=0 b0 b1 pct
	while (( waited < QUIET_WAIT )); do
		cpu_busy_ticks; b0=$REPLY
		nap 1
		cpu_busy_ticks; b1=$REPLY
		pct=$(( (b1 - b0) * 100 / CLK_TCK ))
		other_uvscopes
		if (( pct <= MAX_OTHER_PCT && REPLY == 0 )); then
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

# run_pair PAIR CONFIG MODE: one run without and one with uvscope (for control: two runs
# without), the order alternating between pairs (ABBA...) so a slow drift of the machine
# does not favour either side. If something else on the machine took more than
# BENCH_MAX_OTHER_PCT % of a CPU during either run, the pair is redone (up to
# BENCH_RETRIES times); discarded runs stay in runs.jsonl, marked "kept":false.
run_pair() {
	local pair=$1 config=$2 mode=$3 attempt slots slot attached rec worst kept recs
	if (( pair % 2 )); then slots="without with"; else slots="with without"; fi
	for ((attempt = 1; attempt <= RETRIES + 1; attempt++)); do
		wait_quiet
		recs=()
		worst=0
		for slot in $slots; do
			attached=0
			if [[ $slot == with && $mode != control ]]; then attached=1; fi
			run_one "$config" "$mode" "$attached" "$pair" "$slot" "$attempt"
			recs+=("$REC")
			if (( OTHER_PCT > worst )); then worst=$OTHER_PCT; fi
		done
		other_uvscopes
		kept=true
		if (( (worst > MAX_OTHER_PCT || REPLY > 0) && attempt <= RETRIES )); then
			kept=false
			echo "  pair $pair $config/$mode: other processes used ${worst}% of a CPU" \
				"($REPLY other uvscope programs loaded), redoing" >&2
		fi
		for rec in "${recs[@]}"; do
			echo "{\"kept\":$kept,\"other_pct\":$worst,${rec#\{}" >>"$RUNS"
		done
		if [[ $kept == true ]]; then break; fi
	done
	summarize_pair "$pair" "$config" "$mode" "${recs[@]}"
}

# One progress line per pair: the server's CPU per request, and p99 or throughput.
summarize_pair() {
	local pair=$1 config=$2 mode=$3 r slot ns n v out=""
	shift 3
	for r in "$@"; do
		[[ $r =~ \"slot\":\"([a-z]+)\" ]]; slot=${BASH_REMATCH[1]}
		[[ $r =~ \"server_cpu_ns\":([0-9]+) ]]; ns=${BASH_REMATCH[1]}
		[[ $r =~ \"completed\":([0-9]+) ]]; n=${BASH_REMATCH[1]}
		if [[ $config == rate ]]; then
			[[ $r =~ \"p99\":([0-9.]+) ]]; v="p99 ${BASH_REMATCH[1]} us"
		else
			[[ $r =~ \"throughput_rps\":([0-9.]+) ]]; v="${BASH_REMATCH[1]} req/s"
		fi
		out+=" $slot: $((ns / n)) ns/req, $v;"
	done
	printf '  pair %d %-10s %-8s%s\n' "$pair" "$config" "$mode" "${out%;}"
}

# ---- main ---------------------------------------------------------------------------------
nconf=$(wc -w <<<"$CONFIGS"); nmodes=$(wc -w <<<"$MODES")
echo "bench: $PAIRS pairs x $nconf configurations x $nmodes modes, ${RUN_S}s runs (+${WARMUP_S}s" \
	"warm-up), server on CPU $SERVER_CPU, load on CPU $LOAD_CPU, uvscope on CPU $AGENT_CPU"
echo "bench: raw runs in ${RUNDIR#"$ROOT"/}"
{
	echo "{\"started\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"pairs\":$PAIRS,\"seconds\":$RUN_S"
	echo ",\"warmup\":$WARMUP_S,\"rate\":$RATE,\"connections\":$CONNS"
	echo ",\"server_cpu\":$SERVER_CPU,\"load_cpu\":$LOAD_CPU,\"agent_cpu\":$AGENT_CPU"
	echo ",\"max_other_pct\":$MAX_OTHER_PCT,\"retries\":$RETRIES"
	echo ",\"node\":\"$("$NODE" --version)\",\"uvscope\":\"$("$UVSCOPE" --version | head -1)\""
	echo ",\"git\":\"$(git describe --tags --always --dirty 2>/dev/null || echo unknown)\"}"
} >"$RUNDIR/meta.json"

# Pairs outermost, so every mode is spread over the whole run and meets the same drift.
for ((pair = 1; pair <= PAIRS; pair++)); do
	for config in $CONFIGS; do
		for mode in $MODES; do
			run_pair "$pair" "$config" "$mode"
		done
	done
done

"$NODE" "$ROOT/bench/report.mjs" "$RUNDIR" "$RESULTS"
echo "bench: report in ${RESULTS#"$ROOT"/}"
