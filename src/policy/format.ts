/**
 * Figures in reasons: two decimals are enough for a person and keep notes short. A value too small
 * for two decimals keeps two significant digits instead: "demand 0 ÷ 0.9 headroom" answering one
 * replica reads as an arithmetic error, "demand 0.0042" does not.
 */
export const round2 = (n: number): number => {
  const rounded = Math.round(n * 100) / 100;
  return rounded === 0 && n !== 0 && Number.isFinite(n) ? Number(n.toPrecision(2)) : rounded;
};
