// JavaScript names read from V8's heap (agent/v8) against the ground truth of a fixture whose
// functions have known names, files and start lines (tests/fixtures/node/jsnames), on this
// node and the official builds of Node 18, 22, 24 and 26. The stacks come from
// tests/tools/jsstack (ptrace-interrupt one thread, walk its frame pointers, name the frames),
// standing in for the BPF sampler. With --perf-basic-prof, V8's own /tmp/perf-PID.map must
// agree with every JIT frame named, and show the hot function optimized by TurboFan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Child, fetchNodeOrSkip, fixtures, nodeBin, nodeVersions, root } from './lib.mjs';

const jsstack = process.env.JSSTACK || path.join(root, '.output', 'tools', 'jsstack');
const dir = path.join(fixtures, 'jsnames');
const chain = path.join(dir, 'chain.cjs');
const helper = path.join(dir, 'helper.cjs');
const esm = 'file://' + path.join(dir, 'main.mjs');

// The chain, innermost first, as the fixture defines it.
const EXPECTED = [
	{ name: 'hotLoop', file: chain, line: 11 },
	{ name: 'keptInterpreted', file: chain, line: 19 },
	{ name: '(anonymous)', file: chain, line: 26 },
	{ name: 'arrowStep', file: chain, line: 32 },
	{ name: 'step', file: chain, line: 39 },
	{ name: 'Runner', file: chain, line: 48 }, // a class constructor
	{ name: 'classCall', file: chain, line: 55 },
	{ name: 'helperCall', file: helper, line: 6 },
	{ name: 'esmSpin', file: esm, line: 12 },
];
const SAMPLES_MAX = 100; // stacks taken before giving up on seeing the whole chain

function sample(pid) {
	const out = execFileSync(jsstack, [String(pid)]).toString();
	return out.split('\n').filter(Boolean).slice(1).map((l) => {
		const f = l.split('\t');
		return f[0] === 'JS' ? { kind: 'JS', name: f[1], file: f[2], line: Number(f[3]),
			pc: BigInt(f[4]) } : { kind: f[0], pc: BigInt(f.at(-1)) };
	});
}

const same = (a, b) => a.name === b.name && a.file === b.file && a.line === b.line;

// Every JS frame of the fixture's files must be one of the chain, exactly: never a wrong name.
function checkNoWrongName(frames) {
	for (const f of frames.filter((f) => f.kind === 'JS' && EXPECTED.some((e) => e.file === f.file)))
		assert.ok(EXPECTED.some((e) => same(e, f)) || f.line === 0 || f.name === '(anonymous)',
			`a frame named wrongly: ${JSON.stringify(f, (k, v) => typeof v === 'bigint' ? v.toString(16) : v)}`);
}

function hasChain(frames) {
	const js = frames.filter((f) => f.kind === 'JS');
	const at = js.findIndex((f) => same(f, EXPECTED[0]));
	return at >= 0 && EXPECTED.every((e, i) => js[at + i] && same(js[at + i], e));
}

