// The command line of a bench section's report (bench/agent_cost.mjs, bench/many_cost.mjs):
//   node bench/NAME.mjs DIR OUT.md   the section of DIR's data, as markdown, under HEADING
//   node bench/NAME.mjs --line       one run's JSON line (stdin) as a progress line
import { readFileSync, writeFileSync } from 'node:fs';

// Runs it for { name, heading, data (the file in DIR), section(dir), progressLine(run) }.
export function sectionCli({ name, heading, data, section, progressLine }) {
	const args = process.argv.slice(2);
	if (args[0] === '--line') {
		const line = readFileSync(0, 'utf8').trim();
		console.log(progressLine(JSON.parse(line)));
		return;
	}
	if (args.length !== 2) {
		console.error(`usage: node bench/${name}.mjs DIR OUT.md | --line < RUN.json`);
		process.exit(2);
	}
	const md = section(args[0]);
	if (!md) {
		console.error(`${name}: no runs in ${args[0]}/${data}`);
		process.exit(1);
	}
	writeFileSync(args[1], `# ${heading}\n\n${md}`);
}
