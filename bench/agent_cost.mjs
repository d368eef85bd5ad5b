// The report of scripts/agent-cost.sh: what uvscope's own per-interval work costs the agent.
//
//   node bench/agent_cost.mjs DIR OUT.md   the table of DIR/agent-cost.jsonl, as markdown
//   node bench/agent_cost.mjs --line       one run's JSON line (stdin) as a progress line
//
// bench/report.mjs imports agentCostSection() to put the same section into the report of a
// `make bench` run directory.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const num = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
// "min / median / max" of a latency summary, in ms, the median in bold if asked.
const range = (l, bold = false) => {
	const med = bold ? `**${num(l.med, 0)}**` : num(l.med, 0);
	return `${num(l.min, 0)} / ${med} / ${num(l.max, 0)}`;
};

// The figures of one run (a line of agent-cost.jsonl).
function figures(r) {
	const span = r.elapsed_ns / 1e6;	// ms
	const intervals = r.intervals;	// whole intervals: the span runs from one interval line to another
	const lat = r.blocks.map((b) => b.alert_after_ns).filter((x) => x !== null).map((x) => x / 1e6);
	return {
		pct: (r.cpu_ms / span) * 100,
		perInterval: r.cpu_ms / intervals,
		sysShare: r.cpu_ms ? (r.sys_ms / r.cpu_ms) * 100 : NaN,
		schedPct: (r.sched_ns / r.elapsed_ns) * 100,
		mib: r.hwm_kb / 1024,
		lat: lat.length ? { min: Math.min(...lat), med: median(lat), max: Math.max(...lat) } : null,
		missed: r.blocks.length - lat.length,
		otherPct: (r.other_cpu_ms / span) * 100,
	};
}

function title(r) {
	const mode = r.mode === 'default' ? 'default mode' : `\`${r.flags}\``;
	if (r.case === 'baseline')
		return `baseline, ${mode}<br>idle target (its listening socket only)`;
	if (r.case === 'fds')
		return `${int(r.target_fds)} fds, ${mode}<br>${int(r.target_conns)} loopback connections ` +
			`to itself (2 fds each), ${int(r.target_files)} files`;
	return `${int(r.host_sockets)} other sockets, ${mode}<br>idle target; ` +
		`${r.host_processes} other process${r.host_processes === 1 ? '' : 'es'} with ` +
		`${int(r.host_sockets / 2)} loopback connections`;
}

// One line per run while the script runs.
export function progressLine(r) {
	const f = figures(r);
	return `  ${r.run.padEnd(20)} ${num(f.pct, 2)}% of a CPU, ${num(f.perInterval, 1)} ms per ` +
		`interval (${num(f.sysShare, 0)}% in the kernel), max RSS ${num(f.mib, 1)} MiB` +
		(!r.blocks.length ? '' : f.lat ? `; alert ${range(f.lat)} ms after the block started` :
			'; alert never ongoing') +
		(f.missed ? ` (${f.missed} blocks without one)` : '');
}

