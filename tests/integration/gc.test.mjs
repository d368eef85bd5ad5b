// V8 garbage collections per loop: a fixture run with --expose-gc calls gc() an exact number of
// times on the main thread, then on its Worker, then allocates short-lived garbage; uvscope
// must count exactly those full collections on exactly those loops, and minor ones apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, fetchNodeOrSkip, fixtures, intervalsAfter, nodeBin, nodeVersions,
	skipWithoutBpf, startAgent } from './lib.mjs';

const MAIN_GCS = 7;
const WORKER_GCS = 5;
const ALLOCS = 3000000; // ~100 MB of objects that die young: several scavenges

// The sums of loops[].gc per role over the intervals seen so far.
function gcSums(agent) {
	const sums = { main: { count: 0, major: 0, total_ns: 0 },
		worker: { count: 0, major: 0, total_ns: 0 } };
	for (const iv of agent.json().filter((v) => v.type === 'interval')) {
		for (const l of iv.loops) {
			if (!sums[l.role]) continue;
			assert.notEqual(l.gc, null, `loops[].gc of ${l.role} is measured`);
			assert.ok(l.gc.major <= l.gc.count && l.gc.max_ns <= l.gc.total_ns,
				JSON.stringify(l.gc));
			for (const k of ['count', 'major', 'total_ns']) sums[l.role][k] += l.gc[k];
		}
	}
	return sums;
}

function diff(a, b) {
	const d = {};
	for (const role of Object.keys(a))
		d[role] = { count: a[role].count - b[role].count, major: a[role].major - b[role].major };
	return d;
}

// The main thread's collections as Node's perf_hooks counted them (the fixture's "counts").
async function nodeCounts(child) {
	const n = child.json().filter((v) => v.counts).length;
	child.send('counts');
	await child.waitFor(() => child.json().filter((v) => v.counts).length > n, 'counts');
	const c = child.json().filter((v) => v.counts).at(-1).counts;
	return { count: c.major + c.minor + c.other, major: c.major };
}

// One phase: send the command, wait for the fixture to finish it and for two more intervals
// (the window running at the end may have begun before), and return what it added, as uvscope
// saw it per loop and as Node saw it on the main thread.
async function phase(child, agent, cmd) {
	const before = gcSums(agent), nodeBefore = await nodeCounts(child);
	const [what] = cmd.split(' ');
	const seen = child.json().filter((v) => v.done === what).length;
	child.send(cmd);
	await child.waitFor(() => child.json().filter((v) => v.done === what).length > seen,
		`${cmd} done`);
	await intervalsAfter(agent);
	const nodeAfter = await nodeCounts(child);
	return { ...diff(gcSums(agent), before), node: { count: nodeAfter.count - nodeBefore.count,
		major: nodeAfter.major - nodeBefore.major } };
}

async function checkGc(t, bin) {
	const child = new Child(bin, ['--expose-gc', path.join(fixtures, 'gc.js')]);
	await child.waitFor((v) => v && v.ready, 'gc.js ready');
	const { agent, hello } = await startAgent(child.pid, ['--interval', '200ms']);
	try {
		assert.deepEqual(hello.unavailable, [], 'the collector is found and probed');
		await intervalsAfter(agent); // the worker's loop is seen and placed
		const main = await phase(child, agent, `main ${MAIN_GCS}`);
		t.diagnostic(`gc() x${MAIN_GCS} on main: ${JSON.stringify(main)}`);
		assert.equal(main.main.major, MAIN_GCS, 'every gc() is one major collection');
		assert.deepEqual(main.main, main.node, "as Node's perf_hooks counted them");
		assert.equal(main.worker.count, 0, 'none on the worker');

		const worker = await phase(child, agent, `worker ${WORKER_GCS}`);
		t.diagnostic(`gc() x${WORKER_GCS} on the worker: ${JSON.stringify(worker)}`);
		assert.equal(worker.worker.major, WORKER_GCS, "counted on the worker's loop");
		assert.equal(worker.main.major, 0, 'not on main');
		assert.deepEqual(worker.main, worker.node, "main: as Node's perf_hooks counted");

		const alloc = await phase(child, agent, `alloc ${ALLOCS}`);
		t.diagnostic(`${ALLOCS} short-lived objects on main: ${JSON.stringify(alloc)}`);
		assert.ok(alloc.main.count > 0, 'allocation makes minor collections');
		assert.equal(alloc.main.major, 0, 'garbage that dies young needs no major one');
		assert.deepEqual(alloc.main, alloc.node, "as Node's perf_hooks counted them");

		const sums = gcSums(agent);
		await agent.stop();
		const summary = agent.json().find((v) => v.type === 'summary');
		assert.ok(summary, 'a summary line');
		const sm = summary.loops.find((l) => l.role === 'main');
		assert.equal(sm.gc.major, sums.main.major, 'the summary adds up the intervals (main)');
		assert.equal(sm.gc.count, sums.main.count);
		assert.equal(sm.gc.total_ns, sums.main.total_ns);
		assert.equal(summary.agent.gc_records_dropped, 0);
		assert.equal(summary.agent.gc_threads_lost, 0);
	} finally {
		await agent.stop();
		await child.stop();
	}
}

