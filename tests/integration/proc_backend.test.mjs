// The proc backend (no BPF), run as `kubectl debug --profile=general` would run it: root, but
// with only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH in the bounding set. Every figure is checked
// against ground truth the fixtures make: Node's own eventLoopUtilization, a chain of
// setImmediate (one per loop iteration), blocks the fixtures time themselves, /proc/PID/fd,
// ss, and a pool burst of known shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { Child, eluWindow, fetchNodeOrSkip, fixtures, nodeBin, nodeVersions, startFixture, until,
	uvscope } from './lib.mjs';

const MS = 1e6;
// What a debug container grants: no CAP_BPF, CAP_PERFMON or CAP_SYS_ADMIN, even for root.
const RESTRICTED = ['--bounding-set', '-all,+sys_ptrace,+dac_read_search', '--inh-caps=-all'];

function skipUnlessRoot(t) {
	if (process.getuid() === 0)
		return false;
	t.skip('not root: the bounding set is narrowed from root\'s');
	return true;
}

// uvscope watch --json under the narrowed bounding set, attached.
async function startRestricted(pid, extra = [], env = {}) {
	const agent = new Child('setpriv', [...RESTRICTED, uvscope, 'watch', '-p', String(pid),
		'--json', ...extra], { env: { ...process.env, ...env } });
	const hello = await agent.waitFor((v) => v && v.type === 'attach', 'uvscope attach');
	return { agent, hello };
}

// A fixture on another node build (bin), waiting for its ready line.
async function startOn(bin, name, env = {}) {
	const child = new Child(bin, [path.join(fixtures, name)], { env: { ...process.env, ...env } });
	const ready = await child.waitFor((v) => v && v.ready, `${name} ready`);
	return { child, ready };
}

const intervalsOf = (agent) => agent.json().filter((v) => v.type === 'interval');
const mainOf = (iv, pid) => iv.loops.find((l) => l.tid === pid);

// Blocked loops' stacks without BPF: the fixtures know which JS function blocks; the alerts
// (ongoing, and final) must name it, as with BPF (stacks.test.mjs).
const namesFn = (stacks, fn) => stacks.some((s) => s.frames.some((f) => f.startsWith(`${fn} `)));

function assertNamed(alert, fn, offCpu = false) {
	assert.ok(Array.isArray(alert.stacks) && alert.stacks.length > 0, JSON.stringify(alert));
	const named = alert.stacks.filter((s) => namesFn([s], fn));
	assert.ok(named.length > 0, `${fn} in ${JSON.stringify(alert.stacks)}`);
	if (offCpu)
		assert.ok(named.some((s) => s.off_cpu > 0), `${fn} asleep: ${JSON.stringify(named)}`);
}

test('restricted to CAP_SYS_PTRACE: bpf is refused, auto says so and measures with proc',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		const { child } = await startFixture('elu.js');
		try {
			const bpf = new Child('setpriv', [...RESTRICTED, uvscope, 'watch', '-p',
				String(child.pid), '--json', '--backend', 'bpf', '-d', '1s']);
			const { code } = await bpf.exitPromise;
			assert.equal(code, 1, 'the bpf backend cannot attach');
			assert.match(bpf.errLines.join('\n'), /permission denied/);
			for (const backend of ['auto', 'proc']) {
				const { agent, hello } = await startRestricted(child.pid,
					['--backend', backend, '-d', '1s']);
				await agent.exitPromise;
				t.diagnostic(`${backend}: ${agent.errLines.join(' | ')}`);
				assert.equal(hello.collector, 'proc');
				assert.equal(hello.mode, 'libuv-metrics');
				assert.ok(hello.figures.exact.includes('loop busy, idle and utilization'));
				assert.ok(hello.figures.exact.includes('loop iterations'));
				assert.ok(hello.figures.unavailable.includes('loop phases'));
				assert.equal(agent.exited.code, 0);
				if (backend === 'auto')
					assert.match(agent.errLines.join('\n'), /BPF is not allowed here.*proc backend/);
				const iv = intervalsOf(agent).at(-1);
				const main = mainOf(iv, child.pid);
				// What this backend cannot measure is null, never 0.
				assert.equal(main.busy_p99_ns, null);
				assert.equal(main.phases, null);
				assert.equal(iv.sockets.tcp.connects, null);
				assert.equal(iv.threadpool.kinds, null);
			}
		} finally {
			await child.stop();
		}
	});

