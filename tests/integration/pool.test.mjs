// The libuv thread pool against ground truth: a fixture makes an exact number of calls of
// each kind, one after another. The pool is watched by default: no flag asks for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fetchNodeOrSkip, intervalsAfter, nodeBin, programsHeldBy, root, skipWithoutBpf,
	startFixture, startAgent } from './lib.mjs';

function sum(intervals, pick) {
	return intervals.reduce((acc, iv) => acc + (iv.threadpool ? pick(iv.threadpool) : 0), 0);
}

const NOTHING = { STAT: '0', READ: '0', DNS: '0', PBKDF2: '0', GZIP: '0' };

/*
 * Runs the fixture (pool.js) with env under `uvscope watch` with flags, tells it to go, waits
 * until it is done and two more intervals have passed, then calls
 * check({ agent, hello, intervals, done }), done being the fixture's last line.
 */
async function poolRun(env, check, flags = [], agentEnv = {}, fixture = 'pool.js') {
	const { child } = await startFixture(fixture, [], { ...NOTHING, ...env });
	const { agent, hello } = await startAgent(child.pid, [...flags, '--interval', '200ms'],
		agentEnv);
	try {
		child.send('go');
		const done = await child.waitFor((v) => v && v.done, 'fixture done');
		const intervals = () => agent.json().filter((v) => v.type === 'interval');
		await intervalsAfter(agent);
		await check({ agent, hello, intervals: intervals(), done });
	} finally {
		await agent.stop();
		await child.stop();
	}
}

// The two plans (README, "The thread pool"): 2 probe hits per job where the kernel has uprobe
// sessions (6.13+), else 4; UVSCOPE_NO_UPROBE_SESSION forces the 4-probe plan.
const FOUR_PROBE = { UVSCOPE_NO_UPROBE_SESSION: '1' };

// Whether hello says the plan asked for; a 2-probe run on a kernel without sessions skips.
function planIs(t, hello, plan) {
	if (plan === '2-probe' && hello.pool.plan !== '2-probe' &&
	    /no uprobe sessions/.test(hello.pool.plan_why || '')) {
		t.skip(hello.pool.plan_why);
		return false;
	}
	assert.equal(hello.pool.plan, plan, hello.pool.plan_why);
	return true;
}

