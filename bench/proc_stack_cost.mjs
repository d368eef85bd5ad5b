// What stacks without BPF cost the target (`flame --backend proc`; scripts/proc-stack-cost.sh
// runs this). uvscope runs as issue 12's users run it: root with only CAP_SYS_PTRACE and
// CAP_DAC_READ_SEARCH in its bounding set.
//
// 1. ptrace grabs: each stops one thread. For PROC_COST_SECONDS, uvscope grabs a target that
//    spins on its main thread (bench/proc_stack_cost_target.js gaps) at 19 Hz and logs each
//    grab with -v: when it sent the interrupt and the pause it measured (interrupt to detach).
//    The target meanwhile records every gap of more than 5 us between two readings of
//    CLOCK_MONOTONIC: the pause as the target lived it, matched to the grab that overlaps it.
//    Printed: the pause per grab as uvscope measured it and as the target lived it (median,
//    p99, max), and the gaps of the same run that no grab explains (the machine's own noise).
// 2. perf_event_open sampling stops nothing; what it costs the target is the kernel's work at
//    each sample (the interrupt, the callchain, the 16 KiB copy of the user stack into the
//    ring). A target doing fixed chunks of JS work (proc_stack_cost_target.js work) is measured
//    in windows of PROC_COST_SECONDS: CPU time per chunk without uvscope and with it sampling
//    at each rate of PROC_COST_RATES, alternating, PROC_COST_PAIRS pairs per rate. The extra CPU
//    per chunk, times the chunks per second, over the samples per second, is the target's CPU
//    per sample. Also the agent's CPU per sample (naming it: symbols, V8's heap, phases).
//
//   node bench/proc_stack_cost.mjs          (root; prints the tables)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const uvscope = process.env.UVSCOPE || path.join(root, 'uvscope');
const SECS = Number(process.env.PROC_COST_SECONDS || 5);
const RATES = (process.env.PROC_COST_RATES || '99 997').split(/\s+/).filter(Boolean).map(Number);
const PAIRS = Number(process.env.PROC_COST_PAIRS || 4);
const PRIVS = ['--bounding-set', '-all,+sys_ptrace,+dac_read_search'];
const TARGET = path.join(here, 'proc_stack_cost_target.js');
const CLK_TCK = 100;

function lines(stream, into, wake) {
	let buf = '';
	stream.setEncoding('utf8');
	stream.on('data', (d) => {
		buf += d;
		let i;
		while ((i = buf.indexOf('\n')) >= 0) {
			into.push(buf.slice(0, i));
			buf = buf.slice(i + 1);
			wake();
		}
	});
}

function start(cmd, args, env = {}) {
	const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
	const c = { p, out: [], err: [], waiters: [], exited: null };
	const wake = () => { for (const w of c.waiters.splice(0)) w(); };
	lines(p.stdout, c.out, wake);
	lines(p.stderr, c.err, wake);
	c.done = new Promise((r) => p.on('close', (code, signal) => { c.exited = { code, signal }; wake(); r(c.exited); }));
	c.until = async (pred, what, ms = 30000) => {
		const end = Date.now() + ms;
		for (;;) {
			const v = pred();
			if (v) return v;
			if (c.exited) throw new Error(`${what}: exited first: ${c.err.slice(-5).join(' | ')}`);
			if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
			await new Promise((r) => { const t = setTimeout(r, 200); c.waiters.push(() => { clearTimeout(t); r(); }); });
		}
	};
	return c;
}