test('the process\'s own user, with no capability at all: the proc backend measures it',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
		const child = new Child('setpriv', [...nobody, nodeBin, path.join(fixtures, 'elu.js')]);
		const ready = await child.waitFor((v) => v && v.ready, 'elu.js ready');
		try {
			const agent = new Child('setpriv', [...nobody, '--inh-caps=-all', '--bounding-set=-all',
				uvscope, 'watch', '-p', String(ready.pid), '--json', '-i', '200ms', '-d', '1s']);
			const { code } = await agent.exitPromise;
			assert.equal(code, 0, agent.errLines.join('\n'));
			const hello = agent.json().find((v) => v.type === 'attach');
			assert.equal(hello.collector, 'proc');
			const iv = intervalsOf(agent).at(-1);
			const main = mainOf(iv, ready.pid);
			t.diagnostic(`utilization ${main.utilization}, iterations ${main.iterations}`);
			assert.ok(main.iterations > 0 && main.utilization > 0.1);
			assert.ok(iv.fds.open > 0);
		} finally {
			await child.stop();
		}
	});

// Utilization over whole intervals against the fixture's ELU over the same span.
async function eluAgainstNode(t, child, version) {
	const { agent } = await startRestricted(child.pid, ['--interval', '500ms']);
	try {
		const { ours, elu } = await eluWindow(child, agent);
		t.diagnostic(`node ${version}: uvscope ${ours.toFixed(4)}, node ${elu.toFixed(4)}`);
		assert.ok(Math.abs(ours - elu) <= 0.02,
			`uvscope ${ours.toFixed(3)} vs node ${elu.toFixed(3)} (node ${version})`);
	} finally {
		await agent.stop();
	}
}

test('utilization equals Node\'s own eventLoopUtilization within 0.02', async (t) => {
	if (skipUnlessRoot(t)) return;
	for (const [period, work] of [[20, 6], [10, 8]]) {
		const { child } = await startFixture('elu.js', [],
			{ PERIOD_MS: String(period), WORK_MS: String(work) });
		try {
			await eluAgainstNode(t, child, `${process.version} ${work}/${period} ms`);
		} finally {
			await child.stop();
		}
	}
});

for (const v of nodeVersions('18 22 24')) {
	test(`node ${v}: utilization equals Node's ELU; iterations ${v === '18' ? 'unavailable' :
		'counted'}`, async (t) => {
		if (skipUnlessRoot(t)) return;
		const bin = fetchNodeOrSkip(t, v);
		if (!bin) return;
		const { child } = await startOn(bin, 'elu.js');
		try {
			await eluAgainstNode(t, child, v);
		} finally {
			await child.stop();
		}
		if (v === '18') {
			const { child: c } = await startOn(bin, 'elu.js');
			try {
				const { agent, hello } = await startRestricted(c.pid, ['-i', '200ms', '-d', '1s']);
				await agent.exitPromise;
				assert.ok(hello.figures.unavailable.includes('loop iterations'));
				assert.ok(intervalsOf(agent).every((iv) => mainOf(iv, c.pid).iterations === null));
			} finally {
				await c.stop();
			}
		} else {
			await iterationsAgainstChain(t, bin, v);
		}
	});

	test(`node ${v}: blocked episodes timed and named: on-CPU spin, JSON work, off-CPU ` +
		'Atomics.wait, a Worker', async (t) => {
		if (skipUnlessRoot(t)) return;
		const bin = fetchNodeOrSkip(t, v);
		if (!bin) return;
		for (const [mode, count] of [['spin', 2], ['json', 1], ['atomics', 1], ['worker', 1]])
			await blocksAgainstFixture(t, mode, count, bin, v);
	});

	test(`node ${v}: a blocking Worker among two, and the pool's saturated queue`, async (t) => {
		if (skipUnlessRoot(t)) return;
		const bin = fetchNodeOrSkip(t, v);
		if (!bin) return;
		await blockingWorker(t, bin, v);
		await poolBurst(t, bin, v);
	});
}

// A chain of N immediates is N loop iterations in a row; the rest of the session the loop
// sleeps, but for the few iterations that read the "go" line and write the "done" one.
async function iterationsAgainstChain(t, bin, version, N = 20000) {
	const { child } = await startOn(bin, 'immediates.js');
	const { agent } = await startRestricted(child.pid, ['--interval', '200ms']);
	try {
		await agent.waitFor(() => intervalsOf(agent).length >= 1, 'first interval');
		const before = intervalsOf(agent).length;
		child.send(`go ${N}`);
		await child.waitFor((v) => v && v.done, 'the chain ran');
		const n = intervalsOf(agent).length;
		await agent.waitFor(() => intervalsOf(agent).length >= n + 2, 'two more intervals');
		const ours = intervalsOf(agent).slice(before)
			.reduce((a, iv) => a + mainOf(iv, child.pid).iterations, 0);
		t.diagnostic(`node ${version}: ${N} immediates, uvscope ${ours} iterations`);
		assert.ok(ours >= N && ours <= N + 10, `${ours} iterations for a chain of ${N}`);
	} finally {
		await agent.stop();
		await child.stop();
	}
}