// The markdown section, or '' when DIR holds no agent-cost.jsonl.
export function agentCostSection(dir) {
	const file = path.join(dir, 'agent-cost.jsonl');
	if (!existsSync(file)) return '';
	const all = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
	const runs = all.filter((r) => r.kept !== false);
	if (!runs.length) return '';
	const redone = (r) => all.filter((x) => x.kept === false && x.run === r.run).length;
	let meta = {};
	try {
		meta = JSON.parse(readFileSync(path.join(dir, 'agent-cost-meta.json'), 'utf8'));
	} catch {
		// a run that stopped early: the table still reads, without the settings line
	}
	const fs = runs.map(figures);
	const r0 = runs[0];
	const nblocks = r0.blocks.length;
	const rows = [
		['target\'s open fds', (r) => int(r.target_fds)],
		['TCP sockets in the network namespace (every process\'s, every state)', (r) => int(r.netns_tcp)],
		['**uvscope CPU, % of one CPU** (utime+stime over the span)', (r, f) => `**${num(f.pct, 2)}**`],
		['**— ms of CPU per interval**', (r, f) => `**${num(f.perInterval, 1)}**`],
		['— of it in the kernel (stime), %', (r, f) => num(f.sysShare, 0)],
		['— % of one CPU from schedstat (ns resolution, same span)', (r, f) => num(f.schedPct, 2)],
		['uvscope max RSS (VmHWM), MiB', (r, f) => num(f.mib, 1)],
		['attach time (start to the attach line), ms', (r) => num(r.attach_us / 1e3, 0)],
		['— CPU it took, ms', (r) => int(r.attach_cpu_ms)],
		[`**blocked-loop alert: block start to the "ongoing" alert, ms** (min / median / max over ` +
			`${nblocks} blocks of ${r0.block_ms} ms; threshold 100 ms)`,
		(r, f) => (f.lat ? range(f.lat, true) : '–')],
		['— blocks with no "ongoing" alert', (r, f) => String(f.missed)],
		['uvscope\'s own figures, last interval: fds open / TCP sockets',
			(r) => `${int(r.agent_fds)} / ${int(r.agent_tcp)}`],
		['CPU used by the rest of the machine during the span, % of one CPU (other uvscope BPF ' +
			'programs loaded)', (r, f) => `${num(f.otherPct, 1)} (${r.other_uvscope_progs})`],
		['runs redone because the machine was busy', (r) => String(redone(r))],
	];
	const table = [
		`| one run each | ${runs.map(title).join(' | ')} |`,
		`|---|${runs.map(() => '---:').join('|')}|`,
		...rows.map(([label, cell]) => `| ${label} | ${runs.map((r, i) => cell(r, fs[i])).join(' | ')} |`),
	];

	// In words: the cost per 1,000 fds and per 1,000 foreign sockets, against the baseline.
	const find = (c, m = 'default') => runs.findIndex((r) => r.case === c && r.mode === m);
	// ms of agent CPU per interval for every 1,000 more of KEY (fds, sockets) in run i than in j
	const perThousand = (i, j, key) =>
		((fs[i].perInterval - fs[j].perInterval) / (runs[i][key] - runs[j][key])) * 1e3;
	const lines = [];
	const b = find('baseline');
	if (b >= 0)
		lines.push(`- An idle target costs uvscope ${num(fs[b].pct, 2)}% of a CPU ` +
			`(${num(fs[b].perInterval, 1)} ms per interval).`);
	for (const m of ['default', 'syscalls']) {
		const i = find('fds', m);
		if (i < 0 || b < 0) continue;
		const per = perThousand(i, b, 'target_fds');
		const flags = m === 'default' ? '' : ` with \`${runs[i].flags}\``;
		lines.push(`- **${int(runs[i].target_fds)} fds in the target${flags}: ` +
			`${num(fs[i].pct, 1)}% of a CPU, ${num(fs[i].perInterval, 0)} ms per interval**, ` +
			`${num(fs[i].sysShare, 0)}% of it in the kernel: about ${num(per, 1)} ms per interval ` +
			`for every 1,000 fds beyond the baseline.`);
	}
	const h = find('host-sockets');
	if (h >= 0 && b >= 0) {
		const per = perThousand(h, b, 'netns_tcp');
		lines.push(`- **${int(runs[h].host_sockets)} TCP sockets of other processes in the target's ` +
			`network namespace: ${num(fs[h].pct, 1)}% of a CPU, ${num(fs[h].perInterval, 0)} ms per ` +
			`interval**, about ${num(per, 1)} ms per interval for every 1,000 sockets on the host, ` +
			`though the target holds only ${int(runs[h].target_fds)} fds.`);
	}
	const lat = runs.map((r, i) => [r, fs[i]]).filter(([, f]) => f.lat);
	if (lat.length) {
		const worst = lat.reduce((a, x) => (x[1].lat.max > a[1].lat.max ? x : a));
		lines.push(`- The blocked-loop alert (threshold 100 ms, checked every 10 ms on the agent's ` +
			`only thread) came ${lat.map(([r, f]) => `${num(f.lat.med, 0)} ms (${r.run})`).join(', ')} ` +
			`after the block started (median); at worst ${num(worst[1].lat.max, 0)} ms (${worst[0].run}).` +
			(runs.some((r, i) => fs[i].missed) ? ' Some blocks got no "ongoing" alert at all.' : ''));
	}

	const settings = meta.seconds ? `Measured on ${meta.started} (node ${meta.node}, ` +
		`${meta.uvscope}, source ${meta.git}), in ${meta.took_s} s. ` : '';
	const interval = meta.interval ?? `${r0.interval_ms}ms`;
	return `## What uvscope's own work costs it (scripts/agent-cost.sh)

Every interval the agent reads /proc/PID/fd, dumps the TCP and UDP tables of the target's
whole network namespace (NETLINK_SOCK_DIAG) to find the target's sockets, and lists the
target's threads, all on its single thread, the one that also raises the blocked-loop
alert. One run per column, each with a fresh idle target (\`bench/agent_cost_target.js\`,
which always holds one listening socket) and \`uvscope watch -p PID --json -i ${interval}\`
pinned to CPU ${meta.agent_cpu ?? '?'} (the Node processes on CPU ${meta.node_cpu ?? '?'}).
uvscope's CPU is utime+stime from \`/proc/AGENT/stat\` over ${r0.intervals} intervals after
attaching, from one of its interval lines to the one ${r0.intervals} later (so the span holds
exactly that many intervals' work). After that span the target blocks its loop ${nblocks} times for ${r0.block_ms} ms, the
block starts stepping through the agent's interval, and each block's delay runs from its
start (the target's wall clock) to the \`ts_ns\` of the agent's \`loop_blocked\` alert with
\`"ongoing":true\`. ${settings}Raw data: \`agent-cost.jsonl\` and each run's agent output.

${table.join('\n')}

${lines.join('\n')}
`;
}

const main = () => {
	const args = process.argv.slice(2);
	if (args[0] === '--line') {
		const line = readFileSync(0, 'utf8').trim();
		console.log(progressLine(JSON.parse(line)));
		return;
	}
	if (args.length !== 2) {
		console.error('usage: node bench/agent_cost.mjs DIR OUT.md | --line < RUN.json');
		process.exit(2);
	}
	const section = agentCostSection(args[0]);
	if (!section) {
		console.error(`agent_cost: no runs in ${args[0]}/agent-cost.jsonl`);
		process.exit(1);
	}
	writeFileSync(args[1], `# uvscope benchmark: what the agent's own work costs it\n\n${section}`);
};
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
