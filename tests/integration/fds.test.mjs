// File descriptors against /proc/PID/fd read by the test itself, and the fd alerts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { intervalsAfter, skipWithoutBpf, startFixture, startAgent } from './lib.mjs';

// The reference: the same classification, done here from /proc.
function procFds(pid) {
	const counts = { file: 0, socket: 0, pipe: 0, anon: 0, other: 0 };
	for (const fd of readdirSync(`/proc/${pid}/fd`)) {
		let link, st;
		try {
			link = readlinkSync(`/proc/${pid}/fd/${fd}`);
			st = link.startsWith('anon_inode:') ? null : statSync(`/proc/${pid}/fd/${fd}`);
		} catch {
			continue;
		}
		if (!st) counts.anon++;
		else if (st.isSocket()) counts.socket++;
		else if (st.isFIFO()) counts.pipe++;
		else if (st.isFile() || st.isDirectory() || st.isCharacterDevice() ||
			st.isBlockDevice()) counts.file++;
		else counts.other++;
	}
	return counts;
}

// Twice: with --syscalls, counts kept current from the syscalls (no rescan within the test:
// --fd-rescan 1h), and by default, a /proc scan each interval.
for (const [how, flags, source] of [
	['kept from the syscalls', ['--syscalls', '--fd-rescan', '1h'], 'syscalls'],
	['scanned from /proc (the default)', [], 'proc'],
]) {
	test(`fd counts by type equal /proc/PID/fd after opening and closing half: ${how}`,
		async (t) => {
			if (skipWithoutBpf(t)) return;
			const { child } = await startFixture('fds.js');
			const { agent } = await startAgent(child.pid, ['--interval', '200ms', ...flags]);
			try {
				const base = procFds(child.pid);
				for (const [cmd, reply, delta] of [
					['open', 'opened', { file: 300, socket: 100, pipe: 20 }],
					['closehalf', 'closed', { file: 150, socket: 50, pipe: 10 }],
				]) {
					child.send(cmd);
					await child.waitFor((v) => v && v[reply], reply);
					const iv = await intervalsAfter(agent);
					const ref = procFds(child.pid);
					t.diagnostic(`${cmd}: uvscope ${JSON.stringify(iv.fds.by_type)} ` +
						`(${iv.fds.source}), /proc ${JSON.stringify(ref)}`);
					assert.equal(iv.fds.source, source);
					assert.deepEqual(iv.fds.by_type, ref);
					for (const k of Object.keys(delta))
						assert.equal(ref[k] - base[k], delta[k], `${cmd}: ${k} per the fixture`);
					assert.equal(iv.fds.open, Object.values(ref).reduce((a, b) => a + b, 0));
				}
			} finally {
				await agent.stop();
				await child.stop();
			}
		});
}

test('a leak trips fd_growth; a lowered RLIMIT_NOFILE trips fd_limit', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('fds.js');
	try {
		const open = Object.values(procFds(child.pid)).reduce((a, b) => a + b, 0);
		// A limit the leak will cross 80% of within a few seconds.
		const limit = open + 40;
		execFileSync('prlimit', ['--pid', String(child.pid), `--nofile=${limit}:${limit}`]);
		// fd_growth after 1 s of growth (5 intervals): the leak reaches the limit in 4 s.
		const rules = path.join(mkdtempSync(path.join(os.tmpdir(), 'uvscope-fds-')), 'r.ini');
		writeFileSync(rules, '[fd_growth]\nfor = 1s\n');
		const { agent } = await startAgent(child.pid, ['--interval', '200ms', '--rules', rules]);
		try {
			child.send('leak');
			const growth = await agent.waitFor((v) => v && v.kind === 'fd_growth', 'fd_growth');
			assert.equal(growth.limit, limit);
			assert.equal(growth.state, 'firing');
			assert.ok(growth.windows >= 5, `${growth.windows} windows of growth`);
			const near = await agent.waitFor((v) => v && v.kind === 'fd_limit', 'fd_limit');
			t.diagnostic(`fd_limit at ${near.open} of ${near.limit}`);
			assert.ok(near.open * 5 >= limit * 4 && near.open < limit);
		} finally {
			await agent.stop();
		}
	} finally {
		await child.stop();
	}
});

test('an fd the syscalls cannot follow (received over IPC) is found by a rescan', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('fds.js');
	const { agent } = await startAgent(child.pid, ['--interval', '200ms', '--syscalls', '--fd-rescan', '1h']);
	try {
		let iv = await intervalsAfter(agent);
		assert.equal(iv.fds.source, 'syscalls');
		const seen = agent.json().length;
		child.send('receive');
		await child.waitFor((v) => v && v.received, 'received');
		iv = await intervalsAfter(agent);
		const ref = procFds(child.pid);
		const rescans = agent.json().slice(seen).filter((v) => v.type === 'interval' &&
			v.fds.source === 'proc');
		t.diagnostic(`uvscope ${JSON.stringify(iv.fds.by_type)} (${iv.fds.source}), /proc ` +
			`${JSON.stringify(ref)}; ${rescans.length} rescans`);
		assert.ok(rescans.length >= 1, 'a recvmsg that may carry fds makes uvscope rescan');
		assert.deepEqual(iv.fds.by_type, ref);
	} finally {
		await agent.stop();
		await child.stop();
	}
});

test('a periodic rescan agrees with the counts kept from the syscalls (drift 0)', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('fds.js');
	const { agent } = await startAgent(child.pid, ['--interval', '100ms', '--syscalls', '--fd-rescan', '300ms']);
	try {
		child.send('open');
		await child.waitFor((v) => v && v.opened, 'opened');
		child.send('closehalf');
		await child.waitFor((v) => v && v.closed, 'closed');
		// The fixture is idle now: every rescan from here on must find what was counted.
		const seen = agent.json().length;
		const rescans = () => agent.json().slice(seen).filter((v) => v.type === 'interval' &&
			v.fds.drift !== null);
		await agent.waitFor(() => rescans().length >= 3, 'three rescans');
		t.diagnostic(`drifts ${rescans().map((v) => v.fds.drift).join(' ')}`);
		for (const v of rescans()) assert.equal(v.fds.drift, 0);
	} finally {
		await agent.stop();
		await child.stop();
	}
});
