// The attach line's node_version against what the target's own binary says (`NODE --version`),
// for this node and the official builds of UVSCOPE_NODE_VERSIONS (here by default 18, 22 and 24:
// fetching a build and reading its version is quick).
// agent/target/node_version.c reads it from the binary when the target is opened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Child, fetchNodeOrSkip, nodeBin, nodeVersions, skipWithoutBpf, startAgent } from './lib.mjs';

// An idle loop that says when it runs, so that we attach to a started node.
const IDLE = 'setInterval(() => {}, 1000); console.log(JSON.stringify({ ready: true }));';

async function checkVersion(t, bin) {
	const want = execFileSync(bin, ['--version']).toString().trim();
	const child = new Child(bin, ['-e', IDLE]);
	try {
		await child.waitFor((v) => v && v.ready, `${bin} ready`);
		const { agent, hello } = await startAgent(child.pid);
		await agent.stop();
		t.diagnostic(`${bin}: --version ${want}, ` +
			`attach line ${JSON.stringify(hello.node_version)}`);
		assert.equal(hello.node_version, want);
	} finally {
		await child.stop();
	}
}

test(`node_version of ${nodeBin}`, async (t) => {
	if (skipWithoutBpf(t)) return;
	await checkVersion(t, nodeBin);
});

for (const version of nodeVersions('18 22 24')) {
	test(`node_version of node ${version}`, async (t) => {
		if (skipWithoutBpf(t)) return;
		const bin = fetchNodeOrSkip(t, version);
		if (bin) await checkVersion(t, bin);
	});
}
