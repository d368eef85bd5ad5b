// Statistics shared by the bench reports (bench/report.mjs, bench/op_cost.mjs,
// bench/agent_cost.mjs, bench/many_cost.mjs), and how their tables write numbers.

export const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// A distribution-free confidence interval for the median (the sign test's): with n values,
// the true median lies between the k-th smallest and the k-th largest value with
// probability 1 - 2 P(Binomial(n, 1/2) < k). Takes the largest k that keeps this >= 90%;
// null when there are too few values for a 90% interval.
export function medianCI(xs) {
	const s = [...xs].sort((a, b) => a - b), n = s.length;
	const choose = (n, k) => { let c = 1; for (let i = 0; i < k; i++) c = c * (n - i) / (i + 1); return c; };
	let k = 0, tail = 0;	// tail = P(B < k + 1)
	for (;;) {
		const next = tail + choose(n, k) / 2 ** n;	// P(B <= k)
		if (1 - 2 * next < 0.9) break;
		tail = next;
		k++;
	}
	if (k === 0) return null;
	return { lo: s[k - 1], hi: s[n - k], level: 1 - 2 * tail };
}

// min / median / max / count / interval of the median over the finite values of XS, or null.
export function stats(xs) {
	xs = xs.filter((x) => Number.isFinite(x));
	return xs.length ? { min: Math.min(...xs), med: median(xs), max: Math.max(...xs), n: xs.length,
		ci: medianCI(xs) } : null;
}

// X with D decimals, or – when it is not a number (a figure a run did not measure).
export const num = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '–');
// X rounded, with thousands separators, or –.
export const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');

// "min / median / max" over repeats of a run ("x" when it ran once), D decimals, the median
// in bold if asked.
export function spread(xs, d, bold = false) {
	xs = xs.filter((x) => Number.isFinite(x));
	if (!xs.length) return '–';
	const b = (t) => (bold ? `**${t}**` : t);
	const f = (x) => (d === 0 ? int(x) : num(x, d));
	if (xs.length === 1) return b(f(xs[0]));
	return `${f(Math.min(...xs))} / ${b(f(median(xs)))} / ${f(Math.max(...xs))}`;
}
