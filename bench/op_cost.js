// What one operation costs this process, in CPU time: the fixture of scripts/op-cost.sh, which
// runs rounds of it alternately without and with uvscope attached (see bench/README.md).
//
//   node bench/op_cost.js [--round-ms MS] [--warmup-ms MS] [--settle N] [--rounds N] OP[:COUNT] ...
//
// OP is one of OPS below. Each operation is started when the previous one is done, so one
// operation's cost is everything the process spends on it: its JavaScript, its loop
// iterations, its pool job and every system call of the loop and pool threads.
//
// First a warm-up of each OP (--warmup-ms of its CPU time, default 1000): V8 optimizes the
// code the operation runs, and a round measured before that would be slower for reasons that
// have nothing to do with uvscope. The warm-up also sizes each OP's round: COUNT if given, else
// as many operations as take about --round-ms of CPU (default 150). Then --settle rounds of that
// size (default 3), not reported: the first rounds after the warm-up were still slower (zlib up to
// twice, tcp 40%), until the heap and the JIT settled. Then one line:
//   {"ready":true,"pid":N,"ops":{"fs":{"count":C,"warmup_ops":W,"warmup_cpu_ns_per_op":X,
//    "settle_cpu_ns_per_op":[X,...]},...}}
// Then every line on stdin is a request: "OP [TAG]" runs one round of OP and prints
//   {"op":"fs","tag":"TAG","round":R,"count":C,"cpu_ns_per_op":X,"wall_ns_per_op":Y}
// (TAG, any word, is echoed back so the driver knows which request a line answers). At the
// end of stdin, or after --rounds N rounds of every OP without reading stdin at all, a last
// line gives each OP's median over its rounds, and the process exits:
//   {"summary":{"fs":{"rounds":R,"median_cpu_ns_per_op":X,"median_wall_ns_per_op":Y},...}}
//
// CPU time is process.cpuUsage(), user + system of the whole process: the pool threads' work
// is part of the cost. Its total is exact (the kernel's runtime accounting, ns, given in µs);
// only its split between user and system is estimated, and that is not used.
'use strict';
const crypto = require('node:crypto');
const dns = require('node:dns');
const fsp = require('node:fs/promises');
const net = require('node:net');
const readline = require('node:readline');
const zlib = require('node:zlib');

// Each OP: (done) => starts one operation and calls done(err) when it is over.
const payload = Buffer.from('uvscope op cost\n');
let tcpPort = 0;	// the port of this process's own server, for tcp
const OPS = {
	// One loop iteration: a setImmediate callback queued from a setImmediate callback runs in
	// the next iteration's check phase, so a chain of N runs N iterations, each polling for
	// I/O with a zero timeout (the loop has an immediate pending).
	iter: (done) => setImmediate(done),
	// One pool job (uv_fs_stat), the iterations that wait for it and run its callback.
	fs: (done) => fsp.stat(__filename).then(() => done(), done),
	// One job through uv_queue_work (node's ThreadPoolWork): a key derivation as small as
	// it gets, so what is measured is the job, not the hash.
	crypto: (done) => crypto.pbkdf2('password', 'salt', 1, 16, 'sha256', done),
	// Two zlib jobs through uv_queue_work on a fresh deflate stream: end(data) writes the data
	// without the finish flag, and the stream's flush then finishes it (a second job).
	zlib: (done) => zlib.deflate(payload, done),
	// One getaddrinfo job on the pool (the slow-I/O queue): reads /etc/hosts and friends.
	dns: (done) => dns.lookup('localhost', done),
	// One TCP connection over loopback to this process's own server: connect, accept, a byte
	// each way; the server closes (FIN), and the client, once it has read that FIN, resets the
	// connection (RST). Every state change of both ends is this process's, and no TIME_WAIT is
	// left behind: thousands of TIME_WAIT sockets expiring a minute later would charge their
	// timers to whatever runs on this CPU then, a later round of this bench.
	tcp: (done) => {
		const c = net.connect({ port: tcpPort, host: '127.0.0.1', allowHalfOpen: true }, () => c.write('x'));
		c.on('data', () => {});
		c.once('end', () => c.resetAndDestroy());
		c.once('close', () => done());
		c.once('error', done);
	},
};

function usage(msg) {
	console.error(`op_cost: ${msg}\nusage: node bench/op_cost.js [--round-ms MS] ` +
		`[--warmup-ms MS] [--settle N] [--rounds N] OP[:COUNT] ... (OP: ${Object.keys(OPS).join(', ')})`);
	process.exit(2);
}

