// The overhead guard (agent/core/overhead_guard.c) against a loop that spins as fast as it can
// (tests/fixtures/node/spin.js: one setImmediate per iteration, on "spin" and until "stop"),
// watched with --phases and a low budget. Ground truth comes from outside uvscope: the kernel's
// own list of the agent's BPF links (/proc/AGENT/fdinfo: is the phase program attached?), the
// fixture's CPU time (/proc/PID/stat: samples per CPU-second say the sampling rate) and the
// fixture's own count of its iterations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { intervalsAfter, linkedPrograms, skipWithoutBpf, startAgent, startFixture }
	from './lib.mjs';

const BUDGET = 2000;

const phaseLinks = (pid) => linkedPrograms(pid).filter((n) => n === 'uvs_phase_boundary').length;

const clockTick = Number(execFileSync('getconf', ['CLK_TCK']).toString());

// The process's CPU time so far (all its threads), in seconds.
function cpuSeconds(pid) {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return (Number(fields[11]) + Number(fields[12])) / clockTick; // utime, stime
}

// Stack samples per CPU-second of the target over the next n intervals of a watch --json agent.
async function samplesPerCpuSecond(agent, pid, n) {
	await intervalsAfter(agent, 1);
	const from = agent.json().filter((v) => v.type === 'interval').length;
	const cpu0 = cpuSeconds(pid);
	await intervalsAfter(agent, n);
	const cpu = cpuSeconds(pid) - cpu0;
	const samples = agent.json().filter((v) => v.type === 'interval').slice(from)
		.reduce((sum, v) => sum + v.agent.stack_samples, 0);
	return { samples, cpu, rate: samples / cpu };
}

const guardLine = (action, step) => (v) =>
	v && v.type === 'guard' && v.action === action && v.step === step;

// The steps the guard took and undid, in order: "down phases_off", ...
const steps = (lines) => lines.filter((v) => v.type === 'guard' &&
	(v.action === 'down' || v.action === 'up')).map((v) => `${v.action} ${v.step}`);