// Three ways: the 2-probe plan; the 4-probe plan with the kernel's uprobe_multi links (6.6+);
// and with one link per uprobe as on older kernels (UVSCOPE_NO_UPROBE_MULTI forces those,
// and then the 4-probe plan: sessions are uprobe_multi links).
for (const [links, plan, agentEnv] of [
	['2-probe plan', '2-probe', {}],
	['4-probe plan, one uprobe_multi link per program', '4-probe', FOUR_PROBE],
	['4-probe plan, one link per uprobe', '4-probe', { UVSCOPE_NO_UPROBE_MULTI: '1' }],
]) test(`pool counts per kind and per fs operation equal the calls the fixture made (${links})`,
	async (t) => {
	if (skipWithoutBpf(t)) return;
	const env = { STAT: '7', READ: '5', DNS: '3', PBKDF2: '4', GZIP: '6' };
	await poolRun(env, ({ hello, intervals }) => {
		assert.deepEqual(hello.unavailable, []);
		if (!planIs(t, hello, plan)) return;
		const kind = (k, f) => sum(intervals, (p) => p.kinds[k][f]);
		const op = (name) => sum(intervals, (p) => p.kinds.fs.ops[name] || 0);
		t.diagnostic(JSON.stringify({ fs: kind('fs', 'submitted'), dns: kind('dns', 'submitted'),
			crypto: kind('crypto', 'submitted'), zlib: kind('zlib', 'submitted'),
			other: kind('other', 'submitted'), stat: op('stat'), open: op('open'),
			close: op('close'), read: op('read'), fstat: op('fstat') }));
		assert.equal(op('stat'), 7, 'fs.stat');
		assert.equal(op('open'), 5, 'fs.readFile opens once per call');
		assert.equal(op('close'), 5, 'and closes once');
		assert.equal(kind('fs', 'submitted'), 7 + 5 * 4, 'fs jobs: readFile is open, fstat, ' +
			'read, close');
		assert.equal(kind('dns', 'submitted'), 3, 'dns.lookup');
		const hosts = {};
		for (const iv of intervals)
			for (const h of iv.threadpool.kinds.dns.hosts)
				hosts[h.name] = (hosts[h.name] || 0) + h.count;
		assert.deepEqual(hosts, { localhost: 3 }, 'the names looked up');
		assert.equal(kind('crypto', 'submitted'), 4, 'crypto.pbkdf2');
		// zlib.gzip(buffer) is a stream: one job writes the input, one finishes the stream.
		assert.equal(kind('zlib', 'submitted'), 2 * 6, 'zlib.gzip: two pool jobs each');
		for (const k of ['fs', 'dns', 'crypto', 'zlib'])
			assert.equal(kind(k, 'completed'), kind(k, 'submitted'), `${k} all completed`);
		assert.equal(intervals.at(-1).threadpool.size, 4, 'the default pool size');
		// Every probe of a job is one the kernel emulates (only uv_random's, which node never
		// calls, may be single-stepped). The 2-probe plan ends every job in worker(); the
		// 4-probe plan follows CPU work at node's ThreadPoolWork callbacks.
		assert.equal(hello.pool.cpu_work, plan === '2-probe' ? 'worker' : 'node_callbacks');
		assert.equal(hello.pool.hits_per_job, plan === '2-probe' ? 2 : 4);
		assert.ok(hello.pool.single_stepped.every((f) => /^uv_+random/.test(f)),
			JSON.stringify(hello.pool));
		// Without --pool-delay the 2-probe plan does not measure completion delays: null.
		const fs = intervals.at(-1).threadpool;
		assert.equal(fs.completion, plan !== '2-probe');
		assert.equal(fs.kinds.fs.completion_p99_ns === null, plan === '2-probe');
	}, [], agentEnv);
});

const kindSum = (intervals, kind, f) => sum(intervals, (p) => p.kinds[kind][f]);

// Host names as the programs key them: up to their NUL, zeros after it. Names of 5, 15, 16 and
// 17 bytes (a NUL in the first 8 bytes, the second 8, just past 16), and one longer than the 63
// bytes kept (cut there, and shown ending in "…" in place of its last 3). Numeric forms getaddrinfo resolves without a network and node does
// not take for addresses (leading zeros), so each is a lookup on the pool. Each is looked up
// twice, the second time after the longest one left its bytes in the buffer behind the NUL:
// one name must be one key, or its second lookup goes uncounted (the agent's window takes the
// rise of a name's count; a key with those bytes in it fails so on the 4-probe plan).
const DNS_NAMES = ['127.1', '127.000.000.001', '127.0000000.0.01', '127.00000000.0.01',
	`127.${'0'.repeat(70)}.0.1`];
for (const [plan, agentEnv] of [['2-probe', {}], ['4-probe', FOUR_PROBE]]) test(
	`every host name is counted as it was looked up, a long one cut at 63 bytes (${plan})`,
	async (t) => {
	if (skipWithoutBpf(t)) return;
	const names = [...DNS_NAMES, ...DNS_NAMES];
	await poolRun({ DNS_NAMES: names.join(',') }, ({ hello, intervals }) => {
		if (!planIs(t, hello, plan)) return;
		const hosts = {};
		for (const iv of intervals)
			for (const h of iv.threadpool ? iv.threadpool.kinds.dns.hosts : [])
				hosts[h.name] = (hosts[h.name] || 0) + h.count;
		const shown = (n) => (n.length < 63 ? n : `${n.slice(0, 60)}\u2026`);
		assert.deepEqual(hosts, Object.fromEntries(DNS_NAMES.map((n) => [shown(n), 2])));
	}, [], agentEnv);
});

