// Statistics shared by the bench reports (bench/report.mjs, bench/op_cost.mjs,
// bench/agent_cost.mjs).

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
