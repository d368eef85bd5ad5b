// How the loop's epoll waits are caught. In official builds: uprobes placed in the target
// alone, so no other process on the host pays anything for them: on libuv 1.45+ one at
// uv__io_poll's entry that reads each wait from libuv's metrics (waits_at_poll_entry; the
// return hook at libuv's own `call epoll_*@plt` with UVSCOPE_EPOLL_RETURN_HOOK), on 1.44 (Node
// 18) the entry and the return of that call (no sys_enter/sys_exit program of ours is attached; these
// syscall tracepoints run for every syscall of every process). The programs are all loaded
// (one object serves every target of an agent): what is attached is what counts. A stripped build has no
// uv__io_poll symbol: fentry/fexit on the epoll syscalls where the kernel has BPF trampolines
// (bpftrace --info says whether it has), else the tracepoints (UVSCOPE_NO_FENTRY makes the
// tracepoints' test run on a kernel with trampolines too), and the attach line says which.
// Ground truth: block.js measures its own 250 ms blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fixtures, fetchNodeOrSkip, nodeBin, ourBpfLinks, skipWithoutBpf,
	startAgent, uvscope } from './lib.mjs';

// The names of our programs attached since `before` (link ids): the agent's, as the
// integration tests run one at a time (bpftool here does not list the pids holding a link).
function programsSince(before) {
	return ourBpfLinks().filter((l) => !before.includes(l.id)).map((l) => l.name);
}

// One 250 ms block on bin, measured by uvscope in the default mode within 10% of the
// fixture's own figure; returns the attach line and the names of the agent's programs.
async function measureBlock(bin, env = {}, agentEnv = {}) {
	const child = new Child(bin, [path.join(fixtures, 'block.js')],
		{ env: { ...process.env, BLOCK_MS: '250', COUNT: '1', ...env } });
	await child.waitFor((v) => v && v.ready, 'block.js ready');
	const before = ourBpfLinks().map((l) => l.id);
	const { agent, hello } = await startAgent(child.pid, [], agentEnv);
	try {
		const progs = programsSince(before);
		child.send('go');
		const ended = () => agent.json().filter((v) => v.type === 'alert' && !v.ongoing);
		await agent.waitFor(() => ended().length >= 1, 'the block ended');
		await child.waitFor((v) => v && v.done, 'fixture done');
		const truth = child.json().find((v) => v.block);
		const want = truth.end_ns - truth.start_ns;
		const got = ended()[0].blocked_ns;
		assert.ok(Math.abs(got - want) <= 0.1 * want, `uvscope ${got} ns, fixture ${want} ns`);
		assert.equal(ended()[0].role, 'main');
		return { hello, progs };
	} finally {
		await agent.stop();
		await child.stop();
	}
}

// hooks: 'poll' (one uprobe at uv__io_poll's entry), 'return' (the return of the epoll call
// alone), 'both' (its entry and return), or undefined (any of them).
function expectUprobes(hello, progs, hooks) {
	assert.equal(hello.epoll_hooks, 'uprobes');
	assert.equal(hello.host_cost, null, 'with uprobes the rest of the host pays nothing');
	for (const name of ['uvs_sys_enter', 'uvs_sys_exit'])
		assert.ok(!progs.includes(name), `${name} is not attached: ${progs}`);
	if (!hooks) {
		assert.ok(progs.includes('uvs_ep_call_out') || progs.includes('uvs_phase_boundary'),
			`a wait hook is attached: ${progs}`);
		return;
	}
	assert.equal(hello.waits_at_poll_entry, hooks === 'poll', 'waits_at_poll_entry');
	assert.equal(hello.epoll_hooks_per_wait, hooks === 'both' ? 2 : 1, 'uprobe hits per wait');
	assert.equal(progs.includes('uvs_phase_boundary'), hooks === 'poll',
		`the uv__io_poll entry probe is attached only in its mode: ${progs}`);
	assert.equal(progs.includes('uvs_ep_call_out'), hooks !== 'poll',
		`the return hook is attached unless the poll's entry reads the waits: ${progs}`);
	assert.equal(progs.includes('uvs_ep_call_in'), hooks === 'both',
		`the entry hook is attached only with 2 hooks per wait: ${progs}`);
}

