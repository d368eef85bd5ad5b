// Sampled stacks with JavaScript names, from outside, with no flag in the target: the fixture's
// functions have known names, files and start lines (read from its source here: an
// independent ground truth), and they are where its loop spends its busy time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { assertChainsBelowIdle, Child, fixtures, fetchNodeOrSkip, nodeBin, nodeVersions, root, runUvscope, skipWithoutBpf,
	startAgent, jsFrame, readFolded } from './lib.mjs';

const FIXTURE = path.join(fixtures, 'stacks.js');
const LIB = path.join(fixtures, 'stacks', 'lib.js');

// In the temporary directory: --perf-basic-prof writes V8's isolate-*.log into the cwd.
async function startStacks(bin, nodeArgs = []) {
	const child = new Child(bin, [...nodeArgs, FIXTURE],
		{ env: { ...process.env }, cwd: os.tmpdir() });
	await child.waitFor((v) => v && v.ready, 'stacks.js ready');
	return child;
}

async function flame(pid, args) {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-flame-'));
	const out = path.join(dir, 'loop.folded');
	try {
		const r = await runUvscope(['flame', '-p', String(pid), '-d', '3s', '-o', out, ...args]);
		assert.equal(r.code, 0, r.stderr);
		return { lines: readFolded(out), stderr: r.stderr };
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

// The loop's busy samples are dominated by the fixture's hot function, under its caller.
async function checkLoopNames(bin, nodeArgs = []) {
	const child = await startStacks(bin, nodeArgs);
	try {
		const { lines } = await flame(child.pid, ['--mode', 'loop']);
		const total = lines.reduce((s, l) => s + l.count, 0);
		const leaf = jsFrame('stacksHotLeaf', FIXTURE);
		const caller = jsFrame('stacksOuterCaller', FIXTURE);
		const lib = jsFrame('stacksLibSpin', LIB);
		const hot = lines.filter((l) => l.frames.some((f) => leaf.test(f)));
		const hotCount = hot.reduce((s, l) => s + l.count, 0);
		assert.ok(total >= 20, `enough loop samples: ${total}`);
		assert.ok(hotCount > total / 2,
			`stacksHotLeaf in ${hotCount} of ${total} loop samples; top: ` +
			JSON.stringify(lines.sort((a, b) => b.count - a.count).slice(0, 3)));
		// The call chain: the caller sits right above the leaf (root first), in most of them.
		const chained = hot.filter((l) => {
			const i = l.frames.findIndex((f) => leaf.test(f));
			return i > 0 && caller.test(l.frames[i - 1]);
		}).reduce((s, l) => s + l.count, 0);
		assert.ok(chained > hotCount / 2, `stacksOuterCaller above stacksHotLeaf: ${chained}/${hotCount}`);
		// Each stack is rooted at the main loop and a phase (the interval runs as a timer).
		assert.ok(lines.every((l) => /^main loop \d+/.test(l.frames[0])), 'rooted at the loop');
		const timers = hot.filter((l) => l.frames[1] === 'timers').reduce((s, l) => s + l.count, 0);
		assert.ok(timers > hotCount / 2, `hot samples in the timers phase: ${timers}/${hotCount}`);
		// A function from a second script, named with its own file.
		assert.ok(lines.some((l) => l.frames.some((f) => lib.test(f))), 'stacksLibSpin named');
		// The blocked-loop alert it provokes names the spinning function and its caller.
		const { agent } = await startAgent(child.pid, ['--block-ms', '100']);
		try {
			const alert = await blockStacks(child, agent, 'block');
			const place = alert.places[0].frames;
			assert.ok(jsFrame('stacksHotLeaf', FIXTURE).test(place[0]) &&
				jsFrame('stacksBusyWait', FIXTURE).test(place[1]) &&
				jsFrame('stacksBlockingRoute', FIXTURE).test(place[2]),
				`the block's place: ${JSON.stringify(alert.places)}`);
			assert.ok(alert.places[0].samples * 2 > alert.samples,
				`most of the block: ${alert.places[0].samples} of ${alert.samples}`);
		} finally {
			await agent.stop();
		}
		return lines;
	} finally {
		await child.stop();
	}
}

const versions = ['this', ...nodeVersions('18 22 24')];

for (const v of versions) {
	test(`JS functions named without flags, with their callers, in flame and in a blocked-loop alert, on node ${v}`, async (t) => {
		if (skipWithoutBpf(t)) return;
		const bin = v === 'this' ? nodeBin : fetchNodeOrSkip(t, v);
		if (!bin) return;
		await checkLoopNames(bin);
	});
}

test('with --perf-basic-prof the names are the same', async (t) => {
	if (skipWithoutBpf(t)) return;
	await checkLoopNames(nodeBin, ['--perf-basic-prof']);
});

// The blocked-loop alert names what blocked: a JS spin, a sync crypto call, an Atomics.wait.
async function blockStacks(child, agent, word) {
	const ended = () => agent.json().filter((v) => v.type === 'alert' && v.kind === 'loop_blocked' &&
		!v.ongoing);
	const before = ended().length;
	child.send(word);
	await child.waitFor((v) => v && v.done === word, `${word} done`);
	await agent.waitFor(() => ended().length > before, `the ${word} block's final alert`);
	return ended().at(-1);
}

function framesOf(alert) {
	assert.ok(Array.isArray(alert.stacks) && alert.stacks.length > 0, JSON.stringify(alert));
	return alert.stacks[0].frames;
}

// Both ways of sampling: per-CPU events (the default) and per-thread events (the fallback where
// whole CPUs may not be watched). The attach line says which one ran.
const SAMPLING = [
	{ how: 'per-CPU events', env: {} },
	{ how: 'per-thread events', env: { UVSCOPE_SAMPLE_PER_THREAD: '1' } },
];
const NORMAL_HZ = 99;
const BLOCKED_HZ = 997;

for (const { how, env } of SAMPLING) test(`blocked-loop alerts carry the stacks that blocked: JS, native crypto, Atomics.wait, execSync (${how})`, async (t) => {
	if (skipWithoutBpf(t)) return;
	const child = await startStacks(nodeBin);
	const { agent, hello } = await startAgent(child.pid, ['--block-ms', '100',
		'--sample-hz', String(NORMAL_HZ), '--blocked-hz', String(BLOCKED_HZ)], env);
	try {
		assert.ok(hello.stacks.includes(`by ${how}`), hello.stacks);
		// A spin in JS: the innermost frames name the spinning function and its callers.
		const spin = await blockStacks(child, agent, 'block');
		const frames = framesOf(spin);
		const busy = frames.findIndex((f) => jsFrame('stacksBusyWait', FIXTURE).test(f));
		assert.ok(busy >= 0, `stacksBusyWait in ${JSON.stringify(frames)}`);
		assert.ok(frames.slice(busy).some((f) => jsFrame('stacksBlockingRoute', FIXTURE).test(f)),
			'its caller too');
		// The spinning thread was on the CPU for the whole block: at the normal rate it would
		// have given blocked_ns * 99 Hz samples; once blocked it is sampled at 997 Hz, so more
		// than twice that shows the faster rate took over (300 ms: ~30 vs ~200).
		const normal = spin.blocked_ns / 1e9 * NORMAL_HZ;
		assert.ok(spin.samples > 2 * normal,
			`${spin.samples} samples in a ${spin.blocked_ns} ns block: the ${BLOCKED_HZ} Hz rate ` +
			`did not take over (${normal.toFixed(0)} at ${NORMAL_HZ} Hz)`);
		// Native code (OpenSSL under pbkdf2Sync) still names the JS function that called it.
		const cr = await blockStacks(child, agent, 'crypto');
		const crShare = cr.stacks.filter((s) => s.frames.some((f) =>
			jsFrame('stacksCryptoCaller', FIXTURE).test(f))).reduce((n, s) => n + s.samples, 0);
		assert.ok(crShare > 0, `stacksCryptoCaller in the crypto block: ${JSON.stringify(cr.stacks)}`);
		// Asleep in Atomics.wait: read off the CPU, named all the same.
		const w = await blockStacks(child, agent, 'wait');
		const waiter = w.stacks.filter((s) => s.off_cpu > 0 && s.frames.some((f) =>
			jsFrame('stacksAtomicsWaiter', FIXTURE).test(f)));
		assert.ok(waiter.length > 0, `stacksAtomicsWaiter asleep: ${JSON.stringify(w.stacks)}`);
		// Asleep in execSync's own loop: libc's epoll_pwait breaks the frame-pointer walk and
		// uv__io_poll's 12 KiB of epoll events put the JS caller beyond the sample's copy; it
		// is read from the sleeping thread, and the place starts at the Node function called.
		const ex = await blockStacks(child, agent, 'exec');
		const caller = ex.stacks.filter((s) => s.off_cpu > 0 && s.frames.some((f) =>
			jsFrame('stacksExecSyncCaller', FIXTURE).test(f)));
		assert.ok(caller.length > 0, `stacksExecSyncCaller asleep: ${JSON.stringify(ex.stacks)}`);
		assert.match(ex.places[0].frames[0], /^execSync node:child_process:\d+$/,
			JSON.stringify(ex.places));
		assert.ok(jsFrame('stacksExecSyncCaller', FIXTURE).test(ex.places[0].frames[1]),
			JSON.stringify(ex.places));
	} finally {
		await agent.stop();
		await child.stop();
	}
});

// A native program with known call chains: below its idle callback the folded stacks are
// exactly those chains, whatever libuv (Debian's, without frame pointers) does above it.
test('a native C program: the folded output has exactly its call chains', async (t) => {
	if (skipWithoutBpf(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-chains-'));
	const bin = path.join(dir, 'chains');
	try {
		execFileSync('cc', ['-O1', '-g', '-fno-omit-frame-pointer', '-mno-omit-leaf-frame-pointer',
			'-fno-inline', '-fno-optimize-sibling-calls', '-o', bin,
			path.join(root, 'tests', 'fixtures', 'native', 'chains.c'), '-luv']);
		const child = new Child(bin, []);
		try {
			await child.waitFor((v) => v && v.ready, 'chains ready');
			const { lines } = await flame(child.pid, ['--mode', 'cpu']);
			const { total, strip } = assertChainsBelowIdle(assert, lines, 'BPF');
			// And the walk reaches main above the callback, through libuv.
			const withMain = lines.filter((l) => l.frames.map(strip).includes('main'))
				.reduce((s, l) => s + l.count, 0);
			assert.ok(withMain > total * 0.8, `main reached in ${withMain} of ${total}`);
		} finally {
			await child.stop();
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

// One sampling run written as folded, pprof and SVG: independent readers agree with each other.
test('flame writes one profile as folded, pprof (read back by go tool pprof) and SVG (parsed as XML)', async (t) => {
	if (skipWithoutBpf(t)) return;
	const child = await startStacks(nodeBin);
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-formats-'));
	try {
		const files = ['p.folded', 'p.pb.gz', 'p.svg'].map((f) => path.join(dir, f));
		const r = await runUvscope(['flame', '-p', String(child.pid), '-d', '3s', '--mode', 'loop',
			...files.flatMap((f) => ['-o', f])]);
		assert.equal(r.code, 0, r.stderr);
		const folded = readFolded(files[0]);
		const total = folded.reduce((s, l) => s + l.count, 0);
		assert.ok(total > 0, 'samples');
		// go tool pprof -raw lists every sample with its count: the sum is the folded total.
		let raw = null;
		try {
			raw = execFileSync('go', ['tool', 'pprof', '-raw', files[1]], {
				env: { ...process.env, HOME: dir, GOCACHE: path.join(dir, 'gocache'),
					GOFLAGS: '', GOTOOLCHAIN: 'local' },
				stdio: ['ignore', 'pipe', 'pipe'] }).toString();
		} catch (e) {
			if (e.code === 'ENOENT') {
				console.error('SKIP pprof check: no go on PATH (apt-get install golang-go)');
			} else {
				throw e;
			}
		}
		if (raw !== null) {
			const samples = raw.split('Samples:')[1].split('Locations')[0];
			const counts = [...samples.matchAll(/^\s+(\d+)\s+\d+:/gm)].map((m) => Number(m[1]));
			assert.equal(counts.reduce((s, n) => s + n, 0), total, 'pprof total = folded total');
			assert.ok(raw.includes('stacksHotLeaf'), 'pprof names the hot function');
		}
		// The SVG is well-formed XML (xmllint, an independent parser) and names the functions.
		execFileSync('xmllint', ['--noout', files[2]]);
		const svg = readFileSync(files[2], 'utf8');
		for (const name of ['stacksHotLeaf', 'stacksOuterCaller', 'stacksLibSpin'])
			assert.ok(svg.includes(name), `${name} in the SVG`);
	} finally {
		rmSync(dir, { recursive: true, force: true });
		await child.stop();
	}
});

// The main thread's time on a CPU and waiting for one, ns, from the kernel's schedstat.
function cpuAndRunDelay(pid) {
	const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')
		.trim().split(/\s+/).map(Number);
	return { onCpu, waiting };
}

// The phase a sample ran in, from its return address into uv_run, against the exact phase
// uprobes on the same loop at the same time: the shares of busy time agree within 5 points.
// Samples count CPU time and the probes wall time: a loop thread kept off its CPU (the
// machine busy with other work) spends wall time in a phase that no sample sees, and then
// the two measure different things; that run is said and not compared.
test('sampled phases agree with the exact phase uprobes (--phases) within 5 points', async (t) => {
	if (skipWithoutBpf(t)) return;
	const child = new Child(nodeBin, [path.join(fixtures, 'phase_rotation.js')]);
	await child.waitFor((v) => v && v.ready, 'phase_rotation.js ready');
	const { agent } = await startAgent(child.pid, ['--phases', '--interval', '500ms']);
	try {
		const intervals = () => agent.json().filter((v) => v.type === 'interval');
		const first = intervals().length;
		const sched0 = cpuAndRunDelay(child.pid);
		const { lines } = await flame(child.pid, ['--mode', 'loop', '--sample-hz', '997']);
		const sched1 = cpuAndRunDelay(child.pid);
		const last = intervals().length;
		const runDelay = (sched1.waiting - sched0.waiting) / (sched1.onCpu - sched0.onCpu);
		// Exact: the busy phases' time in the intervals the sampling ran through.
		const exact = {};
		let exactTotal = 0;
		for (const iv of intervals().slice(first, last)) {
			const main = iv.loops.find((l) => l.role === 'main');
			for (const [name, p] of Object.entries(main.phases)) {
				if (name === 'poll_wait') continue;
				exact[name] = (exact[name] || 0) + p.total_ns;
				exactTotal += p.total_ns;
			}
		}
		// Sampled: the second frame of each loop stack is its phase.
		const sampled = {};
		let sampledTotal = 0;
		for (const l of lines) {
			sampled[l.frames[1]] = (sampled[l.frames[1]] || 0) + l.count;
			sampledTotal += l.count;
		}
		assert.ok(exactTotal > 0 && sampledTotal >= 200, `${exactTotal} ns, ${sampledTotal} samples`);
		const share = (m, total, k) => (m[k] || 0) / total;
		const report = JSON.stringify({ exact, sampled });
		t.diagnostic(`${sampledTotal} samples; exact/sampled %: ` + ['timers', 'check', 'poll_io',
			'close'].map((k) => `${k} ${(100 * share(exact, exactTotal, k)).toFixed(1)}/` +
			`${(100 * share(sampled, sampledTotal, k)).toFixed(1)}`).join(', ') +
			`; the loop thread waited for a CPU ${(100 * runDelay).toFixed(1)}% of its CPU time`);
		if (runDelay > 0.05)
			return t.skip(`the loop thread waited for a CPU for ${(100 * runDelay).toFixed(0)}% ` +
				'of its CPU time: other work on this machine; wall and CPU shares differ');
		for (const phase of ['timers', 'check', 'poll_io', 'close']) {
			const e = share(exact, exactTotal, phase), s = share(sampled, sampledTotal, phase);
			assert.ok(e > 0.1, `${phase} is a real share of the exact time: ${report}`);
			assert.ok(Math.abs(e - s) <= 0.05,
				`${phase}: exact ${(e * 100).toFixed(1)}%, sampled ${(s * 100).toFixed(1)}%: ${report}`);
		}
	} finally {
		await agent.stop();
		await child.stop();
	}
});
