// The benchmark's plain target: the smallest realistic Node HTTP server. Plain
// http.createServer, a small fixed response with Content-Length, HTTP/1.1 keep-alive. It
// does nothing else, so any change in its CPU time per request is the cost of being
// watched. It never touches the libuv thread pool: the fs and crypto servers do.
//
// usage: node bench/server.js [PORT]   (PORT 0 or absent: any free port on 127.0.0.1)
// Prints one JSON line {"ready":true,"pid":N,"port":N} once it is listening; SIGTERM or
// SIGINT closes it (exit status 0). The HTTP plumbing is in serve.js.
'use strict';
const { serve } = require('./serve.js');

const body = Buffer.from('hello from uvscope bench\n');
const headers = {
	'Content-Type': 'text/plain',
	'Content-Length': String(body.length),
};

serve((req, res) => {
	res.writeHead(200, headers);
	res.end(body);
}, { port: process.argv[2] });
