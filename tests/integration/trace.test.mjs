// uvscope trace: the Chrome trace-event file against what the fixture knows it did (ticks of a
// known length, fs.stat calls) and against uvscope's own loop statistics of the same session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fetchNodeOrSkip, fixtures, nodeBin, nodeVersions, runUvscope, skipWithoutBpf,
	startFixture, uvscope } from './lib.mjs';

const TICKS = 20;
const WORK_MS = 8;
const STATS = 25;

// Trace times are microseconds with three decimals: integers of ns compare exactly.
const ns = (us) => Math.round(us * 1000);

function readTrace(file) {
	const trace = JSON.parse(readFileSync(file, 'utf8'));
	assert.ok(Array.isArray(trace.traceEvents), 'a JSON object with traceEvents');
	return trace;
}

const slicesOf = (events, tid, cat) =>
	events.filter((e) => e.ph === 'X' && e.tid === tid && e.cat === cat)
		.map((e) => ({ name: e.name, start: ns(e.ts), end: ns(e.ts) + ns(e.dur) }))
		.sort((a, b) => a.start - b.start);

const threadName = (events, tid) =>
	events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.tid === tid)?.args.name;

function tempFiles(t) {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-trace-'));
	t.after(() => rmSync(dir, { recursive: true, force: true }));
	return { trace: path.join(dir, 'trace.json'), jsonl: path.join(dir, 'session.jsonl') };
}

// Starts `uvscope trace` and waits for its attach line on stderr.
async function startTrace(pid, args) {
	const agent = new Child(uvscope, ['trace', '-p', String(pid), ...args]);
	await agent.until(() => agent.errLines.some((l) => /attached to pid/.test(l)), 'uvscope attach');
	return agent;
}

// The ticks fixture on a given node binary.
async function startTicks(bin) {
	const child = new Child(bin, [path.join(fixtures, 'trace.js')],
		{ env: { ...process.env, TICKS: String(TICKS), WORK_MS: String(WORK_MS) } });
	await child.waitFor((v) => v && v.ready, 'trace.js ready');
	return child;
}

test('trace: one slice per loop iteration, the ticks among them, phases nested in each', async (t) => {
	if (skipWithoutBpf(t)) return;
	await ticksTest(t, nodeBin);
});

// Node 18's libuv (1.44) runs timers first in an iteration; 22 is libuv 1.48 and later.
for (const version of nodeVersions())
	test(`trace on node ${version}: the ticks, and phases nested in their iterations`, async (t) => {
		if (skipWithoutBpf(t)) return;
		const bin = fetchNodeOrSkip(t, version);
		if (bin) await ticksTest(t, bin);
	});