// Past the lookups per interval whose names are counted exactly (UVSCOPE_DNS_NAMES_EXACT, 5
// here), one in 16 at random is counted for 16: the counts are estimates, and say so. Truth:
// the fixture's 15,000 and 5,000 lookups of two names. Each estimate is within 5 standard
// deviations of the truth (binomial: about 3% of 15,000 and 5.5% of 5,000), and the exact
// budget's intervals are not marked. --no-guard: 20,000 lookups a second would have the
// overhead guard take the pool's probes out.
test('past the exact budget, host names are sampled: estimates near the truth, marked so',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const truth = { '127.1': 15000, '127.01': 5000 };
		await poolRun({ DNS_MIX: Object.entries(truth).map(([n, c]) => `${n}:${c}`).join(',') },
			({ agent, intervals }) => {
				const hosts = {};
				for (const iv of intervals) {
					const dns = iv.threadpool.kinds.dns;
					for (const h of dns.hosts) hosts[h.name] = (hosts[h.name] || 0) + h.count;
					if (dns.submitted > 0 && dns.submitted <= 5)
						assert.equal(dns.hosts_estimated, false, JSON.stringify(dns));
				}
				t.diagnostic(`estimated ${JSON.stringify(hosts)}, truth ${JSON.stringify(truth)}`);
				assert.ok(intervals.some((iv) => iv.threadpool.kinds.dns.hosts_estimated));
				assert.ok(Math.abs(hosts['127.1'] - 15000) <= 0.16 * 15000, JSON.stringify(hosts));
				assert.ok(Math.abs(hosts['127.01'] - 5000) <= 0.28 * 5000, JSON.stringify(hosts));
				assert.deepEqual(Object.keys(hosts).sort(), Object.keys(truth).sort());
				assert.equal(intervals.reduce((a, iv) => a + iv.threadpool.kinds.dns.submitted, 0),
					20000, 'every lookup is a job counted exactly');
			}, ['--no-guard'], { UVSCOPE_DNS_NAMES_EXACT: '5' });
	});

test('the default mode watches the pool; --pool changes nothing; --no-pool attaches no pool probe',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const env = { STAT: '3', PBKDF2: '2' };
		for (const flags of [[], ['--pool']]) {
			await poolRun(env, ({ agent, hello, intervals }) => {
				const held = programsHeldBy(agent.pid);
				t.diagnostic(`${flags.join(' ') || 'default'}: ${JSON.stringify(hello.pool)}; ` +
					`programs ${held.filter((n) => n.startsWith('uvs_pool_')).join(' ')}`);
				assert.ok(hello.pool && hello.pool.sites > 0);
				assert.ok(held.includes('uvs_pool_submit') && held.includes('uvs_pool_done') &&
					held.includes('uvs_pool_end'));
				assert.equal(kindSum(intervals, 'fs', 'submitted'), 3);
				assert.equal(kindSum(intervals, 'crypto', 'completed'), 2);
			}, flags);
		}
		await poolRun(env, ({ agent, hello, intervals }) => {
			const held = programsHeldBy(agent.pid);
			t.diagnostic(`--no-pool: programs ${held.join(' ')}`);
			assert.equal(hello.pool, null);
			assert.deepEqual(hello.unavailable, []);
			assert.ok(held.some((n) => n.startsWith('uvs_')), 'the agent holds its other programs');
			assert.deepEqual(held.filter((n) => n.startsWith('uvs_pool_')), [], 'no pool program');
			assert.ok(intervals.length > 0 && intervals.every((iv) => iv.threadpool === null));
		}, ['--no-pool']);
	});

