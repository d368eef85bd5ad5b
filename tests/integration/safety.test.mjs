// Detaching safely and failing clearly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { Child, nodeBin, skipWithoutBpf, startFixture, startAgent, runUvscope, ourBpfPrograms,
	uvscope, until } from './lib.mjs';

test('SIGKILL of the agent: the target runs on and no BPF program of ours is left', async (t) => {
	if (skipWithoutBpf(t)) return;
	const before = ourBpfPrograms().map((p) => p.id);
	const { child } = await startFixture('elu.js');
	const { agent } = await startAgent(child.pid, ['--phases']);
	try {
		const during = ourBpfPrograms().filter((p) => !before.includes(p.id));
		assert.ok(during.length >= 3, `our programs are loaded while attached: ${during.length}`);
		agent.proc.kill('SIGKILL');
		await agent.exitPromise;
		// The kernel frees programs once the last fd and link are gone; wait for that.
		await until(() => ourBpfPrograms().filter((p) => !before.includes(p.id)).length === 0,
			'our BPF programs unloaded');
		// No uprobe of ours is left in the target either: its uprobes are listed in
		// /sys/kernel/debug/tracing/uprobe_events only when created through tracefs, which we
		// never do; perf-event uprobes die with their fd. The target still answers:
		assert.equal(child.exited, null, 'target still running');
		child.send('mark');
		await child.waitFor((v) => v && typeof v.elu === 'number', 'target answers after');
	} finally {
		await child.stop();
	}
});

test('after attaching the agent keeps only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('elu.js');
	const { agent } = await startAgent(child.pid, ['--no-stacks']);
	try {
		const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
		assert.match(status, /^CapEff:\s+0000000000080004$/m);
		assert.match(status, /^CapPrm:\s+0000000000080004$/m);
		assert.match(status, /^NoNewPrivs:\s+1$/m);
		// and it still works: an interval arrives after the drop
		await agent.waitFor((v) => v && v.type === 'interval', 'an interval');
	} finally {
		await agent.stop();
		await child.stop();
	}
});

test('sampling keeps CAP_PERFMON and CAP_BPF too (new threads, off-CPU stacks), nothing else', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('elu.js');
	const { agent } = await startAgent(child.pid);
	try {
		const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
		// CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19), CAP_PERFMON (38), CAP_BPF (39)
		assert.match(status, /^CapEff:\s+000000c000080004$/m);
		assert.match(status, /^CapPrm:\s+000000c000080004$/m);
		assert.match(status, /^NoNewPrivs:\s+1$/m);
		await agent.waitFor((v) => v && v.type === 'interval', 'an interval');
	} finally {
		await agent.stop();
		await child.stop();
	}
});

test('no such process: one clear line, exit 1', async (t) => {
	let pid = 4194000;
	while (existsSync(`/proc/${pid}`)) pid--;
	const r = await runUvscope(['watch', '-p', String(pid), '-d', '1s']);
	assert.equal(r.code, 1);
	assert.match(r.stderr, new RegExp(`^uvscope: no such process: ${pid}$`));
});

// Where a function of the target's executable is in its memory (nm's value, moved by the
// executable's base when it is position-independent).
function addressIn(pid, exe, symbol) {
	const line = execFileSync('nm', [exe], { encoding: 'utf8', maxBuffer: 1 << 28 })
		.split('\n').find((l) => l.endsWith(` ${symbol}`));
	if (!line) return null;
	const value = Number.parseInt(line.split(' ')[0], 16);
	if (!/Type:\s+DYN/.test(execFileSync('readelf', ['-h', exe], { encoding: 'utf8' })))
		return value;
	const real = realpathSync(exe);
	const first = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')
		.find((l) => l.endsWith(` ${real}`));
	return Number.parseInt(first.split('-')[0], 16) + value;
}

