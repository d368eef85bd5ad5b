// What every benchmark server shares: an HTTP/1.1 keep-alive server on 127.0.0.1 that
// never closes connections on its own, announces itself with one JSON line, and exits
// cleanly on SIGTERM or SIGINT. The servers themselves (server.js, server-fs.js,
// server-crypto.js) only supply the request handler, so they differ in their work per
// request and in nothing else.
//
// serve(handler, { port, onStop, ready }): port 0 or absent means any free port. Prints
// {"ready":true,"pid":N,"port":N} (and ready's fields) once listening; onStop runs before the
// exit (cleanup).
'use strict';
const http = require('node:http');

function serve(handler, { port = 0, onStop, ready = {} } = {}) {
	const server = http.createServer(handler);

	// The load generator keeps its connections open for the whole run and may leave some
	// idle for a while (at 5000 req/s over many connections): never close them on a timer,
	// never cap the requests per connection, so no reconnects happen inside a measured run.
	server.keepAliveTimeout = 0;
	server.maxRequestsPerSocket = 0;
	server.requestTimeout = 0;
	server.headersTimeout = 0;

	server.listen(Number(port || 0), '127.0.0.1', () => {
		const { port } = server.address();
		process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, port, ...ready }) +
			'\n');
	});

	let stopping = false;
	function stop() {
		if (stopping) return;
		stopping = true;
		const exit = () => {
			if (onStop) onStop();
			process.exit(0);
		};
		server.close(exit);
		server.closeAllConnections();
		// closeAllConnections() drops keep-alive sockets; if anything still holds the loop
		// open, do not hang the benchmark on it.
		setTimeout(exit, 1000).unref();
	}
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
	return server;
}

module.exports = { serve };