test('readFileSync on the main thread is sync fs on the loop, not pool work', async (t) => {
	if (skipWithoutBpf(t)) return;
	await poolRun({ SYNC: '9' }, ({ agent, intervals }) => {
		const syncOnLoop = sum(intervals, (p) => p.sync_fs_on_loop);
		const op = (name) => sum(intervals, (p) => p.kinds.fs.ops[name] || 0);
		t.diagnostic(`sync on loop ${syncOnLoop}, open ${op('open')}, close ${op('close')}`);
		assert.equal(op('open'), 9, 'one open per readFileSync');
		assert.equal(op('close'), 9, 'one close per readFileSync');
		assert.ok(syncOnLoop >= 9 * 3, 'open, fstat or read, close: all on the loop thread');
		assert.equal(sum(intervals, (p) => p.submitted), 0, 'nothing went to the pool');
		// The alert fires with the first window that has them, and counts that window's calls.
		const fired = agent.json().filter((v) => v.type === 'alert' &&
			v.kind === 'sync_io_on_loop' && v.state === 'firing');
		assert.ok(fired.length >= 1, 'sync_io_on_loop fired');
		for (const a of fired)
			assert.equal(a.count, intervals.find((iv) => iv.ts_ns === a.ts_ns)
				.threadpool.sync_fs_on_loop, 'the firing window\'s calls');
	});
});

for (const [plan, agentEnv] of [['2-probe', {}], ['4-probe', FOUR_PROBE]]) test(
	`UV_THREADPOOL_SIZE=2 and a burst of 16 slow crypto jobs: 14 queued at most, waits that ` +
	`grow job by job (${plan} plan)`, async (t) => {
	if (skipWithoutBpf(t)) return;
	await poolRun({ BURST: '16', UV_THREADPOOL_SIZE: '2' },
		async ({ agent, hello, intervals }) => {
		if (!planIs(t, hello, plan)) return;
		// --pool-jobs: one record per job. In the order the jobs started, two at a time (one
		// per thread), each pair waited longer than the pair before it: the queue is FIFO.
		const jobs = agent.json().filter((v) => v.type === 'pool_job' && v.kind === 'crypto')
			.map((j) => ({ ...j, start: j.ts_ns - j.service_ns }))
			.sort((a, b) => a.start - b.start);
		t.diagnostic(`waits in start order (ms): ${jobs.map((j) =>
			(j.wait_ns / 1e6).toFixed(1)).join(' ')}`);
		assert.equal(jobs.length, 16);
		assert.ok(jobs.every((j) => j.op === null && j.service_ns > 0));
		assert.equal(new Set(jobs.map((j) => j.tid)).size, 2, 'served by the 2 pool threads');
		for (let i = 2; i < jobs.length; i++)
			assert.ok(jobs[i].wait_ns > jobs[i - 2].wait_ns, `job ${i} waited longer than ${i - 2}`);
		const pools = intervals.map((iv) => iv.threadpool);
		const maxQueued = Math.max(...pools.map((p) => p.queued_max));
		const crypto = pools.reduce((a, p) => a + p.kinds.crypto.completed, 0);
		t.diagnostic(`size ${pools.at(-1).size}, queued_max ${maxQueued}, crypto ${crypto}`);
		// 14 jobs queue behind 2 busy threads for most of the burst: saturated.
		const saturated = pools.filter((p) => p.saturation > 0.5).length;
		t.diagnostic(`saturation per interval: ${pools.map((p) => p.saturation).join(' ')}`);
		assert.ok(saturated >= 1, 'some interval is mostly saturated');
		// One alert for the burst, however many windows it saturated (the default hold-down
		// keeps a short dip from making a second).
		const alerts = agent.json().filter((v) => v.type === 'alert' &&
			v.kind === 'threadpool_saturated' && v.state === 'firing');
		assert.equal(alerts.length, 1, 'one threadpool_saturated alert for the burst');
		assert.ok(alerts.every((a) => a.size === 2 && a.saturation >= 0.5));
		assert.equal(pools.at(-1).saturation, 0, 'not saturated once the burst is over');
		assert.equal(pools.at(-1).size, 2);
		assert.ok(Math.abs(maxQueued - 14) <= 1, `queued_max ${maxQueued}`);
		assert.equal(crypto, 16);
		assert.equal(pools.at(-1).queued, 0);
		assert.equal(pools.at(-1).running, 0);
		// The summary's most queued is the session's, not the queue at the end (it said 0).
		await agent.stop();
		const summary = agent.json().find((v) => v.type === 'summary');
		assert.ok(summary, 'a summary');
		assert.equal(summary.threadpool.queued_max, maxQueued, 'the summary: the most queued');
	}, ['--pool-jobs'], agentEnv);
});

