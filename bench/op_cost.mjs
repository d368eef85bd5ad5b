// The report of scripts/op-cost.sh: what uvscope adds to one operation of the target, to a system
// call and a TCP connection of another process, in each mode, next to the uprobe floor.
//
//   node bench/op_cost.mjs DIR OUT.md     the section of DIR/op-cost.jsonl, as markdown
//   node bench/op_cost.mjs --floor DIR    one line: the floor's ns per hit of each probe kind
//
// bench/report.mjs imports opCostSection() to put the same section into the report of a
// `make bench` run directory.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, stats } from './stats.mjs';

const readLines = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

// What each row measures: its label and unit (the JSON is in ns per operation).
const ROWS = [
	['target', 'iter', 'one loop iteration (a setImmediate chain), µs', 1e3],
	['target', 'fs', 'one `fs.promises.stat` (1 pool job), µs', 1e3],
	['target', 'crypto', 'one `crypto.pbkdf2` of 1 iteration (1 `uv_queue_work` job), µs', 1e3],
	['target', 'zlib', 'one `zlib.deflate` of 16 bytes (2 `uv_queue_work` jobs: the data, then the finish), µs', 1e3],
	['target', 'dns', 'one `dns.lookup(\'localhost\')` (1 getaddrinfo job), µs', 1e3],
	['target', 'tcp', 'one loopback TCP connection to itself, µs', 1e3],
	['bystander', 'syscall', '**another process**: one `getppid()`, ns', 1],
	['bystander', 'tcp', '**another process**: one loopback TCP connection, µs', 1e3],
];

// Issue 10's budgets, in ns per operation, and the mode each is for: "all" is the default mode
// with everything in it on (see allOnMode).
const BUDGETS = {
	'target:iter': [['all', 800], ['phases', 3500]],
	'target:fs': [['all', 3500]],
	'target:crypto': [['all', 3500]],
	// One deflate is two pool jobs (counted with bpftrace on uv_queue_work: 2000 for 1000).
	'target:zlib': [['all', 2 * 3500]],
	'target:dns': [['all', 3500]],
	'bystander:syscall': [['all', 20]],
};

const MODE_TITLES = {
	none: 'nothing attached<br>(the noise)',
	default: 'default<br>`watch -p PID --json`',
	phases: '`--phases`',
	pool: '`--pool`',
	nopool: '`--no-pool`',
	tracepoints: 'default, epoll by syscall tracepoints<br>`UVSCOPE_NO_EPOLL_UPROBES=1 UVSCOPE_NO_FENTRY=1`',
};
const MODE_ORDER = ['none', 'default', 'phases', 'pool', 'nopool', 'tracepoints'];

// The uprobe floor: ns per hit of each probe kind, each round's probed function's time per call
// minus the unprobed twin's in that same round.
const FLOOR_KINDS = [
	['push', 'entry uprobe on `push %rbp` (emulated)'],
	['pair', 'entry uprobe and return probe, function starting with `push %rbp`'],
	['step', 'entry uprobe on `mov %rdi,%rax` (single-stepped)'],
];
function floorOf(recs) {
	const probed = recs.filter((r) => r.kind === 'floor' && r.probed);
	if (!probed.length) return null;
	const bare = recs.filter((r) => r.kind === 'floor' && !r.probed);
	const out = { rounds: probed.length, hits: recs.find((r) => r.kind === 'floor_hits') ?? null };
	for (const [k] of FLOOR_KINDS) out[k] = stats(probed.map((r) => r[k] - r.plain));
	// Without probes the four functions must cost the same: the largest difference seen.
	out.bareSpread = bare.length ?
		Math.max(...bare.flatMap((r) => FLOOR_KINDS.map(([k]) => Math.abs(r[k] - r.plain)))) : NaN;
	out.plain = stats(probed.map((r) => r.plain));
	return out;
}

export function floorLine(dir) {
	const f = floorOf(readLines(path.join(dir, 'op-cost.jsonl')));
	if (!f) return 'not measured';
	return FLOOR_KINDS.map(([k]) => `${k} ${f[k].med.toFixed(0)} ns`).join(', ') + ' per hit';
}

