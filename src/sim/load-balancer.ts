/**
 * Splits `total` whole requests over servers holding `loads` so that the least loaded are filled
 * first, up to a common level (what least-outstanding-requests routing converges to); ties and
 * remainders go to the earlier servers.
 */
export function waterFill(loads: readonly number[], total: number): number[] {
  const shares = loads.map(() => 0);
  if (total <= 0 || loads.length === 0) return shares;
  const order = loads.map((load, i) => ({ load, i })).sort((a, b) => a.load - b.load || a.i - b.i);
  // Raise the lowest k servers to the next one's level while requests last.
  let left = total;
  let k = 1;
  let level = (order[0] as { load: number }).load;
  while (k < order.length) {
    const next = (order[k] as { load: number }).load;
    const cost = (next - level) * k;
    if (cost > left) break;
    left -= cost;
    level = next;
    k++;
  }
  const raise = Math.floor(left / k);
  let extra = left - raise * k;
  for (let j = 0; j < k; j++) {
    const { load, i } = order[j] as { load: number; i: number };
    shares[i] = level + raise - load + (extra > 0 ? 1 : 0);
    if (extra > 0) extra--;
  }
  return shares;
}
