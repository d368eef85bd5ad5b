// The demo target for `make demo`: a small HTTP service that drives itself, with the kind of
// trouble uvscope is for. Every few seconds one request does something synchronous and slow
// (a big JSON.stringify, a sync pbkdf2) and blocks the event loop; a worker_thread does its
// own periodic work on its own loop. Everything stays on 127.0.0.1 and ends with the process.
const http = require('node:http');
const crypto = require('node:crypto');
const { Worker } = require('node:worker_threads');

const big = Array.from({ length: 400000 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b'] }));
let requests = 0;

const server = http.createServer((req, res) => {
	requests++;
	if (req.url === '/report') {
		const body = JSON.stringify(big); // the slow path: blocks the loop for a while
		res.end(String(body.length));
	} else if (req.url === '/login') {
		crypto.pbkdf2Sync('secret', 'salt', 600000, 32, 'sha256'); // blocks too
		res.end('ok');
	} else {
		res.end('hello');
	}
});

server.listen(0, '127.0.0.1', () => {
	const { port } = server.address();
	const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
	const get = (path) => http.get({ host: '127.0.0.1', port, path, agent }, (r) => r.resume())
		.on('error', () => {});
	setInterval(() => get('/'), 5);
	setInterval(() => get(Math.random() < 0.5 ? '/report' : '/login'), 3000);
	console.log(`demo app: pid ${process.pid}, http://127.0.0.1:${port}/`);
});

new Worker(`
	const { performance } = require('node:perf_hooks');
	setInterval(() => { const end = performance.now() + 20; while (performance.now() < end); }, 100);
`, { eval: true });
