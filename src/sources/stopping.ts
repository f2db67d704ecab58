/**
 * The deadline one upstream request runs under: its own timeout, or the process stopping,
 * whichever comes first. Aborting on stop closes the request's socket, so a hanging upstream
 * cannot hold the process past its shutdown grace (a 60 s queryTimeoutMs would otherwise
 * outlive Kubernetes' 30 s terminationGracePeriodSeconds).
 *
 * Disposable: the request ends it when it settles (`using`), so that its timer, and the loop
 * clock's ticker, do not outlive it. Left running, every answered request kept both until its
 * timeout and then aborted a signal nobody listened to: at 4,000 ScaledObjects, about twelve a
 * second, each with an exception and its stack made for nothing.
 */
export interface RequestDeadline extends Disposable {
  readonly signal: AbortSignal;
}

export function requestDeadline(timeoutMs: number, stopping: AbortSignal | undefined): RequestDeadline {
  const deadline = loopTimeout(timeoutMs);
  if (!stopping) return deadline;
  return { signal: AbortSignal.any([deadline.signal, stopping]), [Symbol.dispose]: deadline[Symbol.dispose] };
}

/** How often the loop clock ticks while a deadline is pending. */
const TICK_MS = 50;
/** A tick later than this was held up by a busy loop: only this much of its interval counts. */
const COUNTED_PER_TICK_MS = 2 * TICK_MS;

/**
 * However busy the loop, a deadline ends after this many times its length. A read that outlives
 * KEDA's call still answers the next poll (every caller after it is answered from the cache),
 * so giving up early only wastes it; a hung upstream stays bounded.
 */
const WALL_LIMIT_FACTOR = 4;

/**
 * Time the event loop was free to run, in milliseconds: wall time, less what ticks missed because
 * the loop was busy. It ticks only while a deadline is pending.
 */
const loopClock = {
  counted: 0,
  tickedAtMs: 0,
  pending: 0,
  timer: undefined as ReturnType<typeof setInterval> | undefined,
  now(): number {
    return this.counted + Math.min(performance.now() - this.tickedAtMs, COUNTED_PER_TICK_MS);
  },
  hold(): void {
    if (this.pending++ > 0) return;
    this.tickedAtMs = performance.now();
    this.timer = setInterval(() => {
      const at = performance.now();
      this.counted += Math.min(at - this.tickedAtMs, COUNTED_PER_TICK_MS);
      this.tickedAtMs = at;
    }, TICK_MS);
    this.timer.unref?.();
  },
  release(): void {
    if (--this.pending > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  },
};

/**
 * Aborts with a TimeoutError once the event loop has been free to run for `timeoutMs`, or after
 * four times that of wall time, whichever comes first. A plain timer counts time the loop spent on
 * something else: in a start-up burst (KEDA's first calls for thousands of ScaledObjects, handled
 * in one stretch) an upstream's answer sat unread in the socket, or the request had not even been
 * sent, when the timer gave up, and every first reading failed although the upstream answered in
 * milliseconds. The wall-time bound keeps a hung upstream bounded under any load.
 */
export function loopTimeout(timeoutMs: number): RequestDeadline {
  const controller = new AbortController();
  const startedAtMs = performance.now();
  const wallLimitMs = WALL_LIMIT_FACTOR * timeoutMs;
  loopClock.hold();
  const loopStartedAt = loopClock.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const end = () => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    loopClock.release();
  };
  const check = () => {
    const wallMs = performance.now() - startedAtMs;
    const freeMs = loopClock.now() - loopStartedAt;
    if (freeMs >= timeoutMs || wallMs >= wallLimitMs) {
      end();
      controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError"));
      return;
    }
    timer = setTimeout(check, Math.min(timeoutMs - freeMs, wallLimitMs - wallMs));
    timer.unref?.();
  };
  timer = setTimeout(check, timeoutMs);
  timer.unref?.();
  return { signal: controller.signal, [Symbol.dispose]: end };
}
