// Alert rules and actions (issue 11): each rule fires on a fixture built to trip it and resolves
// when the fixture stops; an idle fixture raises nothing over as many intervals; --on-alert gets
// the alert and nothing of the agent's; a hanging command is killed while intervals go on; a
// missing command is said once; --exit-on-alert exits 3; a bad rules file stops uvscope.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { intervalsAfter, runUvscope, skipWithoutBpf, startAgent, startFixture } from './lib.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-alerts-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// Thresholds a fixture trips within an interval, and alerts that resolve in the first interval
// without their condition: the test waits on each state, never on time.
const rules = path.join(dir, 'rules.ini');
writeFileSync(rules, `[defaults]
hold = 0
rate_limit = none
[loop_utilization]
threshold = 0.8
for = 0
[gc_share]
threshold = 0.2
for = 0
[pool_queue_wait]
threshold = 20ms
for = 0
[fd_growth]
for = 0
`);

const FIXTURE_ENV = { UV_THREADPOOL_SIZE: '1' };
const alerts = (agent) => agent.json().filter((v) => v.type === 'alert');

// The first alert of kind in state after the line index `from`; its index too.
async function alertAfter(agent, kind, state, from = 0) {
	let at = -1;
	await agent.until(() => {
		const lines = agent.json();
		at = lines.findIndex((v, i) => i > from && v.type === 'alert' && v.kind === kind &&
			v.state === state);
		return at >= 0;
	}, `${kind} ${state}`);
	return { alert: agent.json()[at], at };
}

async function command(child, line) {
	const acks = () => child.json().filter((v) => v.ack === line).length;
	const before = acks();
	child.send(line);
	await child.until(() => acks() > before, `ack of ${line}`);
}

const procFdCount = (pid) => readdirSync(`/proc/${pid}/fd`).length;

let tripIntervals = 0;

test('each rule fires on a fixture that trips it and resolves when the fixture stops',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const { child } = await startFixture('alerts.js', [], FIXTURE_ENV, ['--expose-gc']);
		const { agent } = await startAgent(child.pid, ['--interval', '200ms', '--rules', rules]);
		try {
			// What each command trips; each alert must resolve once the command is undone.
			const trips = [
				['busy', { loop_utilization: (a) => a.tid === child.pid && a.role === 'main' &&
					a.utilization >= 0.8 && a.threshold === 0.8 }],
				['gc', { gc_share: (a) => a.tid === child.pid && a.gc_share >= 0.2 }],
				['sync', { sync_io_on_loop: (a) => a.count >= 1 }],
				['pool', {
					threadpool_saturated: (a) => a.size === 1 && a.saturation >= 0.5,
					pool_queue_wait: (a) => a.pool_kind === 'crypto' && a.wait_p99_ns >= 20e6 &&
						a.threshold_ns === 20e6,
				}],
				['fds', { fd_growth: (a) => a.open > 0 }],
			];
			for (const [cmd, kinds] of trips) {
				const from = agent.json().length - 1;
				await command(child, `${cmd} on`);
				const fired = {};
				for (const [kind, check] of Object.entries(kinds)) {
					fired[kind] = await alertAfter(agent, kind, 'firing', from);
					t.diagnostic(JSON.stringify(fired[kind].alert));
					assert.ok(check(fired[kind].alert), JSON.stringify(fired[kind].alert));
					assert.equal(fired[kind].alert.severity, 'warning', 'the default severity');
				}
				await command(child, `${cmd} off`);
				for (const kind of Object.keys(kinds)) {
					const resolved = await alertAfter(agent, kind, 'resolved', fired[kind].at);
					assert.ok(resolved.alert.firing_ns > 0, JSON.stringify(resolved.alert));
				}
			}
			// fd_limit: the limit lowered under the fixture, then 80% of it held.
			const open = procFdCount(child.pid);
			const limit = open + 50;
			execFileSync('prlimit', ['--pid', String(child.pid), `--nofile=${limit}:${limit}`]);
			const from = agent.json().length - 1;
			await command(child, `hold ${Math.ceil(limit * 0.8) - open + 1}`);
			const fired = await alertAfter(agent, 'fd_limit', 'firing', from);
			assert.equal(fired.alert.limit, limit);
			assert.ok(fired.alert.open * 5 >= limit * 4, JSON.stringify(fired.alert));
			assert.equal(fired.alert.severity, 'critical');
			await command(child, 'release');
			await alertAfter(agent, 'fd_limit', 'resolved', fired.at);
			// Every alert that fired resolves (hold and release open and close files on the
			// loop: sync_io_on_loop comes and goes with them).
			const firing = () => {
				const state = new Map();
				for (const a of alerts(agent))
					state.set(`${a.kind} ${a.tid ?? ''}`, a.state);
				return [...state].filter(([, s]) => s === 'firing');
			};
			await agent.until(() => firing().length === 0, 'every alert resolved')
				.catch((e) => {
					throw new Error(`${e.message}; still firing: ${JSON.stringify(firing())}`);
				});
			tripIntervals = agent.json().filter((v) => v.type === 'interval').length;
		} finally {
			await agent.stop();
			await child.stop();
		}
	});

