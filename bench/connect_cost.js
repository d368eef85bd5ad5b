// What following the target's TCP connections costs it: the time per connection (connect,
// accept, one byte each way, close from both ends) on loopback, all in this one process, so
// every state change of both ends is the target's. Run it alone, then with uvscope attached
// (scripts/bench.sh does not; see bench/README.md):
//   node bench/connect_cost.js [ROUNDS] [CONNECTIONS_PER_ROUND]
// Prints {"pid":N} when ready, waits for a line on stdin, then one JSON line per round:
// {"round":i,"us_per_connection":x}.
'use strict';
const net = require('node:net');

const rounds = Number(process.argv[2] || 5);
const perRound = Number(process.argv[3] || 2000);
const server = net.createServer((c) => c.on('data', () => c.end('y')));

function once(port) {
	return new Promise((resolve, reject) => {
		const c = net.connect(port, '127.0.0.1', () => c.write('x'));
		c.on('data', () => c.end());
		c.on('close', resolve);
		c.on('error', reject);
	});
}

async function run(port) {
	for (let r = 0; r < rounds; r++) {
		const t = process.hrtime.bigint();
		for (let i = 0; i < perRound; i++) await once(port);
		const us = Number(process.hrtime.bigint() - t) / 1e3 / perRound;
		console.log(JSON.stringify({ round: r, us_per_connection: Number(us.toFixed(2)) }));
	}
	server.close();
}

server.listen(0, '127.0.0.1', () => {
	console.log(JSON.stringify({ pid: process.pid }));
	process.stdin.once('data', () => run(server.address().port));
});