function parseArgs(argv) {
	const o = { roundMs: 150, warmupMs: 1000, settle: 3, rounds: 0, ops: new Map() };
	const whole = (name, v) => {
		if (!/^[0-9]+$/.test(v ?? '')) usage(`${name} needs a whole number, not '${v}'`);
		return Number(v);
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--round-ms') o.roundMs = whole(a, argv[++i]);
		else if (a === '--warmup-ms') o.warmupMs = whole(a, argv[++i]);
		else if (a === '--settle') o.settle = whole(a, argv[++i]);
		else if (a === '--rounds') o.rounds = whole(a, argv[++i]);
		else {
			const [name, count, extra] = a.split(':');
			if (!Object.hasOwn(OPS, name) || extra !== undefined) usage(`unknown operation '${a}'`);
			o.ops.set(name, count === undefined ? 0 : whole(`${name}:COUNT`, count));
		}
	}
	if (!o.ops.size) usage('no operation');
	if (o.roundMs < 1) usage('--round-ms must be at least 1');
	return o;
}

// Runs N operations of OP one after the other; resolves when the last is done.
function chain(op, n) {
	return new Promise((resolve, reject) => {
		let left = n;
		const next = (err) => {
			if (err) return reject(err);
			if (left-- > 0) return op(next);
			resolve();
		};
		next();
	});
}

const cpuNs = () => {
	const u = process.cpuUsage();
	return (u.user + u.system) * 1e3;
};

// One measured run of N operations: CPU and wall time per operation, in ns.
async function measure(op, n) {
	const c0 = cpuNs(), t0 = process.hrtime.bigint();
	await chain(op, n);
	const wall = Number(process.hrtime.bigint() - t0), cpu = cpuNs() - c0;
	return { cpu: cpu / n, wall: wall / n };
}

// Warm-up: runs of growing length until WARMUP_MS of CPU went into OP, the last run at least
// a quarter of it (so its CPU per operation, which sizes the rounds, is not a few ticks' worth).
async function warmUp(op, warmupMs) {
	let n = 16, ops = 0, spent = 0, last;
	for (;;) {
		last = await measure(op, n);
		ops += n;
		spent += last.cpu * n;
		if (spent >= warmupMs * 1e6 && last.cpu * n >= (warmupMs * 1e6) / 4) break;
		if (last.cpu * n < (warmupMs * 1e6) / 4) n *= 2;
	}
	return { ops, cpuPerOp: last.cpu };
}

const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round1 = (x) => Math.round(x * 10) / 10;

async function main() {
	const o = parseArgs(process.argv.slice(2));
	let server = null;
	if (o.ops.has('tcp')) {
		server = net.createServer((c) => {
			c.on('data', () => c.end('y'));
			c.on('error', () => {});	// the client's RST, after our FIN: expected
		});
		await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
		tcpPort = server.address().port;
	}
	const plan = {}, results = {};
	for (const [name, count] of o.ops) {
		const w = await warmUp(OPS[name], o.warmupMs);
		const n = count || Math.max(1, Math.round((o.roundMs * 1e6) / w.cpuPerOp));
		plan[name] = { count: n, warmup_ops: w.ops, warmup_cpu_ns_per_op: round1(w.cpuPerOp),
			settle_cpu_ns_per_op: [] };
		results[name] = [];
	}
	for (let i = 0; i < o.settle; i++)
		for (const name of o.ops.keys())
			plan[name].settle_cpu_ns_per_op.push(round1((await measure(OPS[name], plan[name].count)).cpu));
	console.log(JSON.stringify({ ready: true, pid: process.pid, ops: plan }));

	const round = async (name, tag) => {
		const r = await measure(OPS[name], plan[name].count);
		results[name].push(r);
		console.log(JSON.stringify({ op: name, tag, round: results[name].length,
			count: plan[name].count, cpu_ns_per_op: round1(r.cpu), wall_ns_per_op: round1(r.wall) }));
	};
	if (o.rounds) {
		for (let i = 0; i < o.rounds; i++)
			for (const name of o.ops.keys()) await round(name, String(i + 1));
	} else {
		// One request at a time: the next line is read only when this round is over.
		for await (const line of readline.createInterface({ input: process.stdin })) {
			const [name, tag = '', ...rest] = line.trim().split(/\s+/);
			if (!name) continue;
			if (!Object.hasOwn(plan, name) || rest.length) {
				console.log(JSON.stringify({ error: `not a request: ${line}`, tag }));
				continue;
			}
			await round(name, tag);
		}
	}
	const summary = {};
	for (const [name, rs] of Object.entries(results)) {
		if (!rs.length) continue;
		summary[name] = { rounds: rs.length, median_cpu_ns_per_op: round1(median(rs.map((r) => r.cpu))),
			median_wall_ns_per_op: round1(median(rs.map((r) => r.wall))) };
	}
	console.log(JSON.stringify({ summary }));
	if (server) server.close();
}

main().catch((err) => {
	console.error(`op_cost: ${err.stack || err}`);
	process.exit(1);
});