test('an idle fixture raises nothing over as many intervals', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('alerts.js', [], FIXTURE_ENV, ['--expose-gc']);
	const { agent } = await startAgent(child.pid, ['--interval', '200ms', '--rules', rules]);
	try {
		await intervalsAfter(agent, Math.max(tripIntervals, 15));
		t.diagnostic(`${agent.json().filter((v) => v.type === 'interval').length} intervals`);
		assert.deepEqual(alerts(agent), []);
	} finally {
		await agent.stop();
		await child.stop();
	}
});

// A script that keeps what each command got: its stdin, its environment, its capabilities and
// what its fds are (the agent's BPF programs and maps would show as anon_inode:bpf-*).
function sinkCommand(out) {
	return `/bin/sh -c 'n=$(date +%s%N); cat > "$0/$n.in"; env > "$0/$n.env"; ` +
		`grep -E "^Cap(Eff|Prm)" /proc/self/status > "$0/$n.caps"; ` +
		`for f in /proc/$$/fd/*; do readlink $f || :; done > "$0/$n.fds"' ${out}`;
}

test('--on-alert gets each loop_blocked alert, firing then resolved, and nothing of the agent',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const out = mkdtempSync(path.join(dir, 'sink-'));
		const { child } = await startFixture('block.js', [], { COUNT: '1', BLOCK_MS: '300' });
		const { agent } = await startAgent(child.pid, ['--interval', '200ms',
			'--on-alert', sinkCommand(out)]);
		try {
			child.send('go');
			const fired = await alertAfter(agent, 'loop_blocked', 'firing');
			const resolved = await alertAfter(agent, 'loop_blocked', 'resolved', fired.at);
			assert.equal(fired.alert.ongoing, true);
			assert.equal(resolved.alert.ongoing, false);
			const done = () => readdirSync(out).filter((f) => f.endsWith('.fds')).length;
			await agent.until(() => done() === 2, 'both commands finished');
			const runs = readdirSync(out).filter((f) => f.endsWith('.in')).sort()
				.map((f) => f.slice(0, -3));
			assert.equal(runs.length, 2);
			for (const [i, run] of runs.entries()) {
				const file = (ext) => readFileSync(path.join(out, run + ext), 'utf8');
				const got = JSON.parse(file('.in'));
				const want = i === 0 ? fired.alert : resolved.alert;
				assert.equal(got.state, want.state);
				assert.equal(got.ongoing, want.ongoing);
				assert.equal(got.blocked_ns, want.blocked_ns);
				assert.equal(got.tid, child.pid);
				const env = file('.env');
				assert.match(env, /^UVSCOPE_KIND=loop_blocked$/m);
				assert.match(env, new RegExp(`^UVSCOPE_STATE=${want.state}$`, 'm'));
				assert.match(env, /^UVSCOPE_SEVERITY=critical$/m);
				assert.match(env, new RegExp(`^UVSCOPE_PID=${child.pid}$`, 'm'));
				assert.match(env, new RegExp(`^UVSCOPE_TID=${child.pid}$`, 'm'));
				assert.match(env, /^UVSCOPE_MESSAGE=ALERT loop blocked: main loop/m);
				assert.equal(file('.caps'), 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n');
				const fds = file('.fds');
				t.diagnostic(`command ${i}: fds ${fds.trim().split('\n').join(' ')}`);
				assert.doesNotMatch(fds, /bpf|signalfd|\[pidfd\]|\[eventpoll\]/);
				assert.match(fds.split('\n')[0], /^\/memfd:uvscope-alert/);
			}
		} finally {
			await agent.stop();
			await child.stop();
		}
	});

