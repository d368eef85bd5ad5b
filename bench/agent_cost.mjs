// The report of scripts/agent-cost.sh: what uvscope's own per-interval work costs the agent.
//
//   node bench/agent_cost.mjs DIR OUT.md   the table of DIR/agent-cost.jsonl, as markdown
//   node bench/agent_cost.mjs --line       one run's JSON line (stdin) as a progress line
//
// bench/report.mjs imports agentCostSection() to put the same section into the report of a
// `make bench` run directory.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sectionCli } from './section_cli.mjs';
import { int, median, num, spread } from './stats.mjs';

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
		// Runs from before these were measured have none: shown as –.
		rssAttach: r.rss_attach_kb / 1024,
		rssSteady: r.rss_steady_kb / 1024,
		rssNamed: r.rss_named_kb / 1024,
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
		`interval (${num(f.sysShare, 0)}% in the kernel), RSS ${num(f.rssAttach, 1)} MiB ` +
		`attached, ${num(f.rssNamed, 1)} MiB stacks named, max ${num(f.mib, 1)} MiB` +
		(!r.blocks.length ? '' : f.lat ? `; alert ${range(f.lat)} ms after the block started` :
			'; alert never ongoing') +
		(f.missed ? ` (${f.missed} blocks without one)` : '');
}