// libuv 1.45+ (Node 20 on) with its DWARF: one uprobe at uv__io_poll's entry, and libuv's own
// metrics (the idle time it adds after each wait) give the rest; 1.44 (Node 18) needs both
// hooks of the epoll call.
for (const [version, hooks] of [['this', 'poll'], ['18', 'both'], ['22', 'poll'], ['24', 'poll'],
	['26', 'poll']]) {
	test(`node ${version}: the default mode waits are caught by uprobes (${hooks}), ` +
		'no syscall hook', async (t) => {
		if (skipWithoutBpf(t)) return;
		const bin = version === 'this' ? nodeBin : fetchNodeOrSkip(t, version);
		if (!bin) return;
		const { hello, progs } = await measureBlock(bin);
		t.diagnostic(`${hello.node_version}: ${progs.join(' ')}`);
		expectUprobes(hello, progs, hooks);
	});
}

// The agent inherits the test's environment.
async function withEnv(name, fn) {
	const saved = process.env[name];
	process.env[name] = '1';
	try {
		return await fn();
	} finally {
		if (saved === undefined) delete process.env[name];
		else process.env[name] = saved;
	}
}

test('the epoll call\'s return alone when asked (UVSCOPE_EPOLL_RETURN_HOOK): the same block',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const { hello, progs } = await withEnv('UVSCOPE_EPOLL_RETURN_HOOK',
			() => measureBlock(nodeBin));
		expectUprobes(hello, progs, 'return');
	});

test('both hooks per wait when asked (UVSCOPE_EPOLL_ENTRY_HOOKS): the same block', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { hello, progs } = await withEnv('UVSCOPE_EPOLL_ENTRY_HOOKS', () => measureBlock(nodeBin));
	expectUprobes(hello, progs, 'both');
});

test('a block in execSync (a nested libuv loop, also through uv__io_poll) with uprobes',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const { hello, progs } = await measureBlock(nodeBin, { MODE: 'execsync' });
		expectUprobes(hello, progs);
	});

// Whether the kernel has BPF trampolines (fentry), by bpftrace's own probe of it: true, false,
// or null when bpftrace cannot say (then why).
function kernelTrampolines() {
	// It prints its report on stderr.
	const r = spawnSync('bpftrace', ['--info'], { encoding: 'utf8' });
	if (r.error || r.status !== 0)
		return { has: null, why: `bpftrace --info failed: ${r.error?.message || r.stderr}` };
	const m = /^\s*kfunc:\s*(yes|no)\s*$/m.exec(r.stdout + r.stderr);
	return m ? { has: m[1] === 'yes' } : { has: null, why: 'bpftrace --info has no kfunc line' };
}