// A loop that spins through setImmediate callbacks half of every 10 ms counts an iteration every
// few microseconds, as often as a read of its metrics takes: the reads must still agree (on the
// wait, not on the count), or a whole interval goes without a reading (a CI run of the BPF
// backend's metrics mode showed such an interval as zero iterations, zero busy, zero idle).
// Every interval covers its time, and the iterations are the fixture's callbacks.
test('a loop that spins half the time: every interval read, its iterations the callbacks',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		const { child } = await startFixture('spin_duty.js');
		const { agent } = await startRestricted(child.pid, ['--interval', '100ms']);
		try {
			child.send('spin 50');
			await child.waitFor((v) => v && v.spinning, 'fixture spinning');
			const { ivs, mains, marks } = await eluWindow(child, agent, 20);
			ivs.forEach((iv, i) => assert.ok(mains[i].iterations > 0 &&
				mains[i].busy_ns + mains[i].idle_ns >= iv.window_ns / 2,
				`an interval without its reading: ${JSON.stringify(mains[i])}`));
			const ours = mains.reduce((a, m) => a + m.iterations, 0);
			const ticks = marks[1].ticks - marks[0].ticks;
			t.diagnostic(`${ours} iterations, ${ticks} callbacks`);
			// The marks and the intervals are a few ms apart: a few hundred callbacks either way.
			assert.ok(Math.abs(ours - ticks) <= 0.05 * ticks, `${ours} iterations, ${ticks} callbacks`);
		} finally {
			await agent.stop();
			await child.stop();
		}
	});

test('iterations equal libuv\'s loop count (a chain of setImmediate)', async (t) => {
	if (skipUnlessRoot(t)) return;
	await iterationsAgainstChain(t, nodeBin, process.version);
});

// A loop asleep since before uvscope looked (a server with no request yet), then woken often
// for a little work, as a quiet server is by its requests: each wait's end adds all its idle
// time at once, the first one more than the time between two readings, and the loop is never
// busy long enough to make up for it. Such readings must still be taken (an Express app once
// showed 0 iterations and 0% for as long as it was watched). Ground truth: every read of
// stdin the fixture makes is at least one iteration.
test('a loop idle since before the attach, then woken often: its iterations counted', async (t) => {
	if (skipUnlessRoot(t)) return;
	const { child } = await startOn(nodeBin, 'immediates.js');
	const { agent } = await startRestricted(child.pid, ['--interval', '200ms']);
	let poke;
	try {
		await agent.waitFor(() => intervalsOf(agent).length >= 2, 'two intervals asleep');
		const before = intervalsOf(agent).length;
		poke = setInterval(() => child.send('poke'), 10);
		await agent.waitFor(() => intervalsOf(agent).length >= before + 5, 'five intervals woken');
		clearInterval(poke);
		child.send('count');
		const reads = (await child.waitFor((v) => v && v.reads !== undefined, 'count')).reads;
		const n = intervalsOf(agent).length;
		await agent.waitFor(() => intervalsOf(agent).length >= n + 2, 'two more intervals');
		const its = intervalsOf(agent).slice(before).map((iv) => mainOf(iv, child.pid).iterations);
		const ours = its.reduce((a, b) => a + b, 0);
		t.diagnostic(`${reads} reads of stdin, uvscope ${ours} iterations (${its.join(' ')})`);
		assert.ok(ours >= reads, `${ours} iterations for ${reads} reads`);
		assert.ok(its.slice(0, 4).every((x) => x > 0), `a window while woken shows 0: ${its}`);
	} finally {
		clearInterval(poke);
		await agent.stop();
		await child.stop();
	}
});

// block.js's function for each of its modes, and whether that one blocks off the CPU. execSync's
// is found above the grab's copy of the stack (read while the thread still sleeps where it was
// grabbed: collect/stack_beyond.h).
const BLOCKER = { spin: ['blockSpin', false], json: ['blockJson', false],
	atomics: ['blockAtomics', true], execsync: ['blockExecSync', true],
	worker: ['blockWorkerSpin', false] };

