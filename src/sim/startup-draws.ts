import type { ClusterModel } from "./model.ts";

/**
 * The start-up delays of a run, fixed by the seed before any policy runs: the n-th GPU node a
 * policy requests takes `nodeProvisionMs(n)` to become Ready and the n-th pod it starts takes
 * `podStartupMs(n)` to load its model, whichever policy it is. Every policy then meets the same
 * luck, and the oracle, which knows the future, can read the delays its own nodes and pods will get.
 * Each draw is a hash of (seed, kind, index), so the sequence is random-access and needs no state.
 */
export class StartupDraws {
  constructor(
    private readonly cluster: Pick<ClusterModel, "provisionDelayMs" | "podStartupMs">,
    private readonly seed: number,
    /** 0: the trace's draws; 2: the warm-up's, a sequence of their own. */
    private readonly kindOffset = 0,
  ) {}

  /**
   * The draws a policy's warm-up uses. Warm-ups differ in how many nodes and pods they start, so
   * drawing them from the trace's sequence would shift it differently for each policy; with their
   * own sequence, the n-th node or pod started in the trace gets draw n whatever the policy (and
   * the oracle's n-th gets the same), as the class comment promises.
   */
  forWarmup(): StartupDraws {
    return new StartupDraws(this.cluster, this.seed, 2);
  }

  /** VM allocation to Ready of the `index`-th node requested (0-based). */
  nodeProvisionMs(index: number): number {
    const [low, high] = this.cluster.provisionDelayMs;
    return low + (high - low) * unitHash(this.seed, 1 + this.kindOffset, index);
  }

  /** Image pull + model load + warm-up of the `index`-th pod started (0-based). */
  podStartupMs(index: number): number {
    const [low, high] = this.cluster.podStartupMs;
    return low + (high - low) * unitHash(this.seed, 2 + this.kindOffset, index);
  }
}

/** A uniform number in [0, 1) from three integers (murmur3's finaliser over a mixed key). */
function unitHash(seed: number, kind: number, index: number): number {
  let h =
    (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(kind, 0x85ebca77) ^ Math.imul(index, 0xc2b2ae3d)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