// V8's perf map: "start size Tag:<tier>name file:line[:column]", tier ~ ^ + * (interpreted,
// baseline, Maglev, TurboFan), on 24 followed by ' for OSR code.
function perfMap(pid) {
	const file = `/tmp/perf-${pid}.map`;
	if (!existsSync(file)) return [];
	return readFileSync(file, 'utf8').split('\n').map((l) => {
		const m = /^([0-9a-f]+) ([0-9a-f]+) [A-Za-z]+:([~^+*]?'?)(\S*) (.*?):(\d+)(?::\d+)?$/.exec(l);
		return m && { start: BigInt('0x' + m[1]), size: BigInt('0x' + m[2]), tier: m[3],
			name: m[4] || '(anonymous)', file: m[5], line: Number(m[6]) };
	}).filter(Boolean);
}

async function withFixture(bin, args, fn) {
	// cwd: --perf-basic-prof writes V8's isolate-*.log into the working directory.
	const child = new Child(bin, [...args, path.join(dir, 'main.mjs')], { cwd: tmpdir() });
	try {
		await child.waitFor((v) => v && v.ready, 'jsnames fixture ready');
		await fn(child.pid);
	} finally {
		await child.stop();
		rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
	}
}

// Frames of node's own modules (node:internal/...): their sources are external strings. The
// reference is the source node itself gives (process.binding('natives')): the start line must
// be one that holds the function's name.
function checkBuiltinLines(t, bin, frames) {
	const builtin = frames.filter((f) => f.kind === 'JS' && f.file.startsWith('node:') &&
		f.line > 0 && f.name !== '(anonymous)');
	if (!builtin.length) return;
	const script = `const n = process.binding('natives'); process.stdout.write(JSON.stringify(
		${JSON.stringify(builtin.map((f) => [f.file.slice(5), f.line, f.name]))}.map(([m, l, name]) =>
		n[m] ? (n[m].split('\\n')[l - 1] || '').includes(name) : null)));`;
	const ok = JSON.parse(execFileSync(bin, ['--no-deprecation', '-e', script]).toString());
	builtin.forEach((f, i) => {
		if (ok[i] !== null) assert.ok(ok[i], `${f.name} is not on line ${f.line} of ${f.file}`);
	});
	t.diagnostic(`${bin}: ${builtin.length} frames of node's own modules on their lines`);
}

async function checkNames(t, bin) {
	await withFixture(bin, [], async (pid) => {
		let seen = null, unknown = 0, n = 0;
		for (; n < SAMPLES_MAX && !seen; n++) {
			const frames = sample(pid);
			checkNoWrongName(frames);
			unknown += frames.filter((f) => f.kind === 'JS_UNKNOWN').length;
			if (hasChain(frames)) seen = frames;
		}
		t.diagnostic(`${bin}: whole chain named after ${n} stacks, ${unknown} JS_UNKNOWN frames`);
		assert.ok(seen, `the chain was not named in ${SAMPLES_MAX} stacks`);
		checkBuiltinLines(t, bin, seen);
	});
}

async function checkPerfMap(t, bin) {
	await withFixture(bin, ['--perf-basic-prof'], async (pid) => {
		let compared = 0, turbofan = false, n = 0;
		for (; n < SAMPLES_MAX && !(turbofan && compared >= 4); n++) {
			const frames = sample(pid);
			checkNoWrongName(frames);
			const map = perfMap(pid);
			for (const f of frames.filter((f) => f.kind === 'JS')) {
				const e = map.find((e) => f.pc >= e.start && f.pc < e.start + e.size);
				if (!e) continue;
				assert.deepEqual({ name: f.name, file: f.file, line: f.line },
					{ name: e.name, file: e.file, line: e.line }, 'perf map disagrees');
				compared++;
				if (f.name === 'hotLoop' && e.tier.startsWith('*')) turbofan = true;
			}
		}
		t.diagnostic(`${bin}: ${compared} JIT frames agree with the perf map in ${n} stacks`);
		assert.ok(turbofan, 'hotLoop was never seen optimized by TurboFan');
		assert.ok(compared >= 4, `only ${compared} JIT frames to compare`);
	});
}

function binaries() {
	return [{ label: `this node (${nodeBin})`, get: () => nodeBin },
		...nodeVersions('18 22 24 26').map((v) => ({ label: `node ${v}`, get: (t) => fetchNodeOrSkip(t, v) }))];
}

for (const { label, get } of binaries()) {
	test(`JS names from V8's heap: ${label}`, async (t) => {
		if (process.getuid() !== 0) return t.skip('not root: jsstack ptraces the fixture');
		const bin = get(t);
		if (bin) await checkNames(t, bin);
	});
	test(`JS names agree with --perf-basic-prof: ${label}`, async (t) => {
		if (process.getuid() !== 0) return t.skip('not root: jsstack ptraces the fixture');
		const bin = get(t);
		if (bin) await checkPerfMap(t, bin);
	});
}