// The fixture's blocks (timed by itself) against the ended alerts, and an ongoing alert for
// each that came out while the loop was still blocked; both name the JS function that blocks.
// start(pid, args) starts the agent (startRestricted unless told); script is block.js's path.
async function blocksAgainstFixture(t, mode, count, bin = nodeBin, version = process.version,
	{ start = startRestricted, script = path.join(fixtures, 'block.js') } = {}) {
	const child = new Child(bin, [script], { env: { ...process.env, BLOCK_MS: '250',
		COUNT: String(count), MODE: mode } });
	const ready = await child.waitFor((v) => v && v.ready, 'block.js ready');
	const { agent } = await start(child.pid, ['--block-ms', '100']);
	const [fn, offCpu] = BLOCKER[mode];
	const tid = mode === 'worker' ? ready.worker_tid : child.pid;
	try {
		if (mode === 'worker') // its loop found (the first interval lists it) before it blocks
			await agent.waitFor((v) => v && v.type === 'interval' &&
				v.loops.some((l) => l.tid === tid), 'an interval with the Worker\'s loop');
		child.send('go');
		await child.waitFor((v) => v && v.done, 'fixture done');
		const alerts = () => agent.json().filter((v) => v.type === 'alert');
		const ended = () => alerts().filter((v) => !v.ongoing);
		await agent.waitFor(() => ended().length >= count, `${count} ended alerts`);
		const blocks = child.json().filter((v) => v.block);
		assert.equal(ended().length, count);
		for (const [i, b] of blocks.entries()) {
			const end = ended()[i];
			const truth = b.end_ns - b.start_ns;
			t.diagnostic(`node ${version} ${mode} ${i + 1}: fixture ${(truth / MS).toFixed(1)} ms, ` +
				`uvscope ${(end.blocked_ns / MS).toFixed(1)} ms`);
			assert.equal(end.tid, tid);
			assert.equal(end.role, mode === 'worker' ? 'worker' : 'main');
			assert.ok(Math.abs(end.blocked_ns - truth) <= 0.1 * truth,
				`${mode} ${i + 1}: ${end.blocked_ns / MS} ms is not ${truth / MS} ms +- 10%`);
			const ongoing = alerts().find((a) => a.ongoing && a.ts_ns >= b.start_ns &&
				a.ts_ns <= end.ts_ns);
			assert.ok(ongoing, `${mode} ${i + 1}: no ongoing alert`);
			assert.ok(ongoing.ts_ns < b.end_ns, `${mode} ${i + 1}: alerted after the block ended`);
			if (fn) {
				assertNamed(ongoing, fn, offCpu);
				assertNamed(end, fn, offCpu);
			}
		}
		return { agent, pid: child.pid };
	} finally {
		await agent.stop();
		await child.stop();
	}
}

test('blocked loops, detected while blocked: on-CPU spin', async (t) => {
	if (skipUnlessRoot(t)) return;
	await blocksAgainstFixture(t, 'spin', 3);
});

test('blocked loops, detected while blocked: off-CPU Atomics.wait', async (t) => {
	if (skipUnlessRoot(t)) return;
	await blocksAgainstFixture(t, 'atomics', 2);
});

test('blocked loops, detected while blocked: execSync (a second loop on the main thread)',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		await blocksAgainstFixture(t, 'execsync', 1);
	});

test('blocked loops, detected while blocked: JSON work (V8\'s native JSON.parse, stringify)',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		await blocksAgainstFixture(t, 'json', 2);
	});

test('blocked loops, detected while blocked: a Worker\'s loop', async (t) => {
	if (skipUnlessRoot(t)) return;
	await blocksAgainstFixture(t, 'worker', 2);
});

// Two Workers, one blocking: its loop found from its epoll fd, its blocks named by its thread.
async function blockingWorker(t, bin = nodeBin, version = process.version) {
	const BLOCK = 300;
	const { child, ready } = await startOn(bin, 'workers.js', { BLOCK_MS: String(BLOCK) });
	const { agent } = await startRestricted(child.pid, ['--block-ms', '150']);
	try {
		child.send('go');
		const ended = () => agent.json().filter((v) => v.type === 'alert' && !v.ongoing);
		await agent.waitFor(() => ended().length >= 2, 'two ended alerts');
		for (const a of agent.json().filter((v) => v.type === 'alert')) {
			assert.equal(a.tid, ready.blocking_tid, 'the alert names the blocking worker');
			assert.equal(a.role, 'worker');
		}
		assertNamed(ended()[0], 'workerBlockingSpin');
		// The worker spins BLOCK ms by its own clock (and a little more to get there).
		for (const a of ended()) {
			t.diagnostic(`node ${version}: worker block: ${(a.blocked_ns / MS).toFixed(1)} ms`);
			assert.ok(a.blocked_ns >= BLOCK * MS * 0.97 && a.blocked_ns <= BLOCK * MS * 1.1,
				`${a.blocked_ns / MS} ms for a ${BLOCK} ms block`);
		}
		const iv = await agent.waitFor((v) => v && v.type === 'interval' &&
			v.loops.length >= 3, 'an interval with both workers');
		assert.equal(iv.loops.find((l) => l.tid === ready.calm_tid)?.role, 'worker');
		assert.equal(mainOf(iv, child.pid).blocks, 0);
	} finally {
		await agent.stop();
		await child.stop();
	}
}

