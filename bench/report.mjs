// Turns one benchmark run directory (bench/runs/STAMP: meta.json and runs.jsonl, written by
// scripts/bench.sh) into the markdown report, bench/results.md by default.
//
// usage: node bench/report.mjs RUNDIR OUT.md
//
// Every number is a min / median / max over the kept pairs. Overhead is computed per pair
// (with / without, the two runs of a pair being neighbours in time) and only then
// summarized, so slow drift of the machine cancels out instead of adding to the spread.
// One section per server and configuration; a run made before there were several servers
// (no "server" in its records) is all the plain server's and reads as it always did.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentCostSection } from './agent_cost.mjs';
import { manyCostSection } from './many_cost.mjs';
import { opCostSection } from './op_cost.mjs';
import { stats } from './stats.mjs';

const [runDir, outPath] = process.argv.slice(2);
if (!runDir || !outPath) {
	console.error('usage: node bench/report.mjs RUNDIR OUT.md');
	process.exit(2);
}
const meta = JSON.parse(readFileSync(path.join(runDir, 'meta.json'), 'utf8'));
const all = readFileSync(path.join(runDir, 'runs.jsonl'), 'utf8')
	.split('\n').filter(Boolean).map((l) => JSON.parse(l))
	.map((r) => ({ ...r, server: r.server ?? 'plain', rate: r.rate ?? meta.rate }));
const runs = all.filter((r) => r.kept);
// Cost per system call and system calls per request (scripts/bench.sh, syscall_costs).
let sys = null;
try {
	sys = JSON.parse(readFileSync(path.join(runDir, 'syscalls.json'), 'utf8'));
} catch {
	// an older run, or the step failed: the report just leaves that part out
}

// ---- numbers -----------------------------------------------------------------------------
const cpuPerReqUs = (r) => r.server_cpu_ns / r.load.completed / 1e3;
const loadgenPerReqUs = (r) => (r.load.cpu_ms * 1e3) / r.load.completed;
const p99 = (r) => r.load.latency_us.p99;
const p50 = (r) => r.load.latency_us.p50;
// The block server (loadgen -b): p99 of the requests that did not wait for a block.
const p99nb = (r) => r.load.nonblock_us?.p99 ?? NaN;
const spins = (r) => r.load.spins ?? NaN;
const tput = (r) => r.load.throughput_rps;
const agentPctCpu = (r) => (r.agent_cpu_ns / r.elapsed_ns) * 100;
const agentUsPerReq = (r) => r.agent_cpu_ns / r.load.completed / 1e3;
const agentMiB = (r) => r.agent_hwm_kb / 1024;
const attachMs = (r) => r.attach_us / 1e3;
const detachMs = (r) => r.detach_us / 1e3;
const serverBusyPct = (r) => (r.server_cpu_ns / r.elapsed_ns) * 100;
// Loop iterations of the main thread per request. The agent is attached only around the
// measured run, and the server is idle outside it.
const itersPerReq = (r) => {
	const main = r.agent_summary?.loops?.find((l) => l.role === 'main');
	return main ? main.iterations / r.load.completed : NaN;
};
// Thread-pool jobs per request, by uvscope's count (modes that watch the pool; NaN for the
// others, whose "threadpool" is null). The session total is the summary's "completed":
// the same as the intervals' "completed" summed, plus the part of the run after the last
// full interval, which the intervals miss (up to a second: a fifth of a 5 s run). The
// summed intervals are the fallback for an agent that printed no summary.
const poolJobs = (r) => {
	const tp = r.agent_summary?.threadpool;
	if (tp && Number.isFinite(tp.completed)) return tp.completed;
	let sum = NaN;
	try {
		for (const line of readFileSync(path.join(runDir, `${r.tag}.agent.jsonl`), 'utf8').split('\n')) {
			if (!line.startsWith('{"type":"interval"')) continue;
			const c = JSON.parse(line).threadpool?.completed;
			if (Number.isFinite(c)) sum = (Number.isNaN(sum) ? 0 : sum) + c;
		}
	} catch {
		// no agent output kept: leave it out
	}
	return sum;
};
const poolJobsPerReq = (r) => poolJobs(r) / r.load.completed;

