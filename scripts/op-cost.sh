#!/usr/bin/env bash
# scripts/op-cost.sh: what uvscope adds to the CPU cost of one operation of the target, of a
# system call and of a TCP connection of another process on the host, in each mode, next to
# what one uprobe hit costs on this kernel. (`make bench` runs it as one of its sections; see
# bench/README.md.)
#
# The target, bench/op_cost.js, pinned to one CPU, does one kind of operation at a time, one
# after the other, for a round of about OP_COST_ROUND_MS of its CPU, and prints its CPU time
# (all its threads) per operation. The operations (OP_COST_OPS):
#   iter    one loop iteration (a setImmediate chain)
#   fs      one fs.promises.stat (one pool job, its loop iterations and syscalls)
#   crypto  one crypto.pbkdf2 of 1 iteration (one uv_queue_work job)
#   zlib    one zlib.deflate of a few bytes (one uv_queue_work job)
#   dns     one dns.lookup('localhost') (one getaddrinfo job)
#   tcp     one loopback TCP connection to itself (not in the defaults)
# The bystanders (OP_COST_BYSTANDERS), processes uvscope does not watch while it watches the
# target, on the target's CPU while the target waits:
#   syscall ns per getppid() (bench/syscall_cost.c, best of 5 runs of OP_COST_SYSCALLS calls)
#   tcp     CPU per loopback TCP connection of another bench/op_cost.js (host-wide socket
#           tracepoints run in its connections too)
# The modes (OP_COST_MODES, from MODE_TABLE below): none (nothing attached: the noise), default
# (the thread pool in it), phases, nopool, tracepoints; pool (--pool, the same as default since
# the pool is on by default) for older builds. Not in the defaults, to take the cost apart:
# nostacks (--no-stacks), perthread (stacks sampled by per-thread perf events, the fallback),
# nomulti (every uprobe its own perf event instead of uprobe_multi links), fourprobe (the
# thread pool's 4-probe plan, as on kernels without uprobe sessions: the plan before the
# 2-probe one), pooldelay (--pool-delay: the done callbacks too), returnhook (the loop's waits
# by the epoll call's return hook, one hit per call, instead of by the uprobe at uv__io_poll's
# entry, one per iteration), dnsexact (every dns host name read and counted exactly, none
# sampled). A mode whose flags
# this uvscope does not know is left out, with a message.
#
# Pairs: for pair p of every mode, one slot without uvscope and one with it attached (to the
# running target, as it is used), the order alternating from pair to pair (ABBA); each slot
# runs one round of every operation and every bystander. A "with" slot starts only once the
# agent printed its attach line, and ends by detaching it and waiting until its BPF programs
# are gone. The added cost of an operation is, per pair, with minus without; the report gives
# the median over pairs. Before each pair number the script waits for a quiet machine
# (BENCH_QUIET_PCT, BENCH_QUIET_WAIT); a pair during which another uvscope's BPF programs were
# loaded, or something else took the target's CPU, is redone once (OP_COST_MAX_STEAL).
#
# The uprobe floor, first (OP_COST_FLOOR=no leaves it out): bench/uprobe_floor.c calls
# functions that start with `push %rbp` (an entry uprobe on one, an entry and a return probe on
# another) and one that starts with a `mov` (single-stepped), with the probes attached by
# bpftrace; ns per hit is each function's CPU per call minus an unprobed twin's, median of
# OP_COST_FLOOR_ROUNDS rounds, and bpftrace's hit counts must equal the calls made.
#
# Duration: about 4 minutes with the defaults on the 2-CPU benchmark VM (246 s with 5 modes on
# a busy machine): the floor ~10 s, warm-up ~15 s, then per pair number up to 10 s waiting for
# a quiet machine, and per pair and mode two slots of ~1.1 s and an attach and detach of
# ~0.7 s. OP_COST_PAIRS, OP_COST_MODES and OP_COST_ROUND_MS scale it.
#
#   sudo scripts/op-cost.sh [DIR]      (DIR: default bench/runs/STAMP-op-cost)
# writes DIR/op-cost.jsonl (one JSON line per round, per agent session, per floor round),
# DIR/op-cost-meta.json, the fixtures' and agents' output, and the table, DIR/op-cost.md,
# which it also prints. bench/report.mjs puts that table into the report of a `make bench`
# run directory that holds it.
#
# Environment (defaults in brackets):
#   OP_COST_OPS ["iter fs crypto zlib dns"]  OP_COST_BYSTANDERS ["syscall tcp"]
#   OP_COST_MODES ["none default phases nopool tracepoints"]
#   OP_COST_PAIRS [8]  OP_COST_ROUND_MS [150]
#   OP_COST_WARMUP_MS [1000] (CPU of each operation)  OP_COST_SETTLE [3] (rounds, after it)
#   OP_COST_SYSCALLS [300000]  OP_COST_FLOOR [yes]  OP_COST_FLOOR_CALLS [20000]
#   OP_COST_FLOOR_ROUNDS [5]
#   OP_COST_MAX_STEAL [50]  a pair in which a fixture's round took more than this % of wall
#     time beyond its CPU time (something else ran on its CPU) is redone, up to BENCH_RETRIES
#     [1] times; the discarded rounds stay in op-cost.jsonl with "kept":false. Not lower: what
#     is compared is CPU time, which the time others take does not count, and on a busy
#     machine pairs that lost 10-60% agreed with those that lost nothing
#   BENCH_SERVER_CPU [1] (target, bystanders, floor)  BENCH_AGENT_CPU [0] (uvscope, bpftrace,
#   this script)  BENCH_QUIET_PCT [5]  BENCH_QUIET_WAIT [10]
#   UVSCOPE [./uvscope]  NODE [node]  CC [cc]  BPFTRACE [bpftrace]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