test('UV_USE_IO_URING=1 on Node 20: fs bypasses the pool, and uvscope says so', async (t) => {
	if (skipWithoutBpf(t)) return;
	// The reference: the same fixture without io_uring, where the stats are pool jobs.
	for (const [uring, expectStats] of [['0', 5], ['1', 0]]) {
		let skipped = null;
		await poolRun({ STAT: '5', UV_USE_IO_URING: uring }, ({ hello, intervals }) => {
			if (!hello.libuv_version.startsWith('1.46.')) {
				skipped = `libuv ${hello.libuv_version}: UV_USE_IO_URING applies to 1.45-1.47`;
				return;
			}
			// The 2-probe plan confirms each async fs submit at its return where io_uring
			// may take it (the process started with UV_USE_IO_URING=1), and only there.
			if (hello.pool.plan === '2-probe') {
				assert.equal(hello.pool.fs_confirmed, uring === '1');
				assert.equal(hello.pool.hits_per_job, uring === '1' ? 3 : 2);
			}
			const stats = sum(intervals, (p) => p.kinds.fs.ops.stat || 0);
			const last = intervals.at(-1).threadpool;
			t.diagnostic(`UV_USE_IO_URING=${uring}: ${stats} stat jobs, ` +
				`fs_io_uring ${last.fs_io_uring}`);
			assert.equal(stats, expectStats);
			assert.equal(last.fs_io_uring, uring === '1');
		});
		if (skipped) {
			t.skip(skipped);
			return;
		}
	}
});

// libuv 1.48 and later (Node 22+) open an io_uring ring for their epoll_ctl batching; fs work
// goes to io_uring there only with a loop flag Node does not set. So the ring is not fs
// bypassing the pool: a build that took it for that said "fs via io_uring, not counted" while
// it counted every fs job.
test('Node 24: its io_uring ring is not fs work bypassing the pool', async (t) => {
	if (skipWithoutBpf(t)) return;
	const bin = fetchNodeOrSkip(t, '24');
	if (!bin) return;
	const { child } = await startFixture('pool.js', [], { ...NOTHING, STAT: '5' }, [], bin);
	const { agent, hello } = await startAgent(child.pid, ['--interval', '200ms']);
	try {
		child.send('go');
		await child.waitFor((v) => v && v.done, 'fixture done');
		await intervalsAfter(agent);
		const dir = `/proc/${child.pid}/fd`;
		const ring = readdirSync(dir).some((fd) => {
			try {
				return readlinkSync(`${dir}/${fd}`) === 'anon_inode:[io_uring]';
			} catch {
				return false;
			}
		});
		const intervals = agent.json().filter((v) => v.type === 'interval');
		const stats = sum(intervals, (p) => p.kinds.fs.ops.stat || 0);
		t.diagnostic(`libuv ${hello.libuv_version}, an io_uring ring in the process: ${ring}` +
			`${ring ? '' : ' (so this run cannot tell)'}; ${stats} stat jobs`);
		assert.equal(stats, 5);
		assert.ok(intervals.every((v) => v.threadpool.fs_io_uring === false),
			'no interval says fs goes to io_uring');
	} finally {
		await agent.stop();
		await child.stop();
	}
});

