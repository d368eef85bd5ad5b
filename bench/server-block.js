// The benchmark's blocking target: the plain server (server.js), except that a request for
// /spin blocks the loop with a fixed amount of CPU work in benchSpin() before it is answered.
// The load generator asks for /spin every Nth request (loadgen -b), so the blocks come at a
// known rate and the requests that waited for one can be told apart from the others.
//
// The work is a fixed number of iterations, calibrated once at start to take SPIN_MS of CPU
// (default 60; BENCH_SPIN_MS in scripts/bench.sh): not a spin until a clock time, so that what
// sampling the blocked thread costs it (perf interrupts, ptrace stops) shows as more CPU per
// request, where a timed spin would absorb it.
//
// usage: SPIN_MS=60 node bench/server-block.js [PORT]
// Prints {"ready":true,"pid":N,"port":N,"spin_iterations":N,"spin_ms":X} once listening.
'use strict';
const { serve } = require('./serve.js');

const body = Buffer.from('hello from uvscope bench\n');
const headers = {
	'Content-Type': 'text/plain',
	'Content-Length': String(body.length),
};

// The blocking function, by name in uvscope's blocked-loop alerts (scripts/bench.sh checks
// for it). A xorshift walk: integer work V8 cannot fold away, since its result is used.
function benchSpin(iterations) {
	let x = 2463534242;
	for (let i = 0; i < iterations; i++) {
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
	}
	return x >>> 0;
}

// Iterations for ms of CPU: measured with the function optimized (a few rounds first).
function calibrate(ms) {
	let n = 1e6;
	for (let round = 0; round < 5; round++) {
		const t0 = process.cpuUsage();
		benchSpin(n);
		const used = process.cpuUsage(t0);
		const us = used.user + used.system;
		if (us > 0) n = Math.max(1000, Math.round(n * (ms * 1000) / us));
	}
	return n;
}

const spinMs = Number(process.env.SPIN_MS || 60);
const iterations = calibrate(spinMs);
let sink = 0;

serve((req, res) => {
	if (req.url === '/spin') sink ^= benchSpin(iterations);
	res.writeHead(200, headers);
	res.end(body);
}, { port: process.argv[2], ready: { spin_iterations: iterations, spin_ms: spinMs } });
