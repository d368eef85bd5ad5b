// The overhead guard's last step: the loops' wait hooks out, the loop read from libuv's own
// metrics in the target's memory. tests/fixtures/node/spin_duty.js iterates fast (a burst of
// setImmediate callbacks every 10 ms, half of each period) past a small budget, then blocks
// while the step is taken, then stops. Ground truth from outside uvscope: the kernel's list of
// the agent's BPF links (is the wait hook attached?), the fixture's own clock around its block
// and the function it blocked in, Node's own event-loop utilization, the fixture's count of
// its iterations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Child, fetchNodeOrSkip, fixtures, intervalsAfter, jsFrame, linkedPrograms,
	skipWithoutBpf, startAgent, startFixture } from './lib.mjs';

const BUDGET = 2000;
const MS = 1e6;
const FIXTURE = path.join(fixtures, 'spin_duty.js');

// The wait hook: default mode's uprobe at uv__io_poll's entry (libuv 1.45+), or the epoll
// call's return (UVSCOPE_EPOLL_RETURN_HOOK, and Node 18 with its entry too).
const waitHooks = (pid) => linkedPrograms(pid).filter((n) => n === 'uvs_ep_call_out' ||
	n === 'uvs_phase_boundary').length;
const guardLine = (action, step) => (v) =>
	v && v.type === 'guard' && v.action === action && v.step === step;
const intervals = (lines) => lines.filter((v) => v.type === 'interval');
const mainOf = (v, pid) => v.loops.find((l) => l.tid === pid);