// The markdown section, or '' when DIR holds no agent-cost.jsonl.
export function agentCostSection(dir) {
	const file = path.join(dir, 'agent-cost.jsonl');
	if (!existsSync(file)) return '';
	const all = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
	const kept = all.filter((r) => r.kept !== false);
	if (!kept.length) return '';
	let meta = {};
	try {
		meta = JSON.parse(readFileSync(path.join(dir, 'agent-cost-meta.json'), 'utf8'));
	} catch {
		// a run that stopped early: the table still reads, without the settings line
	}
	// One column per run name, in the order they ran; its repeats within.
	const names = [...new Set(kept.map((r) => r.run))];
	const cols = names.map((name) => {
		const runs = kept.filter((r) => r.run === name);
		const figs = runs.map(figures);
		const lat = runs.flatMap((r) => r.blocks.map((b) => b.alert_after_ns))
			.filter((x) => x !== null).map((x) => x / 1e6);
		return {
			r: runs[0], runs, figs,
			of: (f) => runs.map((r, i) => f(r, figs[i])),
			med: (f) => median(runs.map((r, i) => f(r, figs[i]))),
			blocks: runs.reduce((a, r) => a + r.blocks.length, 0),
			lat: lat.length ? { min: Math.min(...lat), med: median(lat), max: Math.max(...lat) } : null,
			missed: figs.reduce((a, f) => a + f.missed, 0),
			redone: all.filter((x) => x.kept === false && x.run === name).length,
		};
	});
	const r0 = kept[0];
	const repeats = Math.max(...cols.map((c) => c.runs.length));
	const v = (f, d, bold) => (c) => spread(c.of(f), d, bold);
	const rows = [
		['target\'s open fds', (c) => int(c.r.target_fds)],
		['TCP sockets in the network namespace (every process\'s, every state)', v((r) => r.netns_tcp, 0)],
		['**uvscope CPU, % of one CPU** (utime+stime over the span)', v((r, f) => f.pct, 2, true)],
		['**— ms of CPU per interval**', v((r, f) => f.perInterval, 1, true)],
		['— of it in the kernel (stime), %', v((r, f) => f.sysShare, 0)],
		['— % of one CPU from schedstat (ns resolution, same span)', v((r, f) => f.schedPct, 2)],
		['**uvscope RSS after attaching** (VmRSS at its attach line), MiB', v((r, f) => f.rssAttach, 1, true)],
		['— at the end of the span (steady state), MiB', v((r, f) => f.rssSteady, 1)],
		['— after the blocks (their stacks named), MiB', v((r, f) => f.rssNamed, 1)],
		['uvscope max RSS (VmHWM), MiB', v((r, f) => f.mib, 1)],
		['attach time (start to the attach line), ms', v((r) => r.attach_us / 1e3, 0)],
		['— CPU it took, ms', v((r) => r.attach_cpu_ms, 0)],
		[`**blocked-loop alert: block start to the "ongoing" alert, ms** (min / median / max over ` +
			`${cols[0].blocks} blocks of ${r0.block_ms} ms; threshold 100 ms)`,
		(c) => (c.lat ? range(c.lat, true) : '–')],
		['— blocks with no "ongoing" alert', (c) => String(c.missed)],
		['uvscope\'s own figures, last interval: fds open / TCP sockets',
			(c) => `${int(c.r.agent_fds)} / ${int(c.r.agent_tcp)}`],
		['CPU used by the rest of the machine during the span, % of one CPU', v((r, f) => f.otherPct, 1)],
		['— other uvscope BPF programs loaded (most)', (c) => String(Math.max(...c.of((r) => r.other_uvscope_progs)))],
		['runs redone because the machine was busy', (c) => String(c.redone)],
	];
	const head = repeats === 1 ? 'one run each' : `min / median / max over ${repeats} runs each`;
	const table = [
		`| ${head} | ${cols.map((c) => title(c.r)).join(' | ')} |`,
		`|---|${cols.map(() => '---:').join('|')}|`,
		...rows.map(([label, cell]) => `| ${label} | ${cols.map(cell).join(' | ')} |`),
	];

	// In words, from the medians: the cost per 1,000 fds and per 1,000 other sockets, against
	// the baseline.
	const find = (c, m = 'default') => cols.find((x) => x.r.case === c && x.r.mode === m);
	const pct = (c) => c.med((r, f) => f.pct);
	const perInt = (c) => c.med((r, f) => f.perInterval);
	// ms of agent CPU per interval for every 1,000 more of KEY (fds, sockets) in c than in b
	const perThousand = (c, b, key) =>
		((perInt(c) - perInt(b)) / (c.med((r) => r[key]) - b.med((r) => r[key]))) * 1e3;
	const lines = [];
	const b = find('baseline');
	if (b)
		lines.push(`- An idle target costs uvscope ${num(pct(b), 2)}% of a CPU ` +
			`(${num(perInt(b), 1)} ms per interval).`);
	for (const m of ['default', 'syscalls']) {
		const c = find('fds', m);
		if (!c || !b) continue;
		const flags = m === 'default' ? '' : ` with \`${c.r.flags}\``;
		lines.push(`- **${int(c.r.target_fds)} fds in the target${flags}: ` +
			`${num(pct(c), 1)}% of a CPU, ${num(perInt(c), 0)} ms per interval**, ` +
			`${num(c.med((r, f) => f.sysShare), 0)}% of it in the kernel: about ` +
			`${num(perThousand(c, b, 'target_fds'), 1)} ms per interval for every 1,000 fds beyond ` +
			'the baseline.');
	}
	const h = find('host-sockets');
	if (h && b) {
		lines.push(`- **${int(h.r.host_sockets)} TCP sockets of other processes in the target's ` +
			`network namespace: ${num(pct(h), 1)}% of a CPU, ${num(perInt(h), 0)} ms per ` +
			`interval**, about ${num(perThousand(h, b, 'netns_tcp'), 1)} ms per interval for every ` +
			`1,000 sockets on the host, though the target holds only ${int(h.r.target_fds)} fds.`);
	}
	if (b && Number.isFinite(b.med((r, f) => f.rssAttach)))
		lines.push(`- **uvscope's memory** on the idle target: ` +
			`${num(b.med((r, f) => f.rssAttach), 1)} MiB RSS after attaching, ` +
			`${num(b.med((r, f) => f.rssSteady), 1)} MiB at the end of the span, ` +
			`${num(b.med((r, f) => f.rssNamed), 1)} MiB once the blocks' stacks were named, at most ` +
			`${num(b.med((r, f) => f.mib), 1)} MiB (VmHWM, while attaching). Issue 10's goal: at ` +
			'most 20 MiB before the first stack is named.');
	const lat = cols.filter((c) => c.lat);
	if (lat.length) {
		const worst = lat.reduce((a, c) => (c.lat.max > a.lat.max ? c : a));
		const missed = cols.filter((c) => c.missed);
		lines.push(`- The blocked-loop alert (threshold 100 ms, checked every 10 ms on the agent's ` +
			`only thread) came ${lat.map((c) => `${num(c.lat.med, 0)} ms (${c.r.run})`).join(', ')} ` +
			`after the block started (median); at worst ${num(worst.lat.max, 0)} ms (${worst.r.run}).` +
			(missed.length ? ` Blocks that got no "ongoing" alert at all, only the one after the ` +
				`fact: ${missed.map((c) => `${c.missed} of ${c.blocks} (${c.r.run})`).join(', ')}.` : ''));
	}

	const settings = meta.seconds ? `Measured on ${meta.started} (node ${meta.node}, ` +
		`${meta.uvscope}, source ${meta.git}), in ${meta.took_s} s. ` : '';
	const interval = meta.interval ?? `${r0.interval_ms}ms`;
	const runsOf = repeats === 1 ? 'One run per column' :
		`${repeats} runs per column (the columns take turns)`;
	return `## What uvscope's own work costs it (scripts/agent-cost.sh)

Every interval the agent reads /proc/PID/fd, asks the kernel's socket tables
(NETLINK_SOCK_DIAG, filtered to the target's ports) for the target's sockets, and lists the
target's threads, all on its single thread, the one that also checks for blocked loops.
${runsOf}, each with a fresh idle target (\`bench/agent_cost_target.js\`, which always holds
one listening socket) and \`uvscope watch -p PID --json -i ${interval}\` pinned to CPU
${meta.agent_cpu ?? '?'} (the Node processes on CPU ${meta.node_cpu ?? '?'}). uvscope's CPU is
utime+stime from \`/proc/AGENT/stat\` over ${r0.intervals} intervals after attaching, from one
of its interval lines to the one ${r0.intervals} later (so the span holds exactly that many
intervals' work). After that span the target blocks its loop ${r0.blocks.length} times for
${r0.block_ms} ms, the block starts stepping through the agent's interval, and each block's
delay runs from its start (the target's wall clock) to the \`ts_ns\` of the agent's
\`loop_blocked\` alert with \`"ongoing":true\`.
${settings}Raw data: \`agent-cost.jsonl\` and each run's agent output.

${table.join('\n')}

${lines.join('\n')}
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
	sectionCli({
		name: 'agent_cost', data: 'agent-cost.jsonl', section: agentCostSection, progressLine,
		heading: "uvscope benchmark: what the agent's own work costs it",
	});