// pairs(server, config, mode) -> [{ pair, without, with }]
function pairs(server, config, mode) {
	const by = new Map();
	for (const r of runs.filter((x) => x.server === server && x.config === config && x.mode === mode)) {
		if (!by.has(r.pair)) by.set(r.pair, { pair: r.pair });
		by.get(r.pair)[r.slot] = r;
	}
	return [...by.values()].filter((p) => p.with && p.without).sort((a, b) => a.pair - b.pair);
}

const fmtNum = (x, d) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const fmt = (s, d = 1) => (s ? `${fmtNum(s.min, d)} / ${fmtNum(s.med, d)} / ${fmtNum(s.max, d)}` : '–');
const pct = (ratio) => `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(1)}%`;
const fmtRatio = (s) => (s ? `${s.min.toFixed(3)} / **${s.med.toFixed(3)}** / ${s.max.toFixed(3)}` : '–');
const fmtCI = (s) => (s?.ci ? `${s.ci.lo.toFixed(3)} – ${s.ci.hi.toFixed(3)} ` +
	`(${Math.round(s.ci.level * 100)}%)` : '–');

// Per-mode column of one server's and configuration's table.
function column(server, config, mode) {
	const ps = pairs(server, config, mode);
	const side = (slot, f) => stats(ps.map((p) => f(p[slot])));
	const ratio = (f) => stats(ps.map((p) => f(p.with) / f(p.without)));
	const attached = mode !== 'control';
	const agent = (f) => (attached ? stats(ps.map((p) => f(p.with))) : null);
	const redone = new Set(all.filter((r) => !r.kept && r.server === server &&
		r.config === config && r.mode === mode).map((r) => r.pair)).size;
	return {
		n: ps.length,
		cpuWithout: side('without', cpuPerReqUs), cpuWith: side('with', cpuPerReqUs),
		cpuRatio: ratio(cpuPerReqUs),
		loadgenRatio: ratio(loadgenPerReqUs),
		p99Without: side('without', p99), p99With: side('with', p99), p99Ratio: ratio(p99),
		p50Without: side('without', p50), p50With: side('with', p50),
		p99nbWithout: side('without', p99nb), p99nbWith: side('with', p99nb),
		p99nbRatio: ps.some((p) => p.with.load.nonblock_us) ? ratio(p99nb) : null,
		spins: side('with', spins),
		// The blocked-loop alerts of the attached run, and those naming the blocking function.
		alerts: attached ? stats(ps.map((p) => p.with.block_alerts ?? NaN)) : null,
		named: attached ? stats(ps.map((p) => p.with.block_alerts_named ?? NaN)) : null,
		perfSamples: attached ? stats(ps.map((p) => p.with.block_stacks?.perf_samples ?? NaN)) : null,
		grabs: attached ? stats(ps.map((p) => p.with.block_stacks?.grabs ?? NaN)) : null,
		pauseUs: attached ? stats(ps.map((p) => p.with.block_stacks?.pause_median_us ?? NaN)) : null,
		tputWithout: side('without', tput), tputWith: side('with', tput), tputRatio: ratio(tput),
		agentPct: agent(agentPctCpu), agentUs: agent(agentUsPerReq), agentMiB: agent(agentMiB),
		attach: agent(attachMs), detach: agent(detachMs), iters: agent(itersPerReq),
		deltaUs: stats(ps.map((p) => cpuPerReqUs(p.with) - cpuPerReqUs(p.without))),
		busyWithout: side('without', serverBusyPct), busyWith: side('with', serverBusyPct),
		// Pool jobs per request (the attached run's count) and what the mode costs per job:
		// per pair (CPU per request with - without) / jobs per request, in µs.
		jobs: agent(poolJobsPerReq),
		usPerJob: attached ? stats(ps.map((p) =>
			(cpuPerReqUs(p.with) - cpuPerReqUs(p.without)) / poolJobsPerReq(p.with))) : null,
		other: stats(ps.flatMap((p) => [p.with.other_cpu_ms, p.without.other_cpu_ms])
			.map((ms) => ms / meta.seconds / 10)),
		errors: ps.reduce((a, p) => a + p.with.load.errors + p.without.load.errors, 0),
		unsent: ps.reduce((a, p) => a + p.with.load.unsent + p.without.load.unsent, 0),
		redone,
	};
}