test('overhead guard: a fast-spinning loop turns exact phases off; they come back when it '
	+ 'stops, without flapping', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('spin.js');
	// Both epoll hooks per wait, which the guard cannot take out (libuv's metrics stand in for
	// the return hook alone): exact phases are the one step, as on Node 18 (the wait hooks'
	// own step: guard_hooks.test.mjs).
	const { agent, hello } = await startAgent(child.pid,
		['--phases', '--interval', '100ms', '--max-probe-rate', String(BUDGET)],
		{ UVSCOPE_EPOLL_ENTRY_HOOKS: '1' });
	let stopped;
	try {
		assert.equal(hello.mode, 'exact-phases', JSON.stringify(hello.unavailable));
		assert.equal(hello.guard_budget, BUDGET);
		// Idle: everything as asked, the phase program attached. (The idle loop waits up to
		// 1 s in epoll: it is seen once that wait returns.)
		const idle = await agent.waitFor((v) => v && v.type === 'interval' &&
			v.loops.some((l) => l.role === 'main' && l.phases), 'an interval with phases');
		assert.equal(idle.guard.level, 0);
		assert.equal(idle.guard.phases, 'exact');
		assert.ok(phaseLinks(agent.pid) > 0, 'the phase uprobes are attached');
		const before = agent.json().filter((v) => v.type === 'interval').length;

		child.send('spin');
		await child.waitFor((v) => v && v.spinning, 'fixture spinning');
		const down = await agent.waitFor(guardLine('down', 'phases_off'),
			'the step down that takes exact phases off');
		assert.ok(down.rate > BUDGET, JSON.stringify(down));
		assert.equal(down.windows, 3);
		assert.equal(down.level, 1);
		assert.equal(down.phases, 'off');
		// Nothing stepped before the fixture spun.
		assert.ok(agent.json().filter((v) => v.type === 'interval').slice(0, before)
			.every((v) => v.guard.level === 0));
		// The kernel agrees: the agent holds no link to the phase program any more.
		assert.equal(phaseLinks(agent.pid), 0, 'phase uprobes still attached after the step');
		// The epoll hooks alone keep it over the budget at this speed; sampling would give
		// back next to nothing (a few samples a second), so it stays, and that is said.
		const exhausted = await agent.waitFor((v) => v && v.type === 'guard' &&
			v.action === 'exhausted', 'over the budget with every worthwhile step taken');
		assert.equal(exhausted.sample_hz, 99);
		assert.equal(exhausted.level, 1);
		// What stays is said by source: a spinning loop with no pool work is its epoll hooks.
		const src = exhausted.rate_by_source;
		assert.equal(src.loop + src.pool + src.gc + src.samples, exhausted.rate, JSON.stringify(src));
		assert.ok(src.loop > src.pool + src.gc + src.samples, JSON.stringify(src));

		child.send('stop');
		stopped = await child.waitFor((v) => v && v.stopped, 'fixture stopped');
		const up = await agent.waitFor(guardLine('up', 'phases_off'), 'exact phases back on');
		assert.ok(up.predicted < BUDGET / 2, JSON.stringify(up));
		assert.equal(up.level, 0);
		assert.ok(phaseLinks(agent.pid) > 0, 'the phase uprobes are back');
		// The first full interval after they came back has exact phases again.
		await intervalsAfter(agent, 2);
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
	}
	const lines = agent.json();
	const downIdx = lines.findIndex(guardLine('down', 'phases_off'));
	const upIdx = lines.findIndex(guardLine('up', 'phases_off'));
	const intervals = (from, to) => lines.slice(from, to).filter((v) => v.type === 'interval');
	// Between the two steps, and in the interval right after the step up (it began with the
	// probes out), no interval reports exact phases, and each says why.
	const off = intervals(downIdx, upIdx);
	assert.ok(off.length >= 10);
	for (const v of [...off, intervals(upIdx).at(0)]) {
		assert.equal(v.guard.phases, 'off');
		for (const l of v.loops) assert.equal(l.phases, null, JSON.stringify(l));
	}
	for (const v of intervals(upIdx).slice(1)) {
		assert.equal(v.guard.phases, 'exact');
		assert.notEqual(v.loops.find((l) => l.role === 'main').phases, null);
	}
	// Each interval's rate is its probe hits and samples (20 hits each) per second.
	for (const v of intervals(0))
		assert.ok(Math.abs(v.guard.rate - (v.agent.probe_hits + 20 * v.agent.stack_samples) *
			1e9 / v.window_ns) <= 1, JSON.stringify({ guard: v.guard, agent: v.agent }));
	// No flapping: one step down while it spun, one up after, nothing else.
	assert.deepEqual(steps(lines), ['down phases_off', 'up phases_off']);
	const summary = lines.find((v) => v.type === 'summary');
	assert.equal(summary.guard.steps_down, 1);
	assert.equal(summary.guard.steps_up, 1);
	assert.ok(summary.guard.phases_off_ns > 0 && summary.guard.phases_off_ns < summary.window_ns);
	assert.equal(summary.guard.level, 0);
	// The loop was counted through all of it: every iteration the fixture made, plus its idle
	// ones (a 1 s timer).
	const main = summary.loops.find((l) => l.role === 'main');
	assert.ok(main.iterations >= stopped.iterations, `${main.iterations} < ${stopped.iterations}`);
	assert.ok(main.iterations - stopped.iterations < 100,
		`${main.iterations} - ${stopped.iterations} idle iterations`);
	// Probe hits per iteration while it spun: the epoll call-site hits (one or two per wait, as
	// the attach line says; none while the phase uprobes are in where they read the waits,
	// wait_in_phases), plus the seven phase boundaries while they were in (and a few GC hits).
	const mainIterations = (v) => v.loops.find((l) => l.role === 'main')?.iterations ?? 0;
	const perIteration = (list) => list.reduce((s, v) => s + v.agent.probe_hits, 0) /
		list.reduce((s, v) => s + mainIterations(v), 0);
	const spinning = (v) => mainIterations(v) > 1000;
	const withPhases = intervals(0, downIdx).filter(spinning);
	const without = off.slice(1).filter(spinning);
	assert.ok(withPhases.length >= 1 && without.length >= 1);
	const hooks = hello.epoll_hooks_per_wait;
	assert.ok(hooks === 1 || hooks === 2, `epoll_hooks_per_wait ${hooks}`);
	const hooksWithPhases = hello.wait_in_phases ? 0 : hooks;
	assert.ok(perIteration(withPhases) > hooksWithPhases + 6,
		`with phases: ${perIteration(withPhases)}`);
	assert.ok(perIteration(without) >= hooks && perIteration(without) < hooks + 0.1,
		`without phases: ${perIteration(without)} (${hooks} hooks per wait)`);
});

