// Turns one benchmark run directory (bench/runs/STAMP: meta.json and runs.jsonl, written by
// scripts/bench.sh) into the markdown report, bench/results.md by default.
//
// usage: node bench/report.mjs RUNDIR OUT.md
//
// Every number is a min / median / max over the kept pairs. Overhead is computed per pair
// (with / without, the two runs of a pair being neighbours in time) and only then
// summarized, so slow drift of the machine cancels out instead of adding to the spread.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [runDir, outPath] = process.argv.slice(2);
if (!runDir || !outPath) {
	console.error('usage: node bench/report.mjs RUNDIR OUT.md');
	process.exit(2);
}
const meta = JSON.parse(readFileSync(path.join(runDir, 'meta.json'), 'utf8'));
const all = readFileSync(path.join(runDir, 'runs.jsonl'), 'utf8')
	.split('\n').filter(Boolean).map((l) => JSON.parse(l));
const runs = all.filter((r) => r.kept);

// ---- numbers -----------------------------------------------------------------------------
const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => {
	xs = xs.filter((x) => Number.isFinite(x));
	return xs.length ? { min: Math.min(...xs), med: median(xs), max: Math.max(...xs), n: xs.length }
		: null;
};

const cpuPerReqUs = (r) => r.server_cpu_ns / r.load.completed / 1e3;
const p99 = (r) => r.load.latency_us.p99;
const p50 = (r) => r.load.latency_us.p50;
const tput = (r) => r.load.throughput_rps;
const agentPctCpu = (r) => (r.agent_cpu_ns / r.elapsed_ns) * 100;
const agentUsPerReq = (r) => r.agent_cpu_ns / r.load.completed / 1e3;
const agentMiB = (r) => r.agent_hwm_kb / 1024;
const attachMs = (r) => r.attach_us / 1e3;
const detachMs = (r) => r.detach_us / 1e3;
// Loop iterations of the main thread per request: the agent counts them over its whole
// life (warm-up and measured run), so divide by both runs' requests.
const itersPerReq = (r) => {
	const main = r.agent_summary?.loops?.find((l) => l.role === 'main');
	return main ? main.iterations / (r.load.completed + r.warmup.completed) : NaN;
};

// pairs(config, mode) -> [{ pair, without, with }]
function pairs(config, mode) {
	const by = new Map();
	for (const r of runs.filter((x) => x.config === config && x.mode === mode)) {
		if (!by.has(r.pair)) by.set(r.pair, { pair: r.pair });
		by.get(r.pair)[r.slot] = r;
	}
	return [...by.values()].filter((p) => p.with && p.without).sort((a, b) => a.pair - b.pair);
}

const fmtNum = (x, d) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const fmt = (s, d = 1) => (s ? `${fmtNum(s.min, d)} / ${fmtNum(s.med, d)} / ${fmtNum(s.max, d)}` : '–');
const pct = (ratio) => `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(1)}%`;
const fmtRatio = (s) => (s ? `${s.min.toFixed(3)} / **${s.med.toFixed(3)}** / ${s.max.toFixed(3)}` : '–');

// Per-mode column of one configuration's table.
function column(config, mode) {
	const ps = pairs(config, mode);
	const side = (slot, f) => stats(ps.map((p) => f(p[slot])));
	const ratio = (f) => stats(ps.map((p) => f(p.with) / f(p.without)));
	const attached = mode !== 'control';
	const agent = (f) => (attached ? stats(ps.map((p) => f(p.with))) : null);
	const redone = new Set(all.filter((r) => !r.kept && r.config === config && r.mode === mode)
		.map((r) => r.pair)).size;
	return {
		n: ps.length,
		cpuWithout: side('without', cpuPerReqUs), cpuWith: side('with', cpuPerReqUs),
		cpuRatio: ratio(cpuPerReqUs),
		p99Without: side('without', p99), p99With: side('with', p99), p99Ratio: ratio(p99),
		p50Without: side('without', p50), p50With: side('with', p50),
		tputWithout: side('without', tput), tputWith: side('with', tput), tputRatio: ratio(tput),
		agentPct: agent(agentPctCpu), agentUs: agent(agentUsPerReq), agentMiB: agent(agentMiB),
		attach: agent(attachMs), detach: agent(detachMs), iters: agent(itersPerReq),
		deltaUs: stats(ps.map((p) => cpuPerReqUs(p.with) - cpuPerReqUs(p.without))),
		other: stats(ps.flatMap((p) => [p.with.other_cpu_ms, p.without.other_cpu_ms])
			.map((ms) => ms / meta.seconds / 10)),
		errors: ps.reduce((a, p) => a + p.with.load.errors + p.without.load.errors, 0),
		unsent: ps.reduce((a, p) => a + p.with.load.unsent + p.without.load.unsent, 0),
		redone,
	};
}

