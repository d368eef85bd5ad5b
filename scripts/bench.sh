#!/usr/bin/env bash
# scripts/bench.sh: what does watching a Node process with uvscope cost that process?
# (`make bench` builds uvscope, then runs this; see bench/README.md for the method.)
#
# Node HTTP servers (BENCH_SERVERS, see SERVER_TABLE) are driven by bench/loadgen.c in up
# to two configurations:
#   rate        open loop at the server's rate (plain: BENCH_RATE, 5000 requests/s) on a
#               fixed schedule, latency from each request's scheduled send time (no
#               coordinated omission)
#   saturation  closed loop, as fast as the server answers, on BENCH_CONNS connections
# and for each in several modes (MODE_TABLE), as PAIRS of runs on one server process, one run
# without and one with uvscope attached (attached to the running server, as it would be used):
#   control     nothing attached to either run of the pair: the machine's own noise
#   default     uvscope watch -p PID --json (the thread pool included: uprobes in libuv)
#   phases      uvscope watch -p PID --json --phases (uprobes in libuv's loop)
#   nopool      uvscope watch -p PID --json --no-pool (the default mode without the pool)
#   syscalls    uvscope watch -p PID --json --syscalls (every syscall of the target)
#   proc        uvscope watch -p PID --json --backend proc (no BPF: libuv's metrics and
#               statics read from the target's memory every tick; a blocked loop's stacks by
#               perf_event_open where perf_event_paranoid allows, else by ptrace)
#   procptrace  the same with UVSCOPE_PROC_STACKS=ptrace: a blocked loop's stacks by ptrace
#   noguard     default with --no-guard: every probe stays as asked for the whole run
#   guardfast   default with --interval 100ms: the overhead guard takes its steps 0.3 s into
#               the run instead of 3 s (on the fs server, the loop's wait hooks out)
#   fastnoguard --interval 100ms --no-guard: what guardfast is compared with
#   returnhook  default with UVSCOPE_EPOLL_RETURN_HOOK=1: the loop's waits by the epoll call's
#               return hook (a hit per call) instead of at uv__io_poll's entry (per iteration)
#   guardall    --interval 100ms --max-probe-rate 100: the guard takes every step it can
#               within ~1.2 s; what is left is uvscope with its probes out
# The blocking server (block) stops its loop in a known function for BENCH_SPIN_MS of CPU
# every BENCH_BLOCK_EVERY_MS, so that a block is being sampled during the run; the agent is
# given --block-ms BENCH_BLOCK_MS there, and must alert on those blocks, naming the function.
# Overhead = per pair, the ratio with / without; reported as min / median / max over pairs.
# Before the pairs, a quick section measures uvscope's own CPU, RSS and blocked-loop alert
# delay with 18,000 fds in the target and with 20,000 sockets of other processes on the
# host (scripts/agent-cost.sh, a few minutes; BENCH_AGENT_COST_RUNS=none leaves it out), and
# another what one agent costs itself watching 20 processes (scripts/many-cost.sh, about 2
# minutes; BENCH_MANY_COST=no leaves it out).
#
# Environment (defaults in brackets):
#   BENCH_PAIRS [8]  BENCH_SECONDS [5]  BENCH_WARMUP [2]  BENCH_CONNS [50]
#   BENCH_SETTLE [0]  seconds of the same load, not measured, before each measured run (with
#     and without uvscope alike): time for the overhead guard, which decides on 3 intervals in
#     a row, to take its steps, so that the run measures what a watch left running settles to
#   BENCH_SERVERS ["plain fs crypto block"]
#   BENCH_SPIN_MS [60]  BENCH_BLOCK_EVERY_MS [500]  BENCH_BLOCK_MS [20]  (the block server)
#   BENCH_RATE [5000] (plain)  BENCH_RATE_FS [2500]  BENCH_RATE_CRYPTO [2000]
#   BENCH_CONFIGS, BENCH_CONFIGS_<SERVER>  [plain: "rate saturation", fs and crypto: "rate"]
#   BENCH_MODES, BENCH_MODES_<SERVER>  [plain: "control default phases nopool syscalls",
#                                       fs and crypto: "control default nopool"]
#     (<SERVER> in capitals; BENCH_X_<SERVER> wins over BENCH_X, which applies to every server)
#   BENCH_SERVER_CPU [1]  BENCH_LOAD_CPU [0]  BENCH_AGENT_CPU [= BENCH_LOAD_CPU]
#   BENCH_MAX_OTHER_PCT [25]  BENCH_RETRIES [1]  (see run_pair)
#   BENCH_QUIET_PCT [5]  BENCH_QUIET_WAIT [30]  (see wait_quiet)
#   BENCH_RESULTS [bench/results.md when BENCH_PAIRS >= 7, else the run's own directory]
#   BENCH_SAMPLE_COST [yes; no: leave out scripts/sample-cost.sh]
#   BENCH_PROC_STACK_COST [yes; no: leave out scripts/proc-stack-cost.sh], PROC_COST_SECONDS,
#     PROC_COST_RATES and PROC_COST_PAIRS of that script
#   BENCH_OP_COST [yes; no: leave out scripts/op-cost.sh], OP_COST_MODES, OP_COST_PAIRS and
#     the others of scripts/op-cost.sh
#   BENCH_AGENT_COST_RUNS ["baseline fds fds:syscalls host-sockets"; none: no such section],
#     BENCH_AGENT_COST_SECONDS [20] and the others of scripts/agent-cost.sh
#   BENCH_MANY_COST [yes; no: leave out scripts/many-cost.sh], BENCH_MANY_COST_RUNS and the
#     others of scripts/many-cost.sh
#   UVSCOPE [./uvscope]  NODE [node]  CC [cc]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

