// The native symbolizer (agent/symbols) on live node processes, through the uvs-symbolize tool
// (tests/tools/symbolize.c, built by `make integration`). The reference is binutils: an address
// `nm` gives for a symbol of node (non-PIE: its ELF address is its runtime address) or of libc
// (plus the base the target's maps show) must come back under that symbol's name, C++ names as
// `nm -C` demangles them; a JIT address must be named as the target's own perf map names it; a
// kernel address as /proc/kallsyms names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fetchNodeOrSkip, nodeBin, nodeVersions, root, until } from './lib.mjs';

const tool = path.join(root, '.output', 'tools', 'symbolize');

// A loop that says it is ready, and a hot function V8 compiles (and --perf-basic-prof logs).
const PROGRAM = `
function hotLoop(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i); return s; }
setInterval(() => hotLoop(1e5), 5);
console.log(JSON.stringify({ ready: true }));`;

function skipWithoutTool(t) {
	if (!existsSync(tool)) {
		const why = `${tool} is not built (run make integration)`;
		console.error(`SKIP ${t.name}: ${why}`);
		t.skip(why);
		return true;
	}
	return false;
}

// `nm` of bin as [{ addr, type, name }] (demangled with -C).
function nm(bin, args = []) {
	const out = execFileSync('nm', [...args, '--defined-only', bin], { maxBuffer: 1 << 28 });
	return out.toString().split('\n').map((l) => {
		const m = /^([0-9a-f]+) (\S) (.+)$/.exec(l);
		return m && { addr: BigInt('0x' + m[1]), type: m[2], name: m[3] };
	}).filter(Boolean);
}

// Runs the tool on pid for addresses (BigInt, or strings such as 'k...'), one result per address.
function symbolize(pid, addrs) {
	const args = [String(pid), ...addrs.map((a) => typeof a === 'bigint' ? a.toString(16) : a)];
	const out = execFileSync(tool, args).toString().trim().split('\n');
	assert.equal(out.length, addrs.length, out.join('\n'));
	return out.map((l) => {
		const [, kind, name, object, offset, elfAddr, flags] = l.split('\t');
		return { kind, name, object, offset: BigInt(offset), elfAddr: BigInt(elfAddr), flags };
	});
}

// The model of a perf map: the last line whose range holds addr.
function lastCovering(text, addr) {
	let found = { name: null, offset: null };
	for (const l of text.split('\n')) {
		const f = l.split(' ');
		if (f.length < 3) continue;
		const start = BigInt('0x' + f[0]), size = BigInt('0x' + f[1]);
		if (addr >= start && addr < start + size)
			found = { name: f.slice(2).join(' '), offset: addr - start };
	}
	return found;
}

// Names nm gives at addr: aliases share addresses, any of them is right.
const namesAt = (syms, addr) => syms.filter((s) => s.addr === addr).map((s) => s.name);

