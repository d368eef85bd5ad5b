// The CFI unwinder (agent/unwind) on a live node stopped inside OpenSSL's
// sha512_block_data_order_avx2, which uses %rbp as a general register: the frame-pointer walk
// breaks at once there, the CFI walk must reach node's crypto code, V8's JIT and builtin
// frames, uv_run, node::Start and _start. The stack copies come from tests/tools/stackcopy.c
// (ptrace interrupts of the main thread, process_vm_readv of the stack, as the BPF sampler
// copies it); names come from `nm -C` of the node binary and, with --perf-basic-prof, from
// V8's own /tmp/perf-PID.map, never from the code under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fetchNodeOrSkip, fixtures, nodeBin, nodeVersions, root } from './lib.mjs';

const stackcopy = path.join(root, '.output', 'tools', 'stackcopy');
const OPENSSL_FN = 'sha512_block_data_order_avx2';
const SAMPLES = 12;

// Function symbols of an ELF file, sorted by address, from nm (demangled).
function nmFunctions(file) {
	const out = execFileSync('nm', ['-S', '-C', '--defined-only', file],
		{ maxBuffer: 512 << 20 }).toString();
	const syms = [];
	for (const line of out.split('\n')) {
		const m = /^([0-9a-f]+) ([0-9a-f]+) [tTwW] (.+)$/.exec(line);
		if (m) syms.push({ start: BigInt('0x' + m[1]), end: BigInt('0x' + m[1]) + BigInt('0x' + m[2]),
			name: m[3] });
	}
	return syms.sort((a, b) => (a.start < b.start ? -1 : 1));
}

function lookup(syms, addr) {
	let lo = 0, hi = syms.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (syms[mid].start <= addr) lo = mid + 1;
		else hi = mid;
	}
	const s = syms[lo - 1];
	return s && addr < s.end ? s.name : null;
}

// The executable mappings of pid: { start, end, offset, path }.
function execMaps(pid) {
	return readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').map((l) => {
		const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(l);
		return m && { start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]),
			offset: BigInt('0x' + m[3]), path: m[4] };
	}).filter(Boolean);
}

// Load bias of an executable mapping of file, from readelf's program headers.
function loadBias(map, file) {
	const out = execFileSync('readelf', ['-lW', file]).toString();
	for (const line of out.split('\n')) {
		const m = /^\s*LOAD\s+0x([0-9a-f]+) 0x([0-9a-f]+) \S+ 0x([0-9a-f]+)/.exec(line);
		if (!m) continue;
		const [off, vaddr, filesz] = m.slice(1).map((x) => BigInt('0x' + x));
		if (map.offset >= (off & ~0xfffn) && map.offset < off + filesz)
			return map.start - map.offset + off - vaddr;
	}
	throw new Error(`no LOAD segment of ${map.path} maps offset ${map.offset}`);
}

// V8's perf map: "start size name" in hex, one JIT code object a line.
function perfMap(pid) {
	const file = `/tmp/perf-${pid}.map`;
	if (!existsSync(file)) return [];
	return readFileSync(file, 'utf8').split('\n').map((l) => {
		const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/.exec(l);
		return m && { start: BigInt('0x' + m[1]), end: BigInt('0x' + m[1]) + BigInt('0x' + m[2]),
			name: m[3] };
	}).filter(Boolean).sort((a, b) => (a.start < b.start ? -1 : 1));
}

// Names every frame: the node binary's symbols, "JIT" (with the perf map's name when there
// is one) for anonymous executable memory, the file's base name for other objects.
function namer(pid, node) {
	const maps = execMaps(pid);
	const bias = loadBias(maps.find((m) => m.path === node.mapped), node.file);
	const jit = perfMap(pid);
	return (pc) => {
		const m = maps.find((x) => pc >= x.start && pc < x.end);
		if (!m || m.path === '') return 'JIT ' + (lookup(jit, pc) || '?');
		if (m.path === node.mapped) return lookup(node.syms, pc - bias) || 'node:?';
		return path.basename(m.path);
	};
}

