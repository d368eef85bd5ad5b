// The sampled-phase map (agent/unwind/loop_phases.c) on live processes, without uvscope's own
// sampler: bpftrace samples the user stacks of a fixture whose time goes, in turn, to four
// callbacks with known names (tests/fixtures/node/phase_rotation.js): a setTimeout callback,
// a setImmediate callback, an fs callback and a socket's close callback. The fixture runs with
// --perf-basic-prof, so V8 itself names its JIT code in /tmp/perf-PID.map: that and `nm` (for
// uv_run's range) are the ground truth; bpftrace is told not to symbolize (its perf-map lookups
// are too slow), and the test reads the map itself. Each sample that runs one of the four
// callbacks has its innermost return address into uv_run looked up in the map
// (.output/phase-map), and must be in that callback's phase: timers, check, poll_io, close.
// On Node 20 (this node) and the official builds of nodeVersions() (18, 22, 24 by default here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fetchNodeOrSkip, fixtures, nodeBin, nodeVersions, root, skipWithoutBpf }
	from './lib.mjs';

const phaseMapTool = path.join(root, '.output', 'tools', 'phase_map');
const SAMPLES_EACH = 15;
const EXPECTED = {
	spinInTimeout: 'timers',
	spinInImmediate: 'check',
	spinInFsCallback: 'poll_io',
	spinInCloseCallback: 'close',
};

function skipWithout(t) {
	if (skipWithoutBpf(t)) return true;
	let why = null;
	if (!existsSync(phaseMapTool))
		why = `${phaseMapTool} is not built (make .output/tools/phase_map)`;
	else if (spawnSync('bpftrace', ['--version']).status !== 0)
		why = 'bpftrace is not installed (scripts/install-deps.sh installs it)';
	if (why) {
		console.error(`SKIP ${t.name}: ${why}`);
		t.skip(why);
		return true;
	}
	return false;
}

// uv_run's [start, end) from nm (non-PIE official builds: runtime address = ELF address).
function uvRunRange(bin) {
	const out = execFileSync('nm', ['-S', '--defined-only', bin], { maxBuffer: 1 << 28 })
		.toString();
	const m = out.match(/^([0-9a-f]+) ([0-9a-f]+) [Tt] uv_run$/m);
	assert.ok(m, `nm finds no uv_run in ${bin}`);
	const start = BigInt('0x' + m[1]);
	return { start, end: start + BigInt('0x' + m[2]) };
}

// The perf map V8 writes: [{ start, end, name }], read again only when the file grew.
class PerfMap {
	constructor(pid) {
		this.file = `/tmp/perf-${pid}.map`;
		this.size = -1;
		this.entries = [];
	}

	refresh() {
		let size;
		try {
			size = statSync(this.file).size;
		} catch {
			return;
		}
		if (size === this.size) return;
		this.size = size;
		this.entries = [];
		for (const line of readFileSync(this.file, 'utf8').split('\n')) {
			const m = line.match(/^([0-9a-f]+) ([0-9a-f]+) (.*)$/);
			if (!m) continue;
			const start = BigInt('0x' + m[1]);
			this.entries.push({ start, end: start + BigInt('0x' + m[2]), name: m[3] });
		}
	}

	// The spin function whose code holds pc, or null.
	spinAt(pc) {
		for (const e of this.entries) {
			if (pc >= e.start && pc < e.end) {
				const m = e.name.match(/\b(spinIn[A-Za-z]+)\b/);
				return m ? m[1] : null;
			}
		}
		return null;
	}
}

// bpftrace's lines -> samples, each a list of addresses, innermost first.
function parseSamples(lines, from, into) {
	let i = from;
	for (; i < lines.length; i++) {
		if (lines[i] === '@@') {
			into.push([]);
			continue;
		}
		const m = lines[i].match(/^\s+([0-9a-f]+) /);
		if (m && into.length) into.at(-1).push(BigInt('0x' + m[1]));
	}
	return i;
}

// Each sample: the spin function it runs (from the perf map) and its return into uv_run.
function classify(samples, perfMap, uvRun) {
	const out = [];
	for (const frames of samples) {
		let spin = null;
		let ret = null;
		for (const [i, pc] of frames.entries()) {
			spin ||= perfMap.spinAt(i === 0 ? pc : pc - 1n);
			// Innermost frame (after frame 0) whose call is in uv_run: addr - 1 inside it.
			if (i > 0 && ret === null && pc - 1n >= uvRun.start && pc - 1n < uvRun.end)
				ret = pc;
		}
		if (spin) out.push({ spin, ret });
	}
	return out;
}

// The phase-map tool on bin: the phase of each return address.
function lookUp(bin, addrs) {
	const input = addrs.map((a) => a.toString(16)).join('\n') + '\n';
	const r = spawnSync(phaseMapTool, [bin, '-'], { input, maxBuffer: 1 << 24 });
	assert.equal(r.status, 0, `phase-map ${bin}: ${r.stderr}`);
	const text = r.stdout.toString();
	const phases = new Map();
	for (const m of text.split('---\n')[1].matchAll(/^0x([0-9a-f]+) (\S+)$/gm))
		phases.set(BigInt('0x' + m[1]), m[2]);
	return { phases, table: text.split('---\n')[0] };
}

