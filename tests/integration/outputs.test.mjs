// Several outputs at once: the view the command draws on stdout and JSON lines in a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runUvscope, skipWithoutBpf, startFixture, until } from './lib.mjs';

test('top draws while --json-file records the same session as JSON lines', async (t) => {
	if (skipWithoutBpf(t)) return;
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-out-'));
	const file = path.join(dir, 'session.jsonl');
	const { child } = await startFixture('block.js', [], { BLOCK_MS: '250', COUNT: '1' });
	try {
		const run = runUvscope(['top', '-p', String(child.pid), '-i', '200ms', '-d', '2500ms',
			'--json-file', file]);
		// The block (400 ms after "go", 250 ms long) only once uvscope is attached: its attach
		// line is in the file.
		await until(() => existsSync(file) && readFileSync(file, 'utf8').includes('"attach"'),
			'the attach line in the file');
		child.send('go');
		const r = await run;
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, new RegExp(`uvscope  pid ${child.pid} `), 'the top frame');
		const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
		const types = lines.map((v) => v.type);
		t.diagnostic(`stdout ${r.stdout.length} bytes; file: ${types.join(' ')}`);
		assert.equal(types[0], 'attach');
		assert.equal(lines[0].pid, child.pid);
		assert.equal(types.at(-1), 'summary');
		assert.ok(types.filter((x) => x === 'interval').length >= 5);
		// The block the fixture made is in both: alerted in the file, named on the screen.
		assert.ok(lines.some((v) => v.type === 'alert' && v.kind === 'loop_blocked'));
		assert.match(r.stdout, /main\/\d+ (was blocked|blocked) for/);
		assert.equal(statSync(file).mode & 0o777, 0o600, 'the file is the operator\'s alone');
	} finally {
		await child.stop();
		rmSync(dir, { recursive: true, force: true });
	}
});

// An attach that fails (pid 2, kthreadd, has no executable) leaves every output path as it was:
// a file it would have made is not there (an empty trace or profile is not valid), and an
// earlier one of the same name is not truncated. A build that opened with O_TRUNC left both empty.
test('an attach that fails leaves -o and --json-file paths as they were', async () => {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-out-'));
	try {
		const runs = [['trace', '-o', 'timeline.json'], ['flame', '-o', 'profile.svg'],
			['watch', '--json-file', 'session.jsonl']];
		for (const earlier of [false, true]) {
			for (const [cmd, opt, name] of runs) {
				const file = path.join(dir, name);
				rmSync(file, { force: true });
				if (earlier) writeFileSync(file, 'an earlier session\n');
				const r = await runUvscope([cmd, '-p', '2', '-d', '1s', opt, file]);
				assert.equal(r.code, 1, r.stderr);
				assert.match(r.stderr, /pid 2/);
				if (earlier)
					assert.equal(readFileSync(file, 'utf8'), 'an earlier session\n', `${cmd}: kept`);
				else
					assert.equal(existsSync(file), false, `${cmd}: ${file} not made`);
			}
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test('a --json-file that cannot be created: said, exit 1, nothing attached', async (t) => {
	if (skipWithoutBpf(t)) return;
	const { child } = await startFixture('elu.js');
	try {
		const r = await runUvscope(['watch', '-p', String(child.pid), '-d', '300ms',
			'--json-file', '/nonexistent-dir/x.jsonl']);
		assert.equal(r.code, 1);
		assert.match(r.stderr, /^uvscope: cannot open --json-file \/nonexistent-dir\/x\.jsonl: No such file or directory$/m);
	} finally {
		await child.stop();
	}
});
