/**
 * The rate window of the forecast's history readings (rate(…[10m] offset 1d)), shared by the
 * Prometheus queries that read them, the simulator that replays them and the policy that judges
 * their noise. 10 minutes, not the signals' 2: the forecast adds the rise from a window's start
 * to its peak, and over a short window the noise of a request rate alone makes the peak of 8
 * points exceed the first (a rise that is no rise); over 10 minutes it is the trend.
 */
export const HISTORY_RATE_WINDOW_SECONDS = 600;