// Column titles. A mode not named here (scripts/bench.sh's MODE_TABLE) gets its name and
// its flags, from the records.
const MODE_TITLES = {
	control: 'control<br>(nothing attached to either run)',
	default: 'default<br>`watch -p PID --json`<br>(stacks at 99 Hz)',
	nostacks: 'no sampling<br>`watch -p PID --json --no-stacks`',
	blockedhz: 'sampling at the blocked rate<br>`watch -p PID --json --sample-hz 997`',
	phases: 'exact phases<br>`watch -p PID --json --phases`',
	pool: 'thread pool<br>`watch -p PID --json --pool`',
	nopool: 'no thread pool<br>`watch -p PID --json --no-pool`',
	syscalls: 'syscalls<br>`watch -p PID --json --syscalls`',
};
const modeOrder = ['control', 'default', 'nostacks', 'blockedhz', 'phases', 'pool', 'nopool',
	'syscalls', 'proc', 'procptrace'];
const modeNames = [...new Set([...modeOrder, ...runs.map((r) => r.mode)])]
	.filter((m) => runs.some((r) => r.mode === m));
// A mode's uvscope flags: from the run (meta.json, runs.jsonl), else as they always were.
const KNOWN_FLAGS = { default: '', nostacks: '--no-stacks', blockedhz: '--sample-hz 997',
	phases: '--phases', pool: '--pool', nopool: '--no-pool', syscalls: '--syscalls',
	proc: '--backend proc --no-stacks' };
const modeFlags = (m) => meta.mode_flags?.[m] ?? runs.find((r) => r.mode === m)?.flags ??
	KNOWN_FLAGS[m] ?? '?';
const modeTitle = (m) => MODE_TITLES[m] ??
	`${m === 'proc' ? 'no BPF' : m}<br>\`watch -p PID --json ${modeFlags(m)}\``;

// The servers (scripts/bench.sh's SERVER_TABLE), in that order, and what each does per request.
const SERVER_INFO = {
	plain: ['Plain server', 'answers each request at once with 25 bytes; no thread-pool work'],
	fs: ['fs server', 'per request an async `fs.stat` and an async `fs.readFile` of a 1 KiB ' +
		'file (5 thread-pool jobs: stat, open, fstat, read, close), then the file as the answer'],
	crypto: ['crypto server', 'per request one async `crypto.pbkdf2` (HMAC-SHA256, 1000 ' +
		'iterations, about 0.2 ms of CPU) on the thread pool, then the key as the answer'],
	block: ['Blocking server', 'the plain server, and every ' +
		`${meta.block?.every_ms ?? '?'} ms one request (\`GET /spin\`, loadgen -b) blocks its ` +
		`loop in \`benchSpin()\` for ${meta.block?.spin_ms ?? '?'} ms of CPU (a fixed amount of ` +
		'work); uvscope watches it with `--block-ms ' + `${meta.block?.block_ms ?? '?'}\`, so ` +
		'each block is seen and its stacks are sampled while it lasts. The non-blocking ' +
		'requests leave out each /spin request and every request that overlapped it, directly ' +
		'or through others, until the server was idle again (the backlog a block leaves). CPU ' +
		'per request includes the blocks'],
};
const servers = [...new Set([...Object.keys(meta.servers ?? {}), 'plain', 'fs', 'crypto', 'block',
	...runs.map((r) => r.server)])].filter((s) => runs.some((r) => r.server === s));
// Only the plain server: the report reads exactly as before there were several.
const single = servers.length === 1 && servers[0] === 'plain';
const plainName = single ? 'the server' : 'the plain server';
const serverScript = (s) => meta.servers?.[s]?.script ?? (s === 'plain' ? 'bench/server.js' : `bench/server-${s}.js`);
const serverName = (s) => SERVER_INFO[s]?.[0] ?? `${s} server`;
const serverRate = (s) => runs.find((r) => r.server === s && r.config === 'rate')?.rate ??
	meta.servers?.[s]?.rate ?? meta.rate;

