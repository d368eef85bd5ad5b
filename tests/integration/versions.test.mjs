// Other official Node builds (libuv 1.44 on Node 18 runs timers first and waits in
// epoll_wait; 1.51 on Node 22), and a stripped binary: the degraded case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fixtures, fetchNodeOrSkip, intervalsAfter, nodeVersions, skipWithoutBpf,
	startAgent } from './lib.mjs';

const versions = nodeVersions();

async function start(nodeBin, script, args = [], env = {}) {
	const child = new Child(nodeBin, [path.join(fixtures, script), ...args],
		{ env: { ...process.env, ...env } });
	const ready = await child.waitFor((v) => v && v.ready, `${script} ready`);
	return { child, ready };
}

async function phaseTotals(nodeBin, mode) {
	const { child } = await start(nodeBin, 'phases.js', [mode]);
	const { agent, hello } = await startAgent(child.pid, ['--phases', '--interval', '500ms']);
	try {
		const intervals = () => agent.json().filter((v) => v.type === 'interval');
		await agent.waitFor(() => intervals().length >= 3, 'three intervals');
		const totals = {};
		for (const iv of intervals().slice(1)) {
			const main = iv.loops.find((l) => l.role === 'main');
			for (const [name, p] of Object.entries(main.phases))
				totals[name] = (totals[name] || 0) + p.total_ns;
		}
		return { hello, totals };
	} finally {
		await agent.stop();
		await child.stop();
	}
}

// Each ended block within 10% of the length block.js measured around it.
function expectMeasured(child, ended) {
	const blocks = child.json().filter((v) => v.block);
	assert.equal(ended.length, blocks.length);
	for (const [i, b] of blocks.entries()) {
		const truth = b.end_ns - b.start_ns;
		assert.ok(Math.abs(ended[i].blocked_ns - truth) <= 0.1 * truth,
			`block ${i + 1}: uvscope ${ended[i].blocked_ns} ns, fixture ${truth} ns`);
	}
}

// The thread pool on this build (watched by default): exact job counts per kind for a
// fixture's exact calls, each job served and completed, from probes the kernel emulates (CPU
// work at node's ThreadPoolWork callbacks; uv_queue_work at its `je` where it starts with
// `test`).
async function checkPool(t, nodeBin, plan) {
	const { child } = await start(nodeBin, 'pool.js', [],
		{ STAT: '7', READ: '0', DNS: '3', PBKDF2: '4', GZIP: '6' });
	const { agent, hello } = await startAgent(child.pid, ['--interval', '200ms'],
		plan === '4-probe' ? { UVSCOPE_NO_UPROBE_SESSION: '1' } : {});
	try {
		assert.deepEqual(hello.unavailable, []);
		t.diagnostic(`pool hooks: ${JSON.stringify(hello.pool)}`);
		// The 2-probe plan where the kernel has uprobe sessions: worker()'s end site is
		// proven on every official build (tests/unit/test_worker_site.c).
		if (plan === '2-probe' && /no uprobe sessions/.test(hello.pool.plan_why || ''))
			return;
		assert.equal(hello.pool.plan, plan, hello.pool.plan_why);
		assert.equal(hello.pool.cpu_work, plan === '2-probe' ? 'worker' : 'node_callbacks');
		assert.ok(hello.pool.single_stepped.every((f) => /^uv_+random/.test(f)));
		child.send('go');
		await child.waitFor((v) => v && v.done, 'pool fixture done');
		const intervals = () => agent.json().filter((v) => v.type === 'interval');
		await intervalsAfter(agent);
		const total = (f) => intervals().reduce((a, iv) => a + f(iv.threadpool), 0);
		const got = {
			stat: total((p) => p.kinds.fs.ops.stat || 0),
			dns: total((p) => p.kinds.dns.submitted),
			crypto: total((p) => p.kinds.crypto.submitted),
			zlib: total((p) => p.kinds.zlib.submitted),
		};
		t.diagnostic(`pool: ${JSON.stringify(got)}`);
		assert.deepEqual(got, { stat: 7, dns: 3, crypto: 4, zlib: 12 });
		const kinds = ['fs', 'dns', 'crypto', 'zlib'];
		const served = (f) => kinds.map((k) => total((p) => p.kinds[k][f]));
		assert.deepEqual(served('completed'), served('submitted'), 'every job served');
	} finally {
		await agent.stop();
		await child.stop();
	}
}