test('a blocking Worker: its loop found from its epoll fd, its blocks named by its thread',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		await blockingWorker(t);
	});

// A Worker that never yields to its loop, since before attach: its loop cannot be found without
// a wait, so its thread's state is sampled after a few looks. One that takes tasks in
// Atomics.wait is placed by a read of its stack in that syscall; one that spins in JavaScript
// makes no syscall, and only a grab of its stack while it runs places it (a build without that
// grab never showed it).
for (const mode of ['atomics', 'spin']) test(`a Worker stuck since before attach (${mode}) is ` +
	'reported blocked', async (t) => {
		if (skipUnlessRoot(t)) return;
		const { child, ready } = await startOn(nodeBin, 'worker_stuck.js', { MODE: mode });
		const { agent } = await startRestricted(child.pid, ['--block-ms', '100']);
		try {
			const a = await agent.waitFor((v) => v && v.type === 'alert' &&
				v.tid === ready.worker_tid, 'an alert on the stuck Worker');
			assert.equal(a.role, 'worker');
			assert.equal(a.ongoing, true);
			// The stacks the alert has (grabs of the blocked thread) name the function.
			const fn = mode === 'spin' ? 'workerSpinsForever' : 'workerTakesTasks';
			t.diagnostic(`${mode}: ${a.samples} samples in the alert`);
			if (a.samples > 0)
				assert.ok((a.stacks || []).some((st) => st.frames.some((f) =>
					f.startsWith(`${fn} `))), `${fn} in ${JSON.stringify(a.stacks)}`);
			const iv = await agent.waitFor((v) => v && v.type === 'interval' &&
				v.loops.some((l) => l.tid === ready.worker_tid && l.blocked_now),
			'an interval with the Worker blocked now');
			assert.equal(iv.loops.find((l) => l.tid === ready.worker_tid).role, 'worker');
			assert.equal(mainOf(iv, child.pid).blocks, 0);
		} finally {
			await agent.stop();
			await child.stop('SIGKILL');
		}
	});

test('flame with no --backend where BPF is not allowed: falls back to proc, names the function',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		const { child } = await startFixture('stacks.js');
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-flame-'));
		const out = path.join(dir, 'loop.folded');
		try {
			const flame = new Child('setpriv', [...RESTRICTED, uvscope, 'flame', '-p',
				String(child.pid), '-d', '2s', '--mode', 'loop', '-o', out]);
			const { code } = await flame.exitPromise;
			const err = flame.errLines.join('\n');
			assert.equal(code, 0, err);
			assert.match(err, /BPF is not allowed here .*: sampling with the proc backend/);
			// The fixture's steady work: stacksOuterCaller -> stacksHotLeaf every 20 ms.
			const folded = readFileSync(out, 'utf8');
			assert.ok(folded.split('\n').some((l) => /stacksOuterCaller [^;]*;stacksHotLeaf /.test(l)),
				folded.slice(0, 2000));
		} finally {
			rmSync(dir, { recursive: true, force: true });
			await child.stop();
		}
	});

test('a Worker that exits: its loop leaves the figures, nothing read from its freed memory',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		const { child, ready } = await startFixture('worker_exit.js');
		const { agent } = await startRestricted(child.pid, ['--interval', '200ms']);
		try {
			await agent.waitFor((v) => v && v.type === 'interval' &&
				v.loops.some((l) => l.tid === ready.worker_tid), 'the worker\'s loop');
			child.send('go');
			await child.waitFor((v) => v && v.exited, 'the worker exited');
			const n = intervalsOf(agent).length;
			await agent.waitFor(() => intervalsOf(agent).length >= n + 3, 'three more intervals');
			const later = intervalsOf(agent).slice(n + 1);
			assert.ok(later.every((iv) => !iv.loops.some((l) => l.tid === ready.worker_tid)),
				'the worker is gone from the intervals');
			for (const iv of intervalsOf(agent))
				for (const l of iv.loops)
					assert.ok(l.iterations < 1000 && l.busy_ns + l.idle_ns <= 1e9,
						`${l.role} ${l.tid}: ${l.iterations} iterations in 200 ms`);
			assert.equal(agent.json().filter((v) => v.type === 'alert').length, 0);
		} finally {
			await agent.stop();
			await child.stop();
		}
	});

