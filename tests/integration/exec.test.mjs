// A watched process that execs keeps its pid, but nothing uvscope read of it (libuv's
// addresses, symbols, V8's layout, the probes' offsets) fits the new program, and memory read
// by pid is the new program's: uvscope must say so and let it go, and the new program must run
// on untouched. The fixture execs the same node binary (the case where probes placed on that
// binary's file could still fire) into a script that answers on stdin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Child, fetchNodeOrSkip, fixtures, skipWithoutBpf, uvscope } from './lib.mjs';

async function execWhileWatched(t, bin, extra) {
	const child = new Child(bin, [path.join(fixtures, 'execve.js')]);
	try {
		const ready = await child.waitFor((v) => v && v.ready, 'execve.js ready');
		if (!ready.execve) {
			t.skip(`node ${bin} has no process.execve`);
			return;
		}
		const agent = new Child(uvscope, ['watch', '-p', String(child.pid), '--json',
			'-i', '200ms', ...extra]);
		const hello = await agent.waitFor((v) => v && v.type === 'attach', 'uvscope attach');
		t.diagnostic(`collector ${hello.collector}`);
		await agent.waitFor((v) => v && v.type === 'interval', 'a first interval');
		child.send('exec');
		await child.waitFor((v) => v && v.reborn === child.pid, 'the exec, same pid');
		// Without the exec check uvscope would watch on: wait with a deadline, not for ever.
		try {
			await agent.until(() => agent.exited, 'uvscope to let the exec\'d target go');
		} finally {
			await agent.stop();
		}
		const { code } = agent.exited;
		const err = agent.errLines.join('\n');
		assert.equal(code, 0, err);
		assert.match(err, new RegExp(`pid ${child.pid} exec'd another program \\(.*node\\): ` +
			'what uvscope read of it names nothing in the new one; detached'));
		// The new program runs on, and nothing of uvscope's is left in it.
		child.send('ping');
		await child.waitFor((v) => v && v.pong === 1, 'the new program answers');
		const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
		assert.match(status, /^TracerPid:\s+0$/m);
	} finally {
		await child.stop();
	}
}

test('BPF backend: a target that execs is said and let go; the new program runs on', async (t) => {
	if (skipWithoutBpf(t)) return;
	const bin = fetchNodeOrSkip(t, '24');
	if (bin) await execWhileWatched(t, bin, []);
});

test('proc backend: a target that execs is said and let go; the new program runs on', async (t) => {
	if (process.getuid() !== 0) return t.skip('not root');
	const bin = fetchNodeOrSkip(t, '24');
	if (bin) await execWhileWatched(t, bin, ['--backend', 'proc']);
});
