// The target of scripts/agent-cost.sh, which measures what uvscope's own per-interval work
// (reading /proc/PID/fd, the socket tables, the thread list) costs the agent itself. An idle
// Node process that holds a chosen number of file descriptors:
//   node bench/agent_cost_target.js CONNS FILES
// CONNS loopback TCP connections to itself (both ends stay open: 2 socket fds each), FILES
// open regular files (this script, opened again and again), and always one listening socket,
// as any server has: without a socket the agent has no socket table to read at all.
// Prints {"ready":true,"pid":N,"port":P,"conns":C,"files":F,"fds":D} once everything is open
// (D: the entries of /proc/self/fd then), or {"error":"..."} and exits 1 if it could not
// open them (EMFILE: raise RLIMIT_NOFILE, e.g. with prlimit).
// Then, for each line "block MS COUNT GAP_MS" on stdin, blocks its loop COUNT times for MS ms
// (a busy spin), GAP_MS apart, printing {"block":i,"start_ns":..,"end_ns":..} (wall clock,
// ns) after each and {"blocks_done":COUNT} after the last. On SIGTERM or SIGINT it resets
// every connection (RST, so none is left in TIME_WAIT to weigh on the next measurement) and
// exits.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const { performance } = require('node:perf_hooks');

const CONNS = Number(process.argv[2] || 0);
const FILES = Number(process.argv[3] || 0);
const IN_FLIGHT = 256; // connects at once: well below the listen backlog
// fds a Node process has besides the ones asked for (stdio, epoll, pipes, eventfds), with room.
const OWN_FDS = 64;

const wallNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const out = (o) => process.stdout.write(JSON.stringify(o, (k, v) =>
	typeof v === 'bigint' ? Number(v) : v) + '\n');
const fail = (err) => {
	out({ error: `${err.code ?? ''} ${err.message}`.trim(), pid: process.pid });
	process.exit(1);
};

// Out of fds, libuv's accept closes the connections it cannot take and Node reports nothing:
// say so before trying, from the soft limit (which Node raised to the hard one at start).
function checkLimit() {
	const row = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
	const need = 2 * CONNS + FILES + OWN_FDS;
	if (row && row[1] !== 'unlimited' && Number(row[1]) < need)
		fail({ code: 'EMFILE', message: `needs about ${need} fds, RLIMIT_NOFILE is ${row[1]}` });
}

const sockets = new Set();
let isReady = false;
// Out of fds, libuv closes the connections it cannot accept: their client ends close.
const keep = (s) => {
	sockets.add(s);
	s.on('error', () => {});
	s.on('close', () => {
		sockets.delete(s);
		if (!isReady)
			fail({ code: 'ECONNRESET', message: 'a connection closed before all were open ' +
				'(out of fds?)' });
	});
};
const server = net.createServer({ backlog: 4096 }, keep);
server.on('error', fail);

function connectAll(port, done) {
	let started = 0, connected = 0, accepted = 0;
	server.on('connection', () => { if (++accepted === CONNS && connected === CONNS) done(); });
	const next = () => {
		if (started >= CONNS) return;
		started++;
		const c = net.connect(port, '127.0.0.1');
		c.once('error', fail);
		c.once('connect', () => {
			c.removeListener('error', fail);
			keep(c);
			if (++connected === CONNS && accepted === CONNS) done();
			next();
		});
	};
	if (CONNS === 0) return done();
	for (let i = 0; i < IN_FLIGHT; i++) next();
}

function spin(ms) {
	const end = performance.now() + ms;
	while (performance.now() < end);
}

function blocks(ms, count, gap) {
	let i = 0;
	const one = () => {
		const start = wallNs();
		spin(ms);
		out({ block: ++i, start_ns: start, end_ns: wallNs() });
		if (i < count) setTimeout(one, gap);
		else out({ blocks_done: count });
	};
	setTimeout(one, gap);
}

function ready(port) {
	const files = [];
	try {
		for (let i = 0; i < FILES; i++) files.push(fs.openSync(__filename, 'r'));
	} catch (err) {
		fail(err);
	}
	let lines = '';
	process.stdin.on('data', (d) => {
		lines += d;
		let nl;
		while ((nl = lines.indexOf('\n')) >= 0) {
			const [cmd, ms, count, gap] = lines.slice(0, nl).trim().split(/\s+/);
			lines = lines.slice(nl + 1);
			if (cmd === 'block') blocks(Number(ms), Number(count), Number(gap));
		}
	});
	isReady = true;
	out({ ready: true, pid: process.pid, port, conns: CONNS, files: files.length,
		fds: fs.readdirSync('/proc/self/fd').length });
}

function quit() {
	for (const s of sockets) s.resetAndDestroy();
	server.close();
	process.exit(0);
}
process.on('SIGTERM', quit);
process.on('SIGINT', quit);

checkLimit();
server.listen(0, '127.0.0.1', () => {
	const { port } = server.address();
	connectAll(port, () => ready(port));
});