async function checkLive(t, bin) {
	const uvRun = uvRunRange(bin);
	// --perf-basic-prof also makes V8 write isolate-*.log into the working directory.
	const cwd = mkdtempSync(path.join(os.tmpdir(), 'uvs-phases-'));
	const child = new Child(bin, ['--perf-basic-prof', path.join(fixtures, 'phase_rotation.js')],
		{ cwd });
	let tracer = null;
	try {
		await child.waitFor((v) => v && v.ready, 'phase_rotation.js ready');
		tracer = new Child('bpftrace', ['-B', 'line', '-e',
			`profile:hz:499 /pid == ${child.pid}/ { printf("@@\\n%s", ustack(perf)); }`],
		{ env: { ...process.env, BPFTRACE_NO_USER_SYMBOLS: '1' } });
		const perfMap = new PerfMap(child.pid);
		const samples = [];
		let parsed = 0;
		const enough = () => {
			parsed = parseSamples(tracer.lines, parsed, samples);
			perfMap.refresh();
			const seen = {};
			for (const s of classify(samples, perfMap, uvRun))
				if (s.ret !== null) seen[s.spin] = (seen[s.spin] || 0) + 1;
			return Object.keys(EXPECTED).every((f) => (seen[f] || 0) >= SAMPLES_EACH);
		};
		await tracer.until(enough, `${SAMPLES_EACH} samples in each callback`, 120000);
		await tracer.stop('SIGINT');
		perfMap.refresh();
		const found = classify(samples, perfMap, uvRun);
		const withRet = found.filter((s) => s.ret !== null);
		const { phases, table } = lookUp(bin, [...new Set(withRet.map((s) => s.ret))]);
		assert.match(table, new RegExp(`^uv_run 0x${uvRun.start.toString(16)}-` +
			`0x${uvRun.end.toString(16)}$`, 'm'), 'the map and nm agree on uv_run');
		const tally = {};
		for (const s of withRet) {
			const phase = phases.get(s.ret);
			const key = `${s.spin} -> ${phase} (0x${s.ret.toString(16)})`;
			tally[key] = (tally[key] || 0) + 1;
		}
		t.diagnostic(`${bin}: ${samples.length} samples, ${found.length} in the four ` +
			`callbacks, ${withRet.length} through uv_run: ${JSON.stringify(tally)}`);
		for (const s of withRet)
			assert.equal(phases.get(s.ret), EXPECTED[s.spin],
				`${s.spin} sampled with return address 0x${s.ret.toString(16)} into uv_run`);
		// A callback's stack that does not reach uv_run is a broken walk, not a phase:
		// it must stay rare, or the check above would be checking little.
		assert.ok(withRet.length >= 0.9 * found.length,
			`${found.length - withRet.length} of ${found.length} callback stacks miss uv_run`);
	} finally {
		if (tracer) await tracer.stop('SIGINT');
		await child.stop();
		rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
		rmSync(cwd, { recursive: true, force: true });
	}
}

test('sampled phases of timers, check, poll and close callbacks on this node', async (t) => {
	if (skipWithout(t)) return;
	await checkLive(t, nodeBin);
});

for (const version of nodeVersions('18 22 24')) {
	test(`sampled phases on official node ${version}`, async (t) => {
		if (skipWithout(t)) return;
		const bin = fetchNodeOrSkip(t, version);
		if (!bin) return;
		await checkLive(t, bin);
	});
}

// The Debian case, on a real binary: the same node without its DWARF gives no map, and says
// why and what still works.
test('a node binary without DWARF has no sampled phases, and says so', (t) => {
	if (!existsSync(phaseMapTool)) {
		t.skip(`${phaseMapTool} is not built`);
		return;
	}
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvs-nodwarf-'));
	try {
		const copy = path.join(dir, 'node');
		execFileSync('objcopy', ['--strip-debug', nodeBin, copy]);
		const r = spawnSync(phaseMapTool, [copy]);
		assert.equal(r.status, 2);
		// The debug file of the same build id would do; there is none for this copy.
		const id = execFileSync('readelf', ['-n', copy]).toString()
			.match(/Build ID: ([0-9a-f]+)/)[1];
		assert.equal(r.stderr.toString().trim(), `phase-map: no DWARF for libuv in ${copy} ` +
			`(nor in /usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug): ` +
			'sampled phases are unavailable; use --phases');
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

// Debian's own libuv (libuv1, stripped to .dynsym): no map, and no --phases to suggest either.
test("Debian's libuv.so.1 has no sampled phases, and says so", (t) => {
	const lib = '/usr/lib/x86_64-linux-gnu/libuv.so.1';
	if (!existsSync(phaseMapTool) || !existsSync(lib)) {
		t.skip(`${phaseMapTool} or ${lib} is not here`);
		return;
	}
	const r = spawnSync(phaseMapTool, [lib]);
	assert.equal(r.status, 2);
	assert.match(r.stderr.toString().trim(), new RegExp(`^phase-map: no DWARF for libuv in ` +
		`${lib} \\(nor in /usr/lib/debug/\\.build-id/[0-9a-f]{2}/[0-9a-f]+\\.debug\\): ` +
		'sampled phases are unavailable$'));
});