test('fds equal /proc/PID/fd', async (t) => {
	if (skipUnlessRoot(t)) return;
	const { child } = await startFixture('fds.js');
	const { agent } = await startRestricted(child.pid, ['--interval', '200ms']);
	try {
		child.send('open');
		await child.waitFor((v) => v && v.opened, 'opened');
		const truth = readdirSync(`/proc/${child.pid}/fd`).length;
		const iv = await agent.waitFor((v) => v && v.type === 'interval' && v.fds &&
			v.fds.open === truth, `an interval with ${truth} fds`);
		t.diagnostic(`fds ${JSON.stringify(iv.fds.by_type)}, /proc ${truth}`);
		assert.equal(iv.fds.source, 'proc');
		assert.ok(iv.fds.by_type.socket >= 100 && iv.fds.by_type.file >= 300);
		assert.equal(readdirSync(`/proc/${child.pid}/fd`).length, truth, 'the fixture held still');
	} finally {
		await agent.stop();
		await child.stop();
	}
});

// ss's TCP states of one process.
function ssStates(pid) {
	const names = { ESTAB: 'ESTABLISHED', 'CLOSE-WAIT': 'CLOSE_WAIT', LISTEN: 'LISTEN' };
	const states = {};
	const text = execFileSync('ss', ['-tanpH'], { maxBuffer: 256 * 1024 * 1024 }).toString();
	for (const line of text.split('\n')) {
		if (!line.includes(`pid=${pid},`)) continue;
		const st = line.trim().split(/\s+/)[0];
		states[names[st] || st] = (states[names[st] || st] || 0) + 1;
	}
	return states;
}

test('sockets equal ss', async (t) => {
	if (skipUnlessRoot(t)) return;
	const N = 5, M = 3;
	const { child, ready } = await startFixture('sockets.js');
	const { agent } = await startRestricted(child.pid, ['--interval', '200ms']);
	const clients = [];
	try {
		for (let i = 0; i < N + M; i++) clients.push(net.connect(ready.main, '127.0.0.1'));
		await child.waitFor((v) => v && v.accepted === N + M, 'all accepted');
		for (const c of clients.slice(0, M)) c.end();
		await until(() => ssStates(child.pid).CLOSE_WAIT === M, `${M} in CLOSE_WAIT`);
		const ss = ssStates(child.pid);
		const iv = await agent.waitFor((v) => v && v.type === 'interval' && v.sockets &&
			v.sockets.tcp.states.CLOSE_WAIT === M, 'an interval with the CLOSE_WAITs');
		t.diagnostic(`uvscope ${JSON.stringify(iv.sockets.tcp.states)}; ss ${JSON.stringify(ss)}`);
		for (const [state, n] of Object.entries(iv.sockets.tcp.states))
			assert.equal(n, ss[state] || 0, `${state}: uvscope and ss`);
		assert.equal(iv.sockets.tcp.states.ESTABLISHED, N);
		// Retransmits from tcp_info deltas (none on an idle loopback); their peers need BPF.
		assert.equal(iv.sockets.tcp.retransmits, 0);
		assert.equal(iv.sockets.tcp.retransmit_peers, null);
		assert.equal(iv.sockets.tcp.connects, null);
	} finally {
		for (const c of clients) c.destroy();
		await agent.stop();
		await child.stop();
	}
});