// A target that dies while uvscope attaches: caught once the loop's uprobe is in (its int3 at
// uv__io_poll's entry, read from the target's memory) while the rest of the attach goes on
// (the pool's probes, the stacks' symbol index, the sockets). What was read of it is half
// there, and its loop, unreadable, looked busy: a build that carried on said "attached",
// alerted "loop blocked" and exited 0.
test('the target dies during the attach: said so, exit 1, no interval, no alert', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('elu.js');
	const addr = addressIn(child.pid, nodeBin, 'uv__io_poll');
	if (!addr) {
		await child.stop();
		t.skip(`${nodeBin} has no uv__io_poll symbol`);
		return;
	}
	const agent = new Child(uvscope, ['watch', '-p', String(child.pid), '--json']);
	const mem = openSync(`/proc/${child.pid}/mem`, 'r');
	try {
		const byte = Buffer.alloc(1);
		const deadline = Date.now() + 20000;
		for (;;) {
			readSync(mem, byte, 0, 1, addr);
			if (byte[0] === 0xcc) break;
			assert.ok(agent.exited === null && Date.now() < deadline,
				'the loop\'s uprobe went in before the attach ended');
			await new Promise((r) => setTimeout(r, 1));
		}
		child.proc.kill('SIGKILL');
		const { code } = await agent.exitPromise;
		t.diagnostic(agent.errLines.join(' | '));
		assert.equal(code, 1);
		assert.match(agent.errLines.join('\n'),
			new RegExp(`pid ${child.pid} exited while uvscope was attaching to it`));
		assert.deepEqual(agent.json().map((v) => v.type), [],
			'no attach line, interval, alert or summary');
	} finally {
		closeSync(mem);
		await agent.stop();
		await child.stop();
	}
});

// Targets that exit at every point of the attach, as under --all's churn: each failed attach
// says the process exited (or was gone already), never what the attach made of its
// half-torn-down memory ("the code of pid N changed while attaching": 4 of 20 such targets got
// that before, when they exited while their code was checked).
test('targets that exit during the attach are said to have exited, whatever the attach was doing',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const said = [];
		for (let i = 0; i < 12; i++) {
			// Lives 40-480 ms: from before the attach reads its maps to after its probes go in
			// (an attach takes about 300 ms here with --no-stacks).
			const child = new Child(process.execPath, ['-e', `console.log('{"ready":true}');
				setTimeout(() => process.exit(0), ${40 + 40 * i});`]);
			await child.waitFor((v) => v && v.ready, 'target ready');
			const r = await runUvscope(['watch', '-p', String(child.pid), '-d', '3s', '--no-stacks']);
			await child.stop();
			const failed = r.stderr.split('\n').filter((l) => /^uvscope: (error: )?pid|no such/.test(l) &&
				!/has exited; detached|exited; detached/.test(l));
			said.push(`${40 + 40 * i}ms: code ${r.code}${failed.length ? ` ${failed.join(' / ')}` : ''}`);
			assert.doesNotMatch(r.stderr, /changed while attaching|cannot read|unreadable/,
				`${40 + 40 * i} ms: ${r.stderr}`);
			if (r.code !== 0)
				assert.match(r.stderr, /exited while uvscope was attaching|has exited|no such process/,
					`${40 + 40 * i} ms: ${r.stderr}`);
		}
		t.diagnostic(said.join(' | '));
	});

// A zombie: exited, its parent (a sleep exec'd over the shell that started it) never reaps it.
// It used to be "no executable (a kernel thread?)", and for sockets a netlink error.
test('a zombie: said to have exited, exit 1 (watch and sockets)', async (t) => {
	const parent = new Child('sh', ['-c', 'sleep 0.05 & exec sleep 60']);
	try {
		let zombie = null;
		await until(() => {
			const kids = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8')
				.trim().split(/\s+/).filter(Boolean).map(Number);
			zombie = kids.find((k) => {
				try {
					return readFileSync(`/proc/${k}/stat`, 'utf8').split(') ')[1][0] === 'Z';
				} catch {
					return false;
				}
			}) ?? null;
			return zombie !== null;
		}, 'the zombie');
		for (const args of [['watch', '-p', String(zombie), '-d', '1s'],
			['sockets', '-p', String(zombie)]]) {
			const r = await runUvscope(args);
			assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
			assert.equal(r.stderr,
				`uvscope: pid ${zombie} has exited: a zombie, which its parent has not reaped`);
		}
	} finally {
		await parent.stop();
	}
});