const MODES = [
	['control', 'control<br>(nothing attached to either run)'],
	['default', 'default<br>`watch -p PID --json`'],
	['phases', 'exact phases<br>`watch -p PID --json --phases`'],
].filter(([m]) => runs.some((r) => r.mode === m));

function table(config, rows) {
	const cols = MODES.map(([m]) => column(config, m));
	const out = [`| min / median / max over pairs | ${MODES.map(([, h]) => h).join(' | ')} |`,
		`|---|${MODES.map(() => '---:').join('|')}|`];
	for (const [label, f] of rows)
		out.push(`| ${label} | ${cols.map(f).join(' | ')} |`);
	return { text: out.join('\n'), cols };
}

const agentRows = [
	['uvscope CPU, % of one CPU', (c) => fmt(c.agentPct, 2)],
	['uvscope CPU per request, µs', (c) => fmt(c.agentUs, 3)],
	['uvscope max RSS (VmHWM), MiB', (c) => fmt(c.agentMiB, 1)],
	['attach time (start to first JSON line), ms', (c) => fmt(c.attach, 0)],
	['detach time (SIGINT to exit), ms', (c) => fmt(c.detach, 0)],
	['main-loop iterations per request', (c) => fmt(c.iters, 2)],
];
const hygieneRows = [
	['other processes during a run, % of one CPU', (c) => fmt(c.other, 1)],
	['pairs (pairs redone because the machine was busy)', (c) => `${c.n} (${c.redone})`],
	['load generator errors / requests never sent', (c) => `${c.errors} / ${c.unsent}`],
];

const sections = [];
const found = {};
if (runs.some((r) => r.config === 'rate')) {
	const t = table('rate', [
		['**server CPU per request, µs** — without', (c) => fmt(c.cpuWithout, 2)],
		['— with', (c) => fmt(c.cpuWith, 2)],
		['**— ratio with / without**', (c) => fmtRatio(c.cpuRatio)],
		['**p99 latency, µs** — without', (c) => fmt(c.p99Without, 0)],
		['— with', (c) => fmt(c.p99With, 0)],
		['**— ratio with / without**', (c) => fmtRatio(c.p99Ratio)],
		['p50 latency, µs — without', (c) => fmt(c.p50Without, 0)],
		['— with', (c) => fmt(c.p50With, 0)],
		...agentRows, ...hygieneRows,
	]);
	found.rate = Object.fromEntries(MODES.map(([m], i) => [m, t.cols[i]]));
	sections.push(`## ${meta.rate} requests/s, open loop (${meta.connections} keep-alive connections)\n\n` +
		`Latency runs from each request's scheduled send time.\n\n${t.text}`);
}
if (runs.some((r) => r.config === 'saturation')) {
	const t = table('saturation', [
		['**throughput, requests/s** — without', (c) => fmt(c.tputWithout, 0)],
		['— with', (c) => fmt(c.tputWith, 0)],
		['**— ratio with / without**', (c) => fmtRatio(c.tputRatio)],
		['**server CPU per request, µs** — without', (c) => fmt(c.cpuWithout, 2)],
		['— with', (c) => fmt(c.cpuWith, 2)],
		['**— ratio with / without**', (c) => fmtRatio(c.cpuRatio)],
		['p99 latency, µs — without', (c) => fmt(c.p99Without, 0)],
		['— with', (c) => fmt(c.p99With, 0)],
		...agentRows, ...hygieneRows,
	]);
	found.saturation = Object.fromEntries(MODES.map(([m], i) => [m, t.cols[i]]));
	sections.push(`## Saturation, closed loop (${meta.connections} keep-alive connections)\n\n` +
		`Each connection sends its next request as soon as the previous answer is in.\n\n${t.text}`);
}

