// The target of bench/proc_stack_cost.mjs. Two modes (argv[2]):
//   gaps SECONDS  spin on the main thread for SECONDS, reading CLOCK_MONOTONIC
//                 (process.hrtime) between iterations, and print every gap longer than
//                 GAP_NS as [start, end] in ns: the pauses as the target lived them, which the
//                 bench matches with the grabs uvscope made (same clock)
//   work          do fixed chunks of JS work forever and print, once per line on request
//                 ("m" on stdin), the chunks done and this process's CPU time (user + system,
//                 ns): CPU per chunk, with and without sampling
const mode = process.argv[2];
const GAP_NS = 5000n;

function procStackCostChunk() {
	let x = 0;
	for (let i = 0; i < 20000; i++) x = (x * 31 + i) % 1000003;
	return x;
}

if (mode === 'gaps') {
	const end = process.hrtime.bigint() + BigInt(Math.round(Number(process.argv[3]) * 1e9));
	const gaps = [];
	process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');
	let last = process.hrtime.bigint();
	for (;;) {
		const now = process.hrtime.bigint();
		if (now - last > GAP_NS && gaps.length < 1e6) gaps.push([String(last), String(now)]);
		last = now;
		if (now > end) break;
	}
	process.stdout.write(JSON.stringify({ gaps }) + '\n');
} else {
	let chunks = 0;
	let sink = 0;
	const cpuNs = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
	process.stdin.on('data', () => {
		process.stdout.write(JSON.stringify({ chunks, cpu_ns: cpuNs(), sink: sink & 1 }) + '\n');
	});
	const run = () => {
		for (let k = 0; k < 50; k++, chunks++) sink += procStackCostChunk();
		setImmediate(run);
	};
	process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');
	run();
}