function table(server, config, rows) {
	const modes = modeNames.filter((m) => runs.some((r) => r.server === server && r.config === config && r.mode === m));
	const cols = modes.map((m) => column(server, config, m));
	const out = [`| min / median / max over pairs | ${modes.map(modeTitle).join(' | ')} |`,
		`|---|${modes.map(() => '---:').join('|')}|`];
	for (const [label, f, when] of rows)
		if (!when || cols.some(when))
			out.push(`| ${label} | ${cols.map(f).join(' | ')} |`);
	return { text: out.join('\n'), cols, modes };
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
	['CPU used by the rest of the machine during a run, % of one CPU', (c) => fmt(c.other, 1)],
	['pairs (pairs redone because the machine was busy)', (c) => `${c.n} (${c.redone})`],
	['load generator errors / requests never sent', (c) => `${c.errors} / ${c.unsent}`],
];

// Thread-pool rows: shown where some mode watched the pool (the others' cells are "–").
const poolRows = [
	['thread-pool jobs per request (uvscope\'s count, whole run)', (c) => fmt(c.jobs, 2), (c) => c.jobs],
	['**cost per pool job, µs**: (CPU per request with − without) / jobs per request', (c) => fmt(c.usPerJob, 1),
		(c) => c.usPerJob],
];

// The block server's rows: shown where the load generator sent blocks.
const blockRows = [
	['**p99 latency of the non-blocking requests, µs** — without', (c) => fmt(c.p99nbWithout, 0),
		(c) => c.p99nbRatio],
	['— with', (c) => fmt(c.p99nbWith, 0), (c) => c.p99nbRatio],
	['**— ratio with / without**', (c) => fmtRatio(c.p99nbRatio), (c) => c.p99nbRatio],
	['blocks per run (/spin requests answered)', (c) => fmt(c.spins, 0), (c) => c.p99nbRatio],
	['blocked-loop alerts per run / of them naming `benchSpin` (medians)', (c) => (c.alerts ?
		`${fmtNum(c.alerts.med, 0)} / ${fmtNum(c.named.med, 0)}` : '–'), (c) => c.p99nbRatio],
	['stacks of blocks per run: perf samples', (c) => fmt(c.perfSamples, 0), (c) => c.p99nbRatio],
	['— ptrace grabs', (c) => fmt(c.grabs, 0), (c) => c.p99nbRatio],
	['— median pause of a grab (the thread stopped), µs', (c) => fmt(c.pauseUs, 1),
		(c) => c.p99nbRatio],
];

const sections = [];
const found = {};	// found[server][config][mode] = column
for (const server of servers) {
	const has = (config) => runs.some((r) => r.server === server && r.config === config);
	const keep = (config, t) => {
		found[server] ??= {};
		found[server][config] = Object.fromEntries(t.modes.map((m, i) => [m, t.cols[i]]));
	};
	const title = (what) => (single ? `## ${what}` : `## ${serverName(server)}: ${what}`);
	const about = single ? '' : `\`${serverScript(server)}\`: ${SERVER_INFO[server]?.[1] ?? 'see the script'}. `;
	if (has('rate')) {
		const t = table(server, 'rate', [
			['**server CPU per request, µs** — without', (c) => fmt(c.cpuWithout, 2)],
			['— with', (c) => fmt(c.cpuWith, 2)],
			['**— ratio with / without**', (c) => fmtRatio(c.cpuRatio)],
			['— confidence interval of the median ratio', (c) => fmtCI(c.cpuRatio)],
			...poolRows,
			['server CPU busy, % of its CPU (pool threads included) — without', (c) => fmt(c.busyWithout, 0)],
			['— with', (c) => fmt(c.busyWith, 0)],
			['load generator\'s CPU per request (not watched), ratio with / without', (c) => fmtRatio(c.loadgenRatio)],
			['**p99 latency, µs** — without', (c) => fmt(c.p99Without, 0)],
			['— with', (c) => fmt(c.p99With, 0)],
			['**— ratio with / without**', (c) => fmtRatio(c.p99Ratio)],
			['p50 latency, µs — without', (c) => fmt(c.p50Without, 0)],
			['— with', (c) => fmt(c.p50With, 0)],
			...blockRows,
			...agentRows, ...hygieneRows,
		]);
		keep('rate', t);
		sections.push(`${title(`${serverRate(server)} requests/s, open loop (${meta.connections} keep-alive connections)`)}\n\n` +
			`${about}Latency runs from each request's scheduled send time.\n\n${t.text}`);
	}
	if (has('saturation')) {
		const t = table(server, 'saturation', [
			['**throughput, requests/s** — without', (c) => fmt(c.tputWithout, 0)],
			['— with', (c) => fmt(c.tputWith, 0)],
			['**— ratio with / without**', (c) => fmtRatio(c.tputRatio)],
			['— confidence interval of the median ratio', (c) => fmtCI(c.tputRatio)],
			['**server CPU per request, µs** — without', (c) => fmt(c.cpuWithout, 2)],
			['— with', (c) => fmt(c.cpuWith, 2)],
			['**— ratio with / without**', (c) => fmtRatio(c.cpuRatio)],
			...poolRows,
			['load generator\'s CPU per request (not watched), ratio with / without', (c) => fmtRatio(c.loadgenRatio)],
			['p99 latency, µs — without', (c) => fmt(c.p99Without, 0)],
			['— with', (c) => fmt(c.p99With, 0)],
			...agentRows, ...hygieneRows,
		]);
		keep('saturation', t);
		sections.push(`${title(`saturation, closed loop (${meta.connections} keep-alive connections)`)
			.replace(/## saturation/, '## Saturation')}\n\n` +
			`${about}Each connection sends its next request as soon as the previous answer is in.\n\n${t.text}`);
	}
}

