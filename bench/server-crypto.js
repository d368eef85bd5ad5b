// The benchmark's crypto-heavy target: every request runs one async crypto job on the libuv
// thread pool before it is answered, the way a server that checks passwords or derives keys
// does. Its point is a pool job that is mostly real CPU work (unlike the fs server's short
// jobs), to see uvscope's --pool uprobes against it; the HTTP part is the plain server's
// (serve.js).
//
// Per request: crypto.pbkdf2 (HMAC-SHA256, 1000 iterations, a 32-byte key; about 0.2 ms of
// one CPU on the benchmark's VM) with a fixed password and salt, then a small answer with
// the key in hex. One pool job per request (kind "crypto"). The iteration count is far
// below what a real password hash uses: at 600,000 the pool's cost would be invisible next
// to the hashing, and the rate would have to be a few requests per second. At 1000 the
// hashing is still most of the request's CPU (~0.2 of ~0.3 ms), which is the point.
//
// usage: node bench/server-crypto.js [PORT]   (as server.js)
'use strict';
const crypto = require('node:crypto');
const { serve } = require('./serve.js');

const iterations = 1000;	// bench/report.mjs and bench/README.md say 1000 too
const password = Buffer.from('correct horse battery staple');
const salt = Buffer.from('uvscope-bench-salt');
const headers = { 'Content-Type': 'text/plain', 'Content-Length': '65' };

serve((req, res) => {
	crypto.pbkdf2(password, salt, iterations, 32, 'sha256', (err, key) => {
		if (err) {
			res.writeHead(500, { 'Content-Type': 'text/plain', 'Content-Length': '0' });
			res.end();
			return;
		}
		res.writeHead(200, headers);
		res.end(key.toString('hex') + '\n');
	});
}, { port: process.argv[2] });