// Jobs that never reach worker(): cancelled in the queue (a Worker terminated with fs calls
// pending). The 2-probe plan counted them in flight at submit; once libuv's statics say the
// pool is idle, the agent sweeps them, and queued and running come back to 0.
test('jobs cancelled in the queue do not stay in flight (2-probe plan)', async (t) => {
	if (skipWithoutBpf(t)) return;
	await poolRun({ CANCEL: '8', UV_THREADPOOL_SIZE: '1' }, async ({ agent, hello, intervals,
		done }) => {
		if (!planIs(t, hello, '2-probe')) return;
		assert.equal(done.cancel_valid, true, 'the pool was held while the Worker went');
		const sweepLine = () => agent.errLines.find((l) => /never reached the pool/.test(l));
		await agent.until(() => sweepLine(), 'the sweep');
		const swept = sweepLine();
		t.diagnostic(swept);
		const m = swept.match(/(\d+) jobs? of pid (\d+) never reached the pool/);
		assert.ok(m && Number(m[2]) === hello.pid, swept);
		// Some of the 8 may have been taken by the pool's thread before the Worker went.
		const fs = (f) => kindSum(intervals, 'fs', f);
		t.diagnostic(`fs submitted ${fs('submitted')}, completed ${fs('completed')}, swept ${m[1]}`);
		assert.equal(fs('submitted'), 8);
		assert.equal(fs('completed') + Number(m[1]), 8, 'each stat served or swept');
		await intervalsAfter(agent);
		const last = agent.json().filter((v) => v.type === 'interval').at(-1).threadpool;
		assert.equal(last.queued, 0);
		assert.equal(last.running, 0);
	}, ['-v']);
});

for (const kind of ['fs', 'crypto']) test(`completion delay (--pool-delay): a ${kind} result ` +
	'the blocked loop picks up 200 ms late', async (t) => {
	if (skipWithoutBpf(t)) return;
	await poolRun({ LATE_MS: '200', LATE_KIND: kind }, ({ hello, intervals,
		done: { late_ns: late } }) => {
		assert.equal(hello.pool.delay, true);
		assert.ok(intervals.every((iv) => iv.threadpool.completion));
		const k = intervals.map((iv) => iv.threadpool.kinds[kind]).filter((x) => x.completed);
		t.diagnostic(JSON.stringify(k));
		assert.equal(k.reduce((a, x) => a + x.submitted, 0), 1);
		const delay = Math.max(...intervals.map((iv) =>
			iv.threadpool.kinds[kind].completion_p99_ns));
		// The job takes microseconds, so nearly all of what the callback waited (as the
		// fixture measured it) is completion delay.
		assert.ok(Math.abs(delay - late) <= 0.1 * late,
			`completion delay ${delay / 1e6} ms, the fixture measured ${late / 1e6} ms`);
	}, ['--pool-delay']);
});

test('a Worker that makes sync fs calls and exits within one window: on a loop, no wrap',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const { child } = await startFixture('worker_sync.js');
		// A 1 s window: the Worker is born, reads and is gone between two of them.
		const { agent } = await startAgent(child.pid, ['--interval', '1s']);
		try {
			const intervals = () => agent.json().filter((v) => v.type === 'interval');
			const since = (n, f) => intervals().slice(n).reduce((a, iv) => a + f(iv.threadpool), 0);
			// The reference: uv_fs calls per readFileSync of this file, on the main thread.
			let mark = intervals().length;
			child.send('main 5');
			await child.waitFor((v) => v && v.main === 5, 'main thread reads done');
			await intervalsAfter(agent);
			const perRead = since(mark, (p) => p.sync_fs_on_loop) / 5;
			assert.ok(Number.isInteger(perRead) && perRead >= 3, `${perRead} calls per read`);
			mark = intervals().length;
			child.send('worker 30');
			await child.waitFor((v) => v && v.worker === 30, 'Worker exited');
			await intervalsAfter(agent);
			const onLoop = since(mark, (p) => p.sync_fs_on_loop);
			const other = since(mark, (p) => p.sync_fs_other);
			t.diagnostic(`${perRead} uv_fs calls per readFileSync; the Worker: on loop ` +
				`${onLoop}, other ${other}`);
			assert.equal(onLoop, 30 * perRead, 'every call of the Worker\'s 30 reads');
			for (const iv of intervals())
				for (const f of ['sync_fs_on_loop', 'sync_fs_on_loop_ns', 'sync_fs_other'])
					assert.ok(iv.threadpool[f] < 2 ** 48, `${f} ${iv.threadpool[f]}: wrapped`);
			const alerts = agent.json().filter((v) => v.type === 'alert' &&
				v.kind === 'sync_io_on_loop' && v.state === 'firing');
			assert.ok(alerts.length >= 1, 'sync_io_on_loop fired');
			for (const a of alerts)
				assert.equal(a.count, intervals().find((iv) => iv.ts_ns === a.ts_ns)
					.threadpool.sync_fs_on_loop, 'the firing window\'s calls');
		} finally {
			await agent.stop();
			await child.stop();
		}
	});

