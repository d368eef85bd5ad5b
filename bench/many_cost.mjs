// The report of scripts/many-cost.sh: what one uvscope agent costs itself while it watches
// many Node processes (`--all`, `-p A,B,...`).
//
//   node bench/many_cost.mjs DIR OUT.md   the table of DIR/many-cost.jsonl, as markdown
//   node bench/many_cost.mjs --line       one run's JSON line (stdin) as a progress line
//
// bench/report.mjs imports manyCostSection() to put the same section into the report of a
// `make bench` run directory.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sectionCli } from './section_cli.mjs';
import { int, median, num, spread } from './stats.mjs';

// The figures of one run (a line of many-cost.jsonl).
function figures(r) {
	const span = r.elapsed_ns / 1e6;	// ms
	const perInterval = r.cpu_ms / r.intervals;	// whole intervals: see scripts/many-cost.sh
	return {
		pct: (r.cpu_ms / span) * 100,
		perInterval,
		perTarget: perInterval / r.targets,
		sysShare: r.cpu_ms ? (r.sys_ms / r.cpu_ms) * 100 : NaN,
		schedPct: (r.sched_ns / r.elapsed_ns) * 100,
		schedPerTarget: r.sched_ns / 1e6 / r.intervals / r.targets,
		rssAttach: r.rss_attach_kb / 1024,
		rssSteady: r.rss_steady_kb / 1024,
		rssAnon: r.rss_anon_kb / 1024,
		rssFile: r.rss_file_kb / 1024,
		mib: r.hwm_kb / 1024,
		memlock: r.map_memlock_kb / 1024,
		iters: median(r.target_iterations),
		targetsPct: (r.targets_cpu_ns / r.elapsed_ns) * 100,
		otherPct: (r.other_cpu_ms / span) * 100,
	};
}

const howText = (r) => (r.how === 'all' ? '`--all --match TAG`' : `\`-p\` with ${r.targets} pid${r.targets === 1 ? '' : 's'}`);
const title = (r) => `${r.targets} target${r.targets === 1 ? '' : 's'}<br>${howText(r)}`;
const links = (r) => Object.entries(r.link_types).map(([k, v]) => `${v} ${k}`).join(', ');

// One line per run while the script runs.
export function progressLine(r) {
	const f = figures(r);
	return `  ${r.run.padEnd(9)} ${num(f.pct, 2)}% of a CPU, ${num(f.perInterval, 1)} ms per ` +
		`interval (${num(f.perTarget, 2)} per target), RSS ${num(f.rssSteady, 1)} MiB, max ` +
		`${num(f.mib, 1)} MiB; all attached in ${int(r.attach_us / 1e3)} ms ` +
		`(${int(r.attach_cpu_ms)} ms CPU); ${r.bpf_progs} BPF programs, ${r.bpf_links} links ` +
		`(${links(r)}), ${r.bpf_maps} maps, ${num(f.memlock, 1)} MiB memlock; exit in ` +
		`${int(r.detach_us / 1e3)} ms`;
}

