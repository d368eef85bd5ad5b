// Sockets: uvscope's view of the target's TCP sockets against ground truth the test creates
// (N established, M left in CLOSE_WAIT, K waiting in a listener's accept queue), against
// `ss -tanp` for the same process, refused connects, and connect latency on loopback vs
// through a delayed network namespace. The test's own client sockets (another process) must
// never be counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Child, fetchNodeOrSkip, intervalsAfter, nodeBin, runUvscope, skipWithoutBpf, startAgent,
	startFixture, until, uvscope } from './lib.mjs';

// ss lists the whole host: a busy one (or a benchmark holding 20,000 sockets) outgrows Node's
// default 1 MiB of output.
const SS_OPTS = { maxBuffer: 256 * 1024 * 1024 };

const N = 6, M = 4, K = 3; // K = the backlog listener's limit (2) + 1: the queue is full

// ss's view of one process: TCP states by uvscope's names, and each listener's queues.
function ssOf(pid) {
	const names = { ESTAB: 'ESTABLISHED', 'CLOSE-WAIT': 'CLOSE_WAIT', LISTEN: 'LISTEN',
		'SYN-SENT': 'SYN_SENT', 'SYN-RECV': 'SYN_RECV', 'FIN-WAIT-1': 'FIN_WAIT1',
		'FIN-WAIT-2': 'FIN_WAIT2', 'TIME-WAIT': 'TIME_WAIT', 'LAST-ACK': 'LAST_ACK',
		CLOSING: 'CLOSING' };
	const states = {}, listeners = {};
	const text = execFileSync('ss', ['-tanpH'], SS_OPTS).toString();
	for (const line of text.split('\n')) {
		if (!line.includes(`pid=${pid},`)) continue;
		const [st, rq, sq, local] = line.trim().split(/\s+/);
		const name = names[st] || st;
		states[name] = (states[name] || 0) + 1;
		if (name === 'LISTEN') listeners[local.split(':').at(-1)] = { rq: +rq, sq: +sq };
	}
	return { states, listeners };
}

// A rules file in its own directory: the socket rules with no hold-down (they resolve in the
// first interval without their condition), the others as they are.
function socketRules(text) {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'uvscope-sock-rules-')), 'r.ini');
	writeFileSync(file, `[close_wait_growth]\nhold = 0\n[accept_queue_full]\nhold = 0\n` +
		`[retransmit_rate]\nhold = 0\n${text}`);
	return file;
}

async function sockets(pid) {
	const r = await runUvscope(['sockets', '-p', String(pid), '--json']);
	assert.equal(r.code, 0, r.stderr);
	return JSON.parse(r.stdout);
}