for (const version of versions) {
	test(`node ${version}: phases, thread pool counts and blocks`, async (t) => {
		if (skipWithoutBpf(t)) return;
		const nodeBin = fetchNodeOrSkip(t, version);
		if (!nodeBin) return;
		for (const [mode, other] of [['timers', 'check'], ['check', 'timers']]) {
			const { hello, totals } = await phaseTotals(nodeBin, mode);
			t.diagnostic(`libuv ${hello.libuv_version}, ${mode}: ${JSON.stringify(totals)}`);
			assert.equal(hello.mode, 'exact-phases', JSON.stringify(hello.unavailable));
			assert.ok(totals[mode] > 5 * totals[other], `${mode}: ${JSON.stringify(totals)}`);
		}
		for (const plan of ['2-probe', '4-probe']) await checkPool(t, nodeBin, plan);
		const { child } = await start(nodeBin, 'block.js', [], { BLOCK_MS: '250', COUNT: '2' });
		const { agent } = await startAgent(child.pid);
		try {
			child.send('go');
			const ended = () => agent.json().filter((v) => v.type === 'alert' && !v.ongoing);
			await agent.waitFor(() => ended().length >= 2, 'two ended alerts');
			await child.waitFor((v) => v && v.done, 'fixture done');
			expectMeasured(child, ended());
		} finally {
			await agent.stop();
			await child.stop();
		}
	});
}

test('a stripped node: busy/idle and blocks still work, phases are reported missing',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-stripped-'));
		const stripped = path.join(dir, 'node');
		try {
			execFileSync('strip', ['-o', stripped, process.execPath]);
			assert.ok(existsSync(stripped));
			const { child } = await start(stripped, 'block.js', [],
				{ BLOCK_MS: '250', COUNT: '1' });
			const { agent, hello } = await startAgent(child.pid, ['--phases']);
			try {
				assert.equal(hello.mode, 'epoll');
				assert.match(hello.unavailable.join(' '), /stripped \(no \.symtab\)/);
				child.send('go');
				const ended = () => agent.json().filter((v) => v.type === 'alert' &&
					!v.ongoing);
				await agent.waitFor(() => ended().length >= 1, 'the block');
				await child.waitFor((v) => v && v.done, 'fixture done');
				expectMeasured(child, ended());
				assert.equal(ended()[0].role, 'main');
			} finally {
				await agent.stop();
				await child.stop();
			}
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

test('node --use-largepages: phases are refused exactly when the code left the file', async (t) => {
	if (skipWithoutBpf(t)) return;
	const nm = execFileSync('nm', [process.execPath], { maxBuffer: 1 << 30 }).toString();
	const line = nm.split('\n').find((l) => l.endsWith(' uv__run_timers'));
	if (!line) {
		t.skip('this node has no uv__run_timers symbol');
		return;
	}
	const addr = BigInt('0x' + line.split(' ')[0]);
	const child = new Child(process.execPath,
		['--use-largepages=on', path.join(fixtures, 'phases.js'), 'timers']);
	await child.waitFor((v) => v && v.ready, 'fixture ready');
	try {
		// The independent truth: is that address backed by the node file right now?
		const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8').split('\n');
		const m = maps.map((l) => l.split(/\s+/)).find(([range]) => {
			if (!range) return false;
			const [lo, hi] = range.split('-').map((x) => BigInt('0x' + x));
			return addr >= lo && addr < hi;
		});
		const fromFile = Boolean(m && m[5] && m[5].startsWith('/'));
		t.diagnostic(`uv__run_timers ${fromFile ? 'runs from the file' : 'was remapped'}`);
		const { agent, hello } = await startAgent(child.pid, ['--phases']);
		await agent.stop();
		if (fromFile) {
			assert.equal(hello.mode, 'exact-phases');
		} else {
			assert.equal(hello.mode, 'epoll');
			assert.match(hello.unavailable.join(' '), /use-largepages/);
		}
	} finally {
		await child.stop();
	}
});
