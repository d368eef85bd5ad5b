// Many processes, one agent, one set of BPF programs: `-p A,B` and `--all --match`.
// Ground truth: block.js measures its own blocks (BLOCK_MS each); a single-PID agent watching
// one of the same processes at the same time is the reference for "the same figures".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Child, fetchNodeOrSkip, fixtures, freePort, mapKeysHeldBy, ourBpfPrograms,
	skipWithoutBpf, startAgent, startFixture, until, uvscope } from './lib.mjs';

// block.js with its own blocks; `tag` ends up on its command line (for --match).
async function startBlocker(blockMs, count, tag = '') {
	const { child } = await startFixture('block.js', tag ? [tag] : [],
		{ BLOCK_MS: String(blockMs), COUNT: String(count) });
	return child;
}

const truthOf = (child) => child.json().filter((v) => v.block)
	.map((v) => v.end_ns - v.start_ns);
const endedBlocks = (agent, pid) => agent.json()
	.filter((v) => v.type === 'alert' && v.kind === 'loop_blocked' && v.pid === pid && !v.ongoing)
	.map((v) => v.blocked_ns);

// Each measured block within 10% of the fixture's own figure, in order.
function assertBlocks(got, truth, who) {
	assert.equal(got.length, truth.length, `${who}: ${got.length} blocks, fixture ${truth.length}`);
	for (const [i, want] of truth.entries())
		assert.ok(Math.abs(got[i] - want) <= 0.1 * want,
			`${who}: block ${i + 1}: uvscope ${got[i]} ns, fixture ${want} ns`);
}

test('-p A,B: both processes, each with its own figures, equal to a single-PID session\'s',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const a = await startBlocker(150, 2);
		const b = await startBlocker(300, 2);
		const programsBefore = ourBpfPrograms().length;
		const many = new Child(uvscope, ['watch', '-p', `${a.pid},${b.pid}`, '--json']);
		let single;
		try {
			const hellos = () => many.json().filter((v) => v.type === 'attach');
			await many.until(() => hellos().length === 2, 'two attach lines');
			assert.deepEqual(hellos().map((h) => h.pid).sort(), [a.pid, b.pid].sort());
			// One set of programs for both: the second process added links, not programs.
			const programsMany = ourBpfPrograms().length - programsBefore;
			({ agent: single } = await startAgent(a.pid));
			const programsSingle = ourBpfPrograms().length - programsBefore - programsMany;
			assert.equal(programsMany, programsSingle,
				`programs for two processes (${programsMany}) = for one (${programsSingle})`);
			a.send('go');
			b.send('go');
			await a.waitFor((v) => v && v.done, 'A done');
			await b.waitFor((v) => v && v.done, 'B done');
			await many.until(() => endedBlocks(many, a.pid).length === 2 &&
				endedBlocks(many, b.pid).length === 2, 'both processes\' blocks');
			await single.until(() => endedBlocks(single, a.pid).length === 2, 'A\'s blocks alone');
			assertBlocks(endedBlocks(many, a.pid), truthOf(a), 'A in -p A,B');
			assertBlocks(endedBlocks(many, b.pid), truthOf(b), 'B in -p A,B');
			assertBlocks(endedBlocks(single, a.pid), truthOf(a), 'A alone');
			// The same block measured by both agents: the same figure within 1%.
			for (const [i, ns] of endedBlocks(single, a.pid).entries())
				assert.ok(Math.abs(endedBlocks(many, a.pid)[i] - ns) <= 0.01 * ns,
					`block ${i + 1}: ${endedBlocks(many, a.pid)[i]} vs ${ns} ns`);
			// Intervals say whose they are; B's never hold A's loop.
			const intervals = many.json().filter((v) => v.type === 'interval');
			for (const pid of [a.pid, b.pid])
				assert.ok(intervals.some((v) => v.pid === pid), `intervals of ${pid}`);
			for (const v of intervals)
				for (const l of v.loops)
					assert.ok(l.role !== 'main' || l.tid === v.pid,
						`main loop ${l.tid} in the interval of ${v.pid}`);
		} finally {
			await single?.stop();
			await many.stop();
			await a.stop();
			await b.stop();
		}
		const summaries = many.json().filter((v) => v.type === 'summary').map((v) => v.pid);
		assert.deepEqual(summaries.sort(), [a.pid, b.pid].sort(), 'one summary per process');
	});