// deleted: node runs from a copy that is deleted once it has started, which the unwinder
// must still open (through /proc/PID/map_files).
async function unwindCrypto(t, bin, flags, deleted = false) {
	if (process.getuid() !== 0) {
		t.skip('not root: ptrace and /proc/PID/map_files need root');
		return;
	}
	assert.ok(existsSync(stackcopy), `${stackcopy} is not built (run make integration)`);
	// file: what nm and readelf read; mapped: the name /proc/PID/maps shows for it.
	const node = { file: bin, mapped: realpathSync(bin), syms: nmFunctions(bin) };
	const fn = node.syms.find((s) => s.name === OPENSSL_FN);
	assert.ok(fn, `${OPENSSL_FN} not in nm of ${bin}`);
	// In a directory of its own: --perf-basic-prof also writes V8's isolate-*.log to the cwd.
	const cwd = mkdtempSync(path.join(os.tmpdir(), 'uvs-unwind-'));
	let exe = bin;
	if (deleted) {
		exe = path.join(cwd, 'node-copy');
		copyFileSync(bin, exe);
		chmodSync(exe, 0o755);
		node.mapped = `${exe} (deleted)`;
	}
	const child = new Child(exe, [...flags, path.join(fixtures, 'crypto_loop.js')], { cwd });
	try {
		await child.waitFor((v) => v && v.ready, 'crypto_loop.js ready');
		if (deleted) rmSync(exe);
		const bias = loadBias(execMaps(child.pid).find((m) => m.path === node.mapped), node.file);
		const out = execFileSync(stackcopy, [String(child.pid), (fn.start + bias).toString(16),
			(fn.end + bias).toString(16), String(SAMPLES), '100000', '2000']).toString();
		const lines = out.trim().split('\n').map((l) => JSON.parse(l));
		const samples = lines.filter((l) => l.frames);
		const name = namer(child.pid, node);
		assert.equal(samples.length, SAMPLES, `pc seen in ${OPENSSL_FN} ${samples.length} times`);

		let complete = 0, plain = 0, fpBroken = 0;
		for (const s of samples) {
			// A return address names its call instruction, the byte before it.
			const names = s.frames.map((f, i) => name(BigInt(f.pc) - (i ? 1n : 0n)));
			assert.equal(names[0], OPENSSL_FN);
			// The walk BPF does cannot get past frame 0 once %rbp is OpenSSL's table pointer
			// (in the prologue it still is the caller's frame pointer).
			fpBroken += s.fp_walk_frames <= 2;
			plain += s.plain_complete;
			if (!s.complete) continue;
			complete++;
			const at = (re, from) => names.findIndex((n, i) => i > from && re.test(n));
			const crypto = at(/^node::crypto::.*PBKDF2/, 0);
			// JS frames: JIT code, or V8's embedded builtins (unnamed in node 22's nm).
			const js = at(/^(JIT |Builtins_|node:\?$)/, crypto);
			const loop = at(/^uv_run$/, js);
			const start = at(/^node::Start\(/, loop);
			assert.ok(crypto > 0 && js > crypto && loop > js && start > loop,
				`chain out of order: ${names.join(' < ')}`);
			assert.equal(names.at(-1), '_start');
			if (flags.length) {
				const caller = at(/^JIT .*hashPasswordsInALoop/, crypto);
				assert.ok(caller > crypto && caller < loop,
					`hashPasswordsInALoop not between crypto and uv_run: ${names.join(' < ')}`);
			}
			if (complete === 1) {
				console.log(`node ${bin} ${flags.join(' ')}: one unwound stack (pc fp *(fp-16) name):`);
				s.frames.forEach((f, i) => console.log(`  ${String(i).padStart(2)} ${f.pc} ${f.fp} ` +
					`${f.m16} ${names[i].slice(0, 90)}`));
			}
		}
		const bench = lines.find((l) => l.bench);
		console.log(`${complete}/${samples.length} complete with the red zone, ` +
			`frame-pointer walk broken in ${fpBroken}/${samples.length}, ` +
			`${plain}/${samples.length} from %rsp only; ` +
			(bench ? `${bench.bench.unwinds_per_cpu_s} unwinds per CPU second ` +
				`(${bench.bench.unwinds_per_s}/s wall) of ${bench.bench.frames} frames, rows cached; ` +
				`${bench.bench.uncached_per_cpu_s} per CPU second uncached`
				: 'no bench'));
		assert.ok(fpBroken >= SAMPLES / 2,
			`the frame-pointer walk broke in only ${fpBroken} of ${SAMPLES} samples`);
		// Almost every sample: a pc where OpenSSL's CFA is in %rdi (10 bytes) cannot be.
		assert.ok(complete >= SAMPLES - 2, `only ${complete} of ${SAMPLES} complete`);
	} finally {
		await child.stop('SIGKILL');
		rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
		rmSync(cwd, { recursive: true, force: true });
	}
}

test('unwinds from OpenSSL assembly through JIT frames to _start', async (t) => {
	await unwindCrypto(t, nodeBin, []);
});

test('the JS caller of the crypto call is on the unwound stack (V8 perf map)', async (t) => {
	await unwindCrypto(t, nodeBin, ['--perf-basic-prof', '--interpreted-frames-native-stack']);
});

test('unwinds through a node binary deleted since it started (map_files)', async (t) => {
	await unwindCrypto(t, nodeBin, [], true);
});

for (const v of nodeVersions())
	test(`unwinds through OpenSSL on node ${v}`, async (t) => {
		const bin = fetchNodeOrSkip(t, v);
		if (bin) await unwindCrypto(t, bin, []);
	});
