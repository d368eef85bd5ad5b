// dns lookups beyond libuv's slow-I/O cap. libuv runs getaddrinfo on at most half of its
// threads ((size + 1) / 2) and queues the rest while the other threads idle: the pool's running
// and queued must say so (libuv's count of its busy threads, from its statics), not take the
// first `size` lookups in flight for served.
//
// Ground truth: the fixture is the name server of its own network namespace (resolv.conf
// bind-mounted in its own mount namespace) and holds every query until told; it reports each
// getaddrinfo call that reaches it, so "2 clients" is 2 lookups being served by pool threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fixtures, nodeBin, skipWithoutBpf, startAgent } from './lib.mjs';

const POOL = 4;
const CAP = (POOL + 1) >> 1; // libuv's slow_work_thread_threshold()

// The intervals the agent printed from its line `from` on.
function intervalsFrom(agent, from) {
	return agent.lines.slice(from).map((l) => {
		try {
			return JSON.parse(l);
		} catch {
			return null;
		}
	}).filter((v) => v && v.type === 'interval');
}

// Why glibc's getaddrinfo would not ask the name server of /etc/resolv.conf here, or null.
function notByResolvConf() {
	if (!existsSync('/etc/resolv.conf'))
		return 'no /etc/resolv.conf to bind-mount over';
	let hosts = '';
	try {
		hosts = (readFileSync('/etc/nsswitch.conf', 'utf8').match(/^hosts:(.*)$/m) || [])[1] || '';
	} catch {
		return null; /* glibc's default: files, then dns */
	}
	if (!hosts.trim()) return null; /* no hosts line: glibc's default asks dns */
	const sources = hosts.trim().split(/\s+/).map((s) => s.split('[')[0]);
	const dns = sources.indexOf('dns');
	if (dns < 0) return `/etc/nsswitch.conf's hosts line has no dns: ${hosts.trim()}`;
	// systemd-resolved's module answers for every name itself (mdns only for .local).
	return sources.slice(0, dns).includes('resolve') ?
		'/etc/nsswitch.conf asks systemd-resolved (resolve) before dns' : null;
}

function canUnshareNetAndMount() {
	try {
		execFileSync('unshare', ['--mount', '--net', 'true'], { stdio: 'ignore' });
		execFileSync('ip', ['-V'], { stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
}

// LOOKUPS lookups held on a pool of POOL: CAP served, the rest queued, the pool saturated.
async function heldLookups(t, LOOKUPS) {
	if (skipWithoutBpf(t)) return;
	if (!canUnshareNetAndMount()) {
		t.skip('SKIP: unshare --mount --net (or ip) is not available here');
		return;
	}
	const why = notByResolvConf();
	if (why) {
		t.skip(`SKIP: ${why}`);
		return;
	}
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-dns-cap-'));
	const conf = path.join(dir, 'resolv.conf');
	writeFileSync(conf, 'nameserver 127.0.0.1\noptions timeout:30 attempts:1\n');
	// sh brings the namespace's loopback up and puts the resolv.conf in place, then becomes
	// node; --kill-child: node dies with unshare.
	const child = new Child('unshare', ['--mount', '--net', '--propagation', 'private', '--fork',
		'--kill-child', 'sh', '-c',
		'ip link set lo up && mount --bind "$1" /etc/resolv.conf && exec "$2" "$3"', 'sh',
		conf, nodeBin, path.join(fixtures, 'dns_held.js')],
	{ env: { ...process.env, UV_THREADPOOL_SIZE: String(POOL) } });
	let agent;
	try {
		const ready = await child.waitFor((v) => v && v.ready, 'dns_held.js ready');
		({ agent } = await startAgent(ready.pid, ['--interval', '200ms']));
		// Submitted with the probes in: every lookup is a job in flight.
		child.send(`lookup ${LOOKUPS}`);
		await child.waitFor((v) => v && v.clients === CAP, `${CAP} lookups at the name server`);
		// The second interval printed after that began after it: all held, CAP served.
		const seen = agent.lines.length;
		await agent.until(() => intervalsFrom(agent, seen).length >= 2,
			'two intervals after the lookups were held');
		const pool = intervalsFrom(agent, seen)[1].threadpool;
		t.diagnostic(`held: size ${pool.size}, running ${pool.running}, queued ${pool.queued}, ` +
			`most queued ${pool.queued_max}, saturation ${pool.saturation}`);
		assert.equal(pool.size, POOL);
		assert.equal(pool.running, CAP, 'libuv serves dns on half its threads');
		assert.equal(pool.queued, LOOKUPS - CAP, 'the rest wait while threads idle');
		assert.ok(pool.queued_max >= LOOKUPS - CAP, `most queued ${pool.queued_max}`);
		// Waiting all along: more jobs in flight than threads, or dns at the cap with threads
		// idle (sampled at each block check); every check of this interval found one or both.
		assert.ok(pool.saturation >= 0.9, `saturation ${pool.saturation}`);
		// The saturation alert never claims more lookups served than libuv's cap.
		const alert = await agent.waitFor((v) => v && v.type === 'alert' &&
			v.kind === 'threadpool_saturated' && v.state === 'firing', 'the saturation alert');
		assert.equal(alert.size, POOL);
		assert.ok(alert.running >= 0 && alert.running <= CAP, `alert: running ${alert.running}`);
		// Answered: every lookup ends (no such name), and nothing is left in flight.
		child.send('release');
		const done = await child.waitFor((v) => v && v.done !== undefined, 'every lookup back');
		assert.deepEqual([done.done, done.errors], [LOOKUPS, LOOKUPS]);
		const after = agent.lines.length;
		await agent.until(() => intervalsFrom(agent, after).length >= 2,
			'two intervals after the lookups ended');
		const end = intervalsFrom(agent, after)[1].threadpool;
		assert.deepEqual([end.running, end.queued], [0, 0]);
		const completed = agent.json().filter((v) => v.type === 'interval' && v.threadpool)
			.reduce((n, v) => n + v.threadpool.kinds.dns.completed, 0);
		assert.equal(completed, LOOKUPS, 'every lookup counted once as it ended');
	} finally {
		if (agent) await agent.stop();
		await child.stop('SIGKILL');
		rmSync(dir, { recursive: true, force: true });
	}
}

test('12 dns lookups on a pool of 4: 2 running (libuv\'s slow-I/O cap), 10 queued',
	(t) => heldLookups(t, 12));

// Fewer jobs in flight than threads: only the cap makes them wait, which no count of jobs
// against threads shows.
test('3 dns lookups on a pool of 4: 2 running, 1 queued while 2 threads idle, saturated',
	(t) => heldLookups(t, 3));

