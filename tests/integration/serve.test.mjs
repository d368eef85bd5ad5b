// uvscope serve: the /metrics page against ground truth (a fixture's exact pool jobs and one
// 250 ms block, and the JSON lines of the same session over the same window), promtool on a
// real scrape, hostile and many clients, and where it can be reached from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { Child, fixtures, freePort, skipWithoutBpf, startFixture, until, uvscope } from './lib.mjs';

// One raw HTTP exchange: sends `bytes`, resolves with everything the server sent until it
// closed (or '' on a connection error, with the error).
function raw(host, port, bytes) {
	return new Promise((resolve) => {
		const chunks = [];
		const s = net.connect(port, host, () => s.end(bytes));
		s.on('data', (d) => chunks.push(d));
		s.on('error', (e) => resolve({ text: Buffer.concat(chunks).toString(), error: e }));
		s.on('close', () => resolve({ text: Buffer.concat(chunks).toString(), error: null }));
	});
}

async function scrape(port, headers = {}, host = '127.0.0.1') {
	const res = await fetch(`http://${host}:${port}/metrics`, { headers });
	return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

// The samples of a text page: "name{labels}" -> value (as a string: seconds stay exact).
function parse(text) {
	const m = new Map();
	for (const line of text.split('\n')) {
		if (!line || line.startsWith('#')) continue;
		const i = line.lastIndexOf(' ');
		m.set(line.slice(0, i), line.slice(i + 1));
	}
	return m;
}

// Exact decimal seconds ("1.000250001") -> BigInt nanoseconds.
function ns(seconds) {
	const [int, frac = ''] = seconds.split('.');
	return BigInt(int) * 1000000000n + BigInt((frac + '000000000').slice(0, 9));
}

// The one sample whose name starts with `name{` and whose labels include every `want`.
function value(samples, name, want = []) {
	const hits = [...samples].filter(([k]) => k.startsWith(name + '{') &&
		want.every((w) => k.includes(w)));
	assert.equal(hits.length, 1, `one sample of ${name} ${want.join(',')}: ${hits.length}`);
	return hits[0][1];
}

async function startServe(pid, extra) {
	const agent = new Child(uvscope, ['serve', '-p', String(pid), ...extra]);
	// The attach line: on stderr, or with --json the "attach" JSON line on stdout.
	await agent.until(() => agent.errLines.some((l) => l.includes('attached to pid')) ||
		agent.json().some((v) => v.type === 'attach'), 'serve attached');
	return agent;
}

// The next page built after `after` (wall clock ns): the page of a later interval.
async function pageAfter(port, after) {
	let page;
	await until(async () => {
		const r = await scrape(port);
		const s = parse(r.text);
		const ts = [...s].find(([k]) => k.startsWith('uvscope_last_interval_timestamp_seconds'));
		page = { ...r, samples: s, ts: ts ? ns(ts[1]) : 0n };
		return r.status === 200 && page.ts > after;
	}, 'a page of a later interval');
	return page;
}

function promtool(text) {
	return spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
}

test('serve: counters move by the fixture\'s exact work and agree with watch --json', async (t) => {
	if (skipWithoutBpf(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-serve-'));
	const jsonl = path.join(dir, 'serve.jsonl');
	// LATE_MS: after its jobs the fixture spins 250 ms right after one more fs.stat: one
	// blocked episode of a length the agent alone knows exactly.
	// An argument and a variable the page must never show (nor the script's path).
	const { child } = await startFixture('pool.js', ['argv-secret-7f3a'],
		{ LATE_MS: '250', UVSCOPE_TEST_SECRET: 'env-secret-91c2' });
	const port = await freePort();
	const agent = await startServe(child.pid, ['--listen', `127.0.0.1:${port}`,
		'--json-file', jsonl, '--block-ms', '100', '--no-stacks']);
	try {
		const a = await pageAfter(port, 0n);
		child.send('go');
		const done = await child.waitFor((v) => v && v.done, 'fixture done');
		const doneAt = BigInt(Date.now()) * 1000000n;
		// Two pages later: the one being built when the fixture finished may have begun
		// before its last job ended.
		const mid = await pageAfter(port, doneAt);
		const b = await pageAfter(port, mid.ts);

		const check = promtool(b.text);
		assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
		assert.match(b.type, /^text\/plain; version=0\.0\.4/);

		// ts_ns is past 2^53: read it from the text, exactly, not through a JS number.
		const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) =>
			({ ...JSON.parse(l), ts: BigInt((l.match(/"ts_ns":(\d+)/) || [0, 0])[1]) }));
		const intervals = lines.filter((v) => v.type === 'interval' && v.ts > a.ts &&
			v.ts <= b.ts);
		assert.ok(intervals.length >= 2, 'the window between the scrapes has intervals');
		assert.equal(intervals.at(-1).ts, b.ts, 'page b is that interval\'s');
		const sum = (f) => intervals.reduce((acc, v) => acc + BigInt(f(v)), 0n);
		const main = [`tid="${child.pid}"`, 'role="main"'];
		const delta = (name, labels, asNs = false) => {
			const conv = asNs ? ns : BigInt;
			return conv(value(b.samples, name, labels)) - conv(value(a.samples, name, labels));
		};

		// The fixture's calls: fs.stat 7 (+1 late), fs.readFile 5 (4 fs jobs each), dns 3,
		// pbkdf2 4, gzip 6 (2 zlib jobs each): ground truth, and the JSON lines' sum.
		const truth = { fs: 7 + 1 + 5 * 4, dns: done.counts.lookup, crypto: done.counts.pbkdf2,
			zlib: 2 * done.counts.gzip };
		for (const [kind, n] of Object.entries(truth)) {
			const k = [`kind="${kind}"`];
			assert.equal(delta('uvscope_pool_jobs_submitted_total', k), BigInt(n), kind);
			assert.equal(delta('uvscope_pool_jobs_completed_total', k), BigInt(n), kind);
			assert.equal(delta('uvscope_pool_wait_seconds_count', k), BigInt(n), kind);
			assert.equal(delta('uvscope_pool_jobs_submitted_total', k),
				sum((v) => v.threadpool.kinds[kind].submitted), `${kind} = watch --json`);
		}
		const loopOf = (v) => v.loops.find((l) => l.tid === child.pid);
		assert.equal(delta('uvscope_loop_iterations_total', main),
			sum((v) => loopOf(v).iterations), 'iterations = the JSON intervals\' sum');
		assert.equal(delta('uvscope_loop_busy_seconds_total', main, true),
			sum((v) => loopOf(v).busy_ns), 'busy ns = the JSON intervals\' sum');
		assert.equal(delta('uvscope_loop_busy_per_iteration_seconds_count', main),
			delta('uvscope_loop_iterations_total', main), 'one busy value per iteration');

		// The block: one episode, its length the final alert's, counted once as an alert.
		assert.equal(delta('uvscope_loop_blocked_episodes_total', main), 1n);
		assert.equal(sum((v) => loopOf(v).blocks), 1n);
		const alerts = lines.filter((v) => v.type === 'alert' && v.kind === 'loop_blocked' &&
			!v.ongoing);
		assert.equal(alerts.length, 1, 'one final loop_blocked alert');
		assert.equal(delta('uvscope_loop_blocked_seconds_total', main, true),
			BigInt(alerts[0].blocked_ns), 'blocked seconds = the alert\'s length');
		// The spin ends when Date.now() has moved 250 ms on: at least 249 ms (1 ms steps).
		assert.ok(alerts[0].blocked_ns >= 249e6, `the spin lasted 250 ms: ${alerts[0].blocked_ns}`);
		assert.equal(delta('uvscope_alerts_total', ['kind="loop_blocked"']), 1n);

		for (const secret of ['argv-secret-7f3a', 'env-secret-91c2', 'pool.js', fixtures])
			assert.ok(!b.text.includes(secret), `the page shows ${secret}`);
		// Every sample names the target.
		for (const k of b.samples.keys())
			assert.ok(k.includes(`pid="${child.pid}",comm="node",container=""`), k);
	} finally {
		await agent.stop('SIGINT');
		await child.stop();
		rmSync(dir, { recursive: true, force: true });
	}
	assert.equal(agent.exited.code, 0, agent.errLines.join('\n'));
});

test('serve: hostile, slow and many clients leave it serving', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('pool.js');
	const port = await freePort();
	const agent = await startServe(child.pid, ['--listen', `127.0.0.1:${port}`, '--no-stacks',
		'--json']);
	const slow = [];
	const idle = [];
	try {
		await pageAfter(port, 0n);
		// Paths, methods and formats.
		assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
		assert.equal((await fetch(`http://127.0.0.1:${port}/metrics/../etc/passwd`)).status, 404);
		// A decoded NUL ends no path early.
		for (const path of ['/metrics%00', '/metrics%00.txt', '/%6detrics%00'])
			assert.equal((await fetch(`http://127.0.0.1:${port}${path}`)).status, 404, path);
		assert.equal((await fetch(`http://127.0.0.1:${port}/%6detrics`)).status, 200,
			'other escapes are decoded as before');
		const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST',
			body: 'x'.repeat(100000) });
		assert.equal(post.status, 405);
		assert.equal(post.headers.get('allow'), 'GET, HEAD');
		const head = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' });
		assert.equal(head.status, 200);
		assert.equal(await head.text(), '');
		const om = await scrape(port, { Accept: 'application/openmetrics-text;version=1.0.0,' +
			'text/plain;version=0.0.4;q=0.5' });
		assert.match(om.type, /^application\/openmetrics-text; version=1\.0\.0/);
		assert.ok(om.text.endsWith('# EOF\n'));
		assert.match(om.text, /^# TYPE uvscope_loop_iterations counter$/m);

		// Malformed requests, each answered with an error or closed, none taking it down.
		const garbage = [
			'GARBAGE\r\n\r\n',
			'GET\r\n\r\n',
			'GET /metrics HTTP/9.9\r\n\r\n',
			`GET /${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
			`GET /metrics HTTP/1.1\r\nHost: x\r\nX: ${'b'.repeat(64 * 1024)}\r\n\r\n`,
			'\x00\x01\x02\xff\xfe\r\n\r\n',
			'GET /metrics HTTP/1.1\r\n', // incomplete, then closed
		];
		for (const g of garbage) {
			const r = await raw('127.0.0.1', port, g);
			assert.doesNotMatch(r.text, /^HTTP\/1\.[01] 200 /,
				`a 200 for ${JSON.stringify(g.slice(0, 40))}`);
			assert.equal((await scrape(port)).status, 200, 'still serving');
		}
		// Odd but well-formed headers: the page as usual (a body nobody asked for is not read;
		// an Accept header that makes no sense gets the text format).
		const odd = [
			'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
			'GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
			'GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: ' + ';,='.repeat(3000) + '\r\n\r\n',
			'GET /metrics HTTP/1.0\r\n\r\n',
		];
		for (const g of odd) {
			const r = await raw('127.0.0.1', port, g);
			if (/^HTTP\/1\.[01] 200 /.test(r.text))
				assert.match(r.text, /\r\nContent-Type: text\/plain; version=0\.0\.4/i);
			assert.equal((await scrape(port)).status, 200, 'still serving');
		}

		// A slow client: one byte per second of a request; meanwhile others are served.
		const req = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';
		for (let i = 0; i < 3; i++) {
			const s = net.connect(port, '127.0.0.1');
			s.on('error', () => {});
			let sent = 0;
			const timer = setInterval(() => { if (sent < req.length) s.write(req[sent++]); }, 1000);
			slow.push({ s, timer, sent: () => sent });
		}
		await until(() => slow.every((c) => c.sent() >= 3), 'slow clients have begun');
		for (let i = 0; i < 5; i++)
			assert.equal((await scrape(port)).status, 200, 'served while slow clients dribble');

		// 200 idle connections held open, then 200 concurrent scrapes: all answered.
		for (let i = 0; i < 200; i++) {
			const s = net.connect(port, '127.0.0.1');
			s.on('error', () => {});
			idle.push(s);
		}
		await Promise.all(idle.map((s) => new Promise((r) => s.connecting ? s.once('connect', r) : r())));
		assert.equal((await scrape(port)).status, 200, 'served with 200 idle connections open');
		const many = await Promise.all(Array.from({ length: 200 }, () => scrape(port)));
		assert.deepEqual([...new Set(many.map((r) => r.status))], [200], '200 concurrent scrapes');
		const first = many[0].text.length;
		assert.ok(many.every((r) => r.text.endsWith('\n') && r.text.length > first / 2),
			'whole pages');
		assert.equal(agent.exited, null, 'the agent runs on');
		// stdout: the JSON lines of watch but the intervals, which are on /metrics.
		const types = new Set(agent.json().map((v) => v.type));
		assert.ok(types.has('attach') && !types.has('interval'), [...types].join(','));
	} finally {
		for (const c of slow) { clearInterval(c.timer); c.s.destroy(); }
		for (const s of idle) s.destroy();
		await agent.stop('SIGINT');
		await child.stop();
	}
	assert.equal(agent.exited.code, 0, agent.errLines.join('\n'));
});

// The host's first non-loopback IPv4 address, or null.
function hostAddress() {
	for (const list of Object.values(os.networkInterfaces()))
		for (const a of list)
			if (a.family === 'IPv4' && !a.internal) return a.address;
	return null;
}

function connectable(host, port) {
	return new Promise((resolve) => {
		const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
		s.on('error', () => resolve(false));
	});
}

test('serve: loopback only unless --listen says otherwise', async (t) => {
	if (skipWithoutBpf(t)) return;
	const ip = hostAddress();
	if (!ip) {
		console.error('SKIP serve loopback: this host has no non-loopback IPv4 address');
		t.skip('no non-loopback IPv4 address on this host');
		return;
	}
	const { child } = await startFixture('pool.js');
	const port = await freePort();
	const agent = await startServe(child.pid, ['--listen', `127.0.0.1:${port}`, '--no-stacks']);
	try {
		await pageAfter(port, 0n);
		assert.equal(await connectable(ip, port), false, `${ip}:${port} must be refused`);
	} finally {
		await agent.stop('SIGINT');
	}
	// Every interface, when asked.
	const wide = await freePort();
	const open = await startServe(child.pid, ['--listen', `0.0.0.0:${wide}`, '--no-stacks']);
	try {
		assert.ok(open.errLines.some((l) => l.includes('is reachable from other hosts')),
			'a non-loopback listener is said');
		const page = await pageAfter(wide, 0n);
		assert.equal(page.status, 200);
		assert.equal((await scrape(wide, {}, ip)).status, 200, `served on ${ip} when asked`);
	} finally {
		await open.stop('SIGINT');
		await child.stop();
	}
	// A port in use: refused before anything is attached.
	const busy = net.createServer();
	await new Promise((r) => busy.listen(0, '127.0.0.1', r));
	try {
		const r = spawnSync(uvscope, ['serve', '-p', String(process.pid), '--listen',
			`127.0.0.1:${busy.address().port}`], { encoding: 'utf8' });
		assert.equal(r.status, 1);
		// The port asked for, and the kernel's reason (libmicrohttpd's own said "port 0").
		const port = busy.address().port;
		assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: ` +
			'Address already in use'));
		assert.doesNotMatch(r.stderr, /port 0/);
		assert.doesNotMatch(r.stderr, /attached/);
	} finally {
		busy.close();
	}
});