async function ticksTest(t, bin) {
	const files = tempFiles(t);
	const child = await startTicks(bin);
	let agent;
	try {
		agent = await startTrace(child.pid, ['-o', files.trace, '--json-file', files.jsonl]);
		await agent.until(() => agent.errLines.some((l) =>
			/exact phases are on while tracing: \+[\d.]+ µs per iteration/.test(l)), 'the cost said');
		child.send('go');
		await child.waitFor((v) => v && v.done, 'the fixture\'s ticks');
		// Ctrl-C ends the session: the file must still be complete JSON.
		agent.proc.kill('SIGINT');
		const { code } = await agent.exitPromise;
		assert.equal(code, 0, agent.errLines.join('\n'));
	} finally {
		if (agent) await agent.stop();
		await child.stop();
	}
	assert.equal(statSync(files.trace).mode & 0o777, 0o600, 'the file is the operator\'s alone');
	const { traceEvents: events, otherData } = readTrace(files.trace);
	const main = child.pid;
	assert.match(threadName(events, main), /^main loop/);

	// Each tick the fixture timed (on the monotonic clock) lies inside one iteration slice,
	// and inside a timers phase of it: no iteration with a tick in it is missing.
	const origin = otherData.ts_origin_monotonic_ns;
	const ticks = child.json().filter((v) => v.tick).map((v) =>
		({ start: v.start_ns - origin, end: v.end_ns - origin }));
	assert.equal(ticks.length, TICKS);
	const iterations = slicesOf(events, main, 'loop');
	const phases = slicesOf(events, main, 'phase');
	t.diagnostic(`${iterations.length} main-loop iterations, ${phases.length} phase slices`);
	// Both clocks are CLOCK_MONOTONIC; the trace rounds nothing (ns in, ns out).
	for (const [i, tick] of ticks.entries()) {
		assert.ok(iterations.some((s) => s.start <= tick.start && tick.end <= s.end),
			`tick ${i + 1} [${tick.start}, ${tick.end}] lies in an iteration slice`);
		assert.ok(phases.some((p) => p.name === 'timers' && p.start <= tick.start && tick.end <= p.end),
			`tick ${i + 1} lies in a timers phase`);
	}

	// The same count as uvscope's own statistics of the session (its JSON summary).
	const summary = readFileSync(files.jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
		.find((v) => v.type === 'summary');
	const counted = summary.loops.find((l) => l.tid === main).iterations;
	assert.equal(iterations.length, counted, 'a slice for every iteration uvscope counted');
	assert.equal(summary.agent.drops, 0, 'no record was dropped');
	const line = agent.errLines.find((l) => /^uvscope: trace: /.test(l));
	const total = events.filter((e) => e.ph === 'X' && e.cat === 'loop').length;
	assert.match(line, new RegExp(`trace: ${total} loop iterations, \\d+ slices and \\d+ alerts written to `));

	// Iterations do not overlap; each phase lies in one iteration; phases do not overlap.
	for (let i = 1; i < iterations.length; i++)
		assert.ok(iterations[i].start >= iterations[i - 1].end, `iteration ${i} overlaps the one before`);
	assert.ok(phases.length >= 3 * TICKS, `phase slices (${phases.length})`);
	let j = 0;
	for (const p of phases) {
		while (j < iterations.length && iterations[j].end < p.end) j++;
		const it = iterations[j];
		assert.ok(it && p.start >= it.start && p.end <= it.end,
			`phase ${p.name} [${p.start}, ${p.end}] lies in an iteration`);
	}
	for (let i = 1; i < phases.length; i++)
		assert.ok(phases[i].start >= phases[i - 1].end, `phase ${i} overlaps the one before`);
}

test('trace: exactly one slice per fs.stat, on pool threads (the pool is watched by default), none overlapping on its thread', async (t) => {
	if (skipWithoutBpf(t)) return;
	const files = tempFiles(t);
	// STATS one after the other, then a burst of BURST at once, served back to back.
	const BURST = 200;
	const { child } = await startFixture('trace.js', [], { MODE: 'pool', STATS: String(STATS),
		BURST: String(BURST) });
	let agent;
	try {
		agent = await startTrace(child.pid, ['-o', files.trace, '--no-phases']);
		assert.ok(!agent.errLines.some((l) => /exact phases are on/.test(l)), '--no-phases is heard');
		child.send('go');
		await child.waitFor((v) => v && v.done, 'the fixture\'s fs.stat calls');
		// The target's exit ends the session too, and the file is still complete.
		child.send('exit');
		const { code } = await agent.exitPromise;
		assert.equal(code, 0, agent.errLines.join('\n'));
	} finally {
		if (agent) await agent.stop();
		await child.stop();
	}
	const events = readTrace(files.trace).traceEvents;
	const jobs = events.filter((e) => e.ph === 'X' && e.cat === 'pool' && e.name === 'fs stat');
	t.diagnostic(`${jobs.length} fs stat slices on threads ${[...new Set(jobs.map((e) => e.tid))]}`);
	assert.equal(jobs.length, STATS + BURST);
	for (const tid of new Set(jobs.map((e) => e.tid))) {
		assert.notEqual(tid, child.pid, 'not on the main thread');
		assert.match(threadName(events, tid), /^pool thread/);
	}
	// A pool thread serves one job at a time: its slices never overlap (in ns, as written).
	// A build that placed them by the wall clock, converted per record, overlapped back-to-back
	// jobs by 1-30 ns.
	const ns = (us) => Math.round(us * 1000);
	for (const tid of new Set(jobs.map((e) => e.tid))) {
		const mine = events.filter((e) => e.ph === 'X' && e.cat === 'pool' && e.tid === tid)
			.sort((a, b) => a.ts - b.ts);
		for (let i = 1; i < mine.length; i++)
			assert.ok(ns(mine[i].ts) >= ns(mine[i - 1].ts) + ns(mine[i - 1].dur),
				`pool thread ${tid}: job ${i} at ${mine[i].ts} starts before the one before ` +
				`ends (${mine[i - 1].ts} + ${mine[i - 1].dur})`);
	}
	assert.equal(events.filter((e) => e.cat === 'phase').length, 0, 'no phases with --no-phases');
});

test('trace: a loop blocked until the end is on the time line, with its alert', async (t) => {
	if (skipWithoutBpf(t)) return;
	const files = tempFiles(t);
	const { child } = await startFixture('stuck.js');
	let r;
	try {
		r = await runUvscope(['trace', '-p', String(child.pid), '-d', '1500ms', '-o', files.trace,
			'--no-phases']);
	} finally {
		await child.stop('SIGKILL');
	}
	assert.equal(r.code, 0, r.stderr);
	const events = readTrace(files.trace).traceEvents;
	const stuck = slicesOf(events, child.pid, 'unfinished');
	assert.equal(stuck.length, 1, 'one unfinished iteration');
	// Blocked since attach (it never waits again): most of the 1.5 s session.
	assert.ok(stuck[0].end - stuck[0].start >= 1e9, `${(stuck[0].end - stuck[0].start) / 1e6} ms`);
	assert.equal(slicesOf(events, child.pid, 'loop').length, 0, 'no iteration ended');
	const alerts = events.filter((e) => e.ph === 'i' && e.name === 'loop_blocked');
	assert.ok(alerts.length >= 1 && alerts.every((e) => e.tid === child.pid && e.s === 't' &&
		e.args.tid === child.pid), JSON.stringify(alerts));
});

test('trace: -o is required and named in the error', async () => {
	const r = await runUvscope(['trace', '-p', '1']);
	assert.equal(r.code, 2);
	assert.match(r.stderr, /^uvscope: trace needs -o FILE/m);
});