const attachedModesOf = (modes) => modes.filter((m) => m !== 'none');
const num = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const signed = (x, d) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(d)}` : '–');

// The markdown section, or '' when DIR holds no op-cost.jsonl.
export function opCostSection(dir) {
	const file = path.join(dir, 'op-cost.jsonl');
	if (!existsSync(file)) return '';
	const all = readLines(file);
	const kept = all.filter((r) => r.kept !== false);
	let meta = {};
	try {
		meta = JSON.parse(readFileSync(path.join(dir, 'op-cost-meta.json'), 'utf8'));
	} catch {
		// a run that stopped early: the section still reads, without its settings
	}
	const rounds = kept.filter((r) => r.kind === 'round');
	const agents = kept.filter((r) => r.kind === 'agent');
	const modes = [...new Set([...MODE_ORDER, ...rounds.map((r) => r.mode)])]
		.filter((m) => rounds.some((r) => r.mode === m));
	const rows = ROWS.filter(([who, op]) => rounds.some((r) => r.who === who && r.op === op));

	// Per (who, op, mode): with - without, pair by pair.
	const diffs = (who, op, mode) => {
		const by = new Map();
		for (const r of rounds.filter((x) => x.who === who && x.op === op && x.mode === mode)) {
			if (!by.has(r.pair)) by.set(r.pair, {});
			by.get(r.pair)[r.slot] = r.ns_per_op;
		}
		return stats([...by.values()].filter((p) => 'with' in p && 'without' in p)
			.map((p) => p.with - p.without));
	};
	const without = (who, op) => stats(rounds.filter((r) => r.who === who && r.op === op &&
		r.slot === 'without').map((r) => r.ns_per_op));
	const agentStat = (mode, f) => stats(agents.filter((a) => a.mode === mode).map(f));

	// "Everything on": the default mode if it watched the pool (its agent held the pool's
	// programs), else default + --pool, which is what issue 10 makes the default.
	const poolInDefault = agents.some((a) => a.mode === 'default' && / uvs_pool_/.test(` ${a.progs ?? ''}`));
	const allOnMode = poolInDefault || !modes.includes('pool') ? 'default' : 'pool';
	const verdict = (s, budget, unit) => {
		if (!s) return 'not measured';
		const b = budget / unit, lo = s.ci?.lo / unit, hi = s.ci?.hi / unit;
		if (s.ci && hi <= b) return '**met**';
		if (s.ci && lo > b) return `**NOT met** (${signed(s.med / unit, unit === 1 ? 0 : 2)})`;
		return s.med <= budget ? 'met by the median; too noisy to be sure' :
			`NOT met by the median (${signed(s.med / unit, unit === 1 ? 0 : 2)}); too noisy to be sure`;
	};
	const budgetCell = (who, op, unit) => {
		const bs = BUDGETS[`${who}:${op}`];
		if (!bs) return 'reported, no budget';
		return bs.map(([m, b]) => {
			const mode = m === 'all' ? allOnMode : m;
			if (!modes.includes(mode)) return `${mode}: not measured`;
			const d = unit === 1 ? 0 : 1;
			return `≤ +${num(b / unit, d)} ${MODE_TITLES[mode]?.split('<br>')[0] ?? mode}: ` +
				verdict(diffs(who, op, mode), b, unit);
		}).join('<br>');
	};

	const digits = (unit) => (unit === 1 ? 0 : 2);
	const cell = (s, unit) => (s ? `${signed(s.med / unit, digits(unit))}` +
		(s.ci ? `<br><sub>${num(s.ci.lo / unit, digits(unit))} to ${num(s.ci.hi / unit, digits(unit))}</sub>` :
			`<br><sub>${num(s.min / unit, digits(unit))} to ${num(s.max / unit, digits(unit))}</sub>`) : '–');
	const head = ['operation (CPU per operation)', 'without uvscope', ...modes.map((m) => MODE_TITLES[m] ?? m),
		'budget (issue 10)'];
	const table = [`| ${head.join(' | ')} |`, `|---|${head.slice(1).map(() => '---:').join('|')}|`];
	// What uvscope's programs ran during a bystander's round (BPF run-time statistics, "with"
	// rounds only): ns and runs per operation, medians over the pairs.
	const bpfCell = (who, op, mode) => {
		const rs = rounds.filter((r) => r.who === who && r.op === op && r.mode === mode &&
			r.slot === 'with' && Number.isFinite(r.bpf_ns_per_op));
		if (!rs.length) return '';
		return `${num(median(rs.map((r) => r.bpf_ns_per_op)), 0)} ns<br><sub>` +
			`${num(median(rs.map((r) => r.bpf_runs_per_op)), 2)} runs</sub>`;
	};
	for (const [who, op, label, unit] of rows) {
		const w = without(who, op);
		table.push(`| ${label} | ${w ? num(w.med / unit, digits(unit)) : '–'} | ` +
			`${modes.map((m) => cell(diffs(who, op, m), unit)).join(' | ')} | ${budgetCell(who, op, unit)} |`);
		if (who === 'bystander' && modes.some((m) => bpfCell(who, op, m)))
			table.push(`| — of which uvscope's BPF programs ran, per operation (run-time statistics) | | ` +
				`${modes.map((m) => bpfCell(who, op, m)).join(' | ')} | |`);
	}
	const agentRow = (label, f) => `| ${label} | | ${modes.map((m) => (m === 'none' ? '' : f(m))).join(' | ')} | |`;
	if (agents.length) {
		table.push(agentRow('uvscope attach time (start to its attach line), ms, median',
			(m) => num(agentStat(m, (a) => a.attach_us / 1e3)?.med, 0)));
		table.push(agentRow('uvscope detach time (SIGINT to exit), ms, median',
			(m) => num(agentStat(m, (a) => a.detach_us / 1e3)?.med, 0)));
		// Agents from before these were recorded have none: shown as –.
		table.push(agentRow('uvscope RSS (VmRSS) at its attach line / after the rounds (stacks ' +
			'named) / max (VmHWM), MiB, median', (m) => [
			agentStat(m, (a) => a.agent_rss_attach_kb / 1024)?.med,
			agentStat(m, (a) => a.agent_rss_kb / 1024)?.med,
			agentStat(m, (a) => a.agent_hwm_kb / 1024)?.med,
		].map((x) => num(x, 1)).join(' / ')));
		table.push(agentRow('epoll waits caught by (attach line\'s `epoll_hooks`)',
			(m) => [...new Set(agents.filter((a) => a.mode === m).map((a) => a.epoll_hooks ?? '?'))].join(', ')));
	}
	const npairs = Math.max(0, ...modes.map((m) => diffs(rows[0][0], rows[0][1], m)?.n ?? 0));

	// The floor, beside it.
	const floor = floorOf(kept);
	let floorText = '';
	if (floor) {
		const ft = ['| one uprobe hit on this kernel (bench/uprobe_floor.c, probes by bpftrace) | ns per hit, median | min – max |',
			'|---|---:|---:|'];
		for (const [k, label] of FLOOR_KINDS)
			ft.push(`| ${label} | **${num(floor[k].med, 0)}** | ${num(floor[k].min, 0)} – ${num(floor[k].max, 0)} |`);
		const hits = floor.hits ? `bpftrace counted ${floor.hits.push} hits on the entry probe, ` +
			`${floor.hits.pair} + ${floor.hits.pair_ret} on the pair, ${floor.hits.step} on the ` +
			`single-stepped one: every call of the probed rounds (${floor.hits.calls})` : 'no hit counts';
		floorText = `\n${ft.join('\n')}\n\nThe floor: ${floor.rounds} rounds of ` +
			`${meta.floor_calls ?? '?'} calls of each function, each probed function's CPU time per ` +
			`call minus that of an identical function without a probe in the same round ` +
			`(${num(floor.plain.med, 1)} ns per call). Without probes the four differ by at most ` +
			`${num(floor.bareSpread, 1)} ns. ${hits}. The BPF program counts its hits in a per-CPU ` +
			'map, about the least a probe can do.\n';
	}

	// In words: the "everything on" mode against its budgets, in floor units.
	const lines = [];
	if (allOnMode === 'pool')
		lines.push('- This uvscope\'s default mode leaves the thread pool out (issue 10 puts it in): ' +
			'the budgets for the default mode are judged on the `--pool` column, the default ' +
			'mode with the pool added.');
	const noise = modes.includes('none') ? rows.map(([who, op, label, unit]) => {
		const s = diffs(who, op, 'none');
		return s ? `${op} ${num(s.min / unit, digits(unit))} to ${num(s.max / unit, digits(unit))}` : null;
	}).filter(Boolean) : [];
	if (noise.length)
		lines.push(`- Noise: with nothing attached to either round, pairs differ by ${noise.join(', ')} ` +
			'(µs; syscall in ns).');
	if (floor?.push) {
		const per = rows.filter(([who]) => who === 'target').map(([who, op, , unit]) => {
			const s = diffs(who, op, allOnMode);
			return s ? `${op} ${signed(s.med / unit, 2)} µs ≈ ${num(s.med / floor.push.med, 1)}` : null;
		}).filter(Boolean);
		if (per.length)
			lines.push(`- In entry-uprobe hits (${num(floor.push.med, 0)} ns each), what the ` +
				`${allOnMode === 'pool' ? '`--pool`' : 'default'} mode adds per operation: ${per.join(', ')}.`);
		const ph = diffs('target', 'iter', 'phases');
		if (ph)
			lines.push(`- \`--phases\` adds ${signed(ph.med / 1e3, 2)} µs per loop iteration: ` +
				`${num(ph.med / floor.push.med, 1)} entry-uprobe hits' worth, or ` +
				`${num(ph.med / floor.pair.med, 1)} entry-and-return pairs'.`);
	}

	// Which of uvscope's programs a bystander's operation ran, per mode (medians over the
	// "with" rounds).
	for (const [who, op, label] of rows.filter(([who]) => who === 'bystander')) {
		const per = attachedModesOf(modes).map((m) => {
			const rs = rounds.filter((r) => r.who === who && r.op === op && r.mode === m &&
				r.slot === 'with' && r.bpf_progs);
			if (!rs.length) return null;
			const names = [...new Set(rs.flatMap((r) => Object.keys(r.bpf_progs)))];
			const progs = names.map((n) => {
				const v = rs.map((r) => r.bpf_progs[n] ?? [0, 0]);
				return { n, ns: median(v.map((x) => x[0])), runs: median(v.map((x) => x[1])) };
			}).filter((x) => x.runs >= 0.05).sort((a, b) => b.ns - a.ns);
			return `${m}: ${progs.length ? progs.map((x) => `\`${x.n}\` ${num(x.runs, 1)} × ` +
				`${num(x.ns / x.runs, 0)} ns`).join(', ') : 'none'}`;
		}).filter(Boolean);
		if (per.length)
			lines.push(`- ${label.replace(/\*\*/g, '').replace(/, (ns|µs)$/, '')}: uvscope's BPF programs ` +
				`ran per operation (runs × ns per run) ${per.join('; ')}. These runs are counted ` +
				'host-wide while the target is idle: a few are other processes\' (the agent\'s own ' +
				'system calls, the machine\'s background).');
	}
	const redone = new Set(all.filter((r) => r.kept === false && r.kind === 'round')
		.map((r) => `${r.mode}/${r.pair}`)).size;
	lines.push(`- Pairs redone because the machine disturbed them (another uvscope loaded, or a ` +
		`round's wall time more than ${meta.max_steal_pct ?? '?'}% above its CPU time): ${redone}.`);

	const settings = meta.started ? `Measured on ${meta.started} (node ${meta.node}, ${meta.uvscope}, ` +
		`source ${meta.git}) in ${meta.took_s} s: ${npairs} pairs per mode, rounds of about ` +
		`${meta.round_ms} ms of the target's CPU, target and bystanders on CPU ${meta.target_cpu}, ` +
		`uvscope on CPU ${meta.agent_cpu}.` +
		(meta.skipped_modes?.length ? ` Left out (this uvscope does not know their flags): ` +
			`${meta.skipped_modes.join(', ')}.` : '') : '';
	return `## What one operation costs the target, and what other processes pay (scripts/op-cost.sh)

The target, \`bench/op_cost.js\`, does one operation after another, one kind per round, and
reports its CPU time per operation (\`process.cpuUsage()\`, every thread of the process: the
pool's work counts). Each pair is a round without uvscope and a round with it attached to the
target, the order alternating from pair to pair; the cells give what uvscope adds: the median
over pairs of (with − without), and below it the 90% confidence interval of that median (the
sign test's; min to max when there are too few pairs). "Another process" rows are measured in
processes uvscope does not watch, while it watches the target: \`bench/syscall_cost.c\` (wall
time per \`getppid()\`, best of 5 runs) and a second \`bench/op_cost.js\` making loopback TCP
connections. Verdicts are met when the whole confidence interval is within the budget.
${settings} Raw data: \`op-cost.jsonl\`.

${table.join('\n')}
${floorText}
${lines.join('\n')}
`;
}

const main = () => {
	const args = process.argv.slice(2);
	if (args[0] === '--floor' && args.length === 2) {
		console.log(floorLine(args[1]));
		return;
	}
	if (args.length !== 2) {
		console.error('usage: node bench/op_cost.mjs DIR OUT.md | --floor DIR');
		process.exit(2);
	}
	const section = opCostSection(args[0]);
	if (!section) {
		console.error(`op_cost: no rounds in ${args[0]}/op-cost.jsonl`);
		process.exit(1);
	}
	writeFileSync(args[1], `# uvscope benchmark: what one operation costs\n\n${section}`);
};
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