async function checkNode(t, bin) {
	const raw = nm(bin);
	const demangled = nm(bin, ['-C']);
	const uvRun = raw.find((s) => s.name === 'uv_run');
	assert.ok(uvRun, 'nm shows uv_run');
	// A C++ member function, and what binutils demangles it to.
	const gc = raw.find((s) => /^_ZN2v88internal4Heap24PerformGarbageCollection/.test(s.name) &&
		/[tT]/.test(s.type));
	assert.ok(gc, 'nm shows Heap::PerformGarbageCollection');
	const gcNames = namesAt(demangled, gc.addr);
	const builtin = raw.find((s) => s.name === 'Builtins_JSEntry');

	const child = new Child(bin, ['-e', PROGRAM]);
	try {
		await child.waitFor((v) => v && v.ready, `${bin} ready`);
		const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8').split('\n');
		const jit = maps.find((l) => / ..xp 00000000 00:00 0 +$/.test(l));
		const jitAddr = jit && BigInt('0x' + jit.split('-')[0]) + 0x10n;
		// V8 maps its embedded builtins a second time, near its code (node 20 and later):
		// the same file pages at another address, named by their file offset.
		const real = realpathSync(bin);
		const remap = maps.map((l) => l.trim().split(/\s+/))
			.find((f) => f[5] === real && f[1].includes('x') &&
				BigInt('0x' + f[0].split('-')[0]) > 0x100000000n);
		const addrs = [uvRun.addr, uvRun.addr + 7n, gc.addr + 1n];
		if (builtin) addrs.push(builtin.addr);
		if (jitAddr) addrs.push(jitAddr);
		let remapWant;
		if (remap) {
			// nm's address for that byte: through the PT_LOAD (readelf -l) holding its offset.
			const off = BigInt('0x' + remap[2]) + 0x1000n;
			const load = execFileSync('readelf', ['-lW', bin]).toString().split('\n')
				.map((l) => l.trim().split(/\s+/))
				.find((f) => f[0] === 'LOAD' && BigInt(f[1]) <= off &&
					off < BigInt(f[1]) + BigInt(f[4]));
			const vaddr = off - BigInt(load[1]) + BigInt(load[2]);
			const fns = raw.filter((x) => /[tTwW]/.test(x.type) && x.addr <= vaddr);
			const at = fns.reduce((m, x) => (x.addr > m ? x.addr : m), 0n);
			remapWant = { vaddr, names: namesAt(raw, at).filter((n) => n.startsWith('Builtins_')) };
			addrs.push(BigInt('0x' + remap[0].split('-')[0]) + 0x1000n);
		}
		const got = symbolize(child.pid, addrs);
		t.diagnostic(`${bin}: ${JSON.stringify(got.map((g) => g.name))}` +
			(remap ? `, builtins remapped at ${remap[0]}` : ', no remapped builtins'));

		assert.equal(got[0].kind, 'object');
		assert.equal(got[0].name, 'uv_run');
		assert.equal(got[0].offset, 0n);
		assert.equal(got[0].elfAddr, uvRun.addr);
		assert.equal(got[1].name, 'uv_run');
		assert.equal(got[1].offset, 7n);
		assert.ok(got[0].object.endsWith('/node'), got[0].object);
		assert.ok(gcNames.includes(got[2].name),
			`C++: got "${got[2].name}", nm -C says ${JSON.stringify(gcNames)}`);
		assert.match(got[2].name, /^v8::internal::Heap::PerformGarbageCollection\(/);
		assert.equal(got[2].offset, 1n);
		let i = 3;
		if (builtin) {
			assert.equal(got[i].name, 'Builtins_JSEntry');
			assert.match(got[i].flags, /builtin/);
			i++;
		}
		if (jitAddr) assert.equal(got[i++].kind, 'jit', `${jit} is JIT code`);
		if (remap) {
			assert.equal(got[i].elfAddr, remapWant.vaddr, remap.join(' '));
			assert.ok(remapWant.names.includes(got[i].name),
				`remapped builtins: got ${got[i].name}, nm says ${remapWant.names}`);
			assert.match(got[i].flags, /builtin/);
		}
	} finally {
		await child.stop();
	}
}

test(`native symbols of ${nodeBin}`, async (t) => {
	if (skipWithoutTool(t)) return;
	await checkNode(t, nodeBin);
});

for (const version of nodeVersions('18 22')) {
	test(`native symbols of node ${version}`, async (t) => {
		if (skipWithoutTool(t)) return;
		const bin = fetchNodeOrSkip(t, version);
		if (bin) await checkNode(t, bin);
	});
}

test('libc functions of a live node by their runtime address', async (t) => {
	if (skipWithoutTool(t)) return;
	const child = new Child(nodeBin, ['-e', PROGRAM]);
	try {
		await child.waitFor((v) => v && v.ready, 'node ready');
		const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8').split('\n');
		const first = maps.find((l) => /\/libc\.so\.6$/.test(l) && / 00000000 /.test(l));
		assert.ok(first, 'libc is mapped');
		const libc = first.trim().split(/\s+/).pop();
		const base = BigInt('0x' + first.split('-')[0]);
		const dyn = nm(libc, ['-D']);
		const fn = dyn.find((s) => s.name.startsWith('getpid') && /[tTwWi]/.test(s.type));
		assert.ok(fn, 'nm -D shows getpid');
		const [got] = symbolize(child.pid, [base + fn.addr + 2n]);
		const names = namesAt(dyn, fn.addr).map((n) => n.replace(/@.*/, ''));
		assert.equal(got.kind, 'object');
		assert.ok(names.includes(got.name), `got ${got.name}, nm -D says ${names}`);
		assert.equal(got.offset, 2n);
		assert.equal(got.object, libc);
	} finally {
		await child.stop();
	}
});

test('JIT code named by the perf map of node --perf-basic-prof', async (t) => {
	if (skipWithoutTool(t)) return;
	// V8 also writes an isolate-*.log into its working directory with this flag: a scratch one.
	const cwd = mkdtempSync(path.join(os.tmpdir(), 'uvs-perf-map-'));
	const child = new Child(nodeBin, ['--perf-basic-prof', '-e', PROGRAM], { cwd });
	const mapFile = `/tmp/perf-${child.pid}.map`;
	try {
		await child.waitFor((v) => v && v.ready, 'node ready');
		// The target's own file is the reference: wait until V8 has logged hotLoop's code.
		let line;
		await until(() => {
			const text = existsSync(mapFile) ? readFileSync(mapFile, 'utf8') : '';
			// Compiled code only (^ Sparkplug, + Maglev, * TurboFan): V8 also lists
			// interpreted functions (~), at their bytecode in the heap, where no pc can be.
			line = text.split('\n').filter((l) => / JS:[\^+*]hotLoop /.test(l)).pop();
			return line;
		}, 'compiled hotLoop in the perf map');
		const [start, size] = line.split(' ').slice(0, 2).map((x) => BigInt('0x' + x));
		const addr = start + size / 2n;
		const before = lastCovering(readFileSync(mapFile, 'utf8'), addr);
		const [got] = symbolize(child.pid, [addr]);
		// The file grows meanwhile: the answer is the last line covering addr, before or after.
		const after = lastCovering(readFileSync(mapFile, 'utf8'), addr);
		assert.equal(got.kind, 'jit');
		assert.match(got.flags, /perf-map/);
		assert.ok([before, after].some((w) => w.name === got.name && w.offset === got.offset),
			`got ${got.name}+${got.offset}, the file says ${JSON.stringify([before, after],
				(k, v) => typeof v === 'bigint' ? String(v) : v)}`);
		assert.match(got.name, /^JS:[\^+*]hotLoop /);
	} finally {
		await child.stop();
		if (existsSync(mapFile)) unlinkSync(mapFile);
		rmSync(cwd, { recursive: true, force: true });
	}
});

test('kernel addresses by /proc/kallsyms', (t) => {
	if (skipWithoutTool(t)) return;
	const sched = readFileSync('/proc/kallsyms', 'utf8').split('\n')
		.map((l) => l.split(' ')).find((f) => f[2] === 'schedule' && /[tT]/.test(f[1]));
	if (!sched || /^0+$/.test(sched[0])) {
		t.skip('kernel addresses are hidden here (kptr_restrict)');
		return;
	}
	const [got] = symbolize(process.pid, ['k' + (BigInt('0x' + sched[0]) + 4n).toString(16)]);
	assert.equal(got.kind, 'kernel');
	assert.equal(got.name, 'schedule');
	assert.equal(got.offset, 4n);
});
