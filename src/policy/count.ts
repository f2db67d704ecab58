import type { Decision, RuleFired } from "./decision.ts";

/** The replica count as it moves through the stages between fusion and the answer to KEDA. */
export interface Count {
  readonly desired: number;
  readonly driving: Decision["drivingFactor"];
  /** Held up by missing data or the scale-down delay: a held count stays active. */
  readonly holding: boolean;
}

/** What a stage hands on: the count, and the reasons it added (none when it changed nothing). */
export interface Step {
  readonly count: Count;
  readonly reasons: readonly RuleFired[];
}