test('states and accept queue equal the fixture\'s numbers and ss; other processes\' ' +
	'sockets never counted', async (t) => {
	if (skipWithoutBpf(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-sock-'));
	const release = path.join(dir, 'release');
	const { child, ready } = await startFixture('sockets.js');
	const { agent } = await startAgent(child.pid, ['--interval', '200ms', '--rules',
		socketRules('')]);
	const clients = [];
	try {
		for (let i = 0; i < N + M; i++) clients.push(net.connect(ready.main, '127.0.0.1'));
		await child.waitFor((v) => v && v.accepted === N + M, 'all accepted');
		for (const c of clients.slice(0, M)) c.end(); // FIN: the fixture never ends its side
		await until(() => ssOf(child.pid).states.CLOSE_WAIT === M, `${M} in CLOSE_WAIT`);
		child.send(`hold ${release}`);
		await child.waitFor((v) => v && v.holding, 'holding');
		for (let i = 0; i < K; i++) clients.push(net.connect(ready.backlog, '127.0.0.1'));
		await until(() => ssOf(child.pid).listeners[ready.backlog]?.rq === K, `${K} queued`);

		const got = await sockets(child.pid);
		const ss = ssOf(child.pid);
		const tcp = got.summary.tcp;
		t.diagnostic(`uvscope ${JSON.stringify(tcp.states)} accept ${tcp.accept_queue_max}/` +
			`${tcp.accept_queue_limit}; ss ${JSON.stringify(ss)}`);
		assert.equal(tcp.states.ESTABLISHED, N);
		assert.equal(tcp.states.CLOSE_WAIT, M);
		assert.equal(tcp.states.LISTEN, 2);
		assert.equal(tcp.states.FIN_WAIT2, 0, 'the test\'s own half-closed clients are not the target\'s');
		assert.equal(tcp.open, N + M + 2);
		assert.equal(tcp.accept_queue_max, K);
		assert.equal(tcp.accept_queue_limit, 2);
		assert.equal(tcp.accept_queue_full, 1);
		for (const [state, n] of Object.entries(tcp.states))
			assert.equal(n, ss.states[state] || 0, `${state}: uvscope and ss`);
		const listener = got.sockets.find((s) => s.state === 'LISTEN' &&
			s.local.endsWith(`:${ready.backlog}`));
		assert.deepEqual([listener.recv_q, listener.send_q],
			[ss.listeners[ready.backlog].rq, ss.listeners[ready.backlog].sq]);
		// The watch view says the same in its next interval, and raises accept_queue_full.
		const iv = await agent.waitFor((v) => v && v.type === 'interval' && v.sockets &&
			v.sockets.tcp.accept_queue_max === K, 'an interval with the full queue');
		assert.equal(iv.sockets.tcp.states.CLOSE_WAIT, M);
		const alert = await agent.waitFor((v) => v && v.kind === 'accept_queue_full',
			'accept_queue_full');
		assert.deepEqual([alert.accept_queue, alert.limit, alert.state], [K, 2, 'firing']);
		// The fixture accepts again: the queue has room, the alert resolves.
		writeFileSync(release, '');
		await agent.waitFor((v) => v && v.kind === 'accept_queue_full' && v.state === 'resolved',
			'accept_queue_full resolved');
	} finally {
		writeFileSync(release, '');
		for (const c of clients) c.destroy();
		await agent.stop();
		await child.stop();
		rmSync(dir, { recursive: true, force: true });
	}
});

// Sums a transition counter over the agent's intervals.
const total = (agent, field) => agent.json().filter((v) => v.type === 'interval' && v.sockets)
	.reduce((a, v) => a + v.sockets.tcp[field], 0);

// One agent, two targets in one network namespace: they share its socket dumps (the census,
// collect/sock_census.c), each dump asking for both targets' ports. Each still reports exactly
// its own sockets, as ss sees them: B even holds a connection to A's port (B's end is B's, the
// accepted end is A's), and the test's own clients are nobody's.
test('two targets in one network namespace: each reports its own sockets, as ss does',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const a = await startFixture('sockets.js'), b = await startFixture('sockets.js');
		const agent = new Child(uvscope, ['watch', '-p', `${a.child.pid},${b.child.pid}`,
			'--json', '--interval', '200ms']);
		const clients = [];
		try {
			await agent.until(() => agent.json().filter((v) => v.type === 'attach').length === 2,
				'two attach lines');
			for (let i = 0; i < 5; i++) clients.push(net.connect(a.ready.main, '127.0.0.1'));
			for (let i = 0; i < 3; i++) clients.push(net.connect(b.ready.main, '127.0.0.1'));
			await b.child.waitFor((v) => v && v.accepted === 3, 'B accepted 3');
			b.child.send(`open 127.0.0.1 ${a.ready.main}`);
			await b.child.waitFor((v) => v && v.opened, 'B connected to A');
			await a.child.waitFor((v) => v && v.accepted === 6, 'A accepted 6');
			clients[0].end(); // FIN: the fixtures never end their side
			clients[1].end();
			clients[5].end();
			await until(() => ssOf(a.child.pid).states.CLOSE_WAIT === 2 &&
				ssOf(b.child.pid).states.CLOSE_WAIT === 1, 'CLOSE_WAIT: 2 in A, 1 in B');
			// Two more rounds: every interval line from here on was read after the last change.
			await intervalsAfter(agent, 4);
			const want = {
				[a.child.pid]: { LISTEN: 2, ESTABLISHED: 4, CLOSE_WAIT: 2 },
				[b.child.pid]: { LISTEN: 2, ESTABLISHED: 3, CLOSE_WAIT: 1 },
			};
			for (const pid of [a.child.pid, b.child.pid]) {
				const iv = agent.json().filter((v) => v.type === 'interval' && v.pid === pid).at(-1);
				const ss = ssOf(pid);
				const states = iv.sockets.tcp.states;
				t.diagnostic(`${pid}: uvscope ${JSON.stringify(states)}; ss ${JSON.stringify(ss)}`);
				for (const [state, n] of Object.entries(want[pid]))
					assert.equal(states[state], n, `${pid} ${state}: uvscope and the fixture`);
				for (const [state, n] of Object.entries(states))
					assert.equal(n, ss.states[state] || 0, `${pid} ${state}: uvscope and ss`);
				assert.equal(iv.sockets.tcp.open, Object.values(want[pid]).reduce((x, y) => x + y));
			}
		} finally {
			for (const c of clients) c.destroy();
			await agent.stop();
			await a.child.stop();
			await b.child.stop();
		}
	});

test('connects to a closed port are counted as refused', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('sockets.js');
	const { agent } = await startAgent(child.pid, ['--interval', '200ms']);
	try {
		child.send('refuse 4');
		await child.waitFor((v) => v && v.refused === 4, 'refused');
		await intervalsAfter(agent);
		t.diagnostic(`failed ${total(agent, 'connect_failed')}, refused ` +
			`${total(agent, 'connect_refused')}`);
		assert.equal(total(agent, 'connect_refused'), 4);
		assert.equal(total(agent, 'connect_failed'), 4);
		assert.equal(total(agent, 'connects'), 0);
	} finally {
		await agent.stop();
		await child.stop();
	}
});