test('overhead guard: a long block, sampled at the blocked rate, lowers sampling; it comes '
	+ 'back after', async (t) => {
	if (skipWithoutBpf(t)) return;
	const budget = 3000; // 997 Hz of samples is about 20000 hits/s; 99 Hz about 2000
	const { child } = await startFixture('spin.js');
	const { agent } = await startAgent(child.pid,
		['--interval', '200ms', '--max-probe-rate', String(budget)]);
	try {
		await agent.waitFor((v) => v && v.type === 'interval' && v.loops.length, 'a loop');
		child.send('block 5000');
		await child.waitFor((v) => v && v.blocking, 'fixture blocking');
		await agent.waitFor((v) => v && v.type === 'alert' && v.ongoing, 'blocked');
		const from = agent.json().length;
		const cpu0 = cpuSeconds(child.pid);
		const down = await agent.waitFor(guardLine('down', 'sampling_low'),
			'the step down that lowers sampling');
		const cpu1 = cpuSeconds(child.pid);
		assert.equal(down.sample_hz, 9);
		assert.equal(down.blocked_hz, 99);
		assert.equal(down.phases, null, 'exact phases were not asked for');
		const boosted = agent.json().slice(from).filter((v) => v.type === 'interval')
			.reduce((s, v) => s + v.agent.stack_samples, 0) / (cpu1 - cpu0);
		const low = await samplesPerCpuSecond(agent, child.pid, 5);
		// 997 Hz and 99 Hz of the blocked thread's CPU time (cpu-clock periods).
		assert.ok(low.rate < boosted / 3, `sampling not lowered: ${boosted} then ${low.rate}`);
		await child.waitFor((v) => v && v.unblocked, 'fixture unblocked');
		const up = await agent.waitFor(guardLine('up', 'sampling_low'), 'sampling back up');
		assert.equal(up.sample_hz, 99);
		assert.equal(up.blocked_hz, 997);
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
	}
	assert.deepEqual(steps(agent.json()), ['down sampling_low', 'up sampling_low']);
	const summary = agent.json().find((v) => v.type === 'summary');
	assert.ok(summary.guard.sampling_low_ns > 0);
	assert.equal(summary.guard.phases_off_ns, 0);
});

// Putting the phase uprobes back needs CAP_BPF and CAP_PERFMON after privileges are dropped
// (and the probed file held open: /proc/PID/map_files would need CAP_SYS_ADMIN): without
// sampling, which keeps them anyway, they stay for the guard; with --no-guard they go.
test('overhead guard: the phase uprobes come back with privileges dropped (--no-stacks)',
	async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('spin.js');
	const caps = (pid) => readFileSync(`/proc/${pid}/status`, 'utf8').match(/^CapEff:\s+(\S+)$/m)[1];
	const { agent } = await startAgent(child.pid, ['--phases', '--no-stacks', '--interval',
		'100ms', '--max-probe-rate', String(BUDGET)]);
	try {
		// CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19), CAP_PERFMON (38), CAP_BPF (39)
		assert.equal(caps(agent.pid), '000000c000080004');
		child.send('spin');
		await agent.waitFor(guardLine('down', 'phases_off'), 'phases off');
		assert.equal(phaseLinks(agent.pid), 0);
		child.send('stop');
		await agent.waitFor(guardLine('up', 'phases_off'), 'phases back on');
		assert.ok(phaseLinks(agent.pid) > 0, 'the phase uprobes are back');
		assert.ok(!agent.json().some((v) => v.type === 'guard' && v.action === 'failed'));
		await agent.stop('SIGINT');
		const { agent: unguarded } = await startAgent(child.pid, ['--phases', '--no-stacks',
			'--no-guard']);
		try {
			assert.equal(caps(unguarded.pid), '0000000000080004');
		} finally {
			await unguarded.stop('SIGINT');
		}
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
	}
});

test('overhead guard: --no-guard keeps exact phases on under the same load', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('spin.js');
	const { agent, hello } = await startAgent(child.pid,
		['--phases', '--interval', '100ms', '--no-guard']);
	try {
		assert.equal(hello.guard_budget, null);
		child.send('spin');
		await child.waitFor((v) => v && v.spinning, 'fixture spinning');
		// Ten intervals of spinning, far over any budget, well past the 3 a step takes.
		const from = agent.json().length;
		await intervalsAfter(agent, 10);
		const spun = agent.json().slice(from).filter((v) => v.type === 'interval');
		for (const v of spun) {
			assert.equal(v.guard, null);
			assert.notEqual(v.loops.find((l) => l.role === 'main').phases, null);
		}
		assert.ok(spun.some((v) => v.agent.probe_hits > 10 * BUDGET), 'the fixture spins');
		assert.ok(phaseLinks(agent.pid) > 0);
		assert.ok(!agent.json().some((v) => v.type === 'guard'));
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
	}
});