# ---- what is measured --------------------------------------------------------------------
# The servers. Each one's rate (open loop) keeps its CPU, pool threads included (the whole
# process is pinned to BENCH_SERVER_CPU), in the 50-70% band between the runs without and
# with uvscope: busy enough that the pool is really used, and never saturated, even with the
# costliest mode attached (a saturated server batches work, its CPU per request falls and
# hides the cost, and its latency is only queueing). Measured on the 2-CPU VM of
# bench/results.md:
#   fs      ~170 us of CPU per request (5 pool jobs): 2500/s is ~43% busy without uvscope
#           and ~75-80% with the pool watched (then --pool), which added about 25 us per job
#           there; 3500/s reached ~90%, too close to saturation.
#   crypto  ~305 us per request (one pbkdf2 job of ~0.2 ms): 2000/s is ~60% busy without,
#           ~73% with the pool watched (then --pool).
#   plain   stays at 5000/s (~50 us per request, ~25% busy): the rate its goal is stated at,
#           comparable with earlier reports.
#   block   the plain server at the plain rate, and every BENCH_BLOCK_EVERY_MS one request
#           (loadgen -b) blocks its loop for BENCH_SPIN_MS of CPU in benchSpin(): 12% of the
#           time blocked at the defaults, each block sampled by the proc backend.
# "pool work": the server's requests run libuv thread-pool jobs, so a mode that reports the
# pool must count some (else its probes did not fire).
#   server  script            rate  configs             modes                        pool work
SERVER_TABLE='
  plain   server.js         5000  rate,saturation     control,default,nostacks,blockedhz,phases,nopool,syscalls,proc  no
  fs      server-fs.js      2500  rate                control,default,nostacks,nopool       yes
  crypto  server-crypto.js  2000  rate                control,default,nostacks,nopool       yes
  block   server-block.js   5000  rate                control,proc,procptrace               no
