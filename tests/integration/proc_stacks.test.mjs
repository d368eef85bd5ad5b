// Stacks without BPF (`flame --backend proc`), run as issue 12's users run it: root with only
// CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH in its bounding set. Both mechanisms: ptrace grabs of
// one thread at a time (UVSCOPE_PROC_STACKS=ptrace) and perf_event_open sampling (the default
// where perf_event_paranoid <= 2). Ground truth: the fixtures' own functions (names and start
// lines read from their source), a native program's known call chains, and the kernel's view of
// the target (/proc/PID/status) for the safety tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertChainsBelowIdle, Child, fixtures, jsFrame, nodeBin, readFolded, root, runUvscope, until,
	uvscope } from './lib.mjs';

const FIXTURE = path.join(fixtures, 'stacks.js');
const LIB = path.join(fixtures, 'stacks', 'lib.js');
const PRIVS = ['--bounding-set', '-all,+sys_ptrace,+dac_read_search'];

function skipUnlessRootWithSetpriv(t) {
	if (process.getuid() !== 0) {
		t.skip('needs root (to drop to CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH with setpriv)');
		return true;
	}
	try {
		execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
	} catch {
		t.skip('setpriv (util-linux) is not installed');
		return true;
	}
	return false;
}

function paranoid() {
	return Number(readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'));
}

// uvscope under the reduced bounding set, with env added to ours.
function procUvscope(args, env = {}) {
	return new Child('setpriv', [...PRIVS, uvscope, ...args], { env: { ...process.env, ...env } });
}

async function procFlame(pid, args, env = {}) {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-procflame-'));
	const out = path.join(dir, 'p.folded');
	try {
		const c = procUvscope(['flame', '--backend', 'proc', '-p', String(pid), '-o', out, ...args],
			env);
		c.proc.stdin.end();
		const { code, signal } = await c.exitPromise;
		const stderr = c.errLines.join('\n');
		assert.equal(code, 0, `uvscope exited ${code} (${signal}): ${stderr}`);
		return { lines: readFolded(out), stderr };
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

async function startStacks(env = {}) {
	const child = new Child(nodeBin, [FIXTURE], { env: { ...process.env, ...env } });
	await child.waitFor((v) => v && v.ready, 'stacks.js ready');
	return child;
}

function threadStatus(pid, tid) {
	try {
		return readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
	} catch {
		return '';
	}
}

const field = (status, name) => (status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm')) || [])[1];

// The spinning function dominates the loop's samples, right under its caller.
function checkHotLeaf(lines) {
	const total = lines.reduce((s, l) => s + l.count, 0);
	const leaf = jsFrame('stacksHotLeaf', FIXTURE);
	const caller = jsFrame('stacksOuterCaller', FIXTURE);
	const hot = lines.filter((l) => l.frames.some((f) => leaf.test(f)));
	const hotCount = hot.reduce((s, l) => s + l.count, 0);
	const top = JSON.stringify(lines.sort((a, b) => b.count - a.count).slice(0, 3));
	assert.ok(total >= 10, `enough loop samples: ${total}`);
	assert.ok(hotCount > total / 2, `stacksHotLeaf in ${hotCount} of ${total}; top: ${top}`);
	const chained = hot.filter((l) => {
		const i = l.frames.findIndex((f) => leaf.test(f));
		return i > 0 && caller.test(l.frames[i - 1]);
	}).reduce((s, l) => s + l.count, 0);
	assert.ok(chained > hotCount / 2, `stacksOuterCaller above stacksHotLeaf: ${chained}/${hotCount}`);
	assert.ok(lines.every((l) => /^main loop \d+/.test(l.frames[0])), 'rooted at the main loop');
	assert.ok(lines.some((l) => l.frames.some((f) => jsFrame('stacksLibSpin', LIB).test(f))),
		'stacksLibSpin (a second script) named');
}

test('ptrace grabs name a spinning JS function and its caller, and print the pause', async (t) => {
	if (skipUnlessRootWithSetpriv(t)) return;
	const child = await startStacks();
	try {
		const { lines, stderr } = await procFlame(child.pid, ['-d', '3s', '--mode', 'loop'],
			{ UVSCOPE_PROC_STACKS: 'ptrace' });
		assert.match(stderr, /stacks by ptrace grabs at 19 Hz/);
		assert.match(stderr, /ptrace: \d+ grabs \(0 failed\), pause median [\d.]+ us, p99 [\d.]+ us/);
		checkHotLeaf(lines);
	} finally {
		await child.stop();
	}
});

test('perf_event_open sampling: the folded output is dominated by the spinning JS function', async (t) => {
	if (skipUnlessRootWithSetpriv(t)) return;
	if (paranoid() > 2) {
		t.skip(`perf_event_paranoid is ${paranoid()}: ptrace grabs only`);
		return;
	}
	const child = await startStacks();
	try {
		const { lines, stderr } = await procFlame(child.pid, ['-d', '3s', '--mode', 'loop']);
		assert.match(stderr, /stacks by perf_event_open sampling at 99 Hz per thread \(perf_event_paranoid is \d/);
		assert.match(stderr, /nothing is stopped/);
		assert.match(stderr, /perf_event_open: \d+ samples, 0 lost/);
		checkHotLeaf(lines);
	} finally {
		await child.stop();
	}
});

test('a grab of a thread asleep in Atomics.wait names the waiting JS function', async (t) => {
	if (skipUnlessRootWithSetpriv(t)) return;
	// The wait lasts longer than the sampling; it is cut short by stopping the fixture.
	const child = await startStacks({ BLOCK_MS: '60000' });
	try {
		child.send('wait');
		// Asleep in the futex of Atomics.wait: /proc says so (202 is futex on x86-64).
		await until(() => {
			try {
				return readFileSync(`/proc/${child.pid}/task/${child.pid}/syscall`, 'utf8')
					.startsWith('202 ');
			} catch {
				return false;
			}
		}, 'the main thread asleep in futex');
		const { lines } = await procFlame(child.pid, ['-d', '1s', '--mode', 'offcpu'],
			{ UVSCOPE_PROC_STACKS: 'ptrace' });
		const main = lines.filter((l) => l.frames[0] === `main loop ${child.pid}`);
		const waiter = jsFrame('stacksAtomicsWaiter', FIXTURE);
		const named = main.filter((l) => l.frames.some((f) => waiter.test(f)));
		assert.ok(named.length > 0 && named.reduce((s, l) => s + l.count, 0) ===
			main.reduce((s, l) => s + l.count, 0),
			`every main-thread sample in stacksAtomicsWaiter: ${JSON.stringify(main)}`);
	} finally {
		await child.stop('SIGKILL');
	}
});

test('a native C program: both mechanisms give exactly its call chains', async (t) => {
	if (skipUnlessRootWithSetpriv(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-procchains-'));
	const bin = path.join(dir, 'chains');
	try {
		execFileSync('cc', ['-O1', '-g', '-fno-omit-frame-pointer', '-mno-omit-leaf-frame-pointer',
			'-fno-inline', '-fno-optimize-sibling-calls', '-o', bin,
			path.join(root, 'tests', 'fixtures', 'native', 'chains.c'), '-luv']);
		const child = new Child(bin, []);
		try {
			await child.waitFor((v) => v && v.ready, 'chains ready');
			const how = paranoid() <= 2 ? ['ptrace', 'perf'] : ['ptrace'];
			for (const m of how) {
				const { lines } = await procFlame(child.pid, ['-d', '2s', '--mode', 'cpu'],
					{ UVSCOPE_PROC_STACKS: m });
				const { total, strip } = assertChainsBelowIdle(assert, lines, m);
				const withMain = lines.filter((l) => l.frames.map(strip).includes('main'))
					.reduce((s, l) => s + l.count, 0);
				assert.ok(withMain > total * 0.8, `${m}: main reached in ${withMain} of ${total}`);
			}
		} finally {
			await child.stop();
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

// uvscope holds a thread stopped (the test-only hook) and waits; its line names the thread.
async function holdingUvscope(pid, holdMs, extra = []) {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-prochold-'));
	const agent = procUvscope(['flame', '--backend', 'proc', '-p', String(pid), '-d', '60s',
		'-o', path.join(dir, 'p.folded'), ...extra],
	{ UVSCOPE_PROC_STACKS: 'ptrace', UVSCOPE_TEST_HOLD_STOP_MS: String(holdMs) });
	let tid = 0;
	await agent.until(() => {
		const l = agent.errLines.find((x) => /test hook: holding thread \d+ stopped/.test(x));
		if (l) tid = Number(l.match(/thread (\d+)/)[1]);
		return tid > 0;
	}, 'uvscope holding a thread stopped');
	return { agent, tid, dir };
}

test('kill -9 of uvscope while it holds a thread stopped leaves the target running', async (t) => {
	if (skipUnlessRootWithSetpriv(t)) return;
	const child = await startStacks({ BLOCK_MS: '50' });
	const { agent, tid, dir } = await holdingUvscope(child.pid, 600000);
	try {
		const held = threadStatus(child.pid, tid);
		assert.match(field(held, 'State'), /^t \(tracing stop\)/, held);
		assert.equal(field(held, 'TracerPid'), String(agent.pid));
		agent.proc.kill('SIGKILL');
		await agent.exitPromise;
		// The kernel detaches the tracees of a tracer that dies: running, traced by nobody.
		await until(() => {
			const s = threadStatus(child.pid, tid);
			return field(s, 'TracerPid') === '0' && !/^[tT]/.test(field(s, 'State'));
		}, `thread ${tid} running again, untraced`);
		// And its loop goes on: a command on stdin is served (a 50 ms block, then "done").
		child.send('block');
		await child.waitFor((v) => v && v.done === 'block', 'the loop serving stdin');
		assert.equal(child.exited, null, 'the target is alive');
	} finally {
		await child.stop();
		rmSync(dir, { recursive: true, force: true });
	}
});

test('a target that exits during a grab: uvscope says so, writes what it had, no crash', async (t) => {
	if (skipUnlessRootWithSetpriv(t)) return;
	const child = await startStacks();
	const { agent, dir } = await holdingUvscope(child.pid, 2000);
	try {
		child.proc.kill('SIGKILL');
		const { signal } = await child.exitPromise;
		assert.equal(signal, 'SIGKILL');
		const { code, signal: agentSignal } = await agent.exitPromise;
		const stderr = agent.errLines.join('\n');
		assert.equal(agentSignal, null, stderr);
		assert.equal(code, 0, stderr);
		assert.match(stderr, new RegExp(`pid ${child.pid} has exited`));
		assert.ok(existsSync(path.join(dir, 'p.folded')), 'the profile was written');
	} finally {
		await child.stop();
		rmSync(dir, { recursive: true, force: true });
	}
});

// The CPU time (utime + stime, in clock ticks) process pid has used, from /proc/PID/stat.
function cpuTicks(pid) {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return Number(f[11]) + Number(f[12]);
}

// A target that execs while it is sampled (tests/fixtures/native/exec_race.c): its main thread
// spins in exec_old_spin under uv_run until another thread execs the same program, whose main
// thread spins in exec_new_spin at other addresses and never runs uv_run. uvscope must say so
// and stop, keep what it took of the old image, name nothing of the new one with the old
// one's symbols, and leave nothing stopped or traced.
for (const m of ['ptrace', 'perf']) {
	test(`a target that execs during sampling (${m}${m === 'ptrace' ? ', a thread held stopped' :
		''}): said, the new image not misread, nothing left stopped`, async (t) => {
		if (skipUnlessRootWithSetpriv(t)) return;
		if (m === 'perf' && paranoid() > 2) {
			t.skip(`perf_event_paranoid is ${paranoid()}: ptrace grabs only`);
			return;
		}
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-procexec-'));
		const bin = path.join(dir, 'exec_race');
		execFileSync('cc', ['-O1', '-g', '-fno-omit-frame-pointer', '-fno-inline', '-o', bin,
			path.join(root, 'tests', 'fixtures', 'native', 'exec_race.c'), '-luv', '-lpthread']);
		const child = new Child(bin, []);
		let agent, holdDir, out = path.join(dir, 'p.folded');
		try {
			await child.waitFor((v) => v && v.ready, 'exec_race ready');
			if (m === 'ptrace') {
				// The exec comes while uvscope holds the main thread stopped (a grab).
				({ agent, dir: holdDir } = await holdingUvscope(child.pid, 2000));
				out = path.join(holdDir, 'p.folded');
			} else {
				agent = procUvscope(['flame', '--backend', 'proc', '-p', String(child.pid),
					'-d', '60s', '-o', out], { UVSCOPE_PROC_STACKS: 'perf' });
				await agent.until(() => agent.errLines.some((l) => /stacks by perf/.test(l)),
					'sampling');
				// A tenth of a second of the old image's CPU time: samples of it were taken.
				const t0 = cpuTicks(child.pid);
				await until(() => cpuTicks(child.pid) >= t0 + 10, 'the old image ran');
			}
			child.send('exec');
			await child.waitFor((v) => v && v.execd, 'the new image running');
			const { code, signal } = await agent.exitPromise;
			const stderr = agent.errLines.join('\n');
			t.diagnostic(stderr.split('\n').filter((l) => /exec|grabs|samples/.test(l)).join(' | '));
			assert.equal(signal, null, stderr);
			assert.equal(code, 0, stderr);
			assert.match(stderr, new RegExp(`pid ${child.pid} exec'd another program .*` +
				'sampling stops'));
			assert.doesNotMatch(stderr, /has exited/);
			const lines = readFolded(out);
			const main = lines.filter((l) => l.frames[0] === `main loop ${child.pid}`);
			t.diagnostic(`${main.reduce((a, l) => a + l.count, 0)} samples of the main thread`);
			// (The held grab's thread was killed by the exec: that grab is lost, as at an exit.)
			if (m === 'perf')
				assert.ok(main.length > 0, 'the old image was sampled');
			// Only the old image runs uv_run; the new one's spin is never named.
			assert.ok(main.every((l) => l.frames.includes('uv_run')), JSON.stringify(main));
			assert.ok(lines.every((l) => !l.frames.some((f) => /exec_new_spin/.test(f))),
				JSON.stringify(lines));
			// The new image runs, and no thread of it is stopped or traced.
			for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
				const st = threadStatus(child.pid, tid);
				assert.equal(field(st, 'TracerPid'), '0', st);
				assert.ok(!/^[tT]/.test(field(st, 'State')), st);
			}
			assert.equal(child.exited, null, 'the target is alive');
		} finally {
			if (agent) await agent.stop();
			await child.stop('SIGKILL');
			rmSync(dir, { recursive: true, force: true });
			if (holdDir) rmSync(holdDir, { recursive: true, force: true });
		}
	});
}

test('threads that start while sampling are sampled too (both mechanisms)', async (t) => {
	if (skipUnlessRootWithSetpriv(t)) return;
	for (const m of paranoid() <= 2 ? ['perf', 'ptrace'] : ['ptrace']) {
		const child = new Child(nodeBin, [path.join(fixtures, 'late_worker.js')]);
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-proclate-'));
		try {
			await child.waitFor((v) => v && v.ready, 'late_worker ready');
			const out = path.join(dir, 'p.folded');
			const agent = procUvscope(['flame', '--backend', 'proc', '-p', String(child.pid),
				'-d', '4s', '-o', out], { UVSCOPE_PROC_STACKS: m });
			await agent.until(() => agent.errLines.some((l) => /stacks by/.test(l)), 'sampling');
			// The Worker's thread does not exist yet: it starts now.
			child.send('go');
			await child.waitFor((v) => v && v.started, 'the Worker running');
			const { code } = await agent.exitPromise;
			assert.equal(code, 0, agent.errLines.join('\n'));
			const lines = readFolded(out);
			const worker = lines.filter((l) => l.frames.some((f) => /^lateWorkerSpin /.test(f)));
			assert.ok(worker.length > 0, `${m}: lateWorkerSpin sampled: ` +
				JSON.stringify(lines.map((l) => [l.frames[0], l.frames.at(-1), l.count])));
			assert.ok(worker.every((l) => !l.frames[0].startsWith('main loop')),
				`${m}: on the Worker's thread, not the main one`);
		} finally {
			await child.stop();
			rmSync(dir, { recursive: true, force: true });
		}
	}
});