// ---- conclusion, in words, from the numbers above -------------------------------------------
function conclusion() {
	const lines = [];
	const rate = found.plain?.rate;
	const sat = found.plain?.saturation;
	const ci = (r) => (r.ci ? `${pct(r.ci.lo)} to ${pct(r.ci.hi)}` : null);
	const noise = rate?.control?.cpuRatio;
	if (rate?.default?.cpuRatio) {
		const d = rate.default, r = d.cpuRatio;
		// The verdict takes the noise into account: the median's confidence interval, not
		// just the median, has to be within (or beyond) the 3%.
		let verdict;
		if (r.ci && r.ci.hi <= 1.03)
			verdict = 'met';
		else if (r.ci && r.ci.lo > 1.03)
			verdict = 'NOT met';
		else if (r.med <= 1.03)
			verdict = 'met by the median, but this run is too noisy to rule out more than 3%';
		else
			verdict = 'NOT met by the median, but this run is too noisy to rule out 3% or less';
		lines.push(`- **Goal "the default mode adds at most 3% CPU per request at ${meta.rate} ` +
			`requests/s": ${verdict}.** With uvscope attached, the server's CPU time per ` +
			`request changes by ${pct(r.med)} (median over ${d.n} pair${d.n === 1 ? '' : 's'}; single pairs ` +
			`${pct(r.min)} to ${pct(r.max)}` +
			(r.ci ? `; ${Math.round(r.ci.level * 100)}% confidence interval of the median ` +
				`${ci(r)}` : '') + `), about ${fmtNum(d.deltaUs.med, 2)} µs on ` +
			`${fmtNum(d.cpuWithout.med, 1)} µs per request.` +
			(noise ? ` For scale, the control pairs, with nothing attached to either run, ` +
				`differ by ${pct(noise.min)} to ${pct(noise.max)} (median ${pct(noise.med)}).` : '') +
			(syscallFloor('rate') ? ` Measured without that noise, the added cost per system ` +
				`call (+${fmtNum(addedNs('default'), 0)} ns) times the server's ` +
				`${fmtNum(syscallFloor('rate').per, 2)} system calls per request puts a floor of ` +
				`${pct(1 + syscallFloor('rate').frac)} under it.` : ''));
		if (d.p99Ratio)
			lines.push(`- Default mode, p99 latency at ${meta.rate} requests/s: ` +
				`${fmtNum(d.p99Without.med, 0)} µs without, ${fmtNum(d.p99With.med, 0)} µs with ` +
				`(median ratio ${d.p99Ratio.med.toFixed(2)}; control pairs ` +
				(rate.control ? `${rate.control.p99Ratio.min.toFixed(2)} to ` +
					`${rate.control.p99Ratio.max.toFixed(2)}` : 'n/a') + ').');
	}
	if (sat?.default?.tputRatio) {
		const t = sat.default.tputRatio;
		lines.push(`- Default mode at saturation: throughput ${pct(t.med)} (median; single pairs ` +
			`${pct(t.min)} to ${pct(t.max)}` + (t.ci ? `; interval of the median ${ci(t)}` : '') +
			`), CPU per request ${pct(sat.default.cpuRatio.med)}` +
			(sat.control ? `; control pairs: throughput ${pct(sat.control.tputRatio.min)} to ` +
				`${pct(sat.control.tputRatio.max)}` : '') + '.');
	}
	if (rate?.phases?.cpuRatio) {
		const p = rate.phases;
		const perIter = p.deltaUs.med / p.iters.med;
		lines.push(`- **Exact phases (\`--phases\`) cost ${pct(p.cpuRatio.med)} CPU per request ` +
			`at ${meta.rate} requests/s** (median; single pairs ${pct(p.cpuRatio.min)} to ` +
			`${pct(p.cpuRatio.max)}), about ${fmtNum(p.deltaUs.med, 1)} µs per request. The main ` +
			`loop ran ${fmtNum(p.iters.med, 2)} iterations per request, so the seven uprobes ` +
			`cost about ${fmtNum(perIter, 1)} µs per loop iteration on this machine. ` +
			`p99 latency: ${fmtNum(p.p99Without.med, 0)} µs ` +
			`without, ${fmtNum(p.p99With.med, 0)} µs with.` +
			(sat?.phases?.tputRatio ? ` At saturation, where one iteration serves many requests ` +
				`(${fmtNum(sat.phases.iters.med, 3)} iterations per request), throughput ` +
				`${pct(sat.phases.tputRatio.med)} (median; ${pct(sat.phases.tputRatio.min)} to ` +
				`${pct(sat.phases.tputRatio.max)}).` : ''));
	}
	// The pool watched and not: runs before the pool was watched by default had a `pool` mode
	// (--pool) against the default; later ones have the default against `nopool` (--no-pool).
	const poolPair = (r) => (r?.pool ? { p: r.pool, d: r.default, how: '`--pool`',
		alone: 'the default mode alone' } : r?.nopool ? { p: r.default, d: r.nopool,
		how: 'the default mode (the pool watched)', alone: '`--no-pool`' } : { p: null });
	const plainPool = poolPair(rate);
	if (plainPool.p?.cpuRatio) {
		const { p, d, how, alone } = plainPool;
		lines.push(`- ${how} on ${plainName}, which runs no thread-pool jobs ` +
			`(${fmtNum(p.jobs?.med, 2)} per request): CPU per request ${pct(p.cpuRatio.med)} at ` +
			`${serverRate('plain')} requests/s (median; single pairs ${pct(p.cpuRatio.min)} to ` +
			`${pct(p.cpuRatio.max)})` + (d?.cpuRatio ? `, against ${pct(d.cpuRatio.med)} for ` +
				`${alone}. The pool's uprobes fire only on pool jobs (and synchronous fs ` +
				`calls), so the two should differ by noise only.` : '.') +
			` It attaches in ${fmtNum(p.attach.med, 0)} ms and detaches in ` +
			`${fmtNum(p.detach.med, 0)} ms (median).`);
	}
	for (const server of servers.filter((s) => s !== 'plain')) {
		const r = found[server]?.rate ?? found[server]?.saturation;
		const { p, d, how, alone } = poolPair(r), c = r?.control;
		if (!p?.usPerJob) continue;
		const where = found[server]?.rate ? `${serverRate(server)} requests/s` : 'saturation';
		const beyond = d?.deltaUs ? (p.deltaUs.med - d.deltaUs.med) / p.jobs.med : NaN;
		lines.push(`- **${serverName(server)} (${where}, ${fmtNum(p.jobs.med, 2)} pool jobs per ` +
			`request): ${how} costs ${fmtNum(p.usPerJob.med, 1)} µs of the server's CPU per ` +
			`pool job** (median over ${p.n} pair${p.n === 1 ? '' : 's'}; single pairs ` +
			`${fmtNum(p.usPerJob.min, 1)} to ${fmtNum(p.usPerJob.max, 1)}), that is ` +
			`${pct(p.cpuRatio.med)} CPU per request (${fmtNum(p.deltaUs.med, 1)} µs on ` +
			`${fmtNum(p.cpuWithout.med, 1)} µs).` +
			(d?.cpuRatio ? ` ${alone[0].toUpperCase() + alone.slice(1)} costs this server ` +
				`${pct(d.cpuRatio.med)} (${fmtNum(d.deltaUs.med, 1)} µs per request), so the ` +
				`pool's uprobes themselves come to about ${fmtNum(beyond, 1)} µs per job ` +
				`(difference of medians).` : '') +
			(c?.cpuRatio ? ` Control pairs: ${pct(c.cpuRatio.min)} to ${pct(c.cpuRatio.max)}.` : '') +
			(p.p99Ratio && found[server]?.rate ? ` p99 latency: ${fmtNum(p.p99Without.med, 0)} µs ` +
				`without, ${fmtNum(p.p99With.med, 0)} µs with.` : ''));
	}
	const ag = rate?.default ?? sat?.default;
	if (ag?.agentPct)
		lines.push(`- uvscope itself (default mode, ${meta.rate} requests/s) uses ` +
			`${fmtNum(ag.agentPct.med, 2)}% of one CPU (${fmtNum(ag.agentUs.med, 2)} µs per ` +
			`request) and at most ${fmtNum(ag.agentMiB.max, 1)} MiB RSS; it attaches in ` +
			`${fmtNum(ag.attach.med, 0)} ms (median)` +
			(rate?.phases?.attach ? `, in ${fmtNum(rate.phases.attach.med, 0)} ms with --phases, ` +
				`which also takes ${fmtNum(rate.phases.detach.med, 0)} ms to detach (removing the ` +
				`uprobes) against ${fmtNum(ag.detach.med, 0)} ms without` : '') + '.');
	return lines.join('\n');
}

