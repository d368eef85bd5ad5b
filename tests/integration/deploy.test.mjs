// deploy/: the files a fleet installs, checked against the tools that read them and against
// what `uvscope serve` exports (no BPF needed: these run without root too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { root, uvscope } from './lib.mjs';

const deploy = path.join(root, 'deploy');
const read = (f) => readFileSync(path.join(deploy, f), 'utf8');

// The series names the exporter writes: each family of agent/render/prometheus.c, with the
// suffixes its type gives its samples.
function exported() {
	const src = readFileSync(path.join(root, 'agent', 'render', 'prometheus.c'), 'utf8');
	const names = new Set();
	for (const [, name, type] of src.matchAll(/FAMILY\(\w+, "(uvscope_\w+)", UVS_PROM_(\w+),/g)) {
		if (type === 'COUNTER') names.add(`${name}_total`);
		else if (type === 'INFO') names.add(`${name}_info`);
		else if (type === 'HISTOGRAM')
			for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
		else names.add(name);
	}
	assert.ok(names.size > 30, `families found in prometheus.c: ${names.size}`);
	return names;
}

function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
	if (r.error && r.error.code === 'ENOENT') return null;
	return r;
}

test('deploy: the Prometheus configuration passes promtool, the rules their unit tests', (t) => {
	const r = run('promtool', ['check', 'config', 'prometheus.yml'],
		{ cwd: path.join(deploy, 'prometheus') });
	if (!r) { t.skip('promtool is not installed (scripts/install-deps.sh)'); return; }
	assert.equal(r.status, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /SUCCESS: \d+ rules found/);
	// The rules on series shaped like uvscope's: they fire, with their labels, and only then.
	const u = run('promtool', ['test', 'rules', 'uvscope-rules.test.yml'],
		{ cwd: path.join(deploy, 'prometheus') });
	assert.equal(u.status, 0, u.stdout + u.stderr);
	assert.match(u.stdout, /SUCCESS/);
});

test('deploy: the dashboard, rules and README name only metrics uvscope exports', () => {
	const names = exported();
	const dash = JSON.parse(read('grafana/uvscope-dashboard.json'));
	const exprs = JSON.stringify(dash) + read('prometheus/uvscope-rules.yml') +
		read('prometheus/uvscope-rules.test.yml');
	const used = new Set(exprs.match(/uvscope_[a-z_]+/g));
	assert.ok(used.size >= 15, `metrics the dashboard and rules use: ${used.size}`);
	for (const n of used) assert.ok(names.has(n), `${n} is not exported`);
	// Every panel queries something; every family is documented in README.md.
	for (const p of dash.panels.filter((p) => p.type !== 'row'))
		assert.ok(p.targets.length && p.targets.every((q) => /uvscope_/.test(q.expr)), p.title);
	const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
	for (const n of names) {
		const family = n.replace(/_(total|bucket|sum|count)$/, '');
		assert.ok(readme.includes(n) || readme.includes(family), `README lacks ${n}`);
	}
});

test('deploy: the systemd units verify, and every deploy file grants the same capabilities',
	(t) => {
	const unit = read('systemd/uvscope@.service');
	const hostUnit = read('systemd/uvscope.service');
	const caps = (s) => [...s.matchAll(/CAP_([A-Z_]+)/g)].map((m) => m[1]);
	const ambient = caps(unit.match(/^AmbientCapabilities=(.*)$/m)[1]);
	assert.deepEqual(caps(unit.match(/^CapabilityBoundingSet=(.*)$/m)[1]), ambient);
	assert.deepEqual([...ambient].sort(),
		['BPF', 'DAC_READ_SEARCH', 'PERFMON', 'SYS_ADMIN', 'SYS_PTRACE']);
	assert.deepEqual(caps(hostUnit.match(/^AmbientCapabilities=(.*)$/m)[1]), ambient);
	assert.deepEqual(caps(hostUnit.match(/^CapabilityBoundingSet=(.*)$/m)[1]), ambient);
	assert.match(hostUnit, /^ExecStart=\S+ serve --all /m);
	const ds = read('kubernetes/uvscope-daemonset.yaml');
	const add = JSON.parse(ds.match(/add: (\[.*\])/)[1]);
	assert.deepEqual([...add].sort(), [...ambient].sort(), 'DaemonSet capabilities');
	assert.match(ds, /^\s+hostPID: true$/m);
	assert.match(ds, /args: \["serve", "--all"/);
	assert.match(ds, /drop: \["ALL"\]/);
	assert.match(ds, /readinessProbe:\n\s+#.*\n\s+httpGet:\n\s+path: \/metrics/);
	const docker = read('Dockerfile');
	for (const c of ambient) assert.ok(docker.includes(`--cap-add=${c}`), `Dockerfile: ${c}`);
	assert.match(docker, /^FROM debian:12/m);

	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-unit-'));
	try {
		// The units as installed, with the binary where this checkout has it.
		for (const [name, text] of [['uvscope@test.service', unit], ['uvscope.service', hostUnit]]) {
			const file = path.join(dir, name);
			writeFileSync(file, text.replace('/usr/local/bin/uvscope', uvscope));
			const r = run('systemd-analyze', ['verify', file]);
			if (!r) { t.skip('systemd-analyze is not installed'); return; }
			assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
