// Exact phases with the loop's wait read from libuv's metrics at each uv__io_poll entry (no wait
// hook: bpf/loop.bpf.c, fold_wait), against the fixtures' own clocks and counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertThreeBlocks, eluWindow, fetchNodeOrSkip, nodeBin, nodeVersions,
	skipWithoutBpf, startFixture, startAgent } from './lib.mjs';

// Where uvscope knows libuv's wait stamp (1.45 to 1.52): the wait is folded into the phases.
const folds = (hello) => {
	const [major, minor] = hello.libuv_version.split('.').map(Number);
	return major === 1 && minor >= 45 && minor <= 52;
};

// block.js's three blocks under --phases, in a timer callback or an I/O one (IN), with the node
// at bin: timed against the fixture and alerted while they last. Where uvscope knows libuv's
// stamp the wait has no hook (wait_in_phases); elsewhere (Node 18) both hooks stay.
async function blocksUnderPhases(t, where, bin) {
	const { child } = await startFixture('block.js', [],
		{ BLOCK_MS: '250', COUNT: '3', IN: where }, [], bin);
	const { agent, hello } = await startAgent(child.pid, ['--phases', '--block-ms', '100']);
	try {
		assert.equal(hello.mode, 'exact-phases', JSON.stringify(hello.unavailable));
		assert.equal(hello.wait_in_phases, folds(hello),
			`libuv ${hello.libuv_version}: wait_in_phases ${hello.wait_in_phases}`);
		if (!hello.wait_in_phases) assert.equal(hello.epoll_hooks_per_wait, 2);
		await assertThreeBlocks(t, child, agent);
	} finally {
		await agent.stop();
		await child.stop();
	}
}

// A block in a timer begins after the timers' phase boundary; one in an I/O callback begins
// where the wait that delivered it ended, which nothing but libuv's idle time says.
for (const where of ['timer', 'poll']) {
	test(`--phases, a block in a ${where} callback: timed and alerted while it lasts`,
		async (t) => {
			if (skipWithoutBpf(t)) return;
			await blocksUnderPhases(t, where, nodeBin);
		});
}

test('--phases: utilization agrees with Node\'s own eventLoopUtilization within 0.05',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const { child } = await startFixture('elu.js', [], { PERIOD_MS: '10', WORK_MS: '4' });
		const { agent, hello } = await startAgent(child.pid, ['--phases', '--interval', '500ms']);
		try {
			assert.equal(hello.wait_in_phases, folds(hello));
			const { ours, elu, idle, mains } = await eluWindow(child, agent);
			const wait = mains.reduce((s, m) => s + m.phases.poll_wait.total_ns, 0);
			t.diagnostic(`uvscope ${ours.toFixed(4)}, node ${elu.toFixed(4)}; ` +
				`poll_wait ${wait} ns, idle ${idle} ns`);
			assert.ok(Math.abs(ours - elu) <= 0.05,
				`uvscope ${ours.toFixed(3)} vs node ${elu.toFixed(3)}`);
			// The poll's wait is the idle time, split from its I/O (to within the windows'
			// edges: a wait that spans one is split at the next poll).
			assert.ok(Math.abs(wait - idle) <= 0.05 * idle, `poll_wait ${wait}, idle ${idle}`);
		} finally {
			await agent.stop();
			await child.stop();
		}
	});

// A setImmediate chain passes each phase boundary once per iteration: 7 probe hits, and an
// eighth only where the wait keeps its hook.
test('--phases: probe hits per loop iteration, the wait hook only where it is not folded',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const N = 200000;
		const { child } = await startFixture('immediates.js');
		const { agent, hello } = await startAgent(child.pid,
			['--phases', '--interval', '200ms', '--no-guard']);
		try {
			const intervals = () => agent.json().filter((v) => v.type === 'interval');
			await agent.waitFor(() => intervals().length >= 1, 'first interval');
			const first = intervals().length;
			child.send(`go ${N}`);
			await child.waitFor((v) => v && v.done, 'chain done');
			await agent.waitFor(() => intervals().length >= first + 2, 'two more intervals');
			const busy = intervals().slice(first).filter((v) =>
				v.loops.find((l) => l.role === 'main').iterations > 10000);
			assert.ok(busy.length >= 1, 'intervals of the chain');
			const hits = busy.reduce((s, v) => s + v.agent.probe_hits, 0);
			const iterations = busy.reduce((s, v) =>
				s + v.loops.find((l) => l.role === 'main').iterations, 0);
			const perIteration = hits / iterations;
			t.diagnostic(`${perIteration.toFixed(3)} hits per iteration, wait_in_phases ` +
				`${hello.wait_in_phases}`);
			const want = hello.wait_in_phases ? 7 : 7 + hello.epoll_hooks_per_wait;
			assert.ok(Math.abs(perIteration - want) < 0.1,
				`${perIteration} hits per iteration, not ${want}`);
		} finally {
			await agent.stop();
			await child.stop();
		}
	});

// Node 18 (libuv 1.44: no stamp uvscope reads) keeps both wait hooks; the others fold.
for (const version of nodeVersions('18 22 24')) {
	test(`--phases on node ${version}: a block in a poll callback timed and alerted`,
		async (t) => {
			if (skipWithoutBpf(t)) return;
			const bin = fetchNodeOrSkip(t, version);
			if (bin) await blocksUnderPhases(t, 'poll', bin);
		});
}
