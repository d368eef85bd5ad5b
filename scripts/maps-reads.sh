#!/usr/bin/env bash
# scripts/maps-reads.sh: how often uvscope reads the target's /proc/PID/maps, and what attaching
# and watching cost the agent around it (bench/README.md, "History of the agent's own figures").
#
#   sudo scripts/maps-reads.sh idle|busy [DIR]      (UVSCOPE=path: the agent, default ./uvscope)
#
# idle: tests/fixtures/node/pool.js waiting for "go" (no pool job). busy: bench/op_cost.js
# running dns rounds without end (one getaddrinfo job after another, stacks sampled on a busy
# loop). On one target of that kind, one after the other:
#   1. `strace -f -tt -e trace=openat,write uvscope watch -p PID --json -d 12s`: the opens of
#      /proc/PID/maps before the attach line is written, and per second after it;
#   2. 7 attaches of `uvscope watch -p PID -d 1s`: the time its attach line gives;
#   3. `uvscope watch -p PID --json -d 26s`: its CPU from 2 s after the attach line for 20 s,
#      utime+stime of /proc/AGENT/stat (10 ms ticks) and the sum of its threads' schedstat (ns).
# About a minute per kind. Run it on a quiet machine: attach times move with the load.
set -euo pipefail

kind=${1:-}
[[ $kind == idle || $kind == busy ]] || { echo "usage: $0 idle|busy [DIR]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
uvscope=${UVSCOPE:-$root/uvscope}
out=${2:-$root/bench/runs/$(date +%Y%m%d-%H%M%S)-maps-reads-$kind}
mkdir -p "$out"
command -v strace > /dev/null || { echo "$0: needs strace" >&2; exit 1; }

tpid= apid= hold=
cleanup() {
	[[ -n $apid ]] && kill "$apid" 2> /dev/null || true
	[[ -n $tpid ]] && kill "$tpid" 2> /dev/null || true
	[[ -n $hold ]] && kill "$hold" 2> /dev/null || true
}
trap cleanup EXIT

# The target's stdin stays open (pool.js waits on it; op_cost.js is given --rounds).
mkfifo "$out/stdin"
sleep 600 > "$out/stdin" &
hold=$!
if [[ $kind == idle ]]; then
	node "$root/tests/fixtures/node/pool.js" < "$out/stdin" > "$out/target.out" &
else
	node "$root/bench/op_cost.js" --warmup-ms 300 --settle 0 --rounds 1000000 dns \
		< "$out/stdin" > "$out/target.out" &
fi
tpid=$!
until grep -q '"ready":true' "$out/target.out" 2> /dev/null; do
	kill -0 "$tpid" || { echo "$0: the target died" >&2; exit 1; }
	sleep 0.1
done

# 1. Opens of the target's maps: before the attach line (the agent's first write to stdout),
# and after it, per second of the rest of the run.
strace -f -tt -e trace=openat,write -o "$out/strace.txt" \
	"$uvscope" watch -p "$tpid" --json -d 12s > "$out/strace.json" 2> "$out/strace.err"
awk -v maps="\"/proc/$tpid/maps\"" '
	function secs(t, a) { split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
	{ t = secs($2) }
	NR == 1 { first = t }
	/write\(1, / && attach == "" { attach = t }
	/openat\(/ && index($0, maps) { if (attach == "") before++; else after++ }
	{ last = t }
	END {
		printf "maps opens: %d while attaching (attach %.0f ms under strace), %d in the %.1f s after = %.2f/s\n",
			before, (attach - first) * 1000, after, last - attach, after / (last - attach)
	}' "$out/strace.txt" | tee "$out/summary.txt"

# 2. Attach time, as the attach line gives it.
for i in 1 2 3 4 5 6 7; do
	"$uvscope" watch -p "$tpid" -d 1s 2>&1 > /dev/null |
		sed -n 's/.*attached to pid [0-9]* (.*) in \([0-9.]*m\?s\):.*/\1/p'
done > "$out/attach.txt"
echo "attach: $(sort -n "$out/attach.txt" | tr '\n' ' ')(median $(sort -n "$out/attach.txt" | sed -n 4p))" |
	tee -a "$out/summary.txt"

# 3. The agent's CPU over 20 s attached, from 2 s after its attach line.
"$uvscope" watch -p "$tpid" --json -d 26s > "$out/cpu.json" 2> "$out/cpu.err" &
apid=$!
until grep -q '"type":"attach"' "$out/cpu.json" 2> /dev/null; do
	kill -0 "$apid" || { echo "$0: the agent did not attach" >&2; exit 1; }
	sleep 0.05
done
sleep 2
ticks() { awk '{ print $14 + $15 }' "/proc/$apid/stat"; }
runtime() { cat /proc/"$apid"/task/*/schedstat | awk '{ s += $1 } END { print s }'; }
c0=$(ticks) r0=$(runtime)
sleep 20
c1=$(ticks) r1=$(runtime)
wait "$apid" || true
apid=
awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r=$((r1 - r0)) 'BEGIN {
	printf "agent cpu over 20 s attached: %.2f ms/s (stat), %.2f ms/s (schedstat)\n",
		c * 1000 / hz / 20, r / 1e6 / 20 }' | tee -a "$out/summary.txt"
