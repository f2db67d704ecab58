/**
 * How much a request rate moves by chance alone. A rate read over a window of W seconds counts
 * about rate × W requests; arrivals that are independent of each other (Poisson) make that count's
 * standard deviation √(rate × W), so the rate's own is √(rate / W). Two such readings differ by
 * chance with a standard deviation of √((a + b) / W). Real traffic is burstier than Poisson, so
 * this is the least noise there is: a rise must stand several of these above it to be believed.
 */
export function rateNoise(ratePerSecond: number, windowSeconds: number): number {
  if (!(windowSeconds > 0) || !(ratePerSecond > 0)) return 0;
  return Math.sqrt(ratePerSecond / windowSeconds);
}

/** The chance spread of the difference between two rates, each read over `windowSeconds`. */
export function differenceNoise(a: number, b: number, windowSeconds: number): number {
  return rateNoise(Math.max(0, a) + Math.max(0, b), windowSeconds);
}

/**
 * The least rise that counts as one: `significance` standard errors of the difference, and never
 * less than one request over the window (at a near-zero rate the Poisson figure vanishes, yet a
 * single request is no ramp).
 */
export function leastRealRise(a: number, b: number, windowSeconds: number, significance: number): number {
  if (!(windowSeconds > 0)) return 0;
  return Math.max(significance * differenceNoise(a, b, windowSeconds), 1 / windowSeconds);
}