'
# The modes: what each adds to `uvscope watch -p PID --json`, and how to tell that what it
# asked for is really there, beyond the attach line's "unavailable":[] that every mode must
# show: a pattern the attach line must contain, a BPF program (name prefix) the agent must
# hold after attaching (checked when bpftool is installed), and a pattern its summary line
# must contain (the probes delivered data). "-": nothing. Several flags: comma-separated; a
# flag NAME=VALUE is put in uvscope's environment instead.
# A new mode is one line here (and, for a nicer column title, one in bench/report.mjs).
# The pool is watched by default: the attach line's "pool" says how (null with --no-pool),
# and the summary's "threadpool" is an object (null with --no-pool).
#   mode     flags       attach line must contain   agent holds BPF prog   summary must contain
MODE_TABLE='
  default  -           "pool":{                   uvs_sample_            "threadpool":{
  nostacks --no-stacks -                          -                      -
  blockedhz --sample-hz,997 -                     uvs_sample_            -
  phases   --phases    "mode":"exact-phases"      uvs_phase_             "phases":{
  nopool   --no-pool   "pool":null                -                      "threadpool":null
  noguard  --no-guard  -                          uvs_sample_            "threadpool":{
  guardfast --interval,100ms -                    uvs_sample_            "threadpool":{
  fastnoguard --interval,100ms,--no-guard - uvs_sample_   "threadpool":{
  returnhook UVSCOPE_EPOLL_RETURN_HOOK=1 "waits_at_poll_entry":false uvs_ep_call_out "threadpool":{
  guardall --interval,100ms,--max-probe-rate,100 - uvs_sample_    "threadpool":{
  syscalls --syscalls  -                          uvs_sc_                "syscalls":{
  proc     --backend,proc "collector":"proc"        -                      "threadpool":{
  procptrace UVSCOPE_PROC_STACKS=ptrace,--backend,proc UVSCOPE_PROC_STACKS=ptrace - "threadpool":{
'

PAIRS=${BENCH_PAIRS:-8}
RUN_S=${BENCH_SECONDS:-5}
WARMUP_S=${BENCH_WARMUP:-2}		# at saturation, once per server: see run_round
SETTLE_S=${BENCH_SETTLE:-0}		# before each measured run: see run_one
CONNS=${BENCH_CONNS:-50}
SERVERS=${BENCH_SERVERS:-plain fs crypto block}
# The block server: each block's CPU, how often one comes, and uvscope's threshold there.
SPIN_MS=${BENCH_SPIN_MS:-60}
BLOCK_EVERY_MS=${BENCH_BLOCK_EVERY_MS:-500}
BLOCK_MS=${BENCH_BLOCK_MS:-20}
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
# A measured run is redone if the CPU time not accounted to the server, the load generator
# or uvscope exceeds this % of one CPU. Some is always there, not charged to any process
# (interrupts and wakeups for the loopback traffic, kernel threads): ~5% at 5000 req/s,
# ~12% at saturation. Someone's test suite shows as 40-100%.
MAX_OTHER_PCT=${BENCH_MAX_OTHER_PCT:-25}
# Before each pair, wait for the idle machine to be below this % of one CPU (it idles at ~1%).
QUIET_PCT=${BENCH_QUIET_PCT:-5}
RETRIES=${BENCH_RETRIES:-1}
QUIET_WAIT=${BENCH_QUIET_WAIT:-30}
UVSCOPE=${UVSCOPE:-$ROOT/uvscope}
NODE=${NODE:-node}
CC=${CC:-cc}
LOADGEN=$ROOT/.output/loadgen
SYSCALL_COST=$ROOT/.output/syscall_cost
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc --all)

die() { echo "bench: $*" >&2; exit 1; }

# ---- preconditions ----------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root: uvscope loads BPF programs"
[[ -x $UVSCOPE ]] || die "$UVSCOPE is not built (run make uvscope)"
command -v "$NODE" >/dev/null || die "no $NODE"
command -v taskset >/dev/null || die "no taskset (apt-get install util-linux)"
(( $(nproc) >= 2 )) || die "needs 2 CPUs: the server and the load generator each get one"
[[ $SERVER_CPU != "$LOAD_CPU" ]] || die "BENCH_SERVER_CPU and BENCH_LOAD_CPU must differ"
for v in PAIRS RUN_S WARMUP_S SETTLE_S CONNS RETRIES MAX_OTHER_PCT QUIET_PCT QUIET_WAIT SPIN_MS \
	BLOCK_EVERY_MS BLOCK_MS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( PAIRS >= 1 && RUN_S >= 1 )) || die "BENCH_PAIRS and BENCH_SECONDS must be at least 1"
(( SPIN_MS > BLOCK_MS && BLOCK_EVERY_MS > SPIN_MS )) ||
	die "the block server needs BENCH_BLOCK_MS < BENCH_SPIN_MS < BENCH_BLOCK_EVERY_MS"

# The tables above, into MODE_FLAGS[mode] (space-separated), MODE_ATTACH, MODE_PROG,
# MODE_SUMMARY (patterns, empty for none); SERVER_SCRIPT[server], SERVER_RATE,
# SERVER_CONFIGS, SERVER_MODES, SERVER_POOL (yes/no), the environment applied.
declare -A MODE_FLAGS=() MODE_ATTACH=() MODE_PROG=() MODE_SUMMARY=()
MODE_NAMES=() SERVER_NAMES=()	# in the tables' order
declare -A SERVER_SCRIPT=() SERVER_RATE=() SERVER_CONFIGS=() SERVER_MODES=() SERVER_POOL=()
undash() { if [[ $1 == - ]]; then REPLY=; else REPLY=$1; fi; }	# "-": nothing
words() { local -a w; read -r -a w <<<"$1"; REPLY=${w[*]}; }	# trimmed, single spaces
while read -r m flags attach prog summary; do
	[[ -n $m ]] || continue
	undash "$flags"; MODE_FLAGS[$m]=${REPLY//,/ }
	undash "$attach"; MODE_ATTACH[$m]=$REPLY
	undash "$prog"; MODE_PROG[$m]=$REPLY
	undash "$summary"; MODE_SUMMARY[$m]=$REPLY
	MODE_NAMES+=("$m")
done <<<"$MODE_TABLE"
while read -r srv script rate configs modes pool; do
	[[ -n $srv ]] || continue
	up=${srv^^}
	v=BENCH_RATE_$up; rate=${!v:-$rate}
	if [[ $srv == plain ]]; then rate=${BENCH_RATE_PLAIN:-${BENCH_RATE:-$rate}}; fi
	v=BENCH_CONFIGS_$up; configs=${!v:-${BENCH_CONFIGS:-${configs//,/ }}}
	v=BENCH_MODES_$up; modes=${!v:-${BENCH_MODES:-${modes//,/ }}}
	SERVER_SCRIPT[$srv]=$script SERVER_RATE[$srv]=$rate SERVER_POOL[$srv]=$pool
	SERVER_NAMES+=("$srv")
	words "$configs"; SERVER_CONFIGS[$srv]=$REPLY
	words "$modes"; SERVER_MODES[$srv]=$REPLY
done <<<"$SERVER_TABLE"
words "$SERVERS"; SERVERS=$REPLY
[[ -n $SERVERS ]] || die "BENCH_SERVERS is empty"
for srv in $SERVERS; do
	[[ -n ${SERVER_SCRIPT[$srv]:-} ]] ||
		die "unknown server '$srv' in BENCH_SERVERS (known: ${SERVER_NAMES[*]})"
	[[ ${SERVER_RATE[$srv]} =~ ^[1-9][0-9]*$ ]] ||
		die "the rate of $srv must be a whole number (got '${SERVER_RATE[$srv]}')"
	[[ -n ${SERVER_CONFIGS[$srv]} && -n ${SERVER_MODES[$srv]} ]] ||
		die "no configurations or no modes for $srv"
	for c in ${SERVER_CONFIGS[$srv]}; do
		[[ $c == rate || $c == saturation ]] ||
			die "unknown configuration '$c' for $srv (known: rate saturation)"
	done
	for m in ${SERVER_MODES[$srv]}; do
		[[ $m == control || -n ${MODE_FLAGS[$m]+set} ]] ||
			die "unknown mode '$m' for $srv (known: control ${MODE_NAMES[*]})"
	done
done

# The script itself (polling files, reading /proc, forking) stays off the server's CPU.
taskset -cp "$LOAD_CPU" $$ >/dev/null

mkdir -p "$ROOT/.output"
$CC -O2 -Wall -Wextra -Werror -o "$LOADGEN" "$ROOT/bench/loadgen.c"
$CC -O2 -Wall -Wextra -Werror -o "$SYSCALL_COST" "$ROOT/bench/syscall_cost.c"

STAMP=$(date +%Y%m%d-%H%M%S)
RUNDIR=$ROOT/bench/runs/$STAMP
mkdir -p "$RUNDIR"
RUNS=$RUNDIR/runs.jsonl
: >"$RUNS"
# Measure one fixed binary: others may rebuild ./uvscope while this runs for minutes.
cp "$UVSCOPE" "$RUNDIR/uvscope"
UVSCOPE=$RUNDIR/uvscope
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
SERVER=		# which kind (SERVER_TABLE) is running
AGENT_PID=
LOADGEN_PID=
SECTION_PID=	# scripts/agent-cost.sh, many-cost.sh or op-cost.sh: each cleans up on SIGTERM
cleanup() {
	local pid
	for pid in $LOADGEN_PID $AGENT_PID $SERVER_PID $SECTION_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $LOADGEN_PID $AGENT_PID $SERVER_PID $SECTION_PID; do
		wait "$pid" 2>/dev/null || true
	done
	LOADGEN_PID='' AGENT_PID='' SERVER_PID='' SECTION_PID=''
}
trap cleanup EXIT
# set -e stops at the first failing command; say which, or a failure looks like success.
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ---- small helpers (no forks where timing matters) -----------------------------------------
# nap, now_us, sched_ns, cpu_idle_ms, wait_line, hwm_kb, agent_progs, other_uvscopes, wait_quiet
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

# ---- the server -------------------------------------------------------------------------
# start_server SERVER TAG: a fresh server of that kind pinned to its CPU (its pool threads
# too); sets SERVER_PID, PORT and RATE (its open-loop rate). UV_USE_IO_URING=0: Node 20's
# libuv would otherwise be free to send fs work to io_uring instead of the thread pool
# (it does when the variable is 1), and the fs server's pool work would vanish.
start_server() {
	local out=$RUNDIR/$2.server.out
	RATE=${SERVER_RATE[$1]}
	UV_USE_IO_URING=0 SPIN_MS=$SPIN_MS taskset -c "$SERVER_CPU" "$NODE" \
		"$ROOT/bench/${SERVER_SCRIPT[$1]}" 0 \
		>"$out" 2>&1 &
	SERVER_PID=$!
	wait_line "$out" '"ready":true' 10 "$SERVER_PID" || die "server did not start: $(cat "$out")"
	[[ $REPLY =~ \"port\":([0-9]+) ]] || die "no port in: $REPLY"
	PORT=${BASH_REMATCH[1]}
}

stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=
}

# load CONFIG SECONDS: one load generator run against the server (open loop at RATE, or
# saturation); sets REPLY to its JSON.
# It runs in the background and is waited for, so that a signal to this script is acted on
# at once (bash runs traps only between commands, and wait is interruptible).
load() {
	local args=(-p "$PORT" -c "$CONNS" -d "$2") out=$RUNDIR/loadgen.out rc=0
	if [[ $1 == rate ]]; then args+=(-r "$RATE"); fi
	# The block server blocks on every EVERY-th request (open loop only: a rate gives a period).
	if [[ $1 == rate && $SERVER == block ]]; then
		args+=(-b $(( RATE * BLOCK_EVERY_MS / 1000 )))
	fi
	taskset -c "$LOAD_CPU" "$LOADGEN" "${args[@]}" >"$out" &
	LOADGEN_PID=$!
	wait "$LOADGEN_PID" || rc=$?
	LOADGEN_PID=
	(( rc == 0 )) || die "loadgen failed (status $rc)"
	IFS= read -r REPLY <"$out"
}

# ---- the agent ----------------------------------------------------------------------------
# attach_agent MODE TAG: start uvscope on the server with the mode's flags (MODE_TABLE),
# wait for its "attach" line and check that the mode got what it asked for; sets AGENT_PID
# and ATTACH_US (from starting it to that line).
attach_agent() {
	local mode=$1 tag=$2 t0 hello flags=(watch -p "$SERVER_PID" --json) extra f env=()
	read -r -a extra <<<"${MODE_FLAGS[$mode]}"
	for f in "${extra[@]}"; do
		if [[ $f == [A-Z]*=* ]]; then env+=("$f"); else flags+=("$f"); fi
	done
	# The blocks of the block server last BENCH_SPIN_MS: a threshold below that sees them.
	if [[ $SERVER == block ]]; then flags+=(--block-ms "$BLOCK_MS"); fi
	now_us; t0=$REPLY
	env "${env[@]}" taskset -c "$AGENT_CPU" "$UVSCOPE" "${flags[@]}" \
		>"$RUNDIR/$tag.agent.jsonl" 2>"$RUNDIR/$tag.agent.err" &
	AGENT_PID=$!
	wait_line "$RUNDIR/$tag.agent.jsonl" '"type":"attach"' 30 "$AGENT_PID" ||
		die "uvscope did not attach: $(cat "$RUNDIR/$tag.agent.err")"
	hello=$REPLY
	now_us; ATTACH_US=$((REPLY - t0))
	# Without its uprobes a phases run would measure the default mode twice.
	# The proc backend samples stacks only while a loop is blocked, and says so: that is what
	# it does, not something missing.
	local known='"CPU stack samples outside blocks: use flame --backend proc"'
	[[ ${hello/$known/} == *'"unavailable":[]'* ]] ||
		die "uvscope ${flags[*]} is missing something: $hello"
	if [[ -n ${MODE_ATTACH[$mode]} && $hello != *"${MODE_ATTACH[$mode]}"* ]]; then
		die "$mode: no ${MODE_ATTACH[$mode]} in uvscope's attach line: $hello"
	fi
	# proc takes a blocked loop's stacks with perf_event_open where the kernel lets it.
	if [[ $mode == proc && $SERVER == block && $(</proc/sys/kernel/perf_event_paranoid) -le 2 &&
		$hello != *'by perf_event_open'* ]]; then
		die "$mode: uvscope does not sample blocked loops with perf_event_open: $hello"
	fi
	if [[ -n ${MODE_PROG[$mode]} ]] && command -v bpftool >/dev/null; then
		agent_progs "$AGENT_PID"
		[[ " $REPLY" == *" ${MODE_PROG[$mode]}"* ]] ||
			die "$mode: uvscope holds no ${MODE_PROG[$mode]}* BPF program (it holds: $REPLY)"
	fi
}

# check_summary MODE TAG: the mode's probes delivered what it asked for (MODE_TABLE), and,
# on a server whose requests run pool jobs, a pool that is watched counted some. Only the
# attached run's own summary line (SUMMARY) is looked at.
check_summary() {
	local mode=$1 tag=$2
	[[ $SUMMARY != null ]] || die "$mode: uvscope printed no summary (see $tag.agent.err)"
	if [[ -n ${MODE_SUMMARY[$mode]} && $SUMMARY != *"${MODE_SUMMARY[$mode]}"* ]]; then
		die "$mode: no ${MODE_SUMMARY[$mode]} in uvscope's summary ($tag.agent.jsonl)"
	fi
	# The block server's blocks were seen while they lasted and named: its alerts hold
	# benchSpin (the function that blocks), as a user would read them.
	if [[ $SERVER == block ]]; then
		block_alerts "$tag"
		(( BLOCK_ALERTS_NAMED > 0 )) ||
			die "$mode: uvscope named no block by benchSpin ($BLOCK_ALERTS alerts; $tag.agent.jsonl)"
	fi
	if [[ ${SERVER_POOL[$SERVER]} == yes && $SUMMARY =~ \"threadpool\":\{[^{}]*\"completed\":([0-9]+) ]] &&
		(( BASH_REMATCH[1] == 0 )); then
		die "$mode: the $SERVER server ran no pool jobs, by uvscope's count ($tag.agent.jsonl)"
	fi
}

# block_alerts TAG: the blocked-loop alerts of the agent's run (BLOCK_ALERTS), how many of
# them name benchSpin among their stacks (BLOCK_ALERTS_NAMED), and the stacks the proc backend
# took, from its last words on stderr: BLOCK_PERF (perf samples), BLOCK_GRABS (ptrace grabs)
# and BLOCK_PAUSE_US (their median pause), null when it took none of that kind.
block_alerts() {
	local line
	BLOCK_ALERTS=0 BLOCK_ALERTS_NAMED=0 BLOCK_PERF=null BLOCK_GRABS=null BLOCK_PAUSE_US=null
	while IFS= read -r line; do
		if [[ $line =~ ([0-9]+)\ perf\ samples\ of\ blocked\ loops ]]; then
			BLOCK_PERF=${BASH_REMATCH[1]}
		fi
		if [[ $line =~ ([0-9]+)\ ptrace\ grabs\ of\ blocked\ loops.*median\ ([0-9.]+)\ us ]]; then
			BLOCK_GRABS=${BASH_REMATCH[1]} BLOCK_PAUSE_US=${BASH_REMATCH[2]}
		fi
	done <"$RUNDIR/$1.agent.err"
	while IFS= read -r line; do
		[[ $line == '{"type":"alert"'* && $line == *'"kind":"loop_blocked"'* ]] || continue
		BLOCK_ALERTS=$((BLOCK_ALERTS + 1))
		if [[ $line == *benchSpin* ]]; then BLOCK_ALERTS_NAMED=$((BLOCK_ALERTS_NAMED + 1)); fi
	done <"$RUNDIR/$1.agent.jsonl"
}

# detach_agent TAG: SIGINT, as a user would stop it; sets DETACH_US (SIGINT to exit: the
# server must not wait for it, but the user does) and SUMMARY (its last JSON line).
detach_agent() {
	local tag=$1 t0 rc=0 line i
	now_us; t0=$REPLY
	kill -INT "$AGENT_PID"
	wait "$AGENT_PID" || rc=$?
	now_us; DETACH_US=$((REPLY - t0))
	AGENT_PID=
	(( rc == 0 )) || die "uvscope exited with $rc: $(cat "$RUNDIR/$tag.agent.err")"
	SUMMARY=null
	while IFS= read -r line; do
		if [[ $line == '{"type":"summary"'* ]]; then SUMMARY=$line; fi
	done <"$RUNDIR/$tag.agent.jsonl"
	# The kernel frees the programs a moment (~0.5 s) after the agent exits; wait for that,
	# so the next run neither pays for them nor takes them for someone else's.
	for ((i = 0; i < 40; i++)); do
		other_uvscopes
		if (( REPLY == 0 )); then break; fi
		nap 0.05
	done
}

# ---- one measured run -----------------------------------------------------------------------
# run_one CONFIG MODE ATTACHED(0|1) TAG: one measured load run against the running server,
# with uvscope attached just for it (if ATTACHED). Sets REC to the run's JSON fields,
# OTHER_PCT to how much of a CPU something else used meanwhile, and OTHER_UVSCOPES.
run_one() {
	local config=$1 mode=$2 attached=$3 tag=$4
	local attach_us=null detach_us=null hwm=null summary=null agent_ns=null alerts=null named=null stacks=null
	local s0 s1 a0=0 a1=0 i0 i1 w0 w1 result lg_ms other_ms foreign

	if (( attached )); then
		attach_agent "$mode" "$tag"
		attach_us=$ATTACH_US
	fi
	# The same load first, not measured, in both runs of a pair: the guard's steps (BENCH_SETTLE).
	if (( SETTLE_S > 0 )); then load "$config" "$SETTLE_S"; fi

	other_uvscopes "$AGENT_PID"; foreign=$REPLY
	sched_ns "$SERVER_PID"; s0=$REPLY
	if (( attached )); then sched_ns "$AGENT_PID"; a0=$REPLY; fi
	cpu_idle_ms; i0=$REPLY
	now_us; w0=$REPLY
	load "$config" "$RUN_S"; result=$REPLY
	now_us; w1=$REPLY
	cpu_idle_ms; i1=$REPLY
	sched_ns "$SERVER_PID"; s1=$REPLY
	other_uvscopes "$AGENT_PID"; if (( REPLY > foreign )); then foreign=$REPLY; fi

	if (( attached )); then
		sched_ns "$AGENT_PID"; a1=$REPLY
		agent_ns=$((a1 - a0))
		hwm_kb "$AGENT_PID"; hwm=$REPLY
		detach_agent "$tag"
		detach_us=$DETACH_US
		summary=$SUMMARY
		check_summary "$mode" "$tag"
		if [[ $SERVER == block ]]; then
			alerts=$BLOCK_ALERTS named=$BLOCK_ALERTS_NAMED
			stacks="{\"perf_samples\":$BLOCK_PERF,\"grabs\":$BLOCK_GRABS,\"pause_median_us\":$BLOCK_PAUSE_US}"
		fi
	fi

	# Everything else that ran on the machine during the measured run: all busy CPU time
	# minus the server's, the load generator's and the agent's. Some 5% of a CPU is always
	# there (kernel threads, interrupts, this script); /proc/stat counts in 1/CLK_TCK s.
	[[ $result =~ \"cpu_ms\":([0-9]+) ]] || die "loadgen printed no cpu_ms: $result"
	lg_ms=${BASH_REMATCH[1]}
	other_ms=$(( (w1 - w0) * NCPU / 1000 - (i1 - i0) - (s1 - s0) / 1000000 - lg_ms -
		${agent_ns/null/0} / 1000000 ))
	if (( other_ms < 0 )); then other_ms=0; fi
	OTHER_PCT=$(( other_ms * 100 / ((w1 - w0) / 1000) ))
	OTHER_UVSCOPES=$foreign

	REC="\"tag\":\"$tag\",\"rate\":$RATE,\"elapsed_ns\":$(( (w1 - w0) * 1000 )),\"server_cpu_ns\":$((s1 - s0))"
	REC+=",\"other_cpu_ms\":$other_ms,\"other_uvscope_progs\":$foreign"
	REC+=",\"attach_us\":$attach_us,\"detach_us\":$detach_us,\"agent_cpu_ns\":$agent_ns"
	REC+=",\"agent_hwm_kb\":$hwm,\"load\":$result"
	REC+=",\"block_alerts\":$alerts,\"block_alerts_named\":$named,\"block_stacks\":$stacks"
	REC+=",\"agent_summary\":$summary"
}

# ---- one pair -----------------------------------------------------------------------------
# run_pair PAIR CONFIG MODE: two measured runs on the running, warmed-up server: one
# without and one with uvscope attached (control: neither), the order alternating from
# pair to pair (ABBA...) so a drift of the machine, or anything uvscope might leave behind
# after detaching, does not favour either side. If something else on the machine took more
# than BENCH_MAX_OTHER_PCT % of a CPU during either run, or another uvscope was loaded, the
# pair is redone (up to BENCH_RETRIES times); discarded runs stay in runs.jsonl, marked
# "kept":false.
run_pair() {
	local pair=$1 config=$2 mode=$3 attempt slots slot attached json_attached rec worst
	local foreign kept recs tag
	if (( pair % 2 )); then slots="without with"; else slots="with without"; fi
	for ((attempt = 1; attempt <= RETRIES + 1; attempt++)); do
		wait_quiet
		tag="p${pair}-${SERVER}-${config}-${mode}-a${attempt}"
		recs=()
		worst=0
		foreign=0
		for slot in $slots; do
			attached=0 json_attached=false
			if [[ $slot == with && $mode != control ]]; then attached=1 json_attached=true; fi
			run_one "$config" "$mode" "$attached" "$tag-$slot"
			recs+=("\"slot\":\"$slot\",\"attached\":$json_attached,$REC")
			if (( OTHER_PCT > worst )); then worst=$OTHER_PCT; fi
			if (( OTHER_UVSCOPES > foreign )); then foreign=$OTHER_UVSCOPES; fi
		done
		kept=true
		if (( (worst > MAX_OTHER_PCT || foreign > 0) && attempt <= RETRIES )); then
			kept=false
			echo "  pair $pair $SERVER/$config/$mode: other processes used ${worst}% of a CPU" \
				"($foreign other uvscope programs loaded), redoing" >&2
		fi
		for rec in "${recs[@]}"; do
			echo "{\"kept\":$kept,\"pair\":$pair,\"server\":\"$SERVER\",\"config\":\"$config\"," \
				"\"mode\":\"$mode\",\"flags\":\"${MODE_FLAGS[$mode]:-}\"," \
				"\"attempt\":$attempt,\"other_pct\":$worst,$rec,\"warmup\":$WARM}" >>"$RUNS"
		done
		if [[ $kept == true ]]; then break; fi
	done
	summarize_pair "$pair" "$config" "$mode" "${recs[@]}"
}

# run_round PAIR SERVER CONFIG: one fresh server of that kind for pair number PAIR of every
# mode. Warm-up first: a fresh node's CPU per request only settles once V8 has optimized the
# request path; 2 s at saturation (~100k requests to the plain server) does that, where
# even 8 s at 5000 requests/s left the first measured run ~10% slower. Then 1 s at the
# configuration's own load. The modes take turns going first from round to round, so none
# always meets the youngest server.
run_round() {
	local pair=$1 config=$3 modes i n
	SERVER=$2
	read -r -a modes <<<"${SERVER_MODES[$SERVER]}"
	start_server "$SERVER" "p${pair}-${SERVER}-${config}"
	load saturation "$WARMUP_S"; WARM=$REPLY
	load "$config" 1
	n=${#modes[@]}
	for ((i = 0; i < n; i++)); do
		run_pair "$pair" "$config" "${modes[(i + pair - 1) % n]}"
	done
	stop_server
}

# One progress line per pair: the server's CPU per request, and p99 or throughput; with a
# watched pool, its jobs per request (uvscope's count).
summarize_pair() {
	local pair=$1 config=$2 mode=$3 r slot ns n v out=""
	shift 3
	for r in "$@"; do
		[[ $r =~ \"slot\":\"([a-z]+)\" ]]; slot=${BASH_REMATCH[1]}
		[[ $r =~ \"server_cpu_ns\":([0-9]+) ]]; ns=${BASH_REMATCH[1]}
		[[ $r =~ \"completed\":([0-9]+) ]]; n=${BASH_REMATCH[1]}
		(( n > 0 )) || n=1
		if [[ $config == rate ]]; then
			[[ $r =~ \"p99\":([0-9.]+) ]]; v="p99 ${BASH_REMATCH[1]} us"
			if [[ $r =~ \"nonblock_us\":\{[^{}]*\"p99\":([0-9.]+) ]]; then
				v+=" (non-blocking ${BASH_REMATCH[1]} us)"
			fi
			if [[ $r =~ \"block_alerts_named\":([0-9]+) ]]; then
				v+=", ${BASH_REMATCH[1]} named block alerts"
			fi
		else
			[[ $r =~ \"throughput_rps\":([0-9.]+) ]]; v="${BASH_REMATCH[1]} req/s"
		fi
		out+=" $slot: $((ns / n)) ns/req, $v"
		if [[ $r =~ \"threadpool\":\{[^{}]*\"completed\":([0-9]+) ]]; then
			v=$((BASH_REMATCH[1] * 100 / n))
			out+=", $((v / 100)).$(printf %02d $((v % 100))) pool jobs/req"
		fi
		out+=";"
	done
	printf '  pair %d %-6s %-10s %-8s%s\n' "$pair" "$SERVER" "$config" "$mode" "${out%;}"
}

# ---- what a system call costs while uvscope is attached -------------------------------------
# The default mode's BPF programs run in every system call of every process on the machine.
# Measured directly, this is free of the run-to-run noise of the pairs: ns per getppid() in
# a process that is not the target, with nothing and with each mode of MODE_TABLE attached
# to an idle plain server; and, if perf is installed, how many system calls the plain server
# makes per request in each of its configurations. Together: a lower bound for the default
# mode's cost per request (hot caches), to set beside the pairs' direct measurement.
syscall_costs() {
	local mode tag config n done_ args json="" out=$RUNDIR/syscalls.json configs=""
	wait_quiet
	SERVER=plain
	start_server plain syscalls
	for mode in none "${MODE_NAMES[@]}"; do
		tag=syscalls-$mode
		if [[ $mode != none ]]; then attach_agent "$mode" "$tag"; fi
		REPLY=$(taskset -c "$SERVER_CPU" "$SYSCALL_COST")
		[[ $REPLY =~ \"ns_per_syscall\":([0-9.]+) ]] || die "syscall_cost printed: $REPLY"
		json+="\"ns_per_syscall_$mode\":${BASH_REMATCH[1]},"
		if [[ $mode != none ]]; then detach_agent "$tag"; fi
	done
	if [[ " $SERVERS " == *" plain "* ]]; then configs=${SERVER_CONFIGS[plain]}; fi
	if command -v perf >/dev/null && [[ -n $configs ]]; then
		load saturation "$WARMUP_S"
		for config in $configs; do
			args=(-p "$PORT" -c "$CONNS" -d 3)
			if [[ $config == rate ]]; then args+=(-r "$RATE"); fi
			# Optional: without a working perf the report just leaves this part out.
			perf stat -x, -e raw_syscalls:sys_enter -p "$SERVER_PID" -o "$RUNDIR/perf-$config.txt" \
				-- taskset -c "$LOAD_CPU" "$LOADGEN" "${args[@]}" >"$RUNDIR/perf-$config.json" ||
				echo "  perf stat failed, no system calls per request for $config" >&2
			n=$(grep -m1 raw_syscalls "$RUNDIR/perf-$config.txt" 2>/dev/null | cut -d, -f1 || true)
			done_=0
			if [[ $(<"$RUNDIR/perf-$config.json") =~ \"completed\":([0-9]+) ]]; then
				done_=${BASH_REMATCH[1]}
			fi
			if [[ $n =~ ^[0-9]+$ ]] && (( done_ > 0 )); then
				json+="\"syscalls_per_request_$config\":$((n * 1000 / done_))e-3,"
			fi
		done
	fi
	stop_server
	echo "{${json%,}}" >"$out"
	echo "  system calls: $(<"$out")"
}

# ---- main ---------------------------------------------------------------------------------
echo "bench: $PAIRS pairs of ${RUN_S}s runs for each server, configuration and mode" \
	"(${WARMUP_S}s warm-up per server); server on CPU $SERVER_CPU, load on CPU $LOAD_CPU," \
	"uvscope on CPU $AGENT_CPU"
servers_json="" modes_json=""
for srv in $SERVERS; do
	echo "bench:   $srv (bench/${SERVER_SCRIPT[$srv]}): ${SERVER_CONFIGS[$srv]// /, }" \
		"(rate: ${SERVER_RATE[$srv]} requests/s); modes ${SERVER_MODES[$srv]// /, }"
	configs_json=\"${SERVER_CONFIGS[$srv]// /\",\"}\" srv_modes_json=\"${SERVER_MODES[$srv]// /\",\"}\"
	servers_json+=",\"$srv\":{\"script\":\"bench/${SERVER_SCRIPT[$srv]}\",\"rate\":${SERVER_RATE[$srv]}"
	servers_json+=",\"pool_work\":$([[ ${SERVER_POOL[$srv]} == yes ]] && echo true || echo false)"
	servers_json+=",\"configs\":[$configs_json],\"modes\":[$srv_modes_json]}"
done
for mode in "${MODE_NAMES[@]}"; do modes_json+=",\"$mode\":\"${MODE_FLAGS[$mode]}\""; done
echo "bench: raw runs in ${RUNDIR#"$ROOT"/}"
{
	echo "{\"started\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"pairs\":$PAIRS,\"seconds\":$RUN_S"
	# "rate": the plain server's, as before there were several servers
	echo ",\"warmup\":$WARMUP_S,\"rate\":${SERVER_RATE[plain]},\"connections\":$CONNS"
	echo ",\"servers\":{${servers_json#,}},\"mode_flags\":{${modes_json#,}}"
	echo ",\"server_cpu\":$SERVER_CPU,\"load_cpu\":$LOAD_CPU,\"agent_cpu\":$AGENT_CPU"
	echo ",\"max_other_pct\":$MAX_OTHER_PCT,\"quiet_pct\":$QUIET_PCT,\"retries\":$RETRIES"
	echo ",\"block\":{\"spin_ms\":$SPIN_MS,\"every_ms\":$BLOCK_EVERY_MS,\"block_ms\":$BLOCK_MS}"
	meta_versions
} >"$RUNDIR/meta.json"

syscall_costs

# section NAME: scripts/NAME.sh, into this run's directory (bench/report.mjs reads its data
# from there), with this run's binary and CPUs; the BENCH_ variables it shares with this script
# (BENCH_QUIET_WAIT, BENCH_RETRIES, ...) reach it only if set, else it keeps its own defaults.
# In the background and waited for, so that a signal to this script is acted on at once.
section() {
	local rc=0
	UVSCOPE=$UVSCOPE NODE=$NODE CC=$CC BENCH_SERVER_CPU=$SERVER_CPU BENCH_AGENT_CPU=$AGENT_CPU \
		"$ROOT/scripts/$1.sh" "$RUNDIR" &
	SECTION_PID=$!
	wait "$SECTION_PID" || rc=$?
	SECTION_PID=
	(( rc == 0 )) || die "scripts/$1.sh failed (status $rc)"
}

# ---- what uvscope's own work costs it --------------------------------------------------------
if [[ ${BENCH_AGENT_COST_RUNS:-} != none ]]; then section agent-cost; fi

# ---- what watching many processes costs the agent ----------------------------------------------
# scripts/many-cost.sh: one agent with 1, 5 and 20 targets (--all; -p with 20 pids): its CPU
# per interval and per target, its memory, attach and exit times, and the BPF programs, links
# and maps it holds (about 2 minutes); BENCH_MANY_COST=no leaves it out.
if [[ ${BENCH_MANY_COST:-yes} != no ]]; then section many-cost; fi

# ---- what stack sampling costs, exactly (BPF run-time statistics) ------------------------------
# scripts/sample-cost.sh: the sampler's time per sample at 99 Hz and at the blocked rate, as a
# share of a busy target's CPU, and the agent's CPU and memory while it names the samples.
# Kept in this run's directory beside the report; BENCH_SAMPLE_COST=no leaves it out.
if [[ ${BENCH_SAMPLE_COST:-yes} != no ]]; then
	UVSCOPE=$UVSCOPE NODE=$NODE "$ROOT/scripts/sample-cost.sh" | tee "$RUNDIR/sample-cost.txt" ||
		die "scripts/sample-cost.sh failed"
fi

# ---- what stacks without BPF cost the target ----------------------------------------------------
# scripts/proc-stack-cost.sh: the pause of each ptrace grab (as uvscope measured it and as the
# target lived it), and the target's and the agent's CPU per perf_event_open sample (flame
# --backend proc; about 2 minutes). Kept beside the report; BENCH_PROC_STACK_COST=no leaves it
# out.
if [[ ${BENCH_PROC_STACK_COST:-yes} != no ]]; then
	UVSCOPE=$UVSCOPE NODE=$NODE "$ROOT/scripts/proc-stack-cost.sh" |
		tee "$RUNDIR/proc-stack-cost.txt" || die "scripts/proc-stack-cost.sh failed"
fi

# ---- what one operation costs, and what other processes pay -----------------------------------
# scripts/op-cost.sh: CPU per loop iteration and per pool job of each kind in the target, per
# system call and per TCP connection of a process uvscope does not watch, in each mode, with
# the uprobe floor of this kernel (a few minutes); BENCH_OP_COST=no leaves it out.
if [[ ${BENCH_OP_COST:-yes} != no ]]; then section op-cost; fi

# Pairs outermost, so every server and mode is spread over the whole run and meets the same
# drift.
WARM=null
for ((pair = 1; pair <= PAIRS; pair++)); do
	for srv in $SERVERS; do
		for config in ${SERVER_CONFIGS[$srv]}; do
			run_round "$pair" "$srv" "$config"
		done
	done
done

"$NODE" "$ROOT/bench/report.mjs" "$RUNDIR" "$RESULTS"
echo "bench: report in ${RESULTS#"$ROOT"/}"