// The connect latency of C connects from the fixture to host:port, from the agent's summary.
async function connectLatency(t, host, port, c = 5) {
	const { child } = await startFixture('sockets.js');
	const { agent } = await startAgent(child.pid, ['--interval', '200ms']);
	try {
		child.send(`connect ${host} ${port} ${c}`);
		await child.waitFor((v) => v && v.connected === c, 'connected');
		await intervalsAfter(agent);
	} finally {
		await agent.stop();
		await child.stop();
	}
	const summary = agent.json().find((v) => v.type === 'summary');
	assert.equal(summary.sockets.tcp.connects, c, `${c} connects to ${host}`);
	t.diagnostic(`${host}: ${c} connects, p50 ${summary.sockets.tcp.connect_p50_ns} ns`);
	return summary.sockets.tcp.connect_p50_ns;
}

function sh(cmd, args) {
	return spawnSync(cmd, args, { encoding: 'utf8' });
}

// A network namespace joined to ours by a veth pair: HOST_IP here, PEER_IP there, and
// optionally a netem delay on our side. Returns { ns, host, peer, remove }, or null after
// t.skip() with the reason when the kernel or the tools do not allow it.
function makeNetns(t, tag, subnet, delay = null) {
	const ns = `${tag}${process.pid}`, host = `${tag}h${process.pid % 100000}`;
	const peer = `${tag}p${process.pid % 100000}`;
	const remove = () => { sh('ip', ['link', 'del', host]); sh('ip', ['netns', 'del', ns]); };
	const steps = [
		['ip', ['netns', 'add', ns]],
		['ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]],
		['ip', ['link', 'set', peer, 'netns', ns]],
		['ip', ['addr', 'add', `${subnet}.1/24`, 'dev', host]],
		['ip', ['link', 'set', host, 'up']],
		['ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${subnet}.2/24`, 'dev', peer]],
		['ip', ['netns', 'exec', ns, 'ip', 'link', 'set', peer, 'up']],
		['ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']],
	];
	if (delay) steps.push(['tc', ['qdisc', 'add', 'dev', host, 'root', 'netem', 'delay', delay]]);
	for (const [cmd, args] of steps) {
		const r = sh(cmd, args);
		if (r.error || r.status !== 0) {
			remove();
			t.skip(`cannot build the network namespace: ${cmd} ${args.join(' ')}: ` +
				`${r.error ? r.error.message : r.stderr.trim()}`);
			return null;
		}
	}
	return { ns, host, peer, remove };
}

// A node server in the namespace on ADDR:PORT; it reads and discards what it gets.
async function nsServer(net, addr, port) {
	const server = new Child('ip', ['netns', 'exec', net.ns, nodeBin, '-e',
		`require('net').createServer((c) => c.resume()).listen(${port}, '${addr}', ` +
		"() => console.log(JSON.stringify({ ready: true })))"]);
	await server.waitFor((v) => v && v.ready, 'server in the namespace');
	return server;
}

test('connect latency: loopback, and more through a network namespace with 20 ms of netem ' +
	'delay', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child: srv, ready } = await startFixture('sockets.js');
	let loop;
	try {
		loop = await connectLatency(t, '127.0.0.1', ready.main);
	} finally {
		await srv.stop();
	}
	assert.ok(loop > 0);
	const netns = makeNetns(t, 'uvl', '10.201.0', '20ms');
	if (!netns) return;
	let server = null;
	try {
		server = await nsServer(netns, '10.201.0.2', 7000);
		const far = await connectLatency(t, '10.201.0.2', 7000);
		assert.ok(far > loop, `through netem (${far} ns) slower than loopback (${loop} ns)`);
	} finally {
		if (server) await server.stop();
		netns.remove();
	}
});

