// The benchmark's fs-heavy target: every request does libuv thread-pool fs work before it
// is answered, the way a server that serves or checks files does. Its point is to make
// uvscope's --pool uprobes fire many times per request, so their cost per pool job can be
// measured; the HTTP part is the plain server's (serve.js).
//
// Per request: an async fs.stat of a small file, then an async fs.readFile of it (one after
// the other, as a "does it exist, then read it" handler would), and the file's contents as
// the answer. That is 5 pool jobs: stat, then readFile's open, fstat, read and close. The
// file (1 KiB) is made in a fresh temporary directory at start and removed at exit; it stays
// in the page cache, so the jobs are short and the pool's overhead is a large share of them.
// (Node 20's libuv would send fs work to io_uring instead of the pool if UV_USE_IO_URING=1
// were set: scripts/bench.sh sets it to 0, and the agent's "fs_io_uring" says which ran.)
//
// usage: node bench/server-fs.js [PORT]   (as server.js)
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { serve } = require('./serve.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uvscope-bench-fs-'));
const file = path.join(dir, 'data.txt');
fs.writeFileSync(file, 'uvscope bench fs server\n'.repeat(43).slice(0, 1024));

const headers = { 'Content-Type': 'text/plain' };

function fail(res, err) {
	res.writeHead(500, { 'Content-Type': 'text/plain', 'Content-Length': '0' });
	res.end();
	process.stderr.write(`server-fs: ${err.message}\n`);
}

serve((req, res) => {
	fs.stat(file, (err, st) => {
		if (err || !st.isFile()) return fail(res, err || new Error('not a file'));
		fs.readFile(file, (err, data) => {
			if (err) return fail(res, err);
			headers['Content-Length'] = String(data.length);
			res.writeHead(200, headers);
			res.end(data);
		});
	});
}, { port: process.argv[2], onStop: () => fs.rmSync(dir, { recursive: true, force: true }) });