test('a stripped node on a kernel with BPF trampolines: fentry/fexit on the epoll syscalls',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const k = kernelTrampolines();
		if (!k.has) {
			const why = k.has === false ? 'this kernel has no BPF trampolines (bpftrace --info: ' +
				'kfunc: no): the fentry path cannot run here, the tracepoints\' test below covers it'
				: k.why;
			console.error(`SKIP ${t.name}: ${why}`);
			t.skip(why);
			return;
		}
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-epoll-fentry-'));
		const stripped = path.join(dir, 'node');
		try {
			execFileSync('strip', ['-o', stripped, nodeBin]);
			const { hello, progs } = await measureBlock(stripped);
			assert.equal(hello.epoll_hooks, 'fentry');
			assert.match(hello.host_cost, /fentry\/fexit on the epoll wait system calls/);
			assert.ok(progs.includes('uvs_ep_pwait_in') && progs.includes('uvs_ep_pwait_out'),
				`${progs}`);
			for (const name of ['uvs_sys_enter', 'uvs_sys_exit', 'uvs_ep_call_in'])
				assert.ok(!progs.includes(name), `${name} is not attached: ${progs}`);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

test('a stripped node: the syscall tracepoints, and the attach line says so', async (t) => {
	if (skipWithoutBpf(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-epoll-stripped-'));
	const stripped = path.join(dir, 'node');
	try {
		execFileSync('strip', ['-o', stripped, nodeBin]);
		const { hello, progs } = await measureBlock(stripped, {}, { UVSCOPE_NO_FENTRY: '1' });
		assert.equal(hello.epoll_hooks, 'tracepoints');
		assert.match(hello.host_cost, /every system call of every process on this host/,
			'the attach line says what the rest of the host pays');
		assert.ok(progs.includes('uvs_sys_enter') && !progs.includes('uvs_ep_call_in'),
			`${progs}`);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

// Every process on the host pays for the syscall tracepoints while they are attached: they go
// with the last watched process that needs them, not with the agent. Two processes under one
// agent, a stripped node (its waits need the tracepoints) and an official one (uprobes): when
// the stripped one exits, the tracepoints are detached while the other is still watched, and
// the other's blocks are still measured.
test('the syscall tracepoints go with the last process that needs them', async (t) => {
	if (skipWithoutBpf(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-epoll-held-'));
	const stripped = path.join(dir, 'node');
	const env = { ...process.env, BLOCK_MS: '250', COUNT: '1' };
	let a, b, agent;
	try {
		execFileSync('strip', ['-o', stripped, nodeBin]);
		a = new Child(stripped, [path.join(fixtures, 'block.js')], { env });
		b = new Child(nodeBin, [path.join(fixtures, 'block.js')], { env });
		await a.waitFor((v) => v && v.ready, 'stripped block.js ready');
		await b.waitFor((v) => v && v.ready, 'block.js ready');
		const before = ourBpfLinks().map((l) => l.id);
		agent = new Child(uvscope, ['watch', '-p', `${a.pid},${b.pid}`, '--json'],
			{ env: { ...process.env, UVSCOPE_NO_FENTRY: '1' } });
		const hellos = () => agent.json().filter((v) => v.type === 'attach');
		await agent.waitFor(() => hellos().length === 2, 'both attached');
		assert.equal(hellos().find((h) => h.pid === a.pid).epoll_hooks, 'tracepoints');
		assert.equal(hellos().find((h) => h.pid === b.pid).epoll_hooks, 'uprobes');
		assert.ok(programsSince(before).includes('uvs_sys_enter'), 'the tracepoints are attached');
		await a.stop();
		await agent.waitFor(() => agent.json().some((v) => v.type === 'summary' && v.pid === a.pid),
			'the stripped process dropped (its summary)');
		const left = programsSince(before);
		for (const name of ['uvs_sys_enter', 'uvs_sys_exit'])
			assert.ok(!left.includes(name), `${name} detached with its last holder: ${left}`);
		assert.ok(left.includes('uvs_phase_boundary'), `the other's uprobe stays: ${left}`);
		b.send('go');
		const ended = () => agent.json().filter((v) => v.type === 'alert' && !v.ongoing &&
			v.pid === b.pid && v.kind === 'loop_blocked');
		await agent.waitFor(() => ended().length >= 1, 'the block of the other process ended');
		await b.waitFor((v) => v && v.done, 'fixture done');
		const truth = b.json().find((v) => v.block);
		const want = truth.end_ns - truth.start_ns;
		assert.ok(Math.abs(ended()[0].blocked_ns - want) <= 0.1 * want,
			`uvscope ${ended()[0].blocked_ns} ns, fixture ${want} ns`);
	} finally {
		await agent?.stop();
		await a?.stop();
		await b?.stop();
		rmSync(dir, { recursive: true, force: true });
	}
});