// ---- the cost of one system call --------------------------------------------------------------
const addedNs = (mode) => sys?.[`ns_per_syscall_${mode}`] - sys?.ns_per_syscall_none;
// Lower bound for the default mode's cost per request in a configuration, from the cost
// per system call (hot caches) and the server's system calls per request.
function syscallFloor(config) {
	const per = sys?.[`syscalls_per_request_${config}`];
	const col = found.plain?.[config]?.default ?? found.plain?.[config]?.control;
	if (!Number.isFinite(per) || !Number.isFinite(addedNs('default')) || !col?.cpuWithout)
		return null;
	const us = (per * addedNs('default')) / 1e3;
	return { per, us, frac: us / col.cpuWithout.med };
}

function syscallSection() {
	if (!sys) return '';
	const row = (mode) => `${fmtNum(sys[`ns_per_syscall_${mode}`], 0)}` +
		(mode === 'none' ? '' : ` (+${fmtNum(addedNs(mode), 0)})`);
	const floors = ['rate', 'saturation'].map((c) => [c, syscallFloor(c)]).filter(([, f]) => f);
	const name = (c) => (c === 'rate' ? `${meta.rate} requests/s` : 'saturation');
	// Every mode measured (scripts/bench.sh: all of its MODE_TABLE), in the usual order.
	const measured = Object.keys(sys).filter((k) => k.startsWith('ns_per_syscall_'))
		.map((k) => k.slice('ns_per_syscall_'.length)).filter((m) => m !== 'none');
	const cols = ['none', ...[...new Set([...modeOrder, ...measured])].filter((m) => measured.includes(m))];
	const head = (m) => ({ none: 'nothing attached', default: 'default mode' })[m] ??
		`\`${modeFlags(m) || m}\``;
	return `
## What one system call costs while uvscope is attached

The default mode runs BPF programs on the \`sys_enter\` and \`sys_exit\` tracepoints, that is
in every system call of every process on the machine, watched or not (they return at once
for other processes). Nanoseconds per \`getppid()\` in a process that is not the target,
best of 5 rounds of 2 million, with uvscope attached to an idle ${single ? '' : 'plain '}server:

| ${cols.map(head).join(' | ')} |
|${cols.map(() => '---:').join('|')}|
| ${cols.map(row).join(' | ')} |
` + (floors.length ? `
${floors.map(([c, f]) => `At ${name(c)} ${plainName} makes ${fmtNum(f.per, 2)} system calls per ` +
		`request (counted with perf), so the default mode costs it at least ${fmtNum(f.us, 2)} µs ` +
		`per request, ${pct(1 + f.frac)} of its CPU per request.`).join(' ')}
"At least": the loop above runs with hot caches; in a real program the extra code also
evicts some of the program's own from the caches.
` : '');
}