test(`node ${process.version}: forced, worker and minor collections`, async (t) => {
	if (skipWithoutBpf(t)) return;
	await checkGc(t, nodeBin);
});

for (const version of nodeVersions('18 22 24')) {
	test(`node ${version}: forced, worker and minor collections`, async (t) => {
		if (skipWithoutBpf(t)) return;
		const bin = fetchNodeOrSkip(t, version);
		if (bin) await checkGc(t, bin);
	});
}

test('--no-gc: no probe on the collector, loops[].gc is null', async (t) => {
	if (skipWithoutBpf(t)) return;
	const child = new Child(nodeBin, ['--expose-gc', path.join(fixtures, 'gc.js')]);
	await child.waitFor((v) => v && v.ready, 'gc.js ready');
	const { agent, hello } = await startAgent(child.pid, ['--interval', '200ms', '--no-gc']);
	try {
		assert.deepEqual(hello.unavailable, []);
		child.send('main 1'); // wakes the loop: an idle one is not listed until it waits again
		await child.waitFor((v) => v && v.done === 'main', 'main 1 done');
		const iv = await intervalsAfter(agent);
		assert.ok(iv.loops.length > 0);
		for (const l of iv.loops) assert.equal(l.gc, null);
	} finally {
		await agent.stop();
		await child.stop();
	}
});

// strip(1) keeps .dynsym: Node 18 to 22 export the collector there and are still measured;
// Node 24 has it in .symtab only, and the attach line says in one sentence why GC is missing.
async function strippedCase(t, bin, expectFound) {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-gc-stripped-'));
	const stripped = path.join(dir, 'node');
	try {
		execFileSync('strip', ['-o', stripped, bin]);
		const child = new Child(stripped, ['--expose-gc', path.join(fixtures, 'gc.js')]);
		await child.waitFor((v) => v && v.ready, 'gc.js ready');
		const { agent, hello } = await startAgent(child.pid, ['--interval', '200ms']);
		try {
			const why = hello.unavailable.filter((u) => u.startsWith('garbage collections'));
			t.diagnostic(JSON.stringify(why));
			if (!expectFound) {
				assert.equal(why.length, 1);
				assert.match(why[0], /no symbol v8::internal::Heap::PerformGarbageCollection/);
				return;
			}
			assert.deepEqual(why, []);
			const got = await phase(child, agent, 'main 3');
			assert.equal(got.main.major, 3);
		} finally {
			await agent.stop();
			await child.stop();
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

test(`a stripped node ${process.version}: the collector is found in .dynsym`, async (t) => {
	if (skipWithoutBpf(t)) return;
	await strippedCase(t, nodeBin, true);
});

test('a stripped node 24: no collector symbol, said in unavailable', async (t) => {
	if (skipWithoutBpf(t)) return;
	const bin = fetchNodeOrSkip(t, '24');
	if (bin) await strippedCase(t, bin, false);
});