// UV_THREADPOOL_SIZE=2 and 16 slow crypto jobs: size 2, 14 queued, 2 running.
async function poolBurst(t, bin = nodeBin, version = process.version) {
	const { child } = await startOn(bin, 'pool.js',
		{ BURST: '16', UV_THREADPOOL_SIZE: '2', STAT: '0', READ: '0', DNS: '0',
			PBKDF2: '0', GZIP: '0' });
	const { agent } = await startRestricted(child.pid, ['--interval', '200ms']);
	try {
		child.send('go');
		await child.waitFor((v) => v && v.done, 'the burst ran', 120000);
		const n = intervalsOf(agent).length;
		await agent.waitFor(() => intervalsOf(agent).length > n, 'one more interval');
		const pools = intervalsOf(agent).map((iv) => iv.threadpool);
		const maxQueued = Math.max(...pools.map((p) => p.queued_max));
		const queuing = pools.filter((p) => p.queued > 0);
		t.diagnostic(`node ${version}: queued (most) per interval: ${pools.map((p) =>
			`${p.queued} (${p.queued_max})`).join(' ')}; saturation ${pools.map((p) =>
			p.saturation.toFixed(2)).join(' ')}`);
		assert.ok(pools.every((p) => p.size === 2), 'pool size 2');
		// The burst's 14 waiting jobs, read at some tick before the first one ended.
		assert.equal(maxQueued, 14, '14 jobs queued behind the 2 threads');
		// Jobs waiting at the end of an interval: both threads were serving one then.
		assert.ok(queuing.length > 0, 'an interval ended with jobs queued');
		assert.ok(queuing.every((p) => p.running === 2), 'both threads running');
		assert.ok(pools.some((p) => p.saturation > 0.5), 'an interval mostly saturated');
		assert.equal(pools.at(-1).queued, 0);
		assert.equal(pools.at(-1).submitted, null, 'jobs are not counted without probes');
	} finally {
		await agent.stop();
		await child.stop();
	}
}

test('pool: UV_THREADPOOL_SIZE=2 and 16 slow crypto jobs: size 2, 14 queued, 2 running',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		await poolBurst(t);
	});

