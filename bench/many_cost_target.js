// A target of scripts/many-cost.sh, which measures what one uvscope agent costs itself while it
// watches many Node processes at once (`uvscope watch --all --match TAG`). A small server-like
// process doing steady light work, as a quiet service does between requests:
//   node bench/many_cost_target.js TAG [TICK_MS] [STAT_MS]
// - a timer every TICK_MS ms (default 5) that does a little JavaScript work: one loop iteration
//   each time, so the agent has iterations to count in every window;
// - an fs.promises.stat of this file every STAT_MS ms (default 100): a thread-pool job now and
//   then, so the pool is in use and its figures are not all zero;
// - one listening TCP socket on 127.0.0.1, as any server has, so the agent has a socket table
//   to read.
// TAG is only carried on the command line (where `--match` looks), so that the agent takes
// exactly these targets and no other Node process on the machine.
// Prints {"ready":true,"pid":N,"port":P,"tag":"TAG"} once listening. Exits 0 on SIGTERM or SIGINT.
'use strict';
const fs = require('node:fs');
const net = require('node:net');

const TAG = process.argv[2];
const TICK_MS = Number(process.argv[3] || 5);
const STAT_MS = Number(process.argv[4] || 100);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (err) => {
	out({ error: `${err.code ?? ''} ${err.message}`.trim(), pid: process.pid });
	process.exit(1);
};

if (!TAG || !(TICK_MS >= 1) || !(STAT_MS >= 1))
	fail({ message: 'usage: node bench/many_cost_target.js TAG [TICK_MS] [STAT_MS]' });

// A little work per tick, kept where the optimizer cannot drop it.
let acc = 0;
function tick() {
	for (let i = 0; i < 200; i++) acc = (acc * 31 + i) | 0;
}

let statsDone = 0;
function stat() {
	fs.promises.stat(__filename).then(() => { statsDone++; }, fail);
}

const server = net.createServer((s) => s.destroy());
server.on('error', fail);
server.listen(0, '127.0.0.1', () => {
	setInterval(tick, TICK_MS);
	setInterval(stat, STAT_MS);
	out({ ready: true, pid: process.pid, port: server.address().port, tag: TAG });
});

function quit() {
	server.close();
	process.exit(0);
}
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
