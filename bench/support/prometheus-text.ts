/**
 * Sums every series of one counter in Prometheus's text exposition format, optionally only the
 * series whose labels include `label` (written as it appears, e.g. `handler="/api/v1/query"`).
 * Enough for the bench's before-and-after counts; not a parser of the whole format.
 */
export function sumSeries(text: string, name: string, label = ""): number {
  let total = 0;
  for (const line of text.split("\n")) {
    const named = line.startsWith(`${name}{`) || line.startsWith(`${name} `);
    if (named && line.includes(label)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}
