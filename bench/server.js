// The benchmark's target: the smallest realistic Node HTTP server. Plain http.createServer,
// a small fixed response with Content-Length, HTTP/1.1 keep-alive. It does nothing else, so
// any change in its CPU time per request is the cost of being watched.
//
// usage: node bench/server.js [PORT]   (PORT 0 or absent: any free port on 127.0.0.1)
// Prints one JSON line {"ready":true,"pid":N,"port":N} once it is listening; SIGTERM or
// SIGINT closes it (exit status 0).
'use strict';
const http = require('node:http');

const body = Buffer.from('hello from uvscope bench\n');
const headers = {
	'Content-Type': 'text/plain',
	'Content-Length': String(body.length),
};

const server = http.createServer((req, res) => {
	res.writeHead(200, headers);
	res.end(body);
});

// The load generator keeps its connections open for the whole run and may leave some idle
// for a while (at 5000 req/s over many connections): never close them on a timer, never cap
// the requests per connection, so no reconnects happen inside a measured run.
server.keepAliveTimeout = 0;
server.maxRequestsPerSocket = 0;
server.requestTimeout = 0;
server.headersTimeout = 0;

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
	const { port } = server.address();
	process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, port }) + '\n');
});

function stop() {
	server.close(() => process.exit(0));
	server.closeAllConnections();
	// closeAllConnections() drops keep-alive sockets; if anything still holds the loop open,
	// do not hang the benchmark on it.
	setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