// ---- machine ------------------------------------------------------------------------------
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown';
const virt = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo) ? ', virtual machine' : '';
const stamp = path.basename(runDir);

// "fs (bench/server-fs.js): 3500 requests/s open loop; modes control, default, pool"
function serverLine(s) {
	const configs = [...new Set(runs.filter((r) => r.server === s).map((r) => r.config))];
	const modes = modeNames.filter((m) => runs.some((r) => r.server === s && r.mode === m));
	return `${serverName(s)} (\`${serverScript(s)}\`): ` +
		configs.map((c) => (c === 'rate' ? `${serverRate(s)} requests/s open loop` : 'saturation'))
			.join(', ') + `; modes ${modes.join(', ')}`;
}
const poolMeasured = runs.some((r) => Number.isFinite(poolJobs(r)) && poolJobs(r) > 0);

const md = `# uvscope benchmark: what watching a Node.js server costs it

Generated by \`make bench\` (scripts/bench.sh, bench/report.mjs) on ${meta.started}.
Raw per-run numbers: \`bench/runs/${stamp}/\` (not in git). Method: bench/README.md.

## Machine and settings

| | |
|---|---|
| CPU | ${model}, ${os.cpus().length} CPUs${virt} |
| kernel | ${os.release()} |
| node | ${meta.node} |
| uvscope | ${meta.uvscope} (source ${meta.git}; binary sha256 ${meta.uvscope_sha256 ?? '?'}…) |
${single ? `| runs | ${meta.pairs} pairs per configuration and mode, ${meta.seconds} s each; a fresh server for each pair number and configuration, warmed up (${meta.warmup} s at saturation, 1 s at the configuration's load), then used by that pair of every mode |` :
`| runs | ${meta.pairs} pairs per server, configuration and mode, ${meta.seconds} s each; a fresh server for each pair number, server and configuration, warmed up (${meta.warmup} s at saturation, 1 s at the configuration's load), then used by that pair of every mode |
| servers | ${servers.map(serverLine).join('<br>')} |`}
| CPUs | server on CPU ${meta.server_cpu}, load generator on CPU ${meta.load_cpu}, uvscope on CPU ${meta.agent_cpu} |
| load | bench/loadgen.c, ${meta.connections} keep-alive connections to 127.0.0.1, one request in flight per connection |

