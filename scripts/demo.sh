#!/usr/bin/env bash
# make demo: install what is missing, build, start the demo app, attach `uvscope top` to it.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
scripts/install-deps.sh
make -s uvscope

log=$(mktemp)
node examples/demo-app.js >"$log" 2>&1 &
app=$!
trap 'kill $app 2>/dev/null || true; rm -f "$log"' EXIT INT TERM
# Wait until the app is serving: it prints one line once it listens.
for _ in $(seq 200); do
	[ -e "/proc/$app" ] || { cat "$log" >&2; echo "demo: the demo app exited" >&2; exit 1; }
	grep -q 'demo app' "$log" && break
	sleep 0.05
done
cat "$log"
echo "demo: attaching to pid $app; press q to quit"
$SUDO ./uvscope top -p "$app" --phases ${DEMO_ARGS:-}