test('sockets: no such process, and another user\'s process without privileges', async (t) => {
	let pid = 4194000;
	while (existsSync(`/proc/${pid}`)) pid--;
	let r = await runUvscope(['sockets', '-p', String(pid)]);
	assert.equal(r.code, 1);
	assert.match(r.stderr, new RegExp(`^uvscope: no such process: ${pid}$`));
	if (process.getuid() !== 0) {
		t.diagnostic('not root: the privilege case is not tried');
		return;
	}
	const { child } = await startFixture('elu.js');
	try {
		r = await runUvscope(['sockets', '-p', String(child.pid)], {
			cmd: 'setpriv',
			prefix: ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all',
				'--bounding-set=-all'],
		});
		assert.equal(r.code, 1, r.stderr);
		assert.match(r.stderr, new RegExp(`^uvscope: cannot (inspect pid ${child.pid}|read ` +
			`/proc/${child.pid}/fd): permission denied \\(run as root, or as the process's user\\)$`));
		assert.equal(r.stderr.split('\n').length, 1, r.stderr);
	} finally {
		await child.stop();
	}
});

test('a process without libuv: not a libuv process, exit 1', async (t) => {
	if (skipWithoutBpf(t)) return;
	const sleeper = new Child('sleep', ['60']);
	try {
		const r = await runUvscope(['watch', '-p', String(sleeper.pid), '-d', '1s']);
		assert.equal(r.code, 1);
		assert.match(r.stderr, /is not a libuv process: no mapped object defines uv_run/);
		assert.equal(r.stderr.split('\n').length, 1, r.stderr);
	} finally {
		await sleeper.stop();
	}
});

test('without privileges: says which, exit 1', async (t) => {
	if (process.getuid() !== 0) {
		t.skip('needs root to drop privileges with setpriv');
		return;
	}
	const { child } = await startFixture('elu.js');
	try {
		const r = await runUvscope(['watch', '-p', String(child.pid), '-d', '1s'], {
			cmd: 'setpriv',
			prefix: ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all',
				'--bounding-set=-all'],
		});
		assert.equal(r.code, 1, r.stderr);
		assert.match(r.stderr, new RegExp(`cannot attach to pid ${child.pid}: permission ` +
			'denied \\(run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN\\)'));
	} finally {
		await child.stop();
	}
});

test('the target exits: summary and a clean detach, exit 0', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('elu.js');
	const { agent } = await startAgent(child.pid);
	await child.stop('SIGKILL');
	const { code } = await agent.exitPromise;
	assert.equal(code, 0);
	const summary = agent.json().find((v) => v.type === 'summary');
	assert.ok(summary, 'a summary line');
	assert.equal(summary.pid, child.pid);
	assert.match(agent.errLines.join('\n'), /the target exited; detached/);
});

test('SIGTERM and -d end with a summary', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('elu.js');
	try {
		const { agent } = await startAgent(child.pid);
		await agent.stop('SIGTERM');
		assert.equal(agent.exited.code, 0);
		assert.ok(agent.json().some((v) => v.type === 'summary'));
		const r = await runUvscope(['watch', '-p', String(child.pid), '-d', '300ms', '--json']);
		assert.equal(r.code, 0, r.stderr);
		const types = r.stdout.split('\n').map((l) => JSON.parse(l).type);
		assert.equal(types[0], 'attach');
		assert.equal(types.at(-1), 'summary');
	} finally {
		await child.stop();
	}
});