// Both forms of the one wait hook: the uprobe at uv__io_poll's entry (the default) and the
// epoll call's return (UVSCOPE_EPOLL_RETURN_HOOK); the state each keeps is handed over both ways.
for (const returnHook of [false, true])
test(`overhead guard: a fast loop has its wait hook (${returnHook ? 'the epoll call\'s return' :
	'uv__io_poll\'s entry'}) taken out; its utilization, iterations and a block (alerted, timed, `
	+ 'named) come from libuv\'s metrics; they come back when the load stops', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('spin_duty.js');
	const { agent, hello } = await startAgent(child.pid, ['--interval', '100ms', '--block-ms',
		'100', '--max-probe-rate', String(BUDGET)],
		returnHook ? { UVSCOPE_EPOLL_RETURN_HOOK: '1' } : {});
	let stopped, block;
	try {
		assert.equal(hello.epoll_hooks_per_wait, 1, 'one wait hook (libuv >= 1.45 with DWARF)');
		assert.equal(hello.waits_at_poll_entry, !returnHook);
		await agent.waitFor((v) => v && v.type === 'interval' && mainOf(v, child.pid),
			'the main loop');
		assert.ok(waitHooks(agent.pid) > 0, 'the wait hook is attached');

		child.send('spin 50');
		await child.waitFor((v) => v && v.spinning, 'fixture spinning');
		const down = await agent.waitFor(guardLine('down', 'loop_hooks_off'),
			'the step that takes the wait hooks out');
		assert.ok(down.rate > BUDGET, JSON.stringify(down));
		assert.equal(down.windows, 3);
		assert.equal(down.loop_hooks, 'off');
		assert.ok(down.rate_by_source.loop * 10 >= down.rate, JSON.stringify(down));
		// The kernel agrees: the agent holds no link to the wait hook's program.
		assert.equal(waitHooks(agent.pid), 0, 'the wait hook is still attached');

		// Utilization over whole intervals with the hooks out, against Node's own ELU.
		await intervalsAfter(agent, 2);
		child.send('mark');
		await child.waitFor((v) => v && 'elu' in v, 'first mark');
		const from = intervals(agent.json()).length;
		await intervalsAfter(agent, 10);
		child.send('mark');
		const ref = (await child.waitFor(() => child.json().filter((v) => 'elu' in v).length >= 2,
			'second mark'), child.json().filter((v) => 'elu' in v)[1]);
		const out = intervals(agent.json()).slice(from, from + 10);
		let busy = 0, idle = 0;
		for (const v of out) {
			const main = mainOf(v, child.pid);
			assert.equal(v.guard.loop_hooks, 'off');
			// Per-iteration busy times are not measured: null, never zeros.
			assert.equal(main.busy_p50_ns, null, JSON.stringify(main));
			assert.equal(main.busy_p99_ns, null);
			assert.equal(main.busy_max_ns, null);
			// libuv counts its iterations: the fixture's thousands a second are there.
			assert.ok(main.iterations > 1000 * v.window_ns / 1e9, JSON.stringify(main));
			assert.equal(main.blocked_now, false, 'a loop that spins is not blocked');
			busy += main.busy_ns;
			idle += main.idle_ns;
		}
		const ours = busy / (busy + idle);
		t.diagnostic(`utilization: uvscope ${ours.toFixed(4)}, node ${ref.elu.toFixed(4)}`);
		assert.ok(Math.abs(ours - ref.elu) <= 0.03, `uvscope ${ours} vs node ${ref.elu}`);

		// A block while the hooks are out: alerted while it lasts, timed, its function named.
		// Its end is the first after its ongoing alert: on a loaded machine a spin of the load
		// above may have been an episode of its own, which ends before that.
		const blockAlerts = () => agent.json().filter((v) => v.type === 'alert' &&
			v.kind === 'loop_blocked');
		const ended = () => {
			const all = blockAlerts();
			const i = all.findIndex((v) => v.ongoing && v.ts_ns >= block.start_ns);
			return i < 0 ? [] : all.slice(i + 1).filter((v) => !v.ongoing);
		};
		child.send('block 300');
		block = await child.waitFor((v) => v && v.block, 'fixture blocked');
		await agent.waitFor(() => ended().length >= 1, 'the block\'s final alert');
		const end = ended()[0];
		const truth = block.end_ns - block.start_ns;
		t.diagnostic(`block: fixture ${truth / MS} ms, uvscope ${end.blocked_ns / MS} ms`);
		assert.equal(end.tid, child.pid);
		assert.ok(Math.abs(end.blocked_ns - truth) <= 0.1 * truth,
			`${end.blocked_ns / MS} ms is not ${truth / MS} ms +- 10%`);
		const ongoing = agent.json().find((v) => v.type === 'alert' && v.ongoing &&
			v.ts_ns >= block.start_ns);
		assert.ok(ongoing && ongoing.ts_ns < block.end_ns, 'alerted while blocked');
		assert.ok(Array.isArray(end.stacks) && end.stacks.length > 0, JSON.stringify(end));
		assert.ok(end.stacks[0].frames.some((f) => jsFrame('guardBlockSpin', FIXTURE).test(f)),
			JSON.stringify(end.stacks[0].frames));
		assert.equal(waitHooks(agent.pid), 0, 'still out through the block');

		child.send('stop');
		stopped = await child.waitFor((v) => v && v.stopped, 'fixture stopped');
		const up = await agent.waitFor(guardLine('up', 'loop_hooks_off'), 'the hooks back');
		assert.ok(up.predicted < BUDGET / 2, JSON.stringify(up));
		assert.equal(up.loop_hooks, 'on');
		assert.ok(waitHooks(agent.pid) > 0, 'the wait hook is attached again');
		// Per-iteration busy times again from the first full interval after.
		const back = await intervalsAfter(agent, 2);
		assert.equal(back.guard.loop_hooks, 'on');
		assert.notEqual(mainOf(back, child.pid).busy_max_ns, null);
		// Every window from the hand-back on is whole: busy and idle add up to its length. The
		// first one after lost the part of the wait before attach (up to the fixture's 1 s
		// timer) when the loop was waiting at attach: idle 0.3 ms of a 992 ms window.
		const lines = agent.json();
		const upAt = lines.findIndex(guardLine('up', 'loop_hooks_off'));
		for (const v of intervals(lines.slice(upAt))) {
			const main = mainOf(v, child.pid);
			t.diagnostic(`after the hand-back: busy ${main.busy_ns / MS} ms + idle ` +
				`${main.idle_ns / MS} ms of ${v.window_ns / MS} ms`);
			assert.ok(Math.abs(main.busy_ns + main.idle_ns - v.window_ns) <= 0.05 * v.window_ns,
				JSON.stringify(main));
		}
		// The loop was handed back in its wait (a 1 s timer): its end, which a read of stdin
		// brings, is the end of that wait, not of a busy span since the hand-back (whether
		// the last poll before the hooks went out could wait says nothing of this one). The
		// fixture is idle from here: no interval is mostly busy, and no block is added.
		const fromUp = intervals(agent.json()).length;
		child.send('mark');
		await child.waitFor(() => child.json().filter((v) => 'elu' in v).length >= 3,
			'a mark after the hooks came back');
		await intervalsAfter(agent, 2);
		for (const v of intervals(agent.json()).slice(fromUp))
			assert.ok(mainOf(v, child.pid).utilization < 0.5, JSON.stringify(v));
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
	}
	const lines = agent.json();
	const steps = lines.filter((v) => v.type === 'guard' && v.step === 'loop_hooks_off')
		.map((v) => v.action);
	assert.deepEqual(steps, ['down', 'up'], 'once each way, nothing failed');
	assert.equal(lines.filter(guardLine('failed', 'loop_hooks_off')).length, 0);
	const summary = lines.find((v) => v.type === 'summary');
	assert.ok(summary.guard.loop_hooks_off_ns > 0 &&
		summary.guard.loop_hooks_off_ns < summary.window_ns);
	const main = mainOf(summary, child.pid);
	// One block in the session, however it was measured; every iteration the fixture counted
	// (its callbacks: one per iteration) is counted, with its timer and idle ones on top.
	assert.equal(main.blocks, 1);
	assert.ok(main.iterations >= stopped.ticks, `${main.iterations} < ${stopped.ticks}`);
	assert.ok(main.iterations < stopped.ticks * 1.05 + 100,
		`${main.iterations} for ${stopped.ticks} callbacks`);
});

// libuv 1.44 (Node 18) keeps no loop count and gets both hooks per wait: the step is not
// offered, -v says why, and the same load leaves the hooks in.
test('overhead guard: on Node 18 the wait hooks stay in, and it says why', async (t) => {
	if (skipWithoutBpf(t)) return;
	const bin = fetchNodeOrSkip(t, '18');
	if (!bin) return;
	const child = new Child(bin, [FIXTURE]);
	await child.waitFor((v) => v && v.ready, 'fixture ready');
	const { agent, hello } = await startAgent(child.pid, ['-v', '--interval', '100ms',
		'--max-probe-rate', String(BUDGET)]);
	try {
		assert.equal(hello.epoll_hooks_per_wait, 2);
		child.send('spin 50');
		await child.waitFor((v) => v && v.spinning, 'fixture spinning');
		await agent.waitFor((v) => v && v.type === 'guard' && v.action === 'exhausted',
			'over the budget with no step left');
		assert.ok(agent.errLines.some((l) => /the loop wait hooks stay in: libuv 1\.44\.\d+ keeps no loop count/.test(l)),
			agent.errLines.filter((l) => l.includes('guard')).join(' | '));
		assert.ok(waitHooks(agent.pid) > 0);
		assert.ok(!agent.json().some((v) => v.type === 'guard' && v.step === 'loop_hooks_off'));
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
	}
});