test('CLOSE_WAIT growing over 3 intervals raises close_wait_growth, which resolves when it ' +
	'stops', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child, ready } = await startFixture('sockets.js');
	// Growth for 500 ms: the third interval of 200 ms with growth fires it, not the second.
	const { agent } = await startAgent(child.pid, ['--interval', '200ms', '--rules',
		socketRules('[close_wait_growth]\nfor = 500ms\n')]);
	const clients = [];
	try {
		for (let i = 0; i < 4; i++) clients.push(net.connect(ready.main, '127.0.0.1'));
		await child.waitFor((v) => v && v.accepted === 4, 'accepted');
		// One more peer closes in each interval: the app leaves every one in CLOSE_WAIT.
		for (let i = 0; i < 4; i++) {
			clients[i].end();
			await until(() => ssOf(child.pid).states.CLOSE_WAIT === i + 1, `${i + 1} in CLOSE_WAIT`);
			await intervalsAfter(agent, 1);
		}
		const alert = await agent.waitFor((v) => v && v.kind === 'close_wait_growth',
			'close_wait_growth');
		t.diagnostic(JSON.stringify(alert));
		assert.equal(alert.windows, 3);
		assert.equal(alert.state, 'firing');
		assert.ok(alert.close_wait >= 3 && alert.close_wait <= 4);
		// Four peers closed, no more: CLOSE_WAIT stays at 4 and stops growing.
		await agent.waitFor((v) => v && v.kind === 'close_wait_growth' && v.state === 'resolved',
			'close_wait_growth resolved');
	} finally {
		for (const c of clients) c.destroy();
		await agent.stop();
		await child.stop();
	}
});

test('retransmits to a peer that went away are counted, per peer, as the kernel counts them',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const netns = makeNetns(t, 'uvr', '10.202.0');
		if (!netns) return;
		let server = null, child = null, agent = null;
		try {
			// A server that reads everything, so the data is acked once the path is back.
			server = await nsServer(netns, '10.202.0.2', 7001);
			({ child } = await startFixture('sockets.js'));
			({ agent } = await startAgent(child.pid, ['--interval', '200ms', '--rules',
				socketRules('[retransmit_rate]\nthreshold = 1\n')]));
			child.send('open 10.202.0.2 7001');
			const { opened } = await child.waitFor((v) => v && v.opened, 'opened');
			const row = async () => (await sockets(child.pid)).sockets
				.find((s) => s.local.endsWith(`:${opened}`));
			// The peer's side goes down: what the fixture sends now is retransmitted.
			assert.equal(sh('ip', ['netns', 'exec', netns.ns, 'ip', 'link', 'set', netns.peer, 'down']).status, 0);
			child.send('send');
			await until(async () => (await row()).retransmits >= 2, 'two retransmits');
			assert.equal(sh('ip', ['netns', 'exec', netns.ns, 'ip', 'link', 'set', netns.peer, 'up']).status, 0);
			await child.waitFor((v) => v && v.sent, 'data delivered');
			let r;
			await until(async () => (r = await row()).send_q === 0, 'everything acked');
			const kernel = r.retransmits;
			await intervalsAfter(agent);
			const peers = agent.json().filter((v) => v.type === 'interval' && v.sockets)
				.flatMap((v) => v.sockets.tcp.retransmit_peers);
			const counted = peers.filter((p) => p.peer === '10.202.0.2:7001')
				.reduce((a, p) => a + p.count, 0);
			t.diagnostic(`kernel tcpi_total_retrans ${kernel}, uvscope ${total(agent, 'retransmits')}` +
				` (${counted} to 10.202.0.2:7001)`);
			assert.ok(kernel >= 2);
			assert.equal(total(agent, 'retransmits'), kernel);
			assert.equal(counted, kernel);
			// At least one retransmit a second while the peer was away; none once it is back.
			const fired = await agent.waitFor((v) => v && v.kind === 'retransmit_rate' &&
				v.state === 'firing', 'retransmit_rate');
			assert.ok(fired.retransmits >= 1);
			await agent.waitFor((v) => v && v.kind === 'retransmit_rate' &&
				v.state === 'resolved', 'retransmit_rate resolved');
		} finally {
			if (agent) await agent.stop();
			if (child) await child.stop();
			if (server) await server.stop();
			netns.remove();
		}
	});