# The modes: what each adds to `uvscope watch -p PID --json`, in the agent's environment, and
# how to tell it got what it asked for: every mode's attach line must say "unavailable":[];
# beyond that, a pattern its attach line must contain, and a BPF program name prefix the agent
# must hold (with "!": must not hold; checked when bpftool is installed). "-": nothing; several
# flags or variables: comma-separated. `none` attaches nothing.
#   mode         flags       environment                  attach line must contain     programs
MODE_TABLE='
  default      -           -                            -                            uvs_pool_
  phases       --phases    -                            "mode":"exact-phases"        uvs_phase_
  pool         --pool      -                            -                            uvs_pool_
  nopool       --no-pool   -                            -                            !uvs_pool_
  nostacks     --no-stacks -                            -                            uvs_pool_
  perthread    -           UVSCOPE_SAMPLE_PER_THREAD=1  per-thread                   uvs_pool_
  nomulti      -           UVSCOPE_NO_UPROBE_MULTI=1    -                            uvs_pool_
  fourprobe    -           UVSCOPE_NO_UPROBE_SESSION=1  "plan":"4-probe"             uvs_pool_
  pooldelay    --pool-delay -                           "delay":true                 uvs_pool_
  tracepoints  -           UVSCOPE_NO_EPOLL_UPROBES=1,UVSCOPE_NO_FENTRY=1 "epoll_hooks":"tracepoints" -
  returnhook   -           UVSCOPE_EPOLL_RETURN_HOOK=1  "waits_at_poll_entry":false  uvs_ep_call_out
  dnsexact     -           UVSCOPE_DNS_NAMES_EXACT=1000000 -                         uvs_pool_
'

OPS=${OP_COST_OPS:-iter fs crypto zlib dns}
BYSTANDERS=${OP_COST_BYSTANDERS:-syscall tcp}
MODES=${OP_COST_MODES:-none default phases nopool tracepoints}
PAIRS=${OP_COST_PAIRS:-8}
ROUND_MS=${OP_COST_ROUND_MS:-150}
WARMUP_MS=${OP_COST_WARMUP_MS:-1000}
SETTLE=${OP_COST_SETTLE:-3}
SYSCALLS=${OP_COST_SYSCALLS:-300000}
FLOOR=${OP_COST_FLOOR:-yes}
FLOOR_CALLS=${OP_COST_FLOOR_CALLS:-20000}
FLOOR_ROUNDS=${OP_COST_FLOOR_ROUNDS:-5}
TARGET_CPU=${BENCH_SERVER_CPU:-1}
AGENT_CPU=${BENCH_AGENT_CPU:-0}
QUIET_PCT=${BENCH_QUIET_PCT:-5}
QUIET_WAIT=${BENCH_QUIET_WAIT:-10}
RETRIES=${BENCH_RETRIES:-1}
MAX_STEAL=${OP_COST_MAX_STEAL:-50}
UVSCOPE=${UVSCOPE:-$ROOT/uvscope}
NODE=${NODE:-node}
CC=${CC:-cc}
BPFTRACE=${BPFTRACE:-bpftrace}
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc --all)
SYSCALL_COST=$ROOT/.output/syscall_cost
UPROBE_FLOOR=$ROOT/.output/uprobe_floor
# How long one round, an attach or a detach may take before the script gives up, in s.
ROUND_TIMEOUT=120

die() { echo "op-cost: $*" >&2; exit 1; }

# ---- preconditions ----------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root: uvscope loads BPF programs"
[[ -x $UVSCOPE ]] || die "$UVSCOPE is not built (run make uvscope)"
command -v "$NODE" >/dev/null || die "no $NODE"
command -v taskset >/dev/null || die "no taskset (apt-get install util-linux)"
(( NCPU >= 2 )) || die "needs 2 CPUs: the target and uvscope each get one"
for v in PAIRS ROUND_MS WARMUP_MS SETTLE SYSCALLS FLOOR_CALLS FLOOR_ROUNDS TARGET_CPU AGENT_CPU \
	QUIET_PCT QUIET_WAIT RETRIES MAX_STEAL; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( PAIRS >= 1 && ROUND_MS >= 1 && SYSCALLS >= 1 && FLOOR_CALLS >= 1 && FLOOR_ROUNDS >= 1 )) ||
	die "OP_COST_PAIRS, _ROUND_MS, _SYSCALLS, _FLOOR_CALLS and _FLOOR_ROUNDS must be at least 1"
