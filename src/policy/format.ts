/** Figures in reasons: two decimals are enough for a person and keep notes short. */
export const round2 = (n: number): number => Math.round(n * 100) / 100;