// A freezer to put the target in: cgroup v1's (a hybrid host, this kind of machine) or v2's.
function makeFreezer(name) {
	const v1 = '/sys/fs/cgroup/freezer';
	const v2 = '/sys/fs/cgroup';
	let dir, freeze, thaw, frozen, root;
	if (existsSync(path.join(v1, 'cgroup.procs'))) {
		root = v1;
		dir = path.join(v1, name);
		freeze = () => writeFileSync(path.join(dir, 'freezer.state'), 'FROZEN');
		thaw = () => writeFileSync(path.join(dir, 'freezer.state'), 'THAWED');
		frozen = () => readFileSync(path.join(dir, 'freezer.state'), 'utf8').startsWith('FROZEN');
	} else if (existsSync(path.join(v2, 'cgroup.controllers'))) {
		root = v2;
		dir = path.join(v2, name);
		freeze = () => writeFileSync(path.join(dir, 'cgroup.freeze'), '1');
		thaw = () => writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
		frozen = () => /^frozen 1$/m.test(readFileSync(path.join(dir, 'cgroup.events'), 'utf8'));
	} else {
		return null;
	}
	return {
		enter(pid) {
			execFileSync('mkdir', ['-p', dir]);
			writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
		},
		freeze, thaw, frozen,
		remove(pid) {
			try { thaw(); } catch { /* gone already */ }
			try { writeFileSync(path.join(root, 'cgroup.procs'), String(pid)); } catch { /* exited */ }
			try { execFileSync('rmdir', [dir]); } catch { /* not made */ }
		},
	};
}

// A loop that does not run at all (its process stopped by a signal, or frozen) is still a loop
// its requests wait on, but the alert must not send the operator after a hot function: it says
// which stop. The target is stopped mid-block, after the ongoing alert (read running), so the
// stop is told when the block ends; two intervals after the stop guarantee block checks saw it.
for (const how of ['signal', 'frozen']) {
	test(`a loop blocked while its process is stopped says so (${how})`, async (t) => {
		if (skipWithoutBpf(t)) return;
		const freezer = how === 'frozen' ? makeFreezer(`uvscope-test-${process.pid}`) : null;
		if (how === 'frozen' && !freezer) {
			t.skip('SKIP: no cgroup freezer (v1 or v2) mounted at /sys/fs/cgroup');
			return;
		}
		const { child } = await startFixture('block.js', [], { COUNT: '1', BLOCK_MS: '1500' });
		const { agent } = await startAgent(child.pid, ['--interval', '200ms']);
		const state = () => readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1][0];
		try {
			if (freezer) freezer.enter(child.pid);
			child.send('go');
			const fired = await alertAfter(agent, 'loop_blocked', 'firing');
			assert.equal(fired.alert.stopped, null, 'running when it crossed the threshold');
			if (freezer) {
				freezer.freeze();
				await agent.until(() => freezer.frozen(), 'the cgroup frozen');
			} else {
				process.kill(child.pid, 'SIGSTOP');
				await agent.until(() => state() === 'T', 'the target stopped');
			}
			const intervals = () => agent.json().filter((v) => v.type === 'interval').length;
			const seen = intervals();
			await agent.until(() => intervals() >= seen + 2, 'two intervals while stopped');
			if (freezer) freezer.thaw();
			else process.kill(child.pid, 'SIGCONT');
			const resolved = await alertAfter(agent, 'loop_blocked', 'resolved', fired.at);
			t.diagnostic(`resolved: blocked ${resolved.alert.blocked_ns} ns, stopped ` +
				`${resolved.alert.stopped}`);
			assert.equal(resolved.alert.stopped, how);
		} finally {
			if (freezer) freezer.remove(child.pid);
			else process.kill(child.pid, 'SIGCONT');
			await agent.stop();
			await child.stop();
		}
	});
}

test('a command that hangs is killed at the timeout while intervals keep coming', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('block.js', [], { COUNT: '1', BLOCK_MS: '300' });
	const { agent } = await startAgent(child.pid, ['--interval', '100ms',
		'--on-alert', 'sleep 1000', '--on-alert-timeout', '1s']);
	try {
		child.send('go');
		const fired = await alertAfter(agent, 'loop_blocked', 'firing');
		const killed = () => agent.errLines.filter((l) =>
			/--on-alert: 'sleep' \(loop_blocked alert (firing|resolved)\) did not finish in 1.00s: ended by SIGTERM/.test(l));
		await agent.until(() => killed().length === 2, 'both commands killed');
		// The agent wrote its intervals all along: the hanging commands cost it nothing.
		const after = agent.json().slice(fired.at).filter((v) => v.type === 'interval');
		t.diagnostic(`${after.length} intervals while the commands hung`);
		assert.ok(after.length >= 2);
		const left = spawnSync('pgrep', ['-P', String(agent.pid)], { encoding: 'utf8' });
		assert.equal(left.stdout, '', 'no command left');
	} finally {
		await agent.stop();
		await child.stop();
	}
});

