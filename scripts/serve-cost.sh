#!/usr/bin/env bash
# scripts/serve-cost.sh: what `uvscope serve` costs the agent next to `watch --json`, and how
# fast a scrape is answered. Starts the demo app (examples/demo-app.js), attaches
# `uvscope watch --json` for SECONDS, then `uvscope serve` for SECONDS while curl scrapes
# /metrics once a second, and prints each one's CPU time (from /proc/AGENT/stat, measured after
# the first 2 s of attaching), its RSS, and the scrapes' min / median / max time.
# Run it alone on the machine (as root, under the BPF lock on a shared machine).
#   sudo scripts/serve-cost.sh [SECONDS] [PORT]        (defaults: 20 19466)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${1:-20} PORT=${2:-19466}
UVSCOPE=${UVSCOPE:-./uvscope}
[[ $(id -u) == 0 ]] || { echo "serve-cost: run as root" >&2; exit 1; }
[[ -x $UVSCOPE ]] || { echo "serve-cost: build uvscope first (make uvscope)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"; kill $(jobs -p) 2>/dev/null || true' EXIT

node examples/demo-app.js >"$dir/app.out" 2>&1 &
app=$!
until grep -q . "$dir/app.out" 2>/dev/null; do read -r -t 0.05 <> <(:) || true; done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for mode in watch serve; do
	if [[ $mode == watch ]]; then
		"$UVSCOPE" watch -p "$app" --json -d "$((SECONDS_ + 3))s" >/dev/null 2>&1 &
	else
		"$UVSCOPE" serve -p "$app" -d "$((SECONDS_ + 3))s" --listen "127.0.0.1:$PORT" \
			>/dev/null 2>&1 &
	fi
	agent=$!
	sleep 2 # attaching is not what is measured
	t0=$(ticks "$agent")
	for ((i = 0; i < SECONDS_; i++)); do
		[[ $mode == serve ]] && curl -s -o /dev/null -w '%{time_total}\n' \
			"http://127.0.0.1:$PORT/metrics" >>"$dir/latency"
		sleep 1
	done
	t1=$(ticks "$agent")
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$agent/status")
	awk -v m="$mode" -v t="$((t1 - t0))" -v hz="$hz" -v s="$SECONDS_" -v rss="$rss" 'BEGIN {
		printf "%-6s agent CPU %.2f s in %d s (%.2f%% of a CPU), RSS %d MB\n",
		       m, t / hz, s, 100 * t / hz / s, rss / 1024 }'
	wait "$agent" || { echo "serve-cost: uvscope $mode failed (status $?)" >&2; exit 1; }
done
sort -n "$dir/latency" | awk '{ a[NR] = $1 } END {
	printf "scrape (curl, loopback, %d scrapes): min %.3f ms, median %.3f ms, max %.3f ms\n",
	       NR, 1000 * a[1], 1000 * a[int((NR + 1) / 2)], 1000 * a[NR] }'