[[ $TARGET_CPU != "$AGENT_CPU" ]] || die "BENCH_SERVER_CPU and BENCH_AGENT_CPU must differ"
[[ $FLOOR == yes || $FLOOR == no ]] || die "OP_COST_FLOOR must be yes or no (got '$FLOOR')"
if [[ $FLOOR == yes ]]; then
	command -v "$BPFTRACE" >/dev/null ||
		die "no $BPFTRACE for the uprobe floor (scripts/install-deps.sh installs it;" \
			"OP_COST_FLOOR=no leaves the floor out)"
fi

# MODE_TABLE into MODE_FLAGS[mode] (space-separated), MODE_ENV, MODE_ATTACH, MODE_PROG.
declare -A MODE_FLAGS=() MODE_ENV=() MODE_ATTACH=() MODE_PROG=()
undash() { if [[ $1 == - ]]; then REPLY=; else REPLY=$1; fi; }	# "-": nothing
while read -r m flags env attach prog; do
	[[ -n $m ]] || continue
	undash "$flags"; MODE_FLAGS[$m]=${REPLY//,/ }
	undash "$env"; MODE_ENV[$m]=${REPLY//,/ }
	undash "$attach"; MODE_ATTACH[$m]=$REPLY
	undash "$prog"; MODE_PROG[$m]=$REPLY
done <<<"$MODE_TABLE"

# Which modes run: every one asked for whose flags this uvscope knows (its --help lists them).
HELP=$("$UVSCOPE" --help 2>&1 || true)
MODE_LIST=() SKIPPED=()
for m in $MODES; do
	[[ $m == none || -n ${MODE_FLAGS[$m]+set} ]] ||
		die "unknown mode '$m' in OP_COST_MODES (known: none ${!MODE_FLAGS[*]})"
	known=1
	for f in ${MODE_FLAGS[$m]:-}; do
		[[ $HELP =~ (^|[[:space:]])$f([[:space:]=]|$) ]] || known=0
	done
	if (( known )); then MODE_LIST+=("$m"); else SKIPPED+=("$m"); fi
done
(( ${#MODE_LIST[@]} )) || die "no mode to run (OP_COST_MODES='$MODES')"
for u in $OPS; do
	[[ $u =~ ^(iter|fs|crypto|zlib|dns|tcp)$ ]] ||
		die "unknown operation '$u' in OP_COST_OPS (known: iter fs crypto zlib dns tcp)"
done
for u in $BYSTANDERS; do
	[[ $u =~ ^(syscall|tcp)$ ]] || die "unknown bystander '$u' in OP_COST_BYSTANDERS (known: syscall tcp)"
done
[[ -n $OPS$BYSTANDERS ]] || die "OP_COST_OPS and OP_COST_BYSTANDERS are both empty"

DIR=${1:-$ROOT/bench/runs/$(date +%Y%m%d-%H%M%S)-op-cost}
mkdir -p "$DIR" "$ROOT/.output"
OUT=$DIR/op-cost.jsonl
: >"$OUT"

# Measure one fixed binary: others may rebuild ./uvscope meanwhile.
if [[ $(realpath "$UVSCOPE") != "$(realpath "$DIR")/uvscope" ]]; then
	cp "$UVSCOPE" "$DIR/uvscope"
	UVSCOPE=$DIR/uvscope
fi
$CC -O2 -Wall -Wextra -Werror -o "$SYSCALL_COST" "$ROOT/bench/syscall_cost.c"
$CC -O2 -Wall -Wextra -Werror -o "$UPROBE_FLOOR" "$ROOT/bench/uprobe_floor.c"

# ---- cleanup: whatever happens, no process of ours outlives the script ---------------------
AGENT_PID=
declare -A PROG_NAME=()	# the agent's BPF programs' names by id
BT_PID=			# bpftrace, for the floor
BPF_STATS_PREV=		# kernel.bpf_stats_enabled to restore, while bpf_stats has it on
STATS_RESTORE=		# the same, at the end, if it was on at the start
declare -A FIX_PID=() FIX_IN=() FIX_OUT=()	# the fixtures: pid, stdin and stdout fds
# stop_fixture NAME: closes its stdin and stops it (SIGTERM, SIGKILL after 10 s); reaped.
stop_fixture() {
	local name=$1 fd
	fd=${FIX_IN[$name]:-}
	if [[ -n $fd ]]; then exec {fd}>&-; fi
	if [[ -n ${FIX_PID[$name]:-} ]]; then stop_pids 10 "${FIX_PID[$name]}"; fi
	fd=${FIX_OUT[$name]:-}
	if [[ -n $fd ]]; then exec {fd}<&-; fi
	unset "FIX_PID[$name]" "FIX_IN[$name]" "FIX_OUT[$name]"
}
cleanup() {
	local name
	if [[ -n $BPF_STATS_PREV ]]; then sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_PREV" || true; fi
	if [[ -n $STATS_RESTORE ]]; then sysctl -qw kernel.bpf_stats_enabled="$STATS_RESTORE" || true; fi
	if [[ -n $AGENT_PID ]]; then stop_pids 10 "$AGENT_PID"; AGENT_PID=; fi
	if [[ -n $BT_PID ]]; then stop_pids 10 "$BT_PID"; BT_PID=; fi
	for name in "${!FIX_PID[@]}"; do stop_fixture "$name"; done
	rm -f "$DIR"/*.fifo
}
trap cleanup EXIT
trap 'echo "op-cost: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo "op-cost: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# nap, now_us, stop_pids, sched_ns, cpu_idle_ms, wait_line, hwm_kb, rss_kb, agent_progs,
# other_uvscopes, wait_quiet
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

# The script itself (reading /proc, forking) stays off the target's CPU.
taskset -cp "$AGENT_CPU" $$ >/dev/null

# ---- the fixtures ---------------------------------------------------------------------------
# start_fixture NAME CMD...: CMD pinned to TARGET_CPU, its stdin and stdout fifos this script
# holds, its stderr in DIR/op-cost-NAME.err. Every line it prints is copied to
# DIR/op-cost-NAME.out as it is read. Sets REPLY to its first line.
start_fixture() {
	local name=$1 in=$DIR/op-cost-$1.in.fifo out=$DIR/op-cost-$1.out.fifo fd
	shift
	rm -f "$in" "$out"
	mkfifo "$in" "$out"
	: >"$DIR/op-cost-$name.out"
	# The child opens its stdin, then its stdout; each open waits for this end's, in that order.
	UV_USE_IO_URING=0 taskset -c "$TARGET_CPU" "$@" <"$in" >"$out" 2>"$DIR/op-cost-$name.err" &
	FIX_PID[$name]=$!
	exec {fd}>"$in"; FIX_IN[$name]=$fd
	exec {fd}<"$out"; FIX_OUT[$name]=$fd
	fixture_line "$name" 600 || die "$name ($*) did not start: $(head -c 2000 "$DIR/op-cost-$name.err")"
}

# fixture_line NAME TIMEOUT: REPLY = the fixture's next line (kept in its .out file), waiting up
# to TIMEOUT s; fails if it exits or takes longer.
fixture_line() {
	local name=$1
	IFS= read -r -t "$2" -u "${FIX_OUT[$name]}" REPLY || return 1
	printf '%s\n' "$REPLY" >>"$DIR/op-cost-$name.out"
}

# fixture_round NAME OP TAG: one round of OP in bench/op_cost.js NAME. Sets ROUND (its
# figures as JSON fields: count, ns per operation, which is its CPU time per operation, CPU
# and wall time) and ROUND_NS (ns per operation).
fixture_round() {
	local name=$1 op=$2 tag=$3
	echo "$op $tag" >&"${FIX_IN[$name]}"
	fixture_line "$name" "$ROUND_TIMEOUT" ||
		die "$name: no answer to '$op $tag': $(tail -c 2000 "$DIR/op-cost-$name.err")"
	[[ $REPLY == *"\"tag\":\"$tag\""* &&
		$REPLY =~ \"count\":([0-9]+),\"cpu_ns_per_op\":([0-9.]+),\"wall_ns_per_op\":([0-9.]+) ]] ||
		die "$name: not the answer to '$op $tag': $REPLY"
	ROUND_COUNT=${BASH_REMATCH[1]} ROUND_NS=${BASH_REMATCH[2]}
	ROUND=",\"count\":${BASH_REMATCH[1]},\"ns_per_op\":$ROUND_NS,\"cpu_ns_per_op\":$ROUND_NS"
	ROUND+=",\"wall_ns_per_op\":${BASH_REMATCH[3]}"
	# Alone on its CPU the fixture is on it all the time (its loop thread waits only while
	# its own pool threads, on the same CPU, work): wall time beyond its CPU time is time
	# something else took from that CPU, or spent it idle; that something also disturbs the
	# caches and may charge its interrupts to the round.
	local cpu=${ROUND_NS%.*} wall=${BASH_REMATCH[3]%.*} steal
	steal=$(( cpu > 0 ? (wall - cpu) * 100 / cpu : 0 ))
	if (( steal > STEAL )); then STEAL=$steal; fi
}

# ---- the agent ----------------------------------------------------------------------------
# attach_agent MODE TAG: uvscope on the target with the mode's flags and environment, pinned to
# AGENT_CPU; waits for its attach line and checks that the mode got what it asked for (see
# MODE_TABLE). Sets AGENT_PID, ATTACH_US (start to attach line), RSS_ATTACH (its VmRSS then,
# kB), HOOKS (the attach line's epoll_hooks) and PROGS (its BPF programs, with bpftool).
attach_agent() {
	# --no-guard: the budgets are what the probes cost with everything in the mode on; the
	# overhead guard would take some out under a load as fast as these (README, "The overhead
	# guard", says what it saves).
	local mode=$1 tag=$2 t0 hello p line args=(watch -p "${FIX_PID[target]}" --json --no-guard)
	local extra env
	read -r -a extra <<<"${MODE_FLAGS[$mode]}"
	read -r -a env <<<"${MODE_ENV[$mode]}"
	args+=("${extra[@]}")
	: >"$DIR/$tag.agent.jsonl"
	now_us; t0=$REPLY
	env "${env[@]}" taskset -c "$AGENT_CPU" "$UVSCOPE" "${args[@]}" \
		>"$DIR/$tag.agent.jsonl" 2>"$DIR/$tag.agent.err" &
	AGENT_PID=$!
	wait_line "$DIR/$tag.agent.jsonl" '"type":"attach"' "$ROUND_TIMEOUT" "$AGENT_PID" ||
		die "$mode: uvscope did not attach: $(head -c 2000 "$DIR/$tag.agent.err")"
	hello=$REPLY
	now_us; ATTACH_US=$((REPLY - t0))
	rss_kb "$AGENT_PID"; RSS_ATTACH=$REPLY
	# A mode without its probes would measure another mode under its name.
	[[ $hello == *'"unavailable":[]'* ]] || die "$mode: uvscope ${args[*]} is missing something: $hello"
	if [[ -n ${MODE_ATTACH[$mode]} && $hello != *"${MODE_ATTACH[$mode]}"* ]]; then
		die "$mode: no ${MODE_ATTACH[$mode]} in uvscope's attach line: $hello"
	fi
	HOOKS=null
	if [[ $hello =~ \"epoll_hooks\":\"([a-z_-]+)\" ]]; then HOOKS=\"${BASH_REMATCH[1]}\"; fi
	PROGS=null PROG_NAME=()
	if command -v bpftool >/dev/null; then
		agent_progs "$AGENT_PID"
		PROGS=\"$REPLY\"
		# Their names by id, for the run-time statistics (bpf_stats).
		while IFS= read -r line; do
			if [[ $line =~ ^([0-9]+):\ .*\ name\ ([^ ]+) && -n ${OURS[${BASH_REMATCH[1]}]:-} ]]; then
				PROG_NAME[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
			fi
		done < <(bpftool prog show 2>/dev/null || true)
		p=${MODE_PROG[$mode]}
		if [[ $p == !* && " $REPLY" == *" ${p#!}"* ]]; then
			die "$mode: uvscope holds ${p#!}* BPF programs, and should not: $REPLY"
		elif [[ -n $p && $p != !* && " $REPLY" != *" $p"* ]]; then
			die "$mode: uvscope holds no $p* BPF program (it holds: $REPLY)"
		fi
	fi
}

# detach_agent MODE TAG: SIGINT, as a user stops it; then (with bpftool) waits until the
# kernel has freed its programs, a moment after it exits, so the next slot neither pays for them
# nor takes them for another uvscope's. Sets DETACH_US (SIGINT to exit).
detach_agent() {
	local mode=$1 tag=$2 t0 rc=0 i line left
	local -A mine=()
	agent_prog_ids "$AGENT_PID"
	for i in "${!OURS[@]}"; do mine[$i]=1; done
	now_us; t0=$REPLY
	kill -INT "$AGENT_PID"
	wait "$AGENT_PID" || rc=$?
	now_us; DETACH_US=$((REPLY - t0))
	AGENT_PID=
	(( rc == 0 )) || die "$mode: uvscope exited with $rc: $(head -c 2000 "$DIR/$tag.agent.err")"
	command -v bpftool >/dev/null || return 0
	for ((i = 0; i < 20 * ROUND_TIMEOUT; i++)); do
		left=0
		while IFS= read -r line; do
			if [[ $line =~ ^([0-9]+): && -n ${mine[${BASH_REMATCH[1]}]:-} ]]; then left=1; fi
		done < <(bpftool prog show 2>/dev/null || true)
		(( left )) || return 0
		nap 0.05
	done
	die "$mode: uvscope's BPF programs are still loaded $ROUND_TIMEOUT s after it exited"
}

# ---- what uvscope's programs run in a bystander's operations -------------------------------
# bpf_stats on: switches the kernel's BPF run-time statistics on (kernel.bpf_stats_enabled)
# and notes the agent's programs' totals. bpf_stats off N: notes them again, switches the
# statistics back, and adds to ROUND what the programs ran per operation over those N
# operations, in all and by program name: everything they ran meanwhile, whoever caused it,
# with the target idle. Nothing is done without an agent.
# BPF_NS[id], BPF_RUNS[id] = run_time_ns, run_cnt of each program the agent holds, from the
# fdinfo of its program fds (a link's fdinfo names its program but has no statistics).
declare -A BPF_NS=() BPF_RUNS=() BPF_NS0=() BPF_RUNS0=()
agent_bpf_totals() {
	local f key val id ns cnt
	BPF_NS=() BPF_RUNS=()
	for f in /proc/"$AGENT_PID"/fdinfo/*; do
		id='' ns='' cnt=''
		while read -r key val; do
			case $key in
			prog_id:) id=$val ;;
			run_time_ns:) ns=$val ;;
			run_cnt:) cnt=$val ;;
			esac
		done <"$f" 2>/dev/null || true
		if [[ -n $id && -n $ns ]]; then BPF_NS[$id]=$ns BPF_RUNS[$id]=${cnt:-0}; fi
	done
}
bpf_stats() {
	local id name ns runs all_ns=0 all_runs=0 out=""
	local -A by_ns=() by_runs=()
	[[ -n $AGENT_PID ]] || return 0
	if [[ $1 == on ]]; then
		BPF_STATS_PREV=$(sysctl -n kernel.bpf_stats_enabled)
		sysctl -qw kernel.bpf_stats_enabled=1
		agent_bpf_totals
		BPF_NS0=() BPF_RUNS0=()
		for id in "${!BPF_NS[@]}"; do BPF_NS0[$id]=${BPF_NS[$id]} BPF_RUNS0[$id]=${BPF_RUNS[$id]}; done
		return 0
	fi
	agent_bpf_totals
	sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_PREV"
	BPF_STATS_PREV=
	for id in "${!BPF_NS[@]}"; do
		ns=$((BPF_NS[$id] - ${BPF_NS0[$id]:-0})) runs=$((BPF_RUNS[$id] - ${BPF_RUNS0[$id]:-0}))
		(( runs > 0 )) || continue
		name=${PROG_NAME[$id]:-prog_$id}
		by_ns[$name]=$(( ${by_ns[$name]:-0} + ns )) by_runs[$name]=$(( ${by_runs[$name]:-0} + runs ))
		all_ns=$((all_ns + ns)) all_runs=$((all_runs + runs))
	done
	for name in "${!by_ns[@]}"; do
		out+=",\"$name\":[$(( by_ns[$name] * 10 / $2 ))e-1,$(( by_runs[$name] * 1000 / $2 ))e-3]"
	done
	ROUND+=",\"bpf_ns_per_op\":$(( all_ns * 10 / $2 ))e-1"
	ROUND+=",\"bpf_runs_per_op\":$(( all_runs * 1000 / $2 ))e-3,\"bpf_progs\":{${out#,}}"
}

# ---- one slot, one pair -------------------------------------------------------------------
# run_slot PAIR ATTEMPT MODE SLOT: one round of every operation in the target and of every
# bystander, uvscope attached around them for the "with" slot of a mode other than none.
# Appends the slot's JSON lines to RECS, its progress to NS[op:slot] (ns per operation);
# FOREIGN = the most BPF programs of another uvscope seen.
run_slot() {
	local pair=$1 attempt=$2 mode=$3 slot=$4 attached=false tag u a0 a1 hwm rss
	tag=op-cost-p$pair-$mode-a$attempt
	local head="\"pair\":$pair,\"attempt\":$attempt,\"mode\":\"$mode\",\"slot\":\"$slot\""
	if [[ $slot == with && $mode != none ]]; then
		attached=true
		attach_agent "$mode" "$tag"
		sched_ns "$AGENT_PID"; a0=$REPLY
	fi
	for u in $OPS; do
		fixture_round target "$u" "p$pair-$mode-$slot"
		RECS+=("{\"kind\":\"round\",$head,\"attached\":$attached,\"who\":\"target\",\"op\":\"$u\"$ROUND}")
		NS[$u:$slot]=$ROUND_NS
	done
	for u in $BYSTANDERS; do
		if [[ $u == tcp ]]; then
			bpf_stats on
			fixture_round bystander tcp "p$pair-$mode-$slot"
			bpf_stats off "$ROUND_COUNT"
		else
			# Wall time, best of 5 runs: a bare loop of system calls, nothing else to weigh.
			REPLY=$(taskset -c "$TARGET_CPU" "$SYSCALL_COST" "$SYSCALLS")
			[[ $REPLY =~ \"ns_per_syscall\":([0-9.]+) ]] || die "syscall_cost printed: $REPLY"
			ROUND_NS=${BASH_REMATCH[1]}
			ROUND=",\"count\":$SYSCALLS,\"ns_per_op\":$ROUND_NS"
			# Then, apart (the statistics slow every program run a little), what uvscope's
			# programs ran in a tenth as many calls.
			bpf_stats on
			taskset -c "$TARGET_CPU" "$SYSCALL_COST" $((SYSCALLS / 10 + 1)) >/dev/null
			bpf_stats off $((5 * (SYSCALLS / 10 + 1)))
		fi
		RECS+=("{\"kind\":\"round\",$head,\"attached\":$attached,\"who\":\"bystander\",\"op\":\"$u\"$ROUND}")
		NS[by-$u:$slot]=$ROUND_NS
	done
	other_uvscopes "$AGENT_PID"
	if (( REPLY > FOREIGN )); then FOREIGN=$REPLY; fi
	if [[ $attached == true ]]; then
		sched_ns "$AGENT_PID"; a1=$REPLY
		hwm_kb "$AGENT_PID"; hwm=$REPLY
		rss_kb "$AGENT_PID"; rss=$REPLY
		detach_agent "$mode" "$tag"
		RECS+=("{\"kind\":\"agent\",$head,\"flags\":\"${MODE_FLAGS[$mode]}\",\"env\":\"${MODE_ENV[$mode]}\",\"attach_us\":$ATTACH_US,\"detach_us\":$DETACH_US,\"agent_cpu_ns\":$((a1 - a0)),\"agent_hwm_kb\":$hwm,\"agent_rss_attach_kb\":$RSS_ATTACH,\"agent_rss_kb\":$rss,\"epoll_hooks\":$HOOKS,\"progs\":$PROGS}")
	fi
}

# delta WITH WITHOUT DIV UNIT: "+1.23 UNIT", (WITH - WITHOUT) / DIV (ns values with decimals).
delta() {
	local w=${1%.*} wo=${2%.*} d
	d=$(( (w - wo) * 100 / $3 ))
	local s=+; if (( d < 0 )); then s=-; d=$((-d)); fi
	REPLY="$s$((d / 100)).$(printf %02d $((d % 100)))$4"
}

# run_pair PAIR MODE: the two slots, their order alternating from pair to pair; redone (up to
# BENCH_RETRIES times) if another uvscope was loaded meanwhile, or if in some round of the pair
# the fixture's wall time exceeded its CPU time by more than OP_COST_MAX_STEAL % (something else
# ran on its CPU). One progress line.
run_pair() {
	local pair=$1 mode=$2 attempt slots slot kept rec u line
	if (( pair % 2 )); then slots="without with"; else slots="with without"; fi
	for ((attempt = 1; attempt <= RETRIES + 1; attempt++)); do
		RECS=() FOREIGN=0 STEAL=0
		declare -gA NS=()
		for slot in $slots; do run_slot "$pair" "$attempt" "$mode" "$slot"; done
		kept=true
		if (( (FOREIGN > 0 || STEAL > MAX_STEAL) && attempt <= RETRIES )); then
			kept=false
			echo "  pair $pair $mode: disturbed (other uvscope programs: $FOREIGN; a round's" \
				"wall time $STEAL% above its CPU time), redoing" >&2
		fi
		for rec in "${RECS[@]}"; do
			echo "{\"kept\":$kept,\"steal_pct\":$STEAL,\"other_uvscope_progs\":$FOREIGN,${rec#\{}" >>"$OUT"
		done
		if [[ $kept == true ]]; then break; fi
	done
	line=$(printf '  pair %d %-12s' "$pair" "$mode")
	for u in $OPS; do
		delta "${NS[$u:with]}" "${NS[$u:without]}" 1000 " us"; line+=" $u $REPLY,"
	done
	for u in $BYSTANDERS; do
		if [[ $u == syscall ]]; then delta "${NS[by-$u:with]}" "${NS[by-$u:without]}" 1 " ns"
		else delta "${NS[by-$u:with]}" "${NS[by-$u:without]}" 1000 " us"; fi
		line+=" bystander $u $REPLY,"
	done
	echo "${line%,}"
}

# ---- the uprobe floor ---------------------------------------------------------------------
# bench/uprobe_floor.c runs a batch of rounds without probes, then one with bpftrace's probes
# attached (once its BEGIN probe printed, which bpftrace runs after attaching every probe); the
# hit counts bpftrace prints when stopped must equal the probed calls, or a probe was missing
# for part of the batch.
uprobe_floor() {
	local bt=$DIR/op-cost-floor.bt b r line want n
	cat >"$bt" <<-EOF
		BEGIN { printf("attached\n"); }
		uprobe:$UPROBE_FLOOR:floor_push { @push = count(); }
		uprobe:$UPROBE_FLOOR:floor_pair { @pair = count(); }
		uretprobe:$UPROBE_FLOOR:floor_pair { @pair_ret = count(); }
		uprobe:$UPROBE_FLOOR:floor_step { @step = count(); }
	EOF
	start_fixture floor "$UPROBE_FLOOR" "$FLOOR_CALLS" "$FLOOR_ROUNDS"
	for b in 1 2; do
		if (( b == 2 )); then
			: >"$DIR/op-cost-floor.bpftrace.out"
			taskset -c "$AGENT_CPU" "$BPFTRACE" -p "${FIX_PID[floor]}" "$bt" \
				>"$DIR/op-cost-floor.bpftrace.out" 2>"$DIR/op-cost-floor.bpftrace.err" &
			BT_PID=$!
			wait_line "$DIR/op-cost-floor.bpftrace.out" attached "$ROUND_TIMEOUT" "$BT_PID" ||
				die "bpftrace did not attach: $(head -c 2000 "$DIR/op-cost-floor.bpftrace.err")"
		fi
		echo go >&"${FIX_IN[floor]}"
		for ((r = 1; r <= FLOOR_ROUNDS; r++)); do
			fixture_line floor "$ROUND_TIMEOUT" || die "uprobe_floor stopped"
			[[ $REPLY == '{"batch":'* ]] || die "uprobe_floor printed: $REPLY"
			echo "{\"kind\":\"floor\",\"probed\":$([[ $b == 2 ]] && echo true || echo false),${REPLY#\{}" >>"$OUT"
		done
	done
	kill -INT "$BT_PID"
	wait "$BT_PID" || true
	BT_PID=
	stop_fixture floor
	# bpftrace prints each map at exit ("@push: 100000"); every probe fired on every call.
	want=$((FLOOR_CALLS * FLOOR_ROUNDS)) line=""
	for n in push pair pair_ret step; do
		r=$(grep -m1 "^@$n: " "$DIR/op-cost-floor.bpftrace.out" | cut -d' ' -f2 || true)
		[[ $r == "$want" ]] || die "the uprobe floor's $n probe fired ${r:-0} times, not $want" \
			"(see $DIR/op-cost-floor.bpftrace.*)"
		line+=",\"$n\":$r"
	done
	echo "{\"kind\":\"floor_hits\",\"kept\":true,\"calls\":$want$line}" >>"$OUT"
}

# ---- main ---------------------------------------------------------------------------------
echo "op-cost: operations ${OPS:-none}, bystanders ${BYSTANDERS:-none}; modes ${MODE_LIST[*]}" \
	"($PAIRS pairs of ~${ROUND_MS} ms rounds); raw data in ${DIR#"$ROOT"/}"
if (( ${#SKIPPED[@]} )); then
	echo "op-cost: left out ${SKIPPED[*]}: this uvscope does not know its flags" >&2
fi
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
SECONDS=0
# The run-time statistics make every BPF program run slower (two clock reads more per run),
# uvscope's too: off while measuring, except where bpf_stats wants them, and as they were after.
STATS_AT_START=$(sysctl -n kernel.bpf_stats_enabled)
if [[ $STATS_AT_START != 0 ]]; then
	echo "op-cost: kernel.bpf_stats_enabled is on; off while measuring, on again at the end" >&2
	STATS_RESTORE=$STATS_AT_START
	sysctl -qw kernel.bpf_stats_enabled=0
fi
if [[ $FLOOR == yes ]]; then
	wait_quiet
	uprobe_floor
	echo "op-cost: uprobe floor, $("$NODE" "$ROOT/bench/op_cost.mjs" --floor "$DIR")"
fi

args=(--round-ms "$ROUND_MS" --warmup-ms "$WARMUP_MS" --settle "$SETTLE")
READY=null BY_READY=null
if [[ -n $OPS ]]; then
	# shellcheck disable=SC2086  # OPS is a word list on purpose
	start_fixture target "$NODE" "$ROOT/bench/op_cost.js" "${args[@]}" $OPS
	[[ $REPLY == '{"ready":true'* ]] || die "bench/op_cost.js printed: $REPLY"
	READY=$REPLY
else
	# Only bystanders: the target still has to be a Node process uvscope can watch.
	start_fixture target "$NODE" "$ROOT/bench/op_cost.js" --round-ms 1 --warmup-ms 1 --settle 0 iter
fi
if [[ " $BYSTANDERS " == *" tcp "* ]]; then
	start_fixture bystander "$NODE" "$ROOT/bench/op_cost.js" "${args[@]}" tcp
	[[ $REPLY == '{"ready":true'* ]] || die "the bystander printed: $REPLY"
	BY_READY=$REPLY
fi
echo "op-cost: target ready: $READY"

n=${#MODE_LIST[@]}
for ((pair = 1; pair <= PAIRS; pair++)); do
	wait_quiet
	# The modes take turns going first, so none always meets the same moment of the pair.
	for ((i = 0; i < n; i++)); do
		run_pair "$pair" "${MODE_LIST[(i + pair - 1) % n]}"
	done
done
stop_fixture target
if [[ -n ${FIX_PID[bystander]:-} ]]; then stop_fixture bystander; fi

modes_json="" skipped_json=""
for m in "${MODE_LIST[@]}"; do
	modes_json+=",\"$m\":{\"flags\":\"${MODE_FLAGS[$m]:-}\",\"env\":\"${MODE_ENV[$m]:-}\"}"
done
for m in "${SKIPPED[@]}"; do skipped_json+=",\"$m\""; done
{
	echo "{\"started\":\"$STARTED\",\"took_s\":$SECONDS,\"pairs\":$PAIRS,\"round_ms\":$ROUND_MS"
	echo ",\"warmup_ms\":$WARMUP_MS,\"settle\":$SETTLE,\"syscalls\":$SYSCALLS,\"ops\":\"$OPS\",\"bystanders\":\"$BYSTANDERS\""
	echo ",\"modes\":{${modes_json#,}},\"skipped_modes\":[${skipped_json#,}]"
	echo ",\"floor\":$([[ $FLOOR == yes ]] && echo true || echo false),\"floor_calls\":$FLOOR_CALLS,\"floor_rounds\":$FLOOR_ROUNDS"
	echo ",\"bpf_stats_enabled_at_start\":$STATS_AT_START,\"max_steal_pct\":$MAX_STEAL,\"retries\":$RETRIES"
	echo ",\"target_cpu\":$TARGET_CPU,\"agent_cpu\":$AGENT_CPU,\"target_ready\":$READY,\"bystander_ready\":$BY_READY"
	meta_versions
} >"$DIR/op-cost-meta.json"
"$NODE" "$ROOT/bench/op_cost.mjs" "$DIR" "$DIR/op-cost.md"
echo "op-cost: done in ${SECONDS}s"
cat "$DIR/op-cost.md"