test('connections the target closes first go to TIME_WAIT, counted as ss sees them', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child, ready } = await startFixture('sockets.js');
	const { agent } = await startAgent(child.pid, ['--interval', '200ms']);
	try {
		// To its own "backlog" listener, which ends its side when the peer does: the client
		// side closed first (TIME_WAIT), the server side second (CLOSE_WAIT, LAST_ACK).
		child.send(`connect 127.0.0.1 ${ready.backlog} 5`);
		const { ports } = await child.waitFor((v) => v && v.connected === 5, 'connected');
		// A TIME_WAIT socket has no owner; ss shows it by its ports: these connections' own
		// (the listener's port may have had other connections in the last minute, as the
		// kernel hands a port out again while its old connections wait).
		const timeWait = () => execFileSync('ss', ['-tanH', 'state', 'time-wait',
			'dport', `= :${ready.backlog}`], SS_OPTS).toString().split('\n').filter(Boolean)
			.filter((l) => ports.includes(Number(l.trim().split(/\s+/)[2].split(':').at(-1))))
			.length;
		await until(() => timeWait() === 5, '5 in TIME_WAIT');
		await intervalsAfter(agent);
		t.diagnostic(`uvscope time_wait_entered ${total(agent, 'time_wait_entered')}, ` +
			`close_wait_entered ${total(agent, 'close_wait_entered')}, ss ${timeWait()}`);
		assert.equal(total(agent, 'time_wait_entered'), timeWait());
		assert.equal(total(agent, 'close_wait_entered'), 5, 'the server sides are the target\'s too');
		assert.equal(total(agent, 'connects'), 5);
		assert.equal(total(agent, 'accepted'), 5);
	} finally {
		await agent.stop();
		await child.stop();
	}
});

test('UDP, IPv6 and Unix sockets are in the table, as ss shows them', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child, ready } = await startFixture('sockets.js', [], { MORE: '1' });
	try {
		const got = await sockets(child.pid);
		const ssCount = (args) => execFileSync('ss', [...args, '-anpH'], SS_OPTS).toString().split('\n')
			.filter((l) => l.includes(`pid=${child.pid},`)).length;
		const udp = got.sockets.filter((s) => s.proto === 'udp');
		t.diagnostic(`udp ${JSON.stringify(udp)}, unix ${got.summary.unix.open}, ` +
			`v6 ${ready.v6 === null ? 'absent' : ready.v6}`);
		assert.equal(got.summary.udp.open, ssCount(['-u']));
		assert.deepEqual(udp.map((s) => [s.local, s.state]), [[`127.0.0.1:${ready.udp}`, 'UNCONN']]);
		assert.equal(got.summary.unix.open, ssCount(['-x']));
		assert.ok(got.summary.unix.open >= 1);
		if (ready.v6 === null) {
			t.diagnostic('no IPv6 on this machine: the IPv6 listener was not made');
		} else {
			const v6 = got.sockets.find((s) => s.family === 'ipv6');
			assert.deepEqual([v6.state, v6.local], ['LISTEN', `[::1]:${ready.v6}`]);
		}
		assert.equal(got.summary.tcp.open, ssCount(['-t']));

		// Datagrams sent while the loop reads nothing overflow the small receive buffer:
		// uvscope's drops are the kernel's, as `ss -uam` shows them (skmem "d").
		const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-udp-'));
		const release = path.join(dir, 'release');
		child.send(`hold ${release}`);
		await child.waitFor((v) => v && v.holding, 'holding');
		const sender = (await import('node:dgram')).createSocket('udp4');
		for (let i = 0; i < 100; i++)
			await new Promise((r) => sender.send(Buffer.alloc(1000), ready.udp, '127.0.0.1', r));
		sender.close();
		// ss prints the socket's line, then its skmem on the next line (with -p before it).
		const ssDrops = () => {
			const lines = execFileSync('ss', ['-uampH'], SS_OPTS).toString().split('\n');
			const i = lines.findIndex((l) => l.includes(`pid=${child.pid},`));
			const m = i < 0 ? null :
				`${lines[i]} ${lines[i + 1] || ''}`.match(/skmem:\([^)]*\bd(\d+)\)/);
			return m ? Number(m[1]) : null;
		};
		const after = await sockets(child.pid);
		const ref = ssDrops();
		writeFileSync(release, '');
		rmSync(dir, { recursive: true, force: true });
		t.diagnostic(`drops: uvscope ${after.summary.udp.drops}, ss ${ref}`);
		assert.ok(after.summary.udp.drops > 0, 'datagrams were dropped');
		assert.equal(after.summary.udp.drops, ref);
	} finally {
		await child.stop();
	}
});