const json = (l) => { try { return JSON.parse(l); } catch { return null; } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pct(sorted, p) {
	if (!sorted.length) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function summary(values) {
	const s = [...values].sort((a, b) => a - b);
	return { n: s.length, min: s[0], median: pct(s, 0.5), p99: pct(s, 0.99), max: s.at(-1) };
}

const us = (ns) => (Number.isFinite(ns) ? (ns / 1000).toFixed(1) : '-');

function agentCpuTicks(pid) {
	const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
	return Number(rest[11]) + Number(rest[12]);
}

async function ptracePauses(dir) {
	const target = start(process.execPath, [TARGET, 'gaps', String(SECS + 4)]);
	const ready = await target.until(() => target.out.map(json).find((v) => v && v.ready), 'target ready');
	const agent = start('setpriv', [...PRIVS, uvscope, 'flame', '--backend', 'proc', '-p',
		String(ready.pid), '-d', `${SECS}s`, '-o', path.join(dir, 'ptrace.folded'), '-v'],
	{ UVSCOPE_PROC_STACKS: 'ptrace' });
	await agent.done;
	if (agent.exited.code !== 0) throw new Error(`uvscope failed: ${agent.err.slice(-5).join(' | ')}`);
	const gapsLine = await target.until(() => target.out.map(json).find((v) => v && v.gaps), 'target gaps', (SECS + 30) * 1000);
	const gaps = gapsLine.gaps.map(([a, b]) => [BigInt(a), BigInt(b)]);
	const grabs = [];
	for (const l of agent.err) {
		const m = l.match(/ptrace grab of thread (\d+) at (\d+): stopped ([\d.]+) us/);
		if (m) grabs.push({ at: BigInt(m[2]), pause: Number(m[3]) * 1000 });
	}
	const lived = [];
	const used = new Set();
	for (const g of grabs) {
		const end = g.at + BigInt(Math.round(g.pause));
		const i = gaps.findIndex(([a, b]) => a <= end && b >= g.at);
		if (i >= 0) {
			used.add(i);
			lived.push(Number(gaps[i][1] - gaps[i][0]));
		}
	}
	const other = gaps.filter((_, i) => !used.has(i)).map(([a, b]) => Number(b - a));
	return { grabs: summary(grabs.map((g) => g.pause)), lived: summary(lived), other: summary(other),
		seconds: SECS };
}

async function measure(target) {
	const n = target.out.length;
	target.p.stdin.write('m\n');
	return target.until(() => target.out.slice(n).map(json).find((v) => v && 'chunks' in v), 'measure');
}

async function window(target) {
	const a = await measure(target);
	await sleep(SECS * 1000);
	const b = await measure(target);
	return { chunks: b.chunks - a.chunks, cpuNs: b.cpu_ns - a.cpu_ns, wallS: SECS };
}

async function perfCost(dir) {
	const target = start(process.execPath, [TARGET, 'work']);
	const ready = await target.until(() => target.out.map(json).find((v) => v && v.ready), 'target ready');
	await sleep(2000); // JIT warm
	const rows = [];
	try {
		for (const hz of RATES) {
			const off = [], on = [], perSample = [];
			let agentNs = 0, samples = 0;
			for (let k = 0; k < PAIRS; k++) {
				off.push(await window(target));
				const agent = start('setpriv', [...PRIVS, uvscope, 'flame', '--backend', 'proc', '-p',
					String(ready.pid), '--sample-hz', String(hz), '-o', path.join(dir, `perf-${hz}.folded`)],
				{ UVSCOPE_PROC_STACKS: 'perf' });
				await agent.until(() => agent.err.some((l) => /stacks by perf_event_open/.test(l)), 'perf sampling');
				const t0 = process.hrtime.bigint();
				const c0 = agentCpuTicks(agent.p.pid);
				const w = await window(target);
				const c1 = agentCpuTicks(agent.p.pid);
				const t1 = process.hrtime.bigint();
				agent.p.kill('SIGINT');
				await agent.done;
				const m = agent.err.join('\n').match(/perf_event_open: (\d+) samples, (\d+) lost/);
				if (!m) throw new Error(`no sample count: ${agent.err.slice(-5).join(' | ')}`);
				// The samples of the window: the rate over uvscope's sampling life applied to it.
				const life = Number(t1 - t0) / 1e9 + 0.3;
				const inWindow = Number(m[1]) * (w.wallS / Math.max(life, w.wallS));
				on.push(w);
				samples += inWindow;
				agentNs += (c1 - c0) / CLK_TCK * 1e9;
				const offPer = off.at(-1).cpuNs / off.at(-1).chunks;
				const onPer = w.cpuNs / w.chunks;
				perSample.push((onPer - offPer) * w.chunks / inWindow);
			}
			const per = (ws) => ws.reduce((s, w) => s + w.cpuNs, 0) / ws.reduce((s, w) => s + w.chunks, 0);
			rows.push({ hz, offPerChunk: per(off), onPerChunk: per(on), samples,
				perSample: summary(perSample), agentPerSample: agentNs / samples });
		}
	} finally {
		target.p.kill('SIGKILL');
		await target.done;
	}
	return rows;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-proc-cost-'));
try {
	const p = await ptracePauses(dir);
	console.log(`ptrace grabs at 19 Hz of a thread spinning in JS, ${p.seconds} s:`);
	console.log('| pause per grab | grabs | median | p99 | max |');
	console.log('|---|---:|---:|---:|---:|');
	console.log(`| as uvscope measured it (interrupt to detach) | ${p.grabs.n} | ${us(p.grabs.median)} us | ${us(p.grabs.p99)} us | ${us(p.grabs.max)} us |`);
	console.log(`| as the target lived it (its clock's gap) | ${p.lived.n} | ${us(p.lived.median)} us | ${us(p.lived.p99)} us | ${us(p.lived.max)} us |`);
	console.log(`| other gaps > 5 us of the same run (no grab) | ${p.other.n} | ${us(p.other.median)} us | ${us(p.other.p99)} us | ${us(p.other.max)} us |`);
	console.log('');
	const rows = await perfCost(dir);
	console.log(`perf_event_open sampling of a thread doing JS work, ${PAIRS} pairs of ${SECS} s windows per rate:`);
	console.log('| rate | target CPU per chunk, off | on | samples | target CPU per sample (median of pairs) | agent CPU per sample |');
	console.log('|---|---:|---:|---:|---:|---:|');
	for (const r of rows)
		console.log(`| ${r.hz} Hz | ${us(r.offPerChunk)} us | ${us(r.onPerChunk)} us | ${r.samples.toFixed(0)} | ${us(r.perSample.median)} us (pairs: ${us(r.perSample.min)} to ${us(r.perSample.max)}) | ${us(r.agentPerSample)} us |`);
} finally {
	rmSync(dir, { recursive: true, force: true });
}