// ---- conclusion, in words, from the numbers above -------------------------------------------
function conclusion() {
	const lines = [];
	const rate = found.rate;
	const sat = found.saturation;
	const noise = rate?.control?.cpuRatio;
	const noiseText = noise ? `the control pairs, with nothing attached to either run, differ by ` +
		`${pct(noise.min)} to ${pct(noise.max)}, so differences smaller than that are noise` : null;
	if (rate?.default?.cpuRatio) {
		const r = rate.default.cpuRatio;
		const meets = r.med <= 1.03;
		lines.push(`- **Goal "the default mode adds at most 3% CPU per request at ${meta.rate} ` +
			`requests/s": ${meets ? 'met' : 'NOT met'}.** The server's CPU time per request ` +
			`with uvscope attached is ${pct(r.med)} (median over ${rate.default.n} pairs; ` +
			`${pct(r.min)} to ${pct(r.max)}), about ${fmtNum(rate.default.deltaUs.med, 2)} µs ` +
			`on ${fmtNum(rate.default.cpuWithout.med, 1)} µs per request` +
			(noiseText ? `; ${noiseText}.` : '.') +
			(meets && r.max > 1.03 ? ' Single pairs above 3% occur; the median does not exceed it.' : ''));
		if (rate.default.p99Ratio)
			lines.push(`- Default mode, p99 latency at ${meta.rate} requests/s: ` +
				`${fmtNum(rate.default.p99Without.med, 0)} µs without, ` +
				`${fmtNum(rate.default.p99With.med, 0)} µs with (median ratio ` +
				`${rate.default.p99Ratio.med.toFixed(2)}; control ${rate.control ?
					`${rate.control.p99Ratio.min.toFixed(2)}–${rate.control.p99Ratio.max.toFixed(2)}` : 'n/a'}).`);
	}
	if (sat?.default?.tputRatio)
		lines.push(`- Default mode at saturation: throughput ${pct(sat.default.tputRatio.med)} ` +
			`(median; ${pct(sat.default.tputRatio.min)} to ${pct(sat.default.tputRatio.max)}).`);
	if (rate?.phases?.cpuRatio) {
		const p = rate.phases;
		const perIter = p.deltaUs.med / p.iters.med;
		lines.push(`- **Exact phases (\`--phases\`) cost ${pct(p.cpuRatio.med)} CPU per request ` +
			`at ${meta.rate} requests/s** (median; ${pct(p.cpuRatio.min)} to ${pct(p.cpuRatio.max)}), ` +
			`about ${fmtNum(p.deltaUs.med, 2)} µs per request. The main loop ran ` +
			`${fmtNum(p.iters.med, 2)} iterations per request, so the seven uprobes cost about ` +
			`${fmtNum(perIter, 1)} µs per loop iteration (\`--help\` says about 3 µs).` +
			(sat?.phases?.tputRatio ? ` At saturation, throughput ${pct(sat.phases.tputRatio.med)} ` +
				`(median), with ${fmtNum(sat.phases.iters.med, 2)} iterations per request.` : '') +
			` p99 at ${meta.rate} requests/s: ${fmtNum(p.p99Without.med, 0)} µs without, ` +
			`${fmtNum(p.p99With.med, 0)} µs with.`);
	}
	const ag = rate?.default ?? sat?.default;
	if (ag?.agentPct)
		lines.push(`- uvscope itself (default mode, ${meta.rate} requests/s) uses ` +
			`${fmtNum(ag.agentPct.med, 2)}% of one CPU and at most ` +
			`${fmtNum(ag.agentMiB.max, 1)} MiB RSS; it attaches in ${fmtNum(ag.attach.med, 0)} ms ` +
			`(median)` + (rate?.phases?.attach ? `, ${fmtNum(rate.phases.attach.med, 0)} ms with ` +
				`--phases, which also takes ${fmtNum(rate.phases.detach.med, 0)} ms to detach ` +
				`(removing seven uprobes)` : '') + '.');
	return lines.join('\n');
}

// ---- machine ------------------------------------------------------------------------------
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown';
const virt = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo) ? ', virtual machine' : '';
const stamp = path.basename(runDir);

const md = `# uvscope benchmark: what watching a Node.js server costs it

Generated by \`make bench\` (scripts/bench.sh, bench/report.mjs) on ${meta.started}.
Raw per-run numbers: \`bench/runs/${stamp}/\` (not in git). Method: bench/README.md.

## Machine and settings

| | |
|---|---|
| CPU | ${model}, ${os.cpus().length} CPUs${virt} |
| kernel | ${os.release()} |
| node | ${meta.node} |
| uvscope | ${meta.uvscope} (source ${meta.git}) |
| runs | ${meta.pairs} pairs per configuration and mode, ${meta.seconds} s each after ${meta.warmup} s warm-up, fresh server per run |
| CPUs | server on CPU ${meta.server_cpu}, load generator on CPU ${meta.load_cpu}, uvscope on CPU ${meta.agent_cpu} |
| load | bench/loadgen.c, ${meta.connections} keep-alive connections to 127.0.0.1, one request in flight per connection |

## Method, in short

- Each pair is one run without and one with uvscope attached, back to back, the order
  alternating from pair to pair. **Overhead is the ratio with / without within a pair**;
  the tables give its min / **median** / max over the pairs.
- Control pairs attach nothing to either run: their "ratio" is the machine's own noise.
- **Server CPU per request** = CPU time of all the server's threads during the measured
  run (sum of \`/proc/PID/task/*/schedstat\` field 1, before and after) / requests completed.
  The BPF programs run inside the server's own system calls and uprobes, so their cost is
  in this number.
- uvscope's CPU is its own schedstat over the measured run; max RSS is VmHWM; attach time
  runs from starting uvscope to its first JSON line (\`"type":"attach"\`), polled every 1 ms.
- A pair is redone (up to ${meta.retries} times) when other processes used more than
  ${meta.max_other_pct}% of a CPU during either of its runs.

${sections.join('\n\n')}

## Conclusion

${conclusion()}
`;
writeFileSync(outPath, md);