test('a server on the same port in another network namespace is not the target\'s', async (t) => {
	if (skipWithoutBpf(t)) return;
	const netns = makeNetns(t, 'uvn', '10.203.0');
	if (!netns) return;
	const { child, ready } = await startFixture('sockets.js');
	const { agent } = await startAgent(child.pid, ['--interval', '200ms']);
	let other = null;
	const clients = [];
	try {
		// In the namespace, on the target's own port: a server (that never ends a connection
		// its peer closed) and 20 connections to it from there, each then closed by its client.
		other = new Child('ip', ['netns', 'exec', netns.ns, nodeBin, '-e', `
			const net = require('net'), out = (o) => console.log(JSON.stringify(o));
			let accepted = 0, ended = 0;
			const cs = [];
			net.createServer({ allowHalfOpen: true }, (c) => {
				c.on('end', () => { if (++ended === 20) out({ ended }); });
				if (++accepted === 20) { out({ accepted }); cs.forEach((c) => c.end()); }
			}).listen(${ready.main}, '127.0.0.1', () => {
				for (let i = 0; i < 20; i++) cs.push(net.connect(${ready.main}, '127.0.0.1'));
			});`]);
		await other.waitFor((v) => v && v.ended === 20, 'the other namespace\'s 20 connections');
		for (let i = 0; i < 3; i++) clients.push(net.connect(ready.main, '127.0.0.1'));
		await child.waitFor((v) => v && v.accepted === 3, 'the target accepted 3');
		await intervalsAfter(agent);
		t.diagnostic(`accepted ${total(agent, 'accepted')}, close_wait_entered ` +
			`${total(agent, 'close_wait_entered')}`);
		assert.equal(total(agent, 'accepted'), 3, 'only the target\'s own connections');
		assert.equal(total(agent, 'close_wait_entered'), 0, 'nor the other server\'s CLOSE_WAITs');
		const iv = agent.json().filter((v) => v.type === 'interval').at(-1);
		assert.equal(iv.sockets.tcp.states.ESTABLISHED, 3);
	} finally {
		for (const c of clients) c.destroy();
		if (other) await other.stop();
		await agent.stop();
		await child.stop();
		netns.remove();
	}
});

