// What watching the libuv thread pool costs the target per pool job: bench/op_cost_pool.js runs
// rounds of back-to-back jobs of one kind, alternately without and with uvscope attached, and
// this prints the added CPU per job (median over the pairs of with minus without).
//
//   sudo node bench/pool_cost.mjs [--pairs N] [--count N] [--kinds fs,crypto,zlib,dns]
//                                 [--modes "default=|nopool=--no-pool"] [--node PATH]
//                                 [--uvscope PATH] [--out FILE.jsonl]
//
// Each mode is NAME=FLAGS[=UVSCOPE] (flags added to `uvscope watch -p PID --json`; UVSCOPE: another
// uvscope binary than --uvscope's, to compare builds in one run). For each pair and
// mode, every kind gets one round without uvscope and one with it attached (attached once for
// all kinds, the attach line awaited before the first round; SIGINT and exit awaited after the
// last), the order of the two flipping from pair to pair (ABBA). The target runs on CPU 1, the
// agent on CPU 0. Before the pairs, one unmeasured round of each kind warms the JIT up. Every
// round and the agent's summary go to --out as JSON lines.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const opt = { pairs: 7, count: 20000, kinds: 'fs,crypto,zlib,dns',
	modes: 'default=|nopool=--no-pool', node: process.execPath,
	uvscope: path.join(here, '..', 'uvscope'), out: '' };
for (let i = 2; i < process.argv.length; i += 2) {
	const k = process.argv[i].replace(/^--/, ''), v = process.argv[i + 1];
	if (!(k in opt) || v === undefined) {
		console.error(`pool_cost: unknown or incomplete option ${process.argv[i]}`);
		process.exit(2);
	}
	opt[k] = typeof opt[k] === 'number' ? Number(v) : v;
}
const kinds = opt.kinds.split(',');
const modes = opt.modes.split('|').map((m) => {
	const [name, flags = '', bin = opt.uvscope] = m.split('=');
	return { name, flags: flags.split(/\s+/).filter(Boolean), bin };
});
if (opt.out) writeFileSync(opt.out, '');
const record = (o) => opt.out && appendFileSync(opt.out, JSON.stringify(o) + '\n');

// The target, and a way to ask it for one round.
const target = spawn('taskset', ['-c', '1', opt.node, path.join(here, 'op_cost_pool.js')],
	{ stdio: ['pipe', 'pipe', 'inherit'] });
const lines = readline.createInterface({ input: target.stdout })[Symbol.asyncIterator]();
const next = async () => JSON.parse((await lines.next()).value);
const { pid } = await next();
async function round(kind) {
	target.stdin.write(`${kind} ${opt.count}\n`);
	const r = await next();
	if (r.error) throw new Error(r.error);
	return r.cpu_ns_per_job;
}

// uvscope attached with flags until the returned function is called; resolves once attached.
async function attach({ flags, bin }) {
	const agent = spawn('taskset', ['-c', '0', bin, 'watch', '-p', String(pid), '--json',
		...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
	let stderr = '';
	agent.stderr.on('data', (d) => { stderr += d; });
	const out = readline.createInterface({ input: agent.stdout });
	const jsonLines = [];
	const attached = new Promise((resolve, reject) => {
		out.on('line', (l) => {
			jsonLines.push(l);
			if (l.includes('"type":"attach"')) resolve();
		});
		agent.on('exit', () => reject(new Error(`uvscope exited before attaching: ${stderr}`)));
	});
	await attached;
	return async () => {
		const exited = once(agent, 'exit');
		agent.kill('SIGINT');
		await exited;
		return jsonLines.map((l) => JSON.parse(l));
	};
}

const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

for (let i = 0; i < 3; i++) for (const kind of kinds) await round(kind); // warm-up
const deltas = {}, bases = {};
for (const m of modes) {
	deltas[m.name] = Object.fromEntries(kinds.map((k) => [k, []]));
	bases[m.name] = Object.fromEntries(kinds.map((k) => [k, []]));
}
for (let p = 0; p < opt.pairs; p++) {
	for (let mi = 0; mi < modes.length; mi++) {
		const m = modes[(mi + p) % modes.length];
		const without = {}, withAgent = {};
		const measureWithout = async () => {
			for (const k of kinds) without[k] = await round(k);
		};
		const measureWith = async () => {
			const detach = await attach(m);
			for (const k of kinds) withAgent[k] = await round(k);
			const summary = (await detach()).find((o) => o.type === 'summary');
			record({ pair: p, mode: m.name, summary });
		};
		if (p % 2) {
			await measureWith();
			await measureWithout();
		} else {
			await measureWithout();
			await measureWith();
		}
		for (const k of kinds) {
			deltas[m.name][k].push(withAgent[k] - without[k]);
			bases[m.name][k].push(without[k]);
			record({ pair: p, mode: m.name, kind: k, without_ns: without[k], with_ns: withAgent[k] });
		}
	}
}
target.stdin.end();
await once(target, 'exit');

const us = (ns) => (ns / 1000).toFixed(2);
console.log(`per job, ${opt.pairs} pairs of ${opt.count} jobs, node ${opt.node}`);
console.log(['kind', 'without', ...modes.map((m) => `${m.name} (${m.flags.join(' ') || 'no flag'})`)]
	.join(' | '));
for (const k of kinds) {
	const base = median(modes.flatMap((m) => bases[m.name][k]));
	console.log([k, `${us(base)} µs`, ...modes.map((m) => {
		const d = deltas[m.name][k];
		return `+${us(median(d))} µs (${us(Math.min(...d))}..${us(Math.max(...d))})`;
	})].join(' | '));
}