test('a command that does not exist is said once, however many alerts', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('block.js', [], { COUNT: '2', BLOCK_MS: '300' });
	const { agent } = await startAgent(child.pid, ['--interval', '200ms',
		'--on-alert', 'uvscope-no-such-command --page']);
	try {
		child.send('go');
		await child.waitFor((v) => v && v.done, 'two blocks');
		await agent.until(() => alerts(agent).filter((a) => a.state === 'resolved').length === 2,
			'both blocks resolved');
		await agent.stop();
		const said = agent.errLines.filter((l) => l.includes("cannot run 'uvscope-no-such-command'"));
		t.diagnostic(agent.errLines.join('\n'));
		assert.equal(said.length, 1, 'said once');
		assert.match(said[0], /No such file or directory in \$PATH/);
		assert.ok(agent.errLines.some((l) => /--on-alert: 0 commands run.* 4 not run/.test(l)),
			'the end counts every alert not acted on');
	} finally {
		await agent.stop();
		await child.stop();
	}
});

test('--exit-on-alert ends at the first firing alert with status 3', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('block.js', [], { COUNT: '1', BLOCK_MS: '300' });
	const { agent } = await startAgent(child.pid, ['--interval', '200ms', '--exit-on-alert']);
	try {
		child.send('go');
		const { code } = await agent.exitPromise;
		assert.equal(code, 3);
		const lines = agent.json();
		assert.equal(lines.at(-1).type, 'summary');
		// The block's end may still come in while uvscope detaches; no second alert fires.
		const said = lines.filter((v) => v.type === 'alert');
		assert.equal(said[0].state, 'firing');
		assert.equal(said.filter((v) => v.state === 'firing').length, 1);
	} finally {
		await agent.stop();
		await child.stop();
	}
});

// A session that ends while the loop is mid-way through a short busy span, in a target with
// 3000 fds: the last window's fd table read is long enough to call the block check back, after
// the programs stopped counting. A build that let it run took the open span for one still
// growing through the detach: "blocked for 238ms so far" at every end, never resolved, and
// --exit-on-alert exited 3 for a loop whose spans never passed 10 ms.
test('the end of a session raises no block alert (a target with 3000 fds, busy in 8 ms ' +
	'spans)', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('busy_fds.js', [], { FDS: '3000' });
	try {
		for (let run = 0; run < 3; run++) {
			const agent = await runUvscope(['watch', '-p', String(child.pid), '--json', '-d',
				'1500ms', '--exit-on-alert']);
			const lines = agent.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
			const blocked = lines.filter((v) => v.type === 'alert' && v.kind === 'loop_blocked');
			assert.deepEqual(blocked, [], `run ${run}: ${agent.stderr}`);
			assert.equal(agent.code, 0, `run ${run}: ${agent.stderr}`);
			assert.equal(lines.at(-1).type, 'summary');
		}
		child.send('max');
		const { max_ms: maxMs } = await child.waitFor((v) => v && v.max_ms !== undefined,
			'the fixture\'s longest span');
		t.diagnostic(`the fixture's longest busy span: ${maxMs.toFixed(1)} ms`);
		assert.ok(maxMs < 100, 'the fixture never came near the threshold');
	} finally {
		await child.stop();
	}
});

test('a bad rules file stops uvscope with its file, line and key', async () => {
	const bad = path.join(dir, 'bad.ini');
	writeFileSync(bad, '[fd_limit]\nthreshold = 0.8\n\n[loop_blocked]\nthreshold = 100\n');
	const r = await runUvscope(['watch', '-p', String(process.pid), '--rules', bad]);
	assert.equal(r.code, 2);
	assert.equal(r.stdout, '');
	assert.match(r.stderr, new RegExp(`^uvscope: bad rules file: ${bad}:5: \\[loop_blocked\\] ` +
		`threshold: '100' is not a duration`));
	const missing = await runUvscope(['watch', '-p', String(process.pid), '--rules',
		path.join(dir, 'none.ini')]);
	assert.equal(missing.code, 2);
	assert.match(missing.stderr, /none\.ini: No such file or directory/);
	assert.ok(!existsSync(path.join(dir, 'none.ini')));
});