// The markdown section, or '' when DIR holds no many-cost.jsonl.
export function manyCostSection(dir) {
	const file = path.join(dir, 'many-cost.jsonl');
	if (!existsSync(file)) return '';
	const all = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
	const kept = all.filter((r) => r.kept !== false);
	if (!kept.length) return '';
	let meta = {};
	try {
		meta = JSON.parse(readFileSync(path.join(dir, 'many-cost-meta.json'), 'utf8'));
	} catch {
		// a run that stopped early: the table still reads, without the settings line
	}
	// One column per run name, in the order they ran; its repeats within.
	const names = [...new Set(kept.map((r) => r.run))];
	const cols = names.map((name) => {
		const runs = kept.filter((r) => r.run === name);
		const figs = runs.map(figures);
		return {
			r: runs[0], runs,
			of: (f) => runs.map((r, i) => f(r, figs[i])),
			med: (f) => median(runs.map((r, i) => f(r, figs[i]))),
			redone: all.filter((x) => x.kept === false && x.run === name).length,
		};
	});
	const r0 = kept[0];
	const repeats = Math.max(...cols.map((c) => c.runs.length));
	const v = (f, d, bold) => (c) => spread(c.of(f), d, bold);
	// A count that should not change between repeats: one value, or every value seen.
	const same = (f) => (c) => [...new Set(c.of(f))].join(' or ');
	const rows = [
		['processes on the host (what `--all` looks through every interval)', v((r) => r.host_processes, 0)],
		['**uvscope CPU, % of one CPU** (utime+stime over the span)', v((r, f) => f.pct, 2, true)],
		['**— ms of CPU per interval**', v((r, f) => f.perInterval, 1, true)],
		['**— per target, ms per interval**', v((r, f) => f.perTarget, 2, true)],
		['— of it in the kernel (stime), %', v((r, f) => f.sysShare, 0)],
		['— % of one CPU from schedstat (ns resolution, same span)', v((r, f) => f.schedPct, 2)],
		['— per target from schedstat, ms per interval', v((r, f) => f.schedPerTarget, 2)],
		['**uvscope RSS at the end of the span** (steady state), MiB', v((r, f) => f.rssSteady, 1, true)],
		['— of it anonymous (RssAnon: the agent\'s own memory), MiB', v((r, f) => f.rssAnon, 1)],
		['— of it pages of mapped files (RssFile), MiB', v((r, f) => f.rssFile, 1)],
		['— when the last target was attached, MiB', v((r, f) => f.rssAttach, 1)],
		['uvscope max RSS (VmHWM), MiB', v((r, f) => f.mib, 1)],
		['**attaching all targets: start to the last attach line, ms**', v((r) => r.attach_us / 1e3, 0, true)],
		['— to the first attach line, ms', v((r) => r.first_attach_us / 1e3, 0)],
		['— CPU it took (start to the last attach line), ms', v((r) => r.attach_cpu_ms, 0)],
		['exit after SIGINT (every target\'s summary written), ms', v((r) => r.detach_us / 1e3, 0)],
		['**BPF programs the agent holds** (distinct prog_id)', same((r) => r.bpf_progs)],
		['BPF links (by type)', same((r) => `${r.bpf_links} (${links(r)})`)],
		['perf events (stack sampling, one per CPU)', same((r) => r.perf_events)],
		['BPF maps', same((r) => r.bpf_maps)],
		['— their kernel memory (memlock, as `bpftool map show`), MiB', v((r, f) => f.memlock, 1)],
		['the agent\'s open fds', v((r) => r.agent_fds, 0)],
		['targets\' loop iterations per interval (median over targets, last interval)', v((r, f) => f.iters, 0)],
		['targets\' CPU together, % of one CPU (not the question here: context)', v((r, f) => f.targetsPct, 1)],
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

	// In words, from the medians.
	const find = (how, pred) => cols.filter((c) => c.r.how === how && pred(c.r.targets))
		.sort((a, b) => a.r.targets - b.r.targets);
	const perInt = (c) => c.med((r, f) => f.perInterval);
	const lines = [];
	const allCols = find('all', () => true);
	const lo = allCols[0], hi = allCols[allCols.length - 1];
	if (hi)
		lines.push(`- **One agent watching ${hi.r.targets} processes (\`--all\`): ` +
			`${num(hi.med((r, f) => f.pct), 2)}% of one CPU, ${num(perInt(hi), 1)} ms per interval, ` +
			`${num(hi.med((r, f) => f.perTarget), 2)} ms per target; ` +
			`${num(hi.med((r, f) => f.rssSteady), 1)} MiB RSS** (at most ` +
			`${num(hi.med((r, f) => f.mib), 1)} MiB). It attached all ${hi.r.targets} in ` +
			`${int(hi.med((r) => r.attach_us / 1e3))} ms and exited in ` +
			`${int(hi.med((r) => r.detach_us / 1e3))} ms.`);
	if (lo && hi && lo !== hi) {
		const d = hi.r.targets - lo.r.targets;
		lines.push(`- Each target beyond the ${lo.r.targets === 1 ? 'first' : `first ${lo.r.targets}`} ` +
			`adds about ${num((perInt(hi) - perInt(lo)) / d, 2)} ms of agent CPU per interval, ` +
			`${num((hi.med((r, f) => f.rssSteady) - lo.med((r, f) => f.rssSteady)) / d, 2)} MiB ` +
			`of RSS and ${int((hi.med((r) => r.attach_us) - lo.med((r) => r.attach_us)) / d / 1e3)} ms ` +
			`of attach time (${lo.r.targets} target${lo.r.targets === 1 ? '' : 's'}: ` +
			`${num(perInt(lo), 1)} ms per interval, ${num(lo.med((r, f) => f.rssSteady), 1)} MiB).`);
	}
	const progs = [...new Set(kept.map((r) => r.bpf_progs))];
	const maps = [...new Set(kept.map((r) => r.bpf_maps))];
	const linkCounts = [...new Set(cols.map((c) => `${c.r.bpf_links} with ${c.r.targets}`))];
	const linksEach = lo && hi && lo !== hi ?
		(hi.r.bpf_links - lo.r.bpf_links) / (hi.r.targets - lo.r.targets) : NaN;
	lines.push(progs.length === 1 ?
		`- **The agent holds ${progs[0]} BPF programs whatever the number of targets** (one set)` +
			(maps.length === 1 ? ` and ${maps[0]} maps` : '') + `; its links grow with them ` +
			`(${linkCounts.join(', ')}` + (Number.isFinite(linksEach) ? `: ${num(linksEach, 1)} ` +
				'per target' : '') + '): the uprobes are attached to each process on its own.' :
		`- **The number of BPF programs changes with the number of targets** ` +
			`(${cols.map((c) => `${c.r.bpf_progs} with ${c.r.targets}`).join(', ')}): not one set.`);
	for (const p of find('pids', () => true)) {
		const a = allCols.find((c) => c.r.targets === p.r.targets);
		if (a)
			lines.push(`- \`-p\` with the same ${p.r.targets} pids: ${num(perInt(p), 1)} ms per ` +
				`interval against ${num(perInt(a), 1)} with \`--all\`; the difference is about what ` +
				`\`--all\` spends looking through /proc (${int(a.med((r) => r.host_processes))} ` +
				'processes) for new node processes each interval.');
	}

	const settings = meta.seconds ? `Measured on ${meta.started} (node ${meta.node}, ` +
		`${meta.uvscope}, source ${meta.git}, kernel ${meta.kernel}), in ${meta.took_s} s. ` : '';
	const interval = meta.interval ?? `${r0.interval_ms}ms`;
	const runsOf = repeats === 1 ? 'One run per column' :
		`${repeats} runs per column (the columns take turns)`;
	return `## What watching many processes costs the agent (scripts/many-cost.sh)

One agent watches N processes with one set of BPF programs; each interval it reads every
target's figures, fds, sockets and threads, and with \`--all\` it looks through /proc for node
processes that appeared. ${runsOf}, each with N fresh targets (\`bench/many_cost_target.js\`: a
timer every ${r0.tick_ms} ms, an \`fs.promises.stat\` every ${r0.stat_ms} ms, one listening
socket, and a tag of the run on its command line) pinned to CPU ${meta.node_cpu ?? '?'}, and
\`uvscope watch --all --match TAG --json -i ${interval}\` (or \`-p PID,...\`; default mode)
pinned to CPU ${meta.agent_cpu ?? '?'}. uvscope's CPU is utime+stime from \`/proc/AGENT/stat\`
over ${r0.intervals} intervals once all N are attached, from the end of one interval's work (its
N interval lines written) to the end of the one ${r0.intervals} later. The kernel objects are
counted from \`/proc/AGENT/fdinfo\`. What the targets pay is in the per-operation section.
${settings}Raw data: \`many-cost.jsonl\` and each run's agent output.

${table.join('\n')}

${lines.join('\n')}
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
	sectionCli({
		name: 'many_cost', data: 'many-cost.jsonl', section: manyCostSection, progressLine,
		heading: "uvscope benchmark: what watching many processes costs the agent",
	});