// A listening port the target shares with another process (SO_REUSEPORT: the kernel hands each
// new connection to one of the listeners): a connection is the target's only if the target
// accepts it. All 40 were counted as the target's before (a helper's find: 40 for 23 accepted).
// Now the port is no one's in the BPF map, and the target's accepted connections are learned
// from its fds: exact here, as none closes between two intervals.
test('a port shared with another process (SO_REUSEPORT) counts only the connections the target accepts',
	async (t) => {
		if (skipWithoutBpf(t)) return;
		const node22 = fetchNodeOrSkip(t, '22'); // reusePort: Node 22.12 and later
		if (!node22) return;
		// The other listener, not a node (nothing of it is watched): accepts nothing, its
		// connections wait in its queue.
		const other = new Child('python3', ['-c', `import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(('127.0.0.1', 0)); s.listen(128); print('{"ready":true,"port":%d}' % s.getsockname()[1], flush=True)
time.sleep(3600)`]);
		const { port } = await other.waitFor((v) => v && v.ready, 'the other listener');
		const { child } = await startFixture('reuseport.js', [String(port)], {}, [], node22);
		const { agent } = await startAgent(child.pid, ['--interval', '200ms']);
		const clients = [];
		try {
			await intervalsAfter(agent, 1);
			for (let i = 0; i < 40; i++) {
				const c = net.connect(port, '127.0.0.1');
				c.on('error', () => {});
				clients.push(c);
			}
			await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', r))));
			// Ground truth: the target's accepts, and the other listener's accept queue.
			const queued = () => Number(execFileSync('ss', ['-ltnH', `sport = :${port}`], SS_OPTS)
				.toString().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[1])
				.reduce((a, q) => a + Number(q), 0));
			const replies = () => child.json().filter((v) => v && v.accepted !== undefined);
			const count = async () => {
				const before = replies().length;
				child.send('count');
				await child.until(() => replies().length > before, 'count');
				return replies().at(-1).accepted;
			};
			let mine = 0;
			await until(async () => (mine = await count()) + queued() === 40,
				'every connection accepted by the target or queued at the other listener');
			await intervalsAfter(agent);
			const total = (key) => agent.json().filter((v) => v.type === 'interval' && v.sockets)
				.reduce((a, v) => a + (v.sockets.tcp[key] || 0), 0);
			t.diagnostic(`target accepted ${mine}, the other listener queued ${queued()}, ` +
				`uvscope accepted ${total('accepted')}`);
			assert.ok(mine > 0 && mine < 40, 'the kernel shared them out');
			assert.equal(total('accepted'), mine);
		} finally {
			for (const c of clients) c.destroy();
			await agent.stop();
			await child.stop();
			await other.stop();
		}
	});

// Node's cluster: the primary accepts every connection on its listening socket and hands it to
// a worker. The BPF side takes the primary for the owner (the port's), a guess the fds overrule:
// the worker holds the connections, so their CLOSE_WAITs are the worker's, also those entered
// before the agent read the worker's fds (all were the primary's before, whose socket table had
// none of them).
test('a connection a cluster primary accepts and hands to a worker is the worker\'s', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child, ready } = await startFixture('cluster_rr.js');
	const { agent } = await startAgent(`${ready.primary},${ready.worker}`, ['--interval', '200ms']);
	const clients = [];
	try {
		await agent.waitFor((v) => v && v.type === 'attach' && v.pid === ready.worker, 'worker attached');
		await intervalsAfter(agent, 1);
		for (let i = 0; i < 5; i++) {
			const c = net.connect({ port: ready.port, host: '127.0.0.1', allowHalfOpen: true });
			c.on('error', () => {});
			clients.push(c);
		}
		const replies = () => child.json().filter((v) => v && v.accepted !== undefined);
		await until(async () => {
			const before = replies().length;
			child.send('count');
			await child.until(() => replies().length > before, 'count');
			return replies().at(-1).accepted === 5;
		}, 'the worker holds all 5');
		// At once, most likely in the interval they were accepted in, before any read of the
		// worker's fds: their CLOSE_WAITs wait in their entries for the worker's next read.
		for (const c of clients) c.end();
		const closeWait = () => execFileSync('ss', ['-tanH', 'state', 'close-wait',
			'sport', `= :${ready.port}`], SS_OPTS).toString().split('\n').filter(Boolean).length;
		await until(() => closeWait() === 5, '5 in CLOSE_WAIT');
		await intervalsAfter(agent);
		const of = (pid, key) => agent.json().filter((v) => v.type === 'interval' && v.pid === pid &&
			v.sockets).reduce((a, v) => a + (v.sockets.tcp[key] || 0), 0);
		t.diagnostic(`close_wait_entered: worker ${of(ready.worker, 'close_wait_entered')}, ` +
			`primary ${of(ready.primary, 'close_wait_entered')}; accepted: primary ` +
			`${of(ready.primary, 'accepted')}, worker ${of(ready.worker, 'accepted')}`);
		assert.equal(of(ready.worker, 'close_wait_entered'), 5);
		assert.equal(of(ready.primary, 'close_wait_entered'), 0);
		assert.equal(of(ready.primary, 'accepted'), 5, 'the primary accepted them');
	} finally {
		for (const c of clients) c.destroy();
		await agent.stop();
		await child.stop();
	}
});