// An addon that calls uv_queue_work itself (tests/fixtures/native/queue_addon.c), built here
// against the headers of the node under test; null (and t skipped) when they are not there.
function buildAddon(t, dir) {
	const include = [path.resolve(path.dirname(nodeBin), '..', 'include', 'node'),
		'/usr/include/node'].find((d) => existsSync(path.join(d, 'node_api.h')));
	if (!include) {
		t.skip(`no node_api.h next to ${nodeBin} or in /usr/include/node`);
		return null;
	}
	const out = path.join(dir, 'queue_addon.node');
	execFileSync('cc', ['-O1', '-shared', '-fPIC', '-I', include, '-o', out,
		path.join(root, 'tests', 'fixtures', 'native', 'queue_addon.c')]);
	return out;
}

// The 2-probe plan ends every job in worker(), whoever queued it; the 4-probe plan follows CPU
// work at uv__queue_work (single-stepped) when an object imports uv_queue_work.
for (const [plan, agentEnv] of [['2-probe', {}], ['4-probe', FOUR_PROBE]]) test(
	`an addon that calls uv_queue_work itself: every job counted (${plan} plan)`,
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-addon-'));
		try {
			const addon = buildAddon(t, dir);
			if (!addon) return;
			await poolRun({ ADDON: addon, LOAD: 'early', JOBS: '5', PBKDF2: '4' },
				({ agent, hello, intervals }) => {
					t.diagnostic(JSON.stringify(hello.pool));
					if (!planIs(t, hello, plan)) return;
					if (plan === '2-probe') {
						assert.equal(hello.pool.cpu_work, 'worker');
						assert.ok(!hello.pool.single_stepped.includes('uv__queue_work'));
					} else {
						assert.equal(hello.pool.cpu_work, 'uv__queue_work');
						assert.match(hello.pool.cpu_work_why,
							/queue_addon\.node calls uv_queue_work itself/);
						assert.ok(hello.pool.single_stepped.includes('uv__queue_work'));
					}
					assert.equal(kindSum(intervals, 'other', 'submitted'), 5, 'the addon\'s jobs');
					assert.equal(kindSum(intervals, 'other', 'completed'), 5);
					assert.equal(kindSum(intervals, 'crypto', 'submitted'), 4);
					assert.equal(kindSum(intervals, 'crypto', 'completed'), 4);
					const unfollowed = agent.json().filter((v) => v.type === 'interval')
						.reduce((a, iv) => a + iv.agent.pool_jobs_unfollowed, 0);
					assert.equal(unfollowed, 0);
				}, [], agentEnv, 'pool_addon.js');
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

// The 4-probe plan cannot follow such jobs (no probe sees their service) and says how many;
// the 2-probe plan counts them as other work.
for (const [plan, agentEnv] of [['2-probe', {}], ['4-probe', FOUR_PROBE]]) test(
	`an addon loaded after attach: its uv_queue_work jobs are counted (2-probe) or unfollowed ` +
	`(4-probe), node's CPU work stays exact (${plan} plan)`, async (t) => {
	if (skipWithoutBpf(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-addon-'));
	try {
		const addon = buildAddon(t, dir);
		if (!addon) return;
		const { child } = await startFixture('pool_addon.js', [],
			{ ADDON: addon, JOBS: '5', PBKDF2: '4' });
		const { agent, hello } = await startAgent(child.pid, ['--interval', '200ms'], agentEnv);
		try {
			if (!planIs(t, hello, plan)) return;
			assert.equal(hello.pool.cpu_work, plan === '2-probe' ? 'worker' : 'node_callbacks');
			child.send('load');
			await child.waitFor((v) => v && v.loaded, 'addon loaded');
			child.send('go');
			await child.waitFor((v) => v && v.done, 'fixture done');
			await intervalsAfter(agent);
			const intervals = agent.json().filter((v) => v.type === 'interval');
			const unfollowed = intervals.reduce((a, iv) => a + iv.agent.pool_jobs_unfollowed, 0);
			t.diagnostic(`unfollowed ${unfollowed}, other ${kindSum(intervals, 'other', 'submitted')}`);
			assert.equal(unfollowed, plan === '2-probe' ? 0 : 5, 'each of the addon\'s jobs');
			assert.equal(kindSum(intervals, 'other', 'submitted'), plan === '2-probe' ? 5 : 0);
			assert.equal(kindSum(intervals, 'other', 'completed'), plan === '2-probe' ? 5 : 0);
			assert.equal(kindSum(intervals, 'crypto', 'submitted'), 4);
			assert.equal(kindSum(intervals, 'crypto', 'completed'), 4);
			assert.equal(intervals.at(-1).threadpool.queued, 0, 'nothing left queued');
			assert.equal(intervals.at(-1).threadpool.running, 0);
		} finally {
			await agent.stop();
			await child.stop();
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

// libuv's shutdown at the process's exit zeroes nthreads and ends the pool's threads: the
// window that sees the exit, and the summary, still give the size the pool had, not 0 ("not
// started") next to the jobs it ran.
test('pool: a target that exits keeps its pool\'s size in the last interval and the summary',
	async (t) => {
	if (skipWithoutBpf(t)) return;
	const script = 'const fs = require("fs");' +
		'console.log(JSON.stringify({ ready: true, pid: process.pid }));' +
		'let n = 8;' +
		'process.stdin.on("data", (d) => { if (String(d).startsWith("exit")) process.exit(0);' +
		'  for (let i = 0; i < 8; i++) fs.stat(__filename, () => { if (--n === 0)' +
		'    console.log(JSON.stringify({ done: 8 })); }); });';
	const child = new Child(nodeBin, ['-e', script],
		{ env: { ...process.env, UV_THREADPOOL_SIZE: '4' } });
	let agent;
	try {
		const ready = await child.waitFor((v) => v && v.ready, 'ready');
		({ agent } = await startAgent(ready.pid, ['--interval', '200ms']));
		child.send('go');
		await child.waitFor((v) => v && v.done, 'the jobs done');
		// An interval that saw the pool started, then the exit.
		await agent.waitFor((v) => v && v.type === 'interval' && v.threadpool &&
			v.threadpool.size === 4, 'an interval with the pool of 4');
		child.send('exit');
		await agent.exitPromise;
		const out = agent.json();
		const summary = out.find((v) => v.type === 'summary');
		const last = out.filter((v) => v.type === 'interval' && v.threadpool).at(-1);
		assert.ok(summary && summary.threadpool, 'a summary with the pool');
		assert.equal(summary.threadpool.size, 4, JSON.stringify(summary.threadpool).slice(0, 200));
		assert.equal(last.threadpool.size, 4, 'the last interval, after the exit');
		assert.ok(summary.threadpool.submitted >= 8, `submitted ${summary.threadpool.submitted}`);
	} finally {
		if (agent) await agent.stop();
		await child.stop();
	}
});