// The pool's step (tests/fixtures/node/pool_flood.js on a pool of 2 threads): a flood of fs.stat
// calls past the budget takes the pool's probes out (the kernel's list of the agent's links
// says so); the windows then have the pool's size and queue from libuv's statics, checked
// against a pool the fixture holds saturated (every thread in a read of an empty FIFO, 5 calls
// queued behind), and no per-job figure. Once the flood has stopped the probes come back while
// the pool is still held: the 7 jobs in flight are left out and counted as such, and the
// queue stays the statics' until the pool is seen idle. After the release, a known number of
// calls is counted exactly.
const poolLinks = (pid) => linkedPrograms(pid).filter((n) => /^uvs_pool/.test(n)).length;

test('overhead guard: a pool flood takes the pool\'s probes out, its queue then from libuv\'s '
	+ 'statics; back when it stops, jobs counted exactly again', async (t) => {
	if (skipWithoutBpf(t)) return;
	const POOL = 2, QUEUED = 5, COUNT = 37;
	const { child } = await startFixture('pool_flood.js', [],
		{ UV_THREADPOOL_SIZE: String(POOL), QUEUED: String(QUEUED) });
	const { agent, hello } = await startAgent(child.pid,
		['--interval', '100ms', '--max-probe-rate', String(BUDGET)]);
	const mark = () => agent.json().length;
	let heldIdx, releaseIdx, countIdx, counted;
	try {
		if (hello.pool.plan !== '2-probe') {
			t.skip(`the pool step needs the 2-probe plan: ${hello.pool.plan_why}`);
			return;
		}
		const first = await agent.waitFor((v) => v && v.type === 'interval', 'an interval');
		assert.equal(first.guard.pool, 'probes');
		assert.ok(poolLinks(agent.pid) > 0, 'the pool uprobes are attached');

		child.send('flood');
		await child.waitFor((v) => v && v.flooding, 'fixture flooding');
		const down = await agent.waitFor(guardLine('down', 'pool_jobs_off'), 'the pool step');
		assert.ok(down.rate > BUDGET, JSON.stringify(down));
		assert.equal(down.pool, 'statics');
		assert.ok(down.rate_by_source.pool * 10 >= down.rate, JSON.stringify(down));
		assert.equal(poolLinks(agent.pid), 0, 'pool uprobes still attached after the step');

		child.send('hold');
		const held = await child.waitFor((v) => v && v.held, 'the pool held');
		assert.deepEqual([held.held, held.queued], [POOL, QUEUED]);
		heldIdx = mark();
		// The probes come back once the flood has stopped, the pool still held.
		await agent.waitFor(guardLine('up', 'pool_jobs_off'), 'the pool probes back');
		assert.ok(poolLinks(agent.pid) > 0, 'the pool uprobes are back');
		await intervalsAfter(agent, 3);
		releaseIdx = mark();
		child.send('release');
		await child.waitFor((v) => v && v.released, 'the pool released');
		await intervalsAfter(agent, 2);
		countIdx = mark();
		child.send(`count ${COUNT}`);
		counted = await child.waitFor((v) => v && v.counted, 'calls counted');
		await intervalsAfter(agent, 2);
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
	}
	const lines = agent.json();
	const downIdx = lines.findIndex(guardLine('down', 'pool_jobs_off'));
	const upIdx = lines.findIndex(guardLine('up', 'pool_jobs_off'));
	const intervals = (from, to) => lines.slice(from, to).filter((v) => v.type === 'interval');
	const statics = intervals(downIdx, upIdx);
	assert.ok(statics.length >= 3, `${statics.length} intervals with the probes out`);
	// With the probes out (and the interval after they came back, which began without them):
	// the pool's size from the statics, and no per-job figure.
	for (const v of [...statics, intervals(upIdx).at(0)]) {
		const p = v.threadpool;
		assert.equal(v.guard.pool, 'statics');
		assert.equal(p.size, POOL, JSON.stringify(p));
		for (const f of ['submitted', 'completed', 'sync_fs_on_loop', 'kinds'])
			assert.equal(p[f], null, `${f}: ${JSON.stringify(p)}`);
	}
	// The held pool, from the statics: with the probes out, and while they settle after.
	const heldIntervals = intervals(heldIdx, releaseIdx);
	const whileOut = heldIntervals.filter((v) => v.guard.pool === 'statics');
	const settling = intervals(upIdx, releaseIdx).slice(1);
	assert.ok(whileOut.length >= 1, 'an interval of the held pool with the probes out');
	assert.ok(settling.length >= 2, 'intervals of the held pool with the probes back');
	for (const v of heldIntervals) {
		const p = v.threadpool;
		assert.deepEqual([p.size, p.running, p.queued], [POOL, POOL, QUEUED], JSON.stringify(p));
	}
	// Whole intervals of it: at most QUEUED waiting, waiting all along.
	for (const v of heldIntervals.slice(1)) {
		assert.equal(v.threadpool.queued_max, QUEUED, JSON.stringify(v.threadpool));
		assert.equal(v.threadpool.saturation, 1, JSON.stringify(v.threadpool));
	}
	// Back in: the jobs in flight then (2 reads, 5 stats) are counted as left out, and none of
	// them is counted as a job when it ends (after the release).
	assert.equal(intervals(0).reduce((s, v) => s + v.agent.pool_jobs_unseen, 0), POOL + QUEUED);
	assert.equal(intervals(upIdx).at(0).agent.pool_jobs_unseen, POOL + QUEUED);
	for (const v of settling) assert.equal(v.guard.pool, 'probes');
	const jobs = (list, k) => list.reduce((s, v) => s + v.threadpool.kinds.fs[k], 0);
	const after = intervals(upIdx).slice(1);
	assert.equal(jobs(intervals(upIdx, countIdx).slice(1), 'completed'), 0,
		'a job submitted while the probes were out was counted');
	// Released and settled: the count is exact, and the queue the probes' again (empty).
	assert.equal(counted.counted, COUNT);
	assert.equal(jobs(intervals(countIdx), 'submitted'), COUNT);
	assert.equal(jobs(intervals(countIdx), 'completed'), COUNT);
	assert.equal(intervals(countIdx).reduce((s, v) => s + (v.threadpool.kinds.fs.ops.stat || 0), 0),
		COUNT);
	for (const v of intervals(countIdx))
		assert.deepEqual([v.threadpool.queued, v.threadpool.running], [0, 0]);
	assert.equal(after.at(-1).threadpool.size, POOL);
	// Only the pool's step came and went (sampling may have too, as a loop spun).
	assert.deepEqual(steps(lines).filter((s) => s.endsWith('pool_jobs_off')),
		['down pool_jobs_off', 'up pool_jobs_off']);
	const summary = lines.find((v) => v.type === 'summary');
	assert.ok(summary.guard.pool_off_ns > 0 && summary.guard.pool_off_ns < summary.window_ns);
	assert.equal(summary.guard.pool, 'probes');
	assert.equal(summary.agent.pool_jobs_unseen, POOL + QUEUED);
});

// The 4-probe plan would count the jobs in flight as the probes came back as sync fs calls:
// the guard leaves its probes alone, and says it cannot step them.
test('overhead guard: the 4-probe plan\'s pool probes are not stepped', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('pool_flood.js', [], { UV_THREADPOOL_SIZE: '2' });
	const { agent, hello } = await startAgent(child.pid,
		['--interval', '100ms', '--max-probe-rate', String(BUDGET)],
		{ UVSCOPE_NO_UPROBE_SESSION: '1' });
	try {
		assert.equal(hello.pool.plan, '4-probe');
		const first = await agent.waitFor((v) => v && v.type === 'interval', 'an interval');
		assert.equal(first.guard.pool, null);
		child.send('flood');
		await child.waitFor((v) => v && v.flooding, 'fixture flooding');
		const exhausted = await agent.waitFor((v) => v && v.type === 'guard' &&
			v.action === 'exhausted', 'over the budget with no step for the pool');
		assert.ok(exhausted.rate_by_source.pool * 2 > exhausted.rate, JSON.stringify(exhausted));
		assert.ok(poolLinks(agent.pid) > 0);
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
	}
	assert.ok(!agent.json().some(guardLine('down', 'pool_jobs_off')));
});
