// The SVG flame graph in a real browser: Debian's chromium, headless, driven over the DevTools
// protocol on a pipe (--remote-debugging-pipe: no port, no extra package). The SVG comes from
// .output/flame-sample (tests/flame/flame_sample.c: busyLoop has 600 of 1000 samples). Needs
// no root and no target; skips loudly without chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root } from './lib.mjs';

const sampleBin = path.join(root, '.output', 'flame-sample');

function findChromium() {
	for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
		try {
			return execFileSync('sh', ['-c', `command -v ${name}`]).toString().trim();
		} catch { /* next */ }
	}
	return null;
}

// A DevTools client over chromium's pipe: messages are JSON, each ended by a NUL byte.
class Browser {
	constructor(bin, profileDir) {
		this.proc = spawn(bin, ['--headless', '--no-sandbox', '--disable-gpu',
			'--remote-debugging-pipe', `--user-data-dir=${profileDir}`, 'about:blank'],
		{ stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
		this.nextId = 1;
		this.pending = new Map();
		this.listeners = [];
		this.exceptions = [];
		this.stderr = '';
		this.proc.stderr.on('data', (d) => { this.stderr += d; });
		let buf = Buffer.alloc(0);
		this.proc.stdio[4].on('data', (chunk) => {
			buf = Buffer.concat([buf, chunk]);
			let i;
			while ((i = buf.indexOf(0)) >= 0) {
				this._message(JSON.parse(buf.subarray(0, i).toString('utf8')));
				buf = buf.subarray(i + 1);
			}
		});
		this.exited = new Promise((resolve) => this.proc.on('close', resolve));
	}

	_message(m) {
		if (m.id && this.pending.has(m.id)) {
			const { resolve, reject } = this.pending.get(m.id);
			this.pending.delete(m.id);
			if (m.error) reject(new Error(JSON.stringify(m.error)));
			else resolve(m.result);
			return;
		}
		if (m.method === 'Runtime.exceptionThrown')
			this.exceptions.push(m.params.exceptionDetails);
		for (const l of this.listeners.splice(0)) if (!l(m)) this.listeners.push(l);
	}

	send(method, params = {}, sessionId) {
		const id = this.nextId++;
		this.proc.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + '\0');
		return this.deadline(new Promise((resolve, reject) =>
			this.pending.set(id, { resolve, reject })), method);
	}

	// Resolves with the first event for which pred is true.
	event(pred, what) {
		return this.deadline(new Promise((resolve) =>
			this.listeners.push((m) => (pred(m) ? (resolve(m), true) : false))), what);
	}

	deadline(promise, what, ms = 30000) {
		let timer;
		const limit = new Promise((resolve, reject) => {
			timer = setTimeout(() => reject(new Error(`${what}: no answer from chromium in ` +
				`${ms} ms; stderr: ${this.stderr.slice(-500)}`)), ms);
		});
		return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
	}

	async close() {
		this.proc.kill('SIGTERM');
		await this.exited;
	}
}

test('the SVG flame graph works in chromium: hover, zoom, reset, search', async (t) => {
	const chromium = findChromium();
	if (!chromium) {
		const why = 'no chromium on PATH (apt-get install chromium): the SVG is not checked in a browser';
		console.error(`SKIP ${t.name}: ${why}`);
		t.skip(why);
		return;
	}
	assert.ok(existsSync(sampleBin), `${sampleBin} is not built (make .output/flame-sample)`);
	const dir = mkdtempSync(path.join(os.tmpdir(), 'uvscope-flame-'));
	execFileSync(sampleBin, [dir]);
	const browser = new Browser(chromium, path.join(dir, 'profile'));
	try {
		const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank' });
		const { sessionId } = await browser.send('Target.attachToTarget',
			{ targetId, flatten: true });
		const page = (method, params) => browser.send(method, params, sessionId);
		await page('Runtime.enable');
		await page('Page.enable');
		const loaded = browser.event((m) => m.method === 'Page.loadEventFired' &&
			m.sessionId === sessionId, 'the SVG load event');
		await page('Page.navigate', { url: `file://${dir}/sample.svg` });
		await loaded;
		const run = async (expr) => {
			const r = await page('Runtime.evaluate', { expression: expr, returnByValue: true });
			assert.equal(r.exceptionDetails, undefined, `${expr}: ${JSON.stringify(r.exceptionDetails)}`);
			return r.result.value;
		};
		// Helpers in the page: a frame's <g> by name, its rect's width, a click.
		await run(`window.t_g = (name) => Array.from(document.querySelectorAll('#frames g'))
			.find((g) => g.querySelector('title').textContent.startsWith(name + ' ('));
			window.t_w = (name) => Number(t_g(name).querySelector('rect').getAttribute('width'));
			window.t_click = (el) => el.dispatchEvent(new MouseEvent('click', { bubbles: true }));
			true`);

		// "all" and one box per frame of the 6 stacks where they part: 1 + 1 + 3 + 6 + 2 + 5 + 6.
		assert.equal(await run(`document.querySelectorAll('#frames g').length`), 24);
		const fullWidth = 1200 - 2 * 10;
		const busyWidth = await run(`t_w('busyLoop /srv/app/server.js:40')`);
		assert.ok(Math.abs(busyWidth - fullWidth * 0.6) < 0.05, `busyLoop is ${busyWidth} px`);

		// Hover: the details line says the frame's name, samples and share.
		const details = await run(`t_g('busyLoop /srv/app/server.js:40').dispatchEvent(
			new MouseEvent('mouseover', { bubbles: true }));
			document.getElementById('details').textContent`);
		assert.equal(details, 'busyLoop /srv/app/server.js:40 (600 samples, 60.00%)');

		// Click: busyLoop fills the width, its ancestors stay, frames beside it go away.
		const zoomed = await run(`t_click(t_g('busyLoop /srv/app/server.js:40'));
			[t_w('busyLoop /srv/app/server.js:40'), t_w('main loop'),
			 t_g('onRequest /srv/app/server.js:43').style.display,
			 document.getElementById('reset').style.display]`);
		assert.ok(Math.abs(zoomed[0] - fullWidth) < 0.05, `zoomed busyLoop is ${zoomed[0]} px`);
		assert.ok(Math.abs(zoomed[1] - fullWidth) < 0.05, 'an ancestor spans the width');
		assert.equal(zoomed[2], 'none', 'a frame outside the zoomed one is hidden');
		assert.equal(zoomed[3], '', 'Reset Zoom is shown');

		// Reset: back to the first widths.
		const reset = await run(`t_click(document.getElementById('reset'));
			[t_w('busyLoop /srv/app/server.js:40'), t_g('onRequest /srv/app/server.js:43').style.display,
			 document.getElementById('reset').style.display]`);
		assert.ok(Math.abs(reset[0] - busyWidth) < 0.05);
		assert.deepEqual(reset.slice(1), ['', 'none']);

		// Search (the prompt answered by the page itself): matches highlighted, share counted
		// once although do_syscall_64 matches twice and listOnTimeout holds busyLoop.
		const searched = await run(`window.prompt = () => 'busyLoop|listOnTimeout';
			t_click(document.getElementById('search'));
			[document.getElementById('matched').textContent,
			 t_g('busyLoop /srv/app/server.js:40').querySelector('rect').getAttribute('fill'),
			 t_g('main loop').querySelector('rect').getAttribute('fill') === 'rgb(230,0,230)',
			 document.getElementById('search').textContent]`);
		assert.deepEqual(searched, ['Matched: 600 samples, 60.00%', 'rgb(230,0,230)', false,
			'Reset Search']);
		const cleared = await run(`t_click(document.getElementById('search'));
			document.getElementById('matched').textContent.trim()`);
		assert.equal(cleared, '');
		assert.deepEqual(browser.exceptions, [], 'the page threw');
	} finally {
		await browser.close();
		rmSync(dir, { recursive: true, force: true });
	}
});