test('a stripped node: loop figures sampled from the thread\'s state, and said to be', async (t) => {
	if (skipUnlessRoot(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-proc-stripped-'));
	const stripped = path.join(dir, 'node');
	try {
		execFileSync('strip', ['-o', stripped, nodeBin]);
		const { child } = await startOn(stripped, 'block.js', { BLOCK_MS: '250', COUNT: '2' });
		const { agent, hello } = await startRestricted(child.pid, ['--block-ms', '100']);
		try {
			assert.equal(hello.mode, 'sampled');
			assert.ok(hello.figures.sampled.some((f) => f.startsWith('loop busy, idle')));
			assert.ok(hello.figures.unavailable.includes('loop iterations'));
			assert.ok(hello.unavailable.some((u) => /default_loop_struct/.test(u)));
			child.send('go');
			await child.waitFor((v) => v && v.done, 'fixture done');
			const ended = () => agent.json().filter((v) => v.type === 'alert' && !v.ongoing);
			await agent.waitFor(() => ended().length >= 2, 'two ended alerts');
			// A sample every tick at most (10 ms here): each end within a period or two.
			for (const [i, b] of child.json().filter((v) => v.block).entries()) {
				const truth = b.end_ns - b.start_ns;
				t.diagnostic(`sampled block ${i + 1}: fixture ${(truth / MS).toFixed(1)} ms, ` +
					`uvscope ${(ended()[i].blocked_ns / MS).toFixed(1)} ms`);
				assert.ok(Math.abs(ended()[i].blocked_ns - truth) <= 0.15 * truth);
			}
			const iv = intervalsOf(agent).at(-1);
			assert.equal(mainOf(iv, child.pid).iterations, null);
		} finally {
			await agent.stop();
			await child.stop();
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test('a target in another network namespace: its sockets from /proc/PID/net, as ss sees them there',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		// The fixture in a network namespace of its own, its loopback up: 50 connections to itself.
		const child = new Child('unshare', ['-n', 'sh', '-c',
			`ip link set lo up && exec ${nodeBin} ${path.join(fixtures, 'fds.js')}`]);
		const ready = await child.waitFor((v) => v && v.ready, 'fds.js ready');
		const { agent, hello } = await startRestricted(ready.pid, ['--interval', '200ms']);
		try {
			child.send('open');
			await child.waitFor((v) => v && v.opened, 'opened');
			// Entering the namespace needs CAP_SYS_ADMIN: the table comes from /proc/PID/net.
			assert.ok(hello.figures.exact.includes('socket table (from /proc/PID/net)'),
				JSON.stringify(hello.figures));
			const text = execFileSync('nsenter', ['-t', String(ready.pid), '-n', 'ss', '-tanpH'])
				.toString();
			const ss = {};
			for (const line of text.split('\n').filter((l) => l.includes(`pid=${ready.pid},`))) {
				const st = { ESTAB: 'ESTABLISHED', LISTEN: 'LISTEN' }[line.split(/\s+/)[0]];
				ss[st] = (ss[st] || 0) + 1;
			}
			const iv = await agent.waitFor((v) => v && v.type === 'interval' && v.sockets &&
				v.sockets.tcp.states.ESTABLISHED === ss.ESTABLISHED, 'the connections');
			t.diagnostic(`uvscope ${JSON.stringify(iv.sockets.tcp.states)}; ss ${JSON.stringify(ss)}`);
			assert.equal(iv.sockets.tcp.states.ESTABLISHED, 100);
			assert.equal(iv.sockets.tcp.states.LISTEN, ss.LISTEN);
			assert.equal(iv.sockets.tcp.accept_queue_limit, null, 'no backlog in /proc/PID/net');
			assert.equal(iv.sockets.tcp.retransmits, null, 'no tcp_info in /proc/PID/net');
		} finally {
			await agent.stop();
			await child.stop();
		}
	});

test('the target\'s binary not at its path (as from a debug container): read through /proc/PID/exe',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-proc-gone-'));
		const bin = path.join(dir, 'node');
		copyFileSync(nodeBin, bin);
		execFileSync('chmod', ['755', bin]);
		const { child } = await startOn(bin, 'elu.js');
		rmSync(dir, { recursive: true, force: true });
		try {
			const { agent, hello } = await startRestricted(child.pid, ['-i', '200ms', '-d', '1s']);
			await agent.exitPromise;
			assert.equal(hello.collector, 'proc');
			assert.equal(hello.mode, 'libuv-metrics');
			const main = mainOf(intervalsOf(agent).at(-1), child.pid);
			t.diagnostic(`utilization ${main.utilization}, iterations ${main.iterations}`);
			assert.ok(main.iterations > 0 && main.utilization > 0.1);
		} finally {
			await child.stop();
		}
	});

// As `kubectl debug --target` runs it: uvscope in a mount namespace of its own, where the path
// the target was started from does not exist (here: a tmpfs mounted over the target's directory,
// in uvscope's namespace only; the target still runs from it in its own). Its binary, libuv in
// it and its script are reached only through /proc/PID (root, exe, map_files): the loop's
// metrics found by their symbols, a block timed and the JS function that blocks named.
test('as kubectl debug --target runs it: its own mount namespace, the target\'s path not there',
	async (t) => {
		if (skipUnlessRoot(t)) return;
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-proc-mntns-'));
		try {
			const bin = path.join(dir, 'node');
			const script = path.join(dir, 'block.js');
			copyFileSync(nodeBin, bin);
			execFileSync('chmod', ['755', bin]);
			copyFileSync(path.join(fixtures, 'block.js'), script);
			let hello;
			// unshare -m: a private copy of our mounts; the tmpfs hides dir from uvscope alone.
			// The shell proves the path is gone there before it becomes uvscope.
			const start = async (pid, extra) => {
				const agent = new Child('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
					'mount -t tmpfs uvscope-test "$1" && test ! -e "$1/node" || exit 3; shift; ' +
					'exec "$@"', 'sh', dir, 'setpriv', ...RESTRICTED, uvscope, 'watch', '-p',
					String(pid), '--json', '--interval', '200ms', ...extra]);
				hello = await agent.waitFor((v) => v && v.type === 'attach', 'uvscope attach');
				return { agent, hello };
			};
			const { agent, pid } = await blocksAgainstFixture(t, 'spin', 1, bin, 'a copy',
				{ start, script });
			t.diagnostic(`attach: mode ${hello.mode}, exact ${hello.figures.exact.join(', ')}`);
			assert.ok(existsSync(bin), 'the target\'s binary is still there in our namespace');
			assert.equal(hello.collector, 'proc');
			assert.equal(hello.mode, 'libuv-metrics', 'the loop\'s metrics found by symbol');
			assert.ok(hello.figures.exact.includes('loop iterations'));
			const mains = intervalsOf(agent).map((iv) => mainOf(iv, pid));
			// Counted (none in a window inside the block: the loop was stuck there).
			assert.ok(mains.length > 0 && mains.every((m) => Number.isInteger(m.iterations)) &&
				mains.reduce((a, m) => a + m.iterations, 0) > 0,
				`iterations counted: ${mains.map((m) => m.iterations)}`);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

test('kill -9 of uvscope: the target never stopped, goes on answering', async (t) => {
	if (skipUnlessRoot(t)) return;
	const { child } = await startFixture('elu.js');
	try {
		const { agent } = await startRestricted(child.pid, ['--interval', '100ms']);
		await agent.waitFor((v) => v && v.type === 'interval', 'an interval');
		agent.proc.kill('SIGKILL');
		await agent.exitPromise;
		// Nothing of uvscope's was in the target: it runs, and answers at once.
		const state = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1][0];
		assert.ok('RS'.includes(state), `state ${state}`);
		child.send('mark');
		await child.waitFor((v) => v && 'elu' in v, 'the fixture answers');
	} finally {
		await child.stop();
	}
});
