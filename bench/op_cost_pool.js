// The target of bench/pool_cost.mjs: operations that each make libuv thread-pool jobs of one
// kind, run back to back, with the CPU time the whole process spends per operation (pool
// threads included).
//
//   node bench/op_cost_pool.js
//
// Prints {"ready":true,"pid":N}, then answers each line "KIND COUNT" on stdin (KIND: fs,
// crypto, zlib or dns) by running COUNT jobs of that kind, each started when the previous one
// has called back, and printing {"kind":K,"count":N,"cpu_ns_per_job":X,"wall_ns_per_job":Y}
// (per operation: a zlib operation is two pool jobs, the others one). Each operation is its
// pool jobs and everything around them: its JavaScript, the loop iterations that wait for
// them and run its callback, and the system calls of the loop and pool threads.
'use strict';
const crypto = require('node:crypto');
const dns = require('node:dns');
const fsp = require('node:fs/promises');
const readline = require('node:readline');
const zlib = require('node:zlib');

const few = Buffer.from('uvscope pool cost\n');
const KINDS = {
	fs: (cb) => fsp.stat(__filename).then(() => cb(), cb),      // uv_fs_stat
	crypto: (cb) => crypto.pbkdf2('pw', 'salt', 1, 16, 'sha256', cb), // uv_queue_work
	zlib: (cb) => zlib.deflate(few, cb),                         // 2 x uv_queue_work
	dns: (cb) => dns.lookup('localhost', cb),                    // uv_getaddrinfo
};

function chain(job, n) {
	return new Promise((resolve, reject) => {
		const next = (err) => (err ? reject(err) : n-- > 0 ? job(next) : resolve());
		next();
	});
}

const cpuNs = () => {
	const u = process.cpuUsage();
	return (u.user + u.system) * 1e3;
};

async function main() {
	console.log(JSON.stringify({ ready: true, pid: process.pid }));
	for await (const line of readline.createInterface({ input: process.stdin })) {
		const [kind, count] = line.trim().split(/\s+/);
		const n = Number(count);
		if (!Object.hasOwn(KINDS, kind) || !Number.isInteger(n) || n < 1) {
			console.log(JSON.stringify({ error: `not a request: ${line}` }));
			continue;
		}
		const c0 = cpuNs(), t0 = process.hrtime.bigint();
		await chain(KINDS[kind], n);
		const wall = Number(process.hrtime.bigint() - t0), cpu = cpuNs() - c0;
		console.log(JSON.stringify({ kind, count: n, cpu_ns_per_job: Math.round(cpu / n),
			wall_ns_per_job: Math.round(wall / n) }));
	}
}

main().catch((err) => {
	console.error(`op_cost_pool: ${err.stack || err}`);
	process.exit(1);
});
