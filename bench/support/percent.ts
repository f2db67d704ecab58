/**
 * A share as the bench's tables print it: rounded down, with two decimals just under 100 %, so that
 * 99.89 % never reads as 99.9 % next to a 99.9 % target.
 */
export function pct(fraction: number): string {
  const digits = fraction >= 0.999 && fraction < 1 ? 2 : 1;
  return `${(Math.floor(fraction * 10 ** (digits + 2)) / 10 ** digits).toFixed(digits)} %`;
}
