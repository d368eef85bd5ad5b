// What one probe hit costs the target, the figure the overhead guard's default budget rests on
// (agent/core/overhead_guard.h). The target is tests/fixtures/node/spin.js, pinned to one CPU:
// on "spin" its main loop runs one setImmediate per iteration, as fast as it can, and it says
// its own iteration count and CPU time (process.cpuUsage) at the start and the end. Rounds
// alternate without uvscope and with `uvscope watch --no-guard` in a mode (pinned to the other
// CPU, attached before the spin starts); the added CPU per iteration over uvscope's own probe
// hits per iteration (its intervals' agent.probe_hits over the main loop's iterations) is the
// cost of a hit. Not part of make bench (scripts/op-cost.sh measures per operation there).
//
//   sudo node bench/hit_cost.mjs [ROUNDS [SECONDS [MODE...]]]    MODE: default, phases
//
// Prints one JSON line per round and mode, then the medians. Run it on a quiet machine, under
// the BPF lock where several people share one.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const uvscope = process.env.UVSCOPE || path.join(root, 'uvscope');
const rounds = Number(process.argv[2] || 7);
const seconds = Number(process.argv[3] || 2);
const modes = process.argv.length > 4 ? process.argv.slice(4) : ['default', 'phases'];
const flags = { default: [], phases: ['--phases'] };
const targetCpu = process.env.HIT_COST_TARGET_CPU || '1';
const agentCpu = process.env.HIT_COST_AGENT_CPU || '0';

for (const m of modes) {
	if (!flags[m]) {
		console.error(`unknown mode ${m} (default, phases)`);
		process.exit(2);
	}
}

// A child whose stdout lines are kept, parsed as JSON where they are, and can be awaited.
class Proc {
	constructor(cmd, args) {
		this.lines = [];
		this.waiters = [];
		this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
		this.stderr = '';
		this.proc.stderr.setEncoding('utf8');
		this.proc.stderr.on('data', (chunk) => { this.stderr += chunk; });
		let buf = '';
		this.proc.stdout.setEncoding('utf8');
		this.proc.stdout.on('data', (chunk) => {
			buf += chunk;
			let i;
			while ((i = buf.indexOf('\n')) >= 0) {
				const line = buf.slice(0, i);
				buf = buf.slice(i + 1);
				try {
					this.lines.push(JSON.parse(line));
				} catch {
					this.lines.push(line);
				}
			}
			this.waiters.splice(0).forEach((w) => w());
		});
		this.closed = new Promise((resolve) => this.proc.on('close', () => {
			this.waiters.splice(0).forEach((w) => w());
			resolve();
		}));
	}

	// The first line from index `from` on for which pred is true.
	async until(pred, from = 0) {
		for (;;) {
			const v = this.lines.slice(from).find(pred);
			if (v) return v;
			if (this.proc.exitCode !== null)
				throw new Error(`${this.proc.spawnargs.join(' ')} exited first: ${this.stderr}`);
			await new Promise((resolve) => this.waiters.push(resolve));
		}
	}
}

const target = new Proc('taskset', ['-c', targetCpu, process.execPath,
	path.join(root, 'tests', 'fixtures', 'node', 'spin.js')]);
const { pid } = await target.until((v) => v && v.ready);

// One measured spin: CPU ns per iteration, and probe hits per iteration with an agent.
async function round(mode) {
	let agent = null;
	if (mode !== 'none') {
		agent = new Proc('taskset', ['-c', agentCpu, uvscope, 'watch', '-p', String(pid),
			'--json', '--no-guard', '-i', '500ms', ...flags[mode]]);
		await agent.until((v) => v && v.type === 'attach');
	}
	let from = target.lines.length;
	target.proc.stdin.write('spin\n');
	const start = await target.until((v) => v && v.spinning, from);
	await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
	from = target.lines.length;
	target.proc.stdin.write('stop\n');
	const end = await target.until((v) => v && v.stopped, from);
	let hits = null;
	if (agent) {
		agent.proc.kill('SIGINT');
		await agent.closed;
		const intervals = agent.lines.filter((v) => v && v.type === 'interval');
		const its = intervals.reduce((s, v) =>
			s + (v.loops.find((l) => l.role === 'main')?.iterations ?? 0), 0);
		hits = intervals.reduce((s, v) => s + v.agent.probe_hits, 0) / its;
	}
	const its = end.iterations - start.iterations;
	return { cpu_ns: (end.cpu_us - start.cpu_us) * 1000 / its, hits };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = Object.fromEntries(modes.map((m) => [m, []]));
for (let r = 0; r < rounds; r++) {
	for (const mode of modes) {
		const order = r % 2 ? [mode, 'none'] : ['none', mode];
		const got = {};
		for (const m of order) got[m] = await round(m);
		const line = {
			round: r, mode, cpu_ns_per_iteration_without: got.none.cpu_ns,
			cpu_ns_per_iteration_with: got[mode].cpu_ns, hits_per_iteration: got[mode].hits,
			ns_per_hit: (got[mode].cpu_ns - got.none.cpu_ns) / got[mode].hits,
		};
		results[mode].push(line);
		console.log(JSON.stringify(line));
	}
}
for (const mode of modes) {
	const list = results[mode];
	console.log(JSON.stringify({
		mode, rounds: list.length,
		added_ns_per_iteration_median: median(list.map((l) =>
			l.cpu_ns_per_iteration_with - l.cpu_ns_per_iteration_without)),
		hits_per_iteration_median: median(list.map((l) => l.hits_per_iteration)),
		ns_per_hit_median: median(list.map((l) => l.ns_per_hit)),
		ns_per_hit_min: Math.min(...list.map((l) => l.ns_per_hit)),
		ns_per_hit_max: Math.max(...list.map((l) => l.ns_per_hit)),
	}));
}
target.proc.kill();