## Method, in short

- Each pair is one run without and one with uvscope attached (to the running server, for
  that run only), back to back on the same server, the order alternating from pair to
  pair. **Overhead is the ratio with / without within a pair**; the tables give its
  min / **median** / max over the pairs, and a confidence interval for the median (the
  sign test's: the true median lies between two of the pairs' ratios with that probability).
- Control pairs attach nothing to either run: their "ratio" is the machine's own noise.
- **Server CPU per request** = CPU time of all the server's threads during the measured
  run (sum of \`/proc/PID/task/*/schedstat\` field 1, before and after) / requests completed.
  The BPF programs run inside the server's own system calls and uprobes, so their cost is
  in this number.
${poolMeasured ? `- **Pool jobs per request** = the libuv thread-pool jobs uvscope counted while attached
  (its summary's \`threadpool.completed\`, the whole session) / requests completed.
  **Cost per pool job** = per pair, (server CPU per request with − without) / jobs per
  request, then the median over pairs. It includes what the rest of the mode costs the server
  (the loop's probes, stack sampling); the mode without the pool (\`--no-pool\` now, the
  default mode before the pool was watched by default) shows that part alone.
` : ''}- uvscope's CPU is its own schedstat over the measured run; max RSS is VmHWM; attach time
  runs from starting uvscope to its first JSON line (\`"type":"attach"\`), polled every 1 ms.
- Before each pair the script waits for an idle machine (below ${meta.quiet_pct ?? '–'}% of a CPU, no
  other uvscope loaded). A pair is redone (${meta.retries === 1 ? 'once' : `up to ${meta.retries} times`}) when the rest of the machine used
  more than ${meta.max_other_pct}% of a CPU during either run (some 5-12% is always there: kernel
  work for the loopback traffic that is charged to no process), or another uvscope was
  loaded.

${sections.join('\n\n')}
${syscallSection()}
${opCostSection(runDir)}
${agentCostSection(runDir)}
${manyCostSection(runDir)}
## Conclusion

${conclusion()}
`;
writeFileSync(outPath, md);
