// The attach line's node_version against what the target's own binary says (`NODE --version`),
// for this node and the official builds of UVSCOPE_NODE_VERSIONS (default "18 22").
//
// Wired by the session: agent/target/node_version.c reads the version from the binary, but until
// the session code puts uvs_node_version_read()'s result into the attach line, node_version is
// null there and these tests fail. Nothing else in them waits for that.
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

for (const version of nodeVersions()) {
	test(`node_version of node ${version}`, async (t) => {
		if (skipWithoutBpf(t)) return;
		const bin = fetchNodeOrSkip(t, version);
		if (bin) await checkVersion(t, bin);
	});
}