// The loop maps are every target's: a process let go takes its threads' entries with it, also
// one dropped with no last window read: one that execs (its main thread, the pid, lives on in
// the new program). A build that left them piled up entries (126 of 129 after 528 processes had
// come and gone), until the maps were full and no new loop could be measured.
test('-p A,B: A execs and is let go, its loop threads leave the BPF maps; B\'s stay',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const bin = fetchNodeOrSkip(t, '24');
		if (!bin) return;
		const a = new Child(bin, [path.join(fixtures, 'execve.js')]);
		const b = await startFixture('workers.js', [], { BLOCK_MS: '300' });
		const bTids = [b.child.pid, b.ready.blocking_tid, b.ready.calm_tid];
		let agent;
		try {
			const ready = await a.waitFor((v) => v && v.ready, 'execve.js ready');
			if (!ready.execve) return t.skip(`node ${bin} has no process.execve`);
			({ agent } = await startAgent(`${a.pid},${b.child.pid}`, ['-i', '200ms']));
			b.child.send('go');
			const shown = (pid, tids) => agent.json().some((v) => v.type === 'interval' &&
				v.pid === pid && tids.every((tid) => v.loops.some((l) => l.tid === tid)));
			await agent.until(() => shown(a.pid, [a.pid]) && shown(b.child.pid, bTids),
				'the loops of both processes shown');
			for (const map of ['loop_stats', 'loop_state'])
				assert.ok(mapKeysHeldBy(agent.pid, map).includes(a.pid), `${map}: A's loop in it`);
			a.send('exec');
			await a.waitFor((v) => v && v.reborn === a.pid, 'the exec, same pid');
			await agent.until(() => agent.errLines.some((l) =>
				l.includes(`pid ${a.pid} exec'd another program`)), 'A let go');
			for (const map of ['loop_stats', 'loop_state']) {
				const keys = mapKeysHeldBy(agent.pid, map);
				t.diagnostic(`${map}: ${keys.join(' ')}`);
				assert.ok(!keys.includes(a.pid), `${map}: A's main thread left in it`);
				assert.ok(bTids.every((tid) => keys.includes(tid)), `${map}: B's loops stay`);
			}
		} finally {
			await agent?.stop();
			await a.stop();
			await b.child.stop();
		}
	});

test('--all --match: a node process started later is attached; one that exits is dropped',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const tag = `uvscope-many-${process.pid}-${Date.now()}`;
		const agent = new Child(uvscope, ['watch', '--all', '--match', tag, '--json', '-i',
			'200ms']);
		let first, second;
		try {
			await agent.until(() => agent.errLines.some((l) => /watching for one to start/.test(l)),
				'the agent waits for a node process');
			first = await startBlocker(200, 1, tag);
			const attached = (pid) => agent.json().some((v) => v.type === 'attach' && v.pid === pid);
			await agent.until(() => attached(first.pid), 'the first process attached');
			first.send('go');
			await first.waitFor((v) => v && v.done, 'first done');
			await agent.until(() => endedBlocks(agent, first.pid).length === 1, 'its block');
			assertBlocks(endedBlocks(agent, first.pid), truthOf(first), 'first');
			await first.stop();
			const summary = (pid) => agent.json().some((v) => v.type === 'summary' && v.pid === pid);
			await agent.until(() => summary(first.pid), 'the exited process dropped (its summary)');
			await agent.until(() => agent.errLines.some((l) =>
				l.includes(`the target exited; detached from pid ${first.pid}`)), 'the detach is said');
			second = await startBlocker(200, 1, tag);
			await agent.until(() => attached(second.pid), 'a second process attached');
			assert.equal(agent.exited, null, 'the agent kept running while no process was watched');
			// Processes that do not match are left alone: this test's own node is one.
			assert.ok(!attached(process.pid), 'the test runner (no match) is not attached');
		} finally {
			await agent.stop();
			await first?.stop();
			await second?.stop();
		}
	});

test('serve --all: a page before any process, then every process\'s series; promtool passes',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const tag = `uvscope-serve-all-${process.pid}-${Date.now()}`;
		const port = await freePort();
		const agent = new Child(uvscope, ['serve', '--all', '--match', tag, '--listen',
			`127.0.0.1:${port}`, '-i', '200ms']);
		const page = async () => {
			const res = await fetch(`http://127.0.0.1:${port}/metrics`);
			return { status: res.status, text: await res.text() };
		};
		const pidsOn = (text) => new Set([...text.matchAll(/^uvscope_loop_iterations_total\{[^}]*pid="(\d+)"/gm)]
			.map((m) => Number(m[1])));
		let a, b;
		try {
			await agent.until(() => agent.errLines.some((l) => /watching for one to start/.test(l)),
				'serve waits for a node process');
			const empty = await page();
			assert.equal(empty.status, 200, 'the page is there before any process (readiness)');
			assert.equal(pidsOn(empty.text).size, 0);
			a = await startBlocker(150, 1, tag);
			b = await startBlocker(150, 1, tag);
			let last;
			await until(async () => {
				last = await page();
				const on = pidsOn(last.text);
				return on.has(a.pid) && on.has(b.pid);
			}, 'both processes on the page');
			const check = spawnSync('promtool', ['check', 'metrics'], { input: last.text,
				encoding: 'utf8' });
			assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
			for (const family of ['uvscope_loop_iterations', 'uvscope_loop_busy_seconds'])
				assert.equal(last.text.split('\n').filter((l) =>
					new RegExp(`^# TYPE ${family}(_total)? counter$`).test(l)).length, 1,
				`${family}: one TYPE line for both processes`);
			await a.stop();
			await until(async () => {
				const on = pidsOn((await page()).text);
				return !on.has(a.pid) && on.has(b.pid);
			}, 'the exited process leaves the page, the other stays');
		} finally {
			await agent.stop();
			await a?.stop();
			await b?.stop();
		}
	});
