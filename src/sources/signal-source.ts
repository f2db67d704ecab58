import type { ScalerSpec } from "../config/spec.ts";
import type { SignalReadings } from "../readings/signal-table.ts";

/**
 * Reads every signal a spec uses. Implementations never throw for upstream trouble: each
 * reading is a value or a typed failure. `signal` aborts when KEDA's call is cancelled.
 */
export interface SignalSource {
  read(spec: ScalerSpec, options: { signal?: AbortSignal; nowMs: number }): Promise<SignalReadings>;
  /**
   * The same readings, given at once (not a promise) when none needs a wait, so that a decision
   * answered from memory is made synchronously. Optional: without it, `read` is used.
   */
  readNowOrLater?(
    spec: ScalerSpec,
    options: { signal?: AbortSignal; nowMs: number },
  ): SignalReadings | Promise<SignalReadings>;
}