test('bad arguments name the option, exit 2', async () => {
	for (const [args, re] of [
		[['watch'], /-p\/--pid is required/],
		[['watch', '-p', 'abc'], /invalid value for -p\/--pid: 'abc'/],
		[['watch', '-p', '1', '-d', '10x'], /invalid value for -d\/--duration: '10x'/],
		[['watch', '-p', '1', '--interval', '1ms'], /invalid value for -i\/--interval: '1ms'/],
		[['watch', '-p', '1', '--block-ms', '0'], /invalid value for --block-ms: '0'/],
		[['watch', '-p', '1', '--frobnicate'], /unknown option '--frobnicate'/],
		[['frob', '-p', '1'], /unknown command 'frob'/],
	]) {
		const r = await runUvscope(args);
		assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
		assert.match(r.stderr, re);
	}
	const help = await runUvscope(['--help']);
	assert.equal(help.code, 0);
	assert.match(help.stdout, /usage: uvscope COMMAND -p PID/);
	const version = execFileSync(uvscope, ['--version']).toString();
	assert.match(version, /^uvscope \S+/);
});

test('a hostile process title never reaches the operator\'s terminal raw', async (t) => {
	if (skipWithoutBpf(t)) return;
	// An OSC title change, a bell and a clear-screen: what a terminal would obey.
	const title = '\\x1b]0;pwned\\x07\\x1b[2J';
	const child = new Child(process.execPath, ['-e', `process.title = '${title}';
		setInterval(() => {}, 1000); console.log(JSON.stringify({ ready: true }));`]);
	await child.waitFor((v) => v && v.ready, 'target ready');
	try {
		const comm = readFileSync(`/proc/${child.pid}/comm`, 'latin1');
		assert.ok(comm.includes('\x1b') && comm.includes('\x07'), 'the name is hostile');
		const raw = [];
		for (const args of [['watch', '-v', '-p', String(child.pid), '-d', '300ms'],
			['top', '-p', String(child.pid), '-d', '300ms'],
			['sockets', '-p', String(child.pid)]]) {
			const r = await runUvscope(args);
			assert.equal(r.code, 0, r.stderr);
			raw.push(r.stdout, r.stderr);
		}
		const all = raw.join('\n');
		assert.ok(all.includes('?]0;pwned?'), 'the name is shown, made safe');
		assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(all), 'no control byte on the terminal');
		const r = await runUvscope(['watch', '--json', '-p', String(child.pid), '-d', '300ms']);
		const hello = JSON.parse(r.stdout.split('\n')[0]);
		const main = hello.threads.find((th) => th.tid === child.pid);
		assert.equal(main.comm, '?]0;pwned??[2J');
	} finally {
		await child.stop();
	}
});

test('a thread name that starts with a newline and reverses the line is shown whole, made safe', async (t) => {
	if (skipWithoutBpf(t)) return;
	// Written as the target can: a newline first (the old reader cut the name there, to ""),
	// then U+202E, which makes a terminal print what follows right to left.
	const child = new Child(process.execPath, ['-e', `require('fs').writeFileSync('/proc/self/comm',
		Buffer.from([0x0a, 0xe2, 0x80, 0xae, 0x3b, 0x78]));
		setInterval(() => {}, 1000); console.log(JSON.stringify({ ready: true }));`]);
	await child.waitFor((v) => v && v.ready, 'target ready');
	try {
		const comm = readFileSync(`/proc/${child.pid}/comm`);
		assert.deepEqual([...comm], [0x0a, 0xe2, 0x80, 0xae, 0x3b, 0x78, 0x0a], 'the name is hostile');
		const shown = [];
		for (const args of [['watch', '-v', '-p', String(child.pid), '-d', '300ms'],
			['watch', '--json', '-p', String(child.pid), '-d', '300ms']]) {
			const r = await runUvscope(args);
			assert.equal(r.code, 0, r.stderr);
			shown.push(r.stdout, r.stderr);
		}
		const all = shown.join('\n');
		assert.ok(!all.includes('\u202e'), 'no right-to-left override on the terminal');
		assert.ok(all.includes('????;x'), 'the name is shown, whole');
		const hello = JSON.parse(shown[2].split('\n')[0]);
		assert.equal(hello.threads.find((th) => th.tid === child.pid).comm, '????;x');
	} finally {
		await child.stop();
	}
});
