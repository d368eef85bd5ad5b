// A target in a PID namespace of its own, and one in a container's cgroup: uvscope is given the
// host pid and reports the pid the process has inside its namespace (the fixture prints its own
// process.pid there: the ground truth) and the container id from its cgroup path, and measures
// it as any other (a blocked-loop episode the fixture makes, on the thread of the host pid).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Child, childrenOf, fixtures, nodeBin, skipWithoutBpf, startAgent, startFixture, until,
	uvscope } from './lib.mjs';

// One blocked episode made by block.js after "go", alerted on the main thread (host tid).
async function oneBlock(child, agent, hostPid) {
	child.send('go');
	await child.waitFor((v) => v && v.done, 'fixture done');
	const end = await agent.waitFor((v) => v && v.type === 'alert' && v.kind === 'loop_blocked' &&
		!v.ongoing, 'the block\'s final alert');
	assert.equal(end.tid, hostPid);
	assert.equal(end.role, 'main');
}

function canUnsharePid() {
	try {
		execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true'],
			{ stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
}

for (const how of ['-p', '--all'])
test(`a target in its own PID namespace (${how}): both pids, and measured by the host one`,
	async (t) => {
	if (skipWithoutBpf(t)) return;
	if (!canUnsharePid()) {
		t.skip('SKIP: unshare --pid --fork --mount-proc is refused here');
		return;
	}
	// --kill-child: node is the namespace's init, which ignores SIGTERM; when the test stops
	// unshare, the kernel sends node SIGKILL.
	// A tag on its command line, for --all --match.
	const tag = `uvscope-ns-${process.pid}-${Date.now()}`;
	const child = new Child('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', nodeBin,
		path.join(fixtures, 'block.js'), tag], { env: { ...process.env, COUNT: '1' } });
	let agent;
	try {
		const ready = await child.waitFor((v) => v && v.ready, 'block.js ready');
		await until(() => childrenOf(child.pid).length === 1, 'node, the child of unshare');
		const [hostPid] = childrenOf(child.pid);
		assert.notEqual(ready.pid, hostPid, 'the fixture sees another pid than the host');
		let hello;
		if (how === '-p') {
			({ agent, hello } = await startAgent(hostPid, ['--block-ms', '100']));
		} else {
			// unshare's own command line holds the tag too, but unshare is not node.
			agent = new Child(uvscope, ['watch', '--all', '--match', tag, '--json', '--block-ms',
				'100']);
			hello = await agent.waitFor((v) => v && v.type === 'attach', '--all attaches it');
			assert.equal(agent.json().filter((v) => v.type === 'attach').length, 1,
				'only node is taken, not unshare');
		}
		assert.equal(hello.pid, hostPid);
		assert.equal(hello.ns_pid, ready.pid);
		await oneBlock(child, agent, hostPid);
	} finally {
		if (agent) await agent.stop();
		// unshare blocks SIGTERM while it waits for its child: SIGKILL it, and --kill-child
		// takes node with it.
		await child.stop('SIGKILL');
	}
});

// A cgroup v1 hierarchy laid out as docker's (pids:/docker/<64 hex digits>), made for the test.
const CGROUP_ROOT = '/sys/fs/cgroup/pids';
const CONTAINER_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

test('a target in a container\'s cgroup: the container id in the attach line', async (t) => {
	if (skipWithoutBpf(t)) return;
	const dir = path.join(CGROUP_ROOT, 'docker', CONTAINER_ID);
	try {
		mkdirSync(dir, { recursive: true });
	} catch (e) {
		t.skip(`SKIP: cannot make a cgroup under ${CGROUP_ROOT}: ${e.message}`);
		return;
	}
	const { child } = await startFixture('block.js', [], { COUNT: '1' });
	let agent;
	try {
		writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
		assert.ok(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').includes(CONTAINER_ID));
		let hello;
		({ agent, hello } = await startAgent(child.pid, ['--block-ms', '100']));
		assert.equal(hello.container, CONTAINER_ID.slice(0, 12));
		assert.equal(hello.ns_pid, null, 'not in a PID namespace of its own');
		await oneBlock(child, agent, child.pid);
	} finally {
		if (agent) await agent.stop();
		await child.stop();
		// The cgroup can go once its process has.
		await until(() => !existsSync(path.join(dir, 'cgroup.procs')) ||
			readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim() === '', 'the cgroup empty');
		rmdirSync(dir);
		try { rmdirSync(path.dirname(dir)); } catch { /* another test's, or not empty */ }
	}
});
