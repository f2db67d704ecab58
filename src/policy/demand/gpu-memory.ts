import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import type { UsableReadings } from "../usable.ts";
import {
  abstain,
  type DemandContext,
  type DemandRule,
  disabled,
  inputState,
  type LatencyGate,
  proportional,
  votesDemand,
} from "./common.ts";

/**
 * GPU memory pressure: framebuffer use above its target, while the latency gate is open, asks for
 * ready × usage / target (step-bounded).
 *
 * It is a guardrail behind the gate, never a reason on its own: vLLM reserves its share of each
 * GPU (--gpu-memory-utilization, 0.9 by default) when it starts, so an idle vLLM reads as full as
 * a busy one, and ready × usage / target would ask for more replicas on every poll whose new GPUs
 * read just as full. Servers that allocate as they go show real pressure; the queue still decides
 * whether to grow, the memory how much.
 */
export function gpuMemoryDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
): SignalVerdict {
  const target = spec.gpuMemory.target;
  if (target === undefined) return disabled("gpuMemory", false);
  const state = inputState("gpuMemory", [["gpuMemoryUsage", usable.gpuMemoryUsage]]);
  if (!state) return disabled("gpuMemory", true);
  if ("signal" in state) return state;
  const usage = state.readings.gpuMemoryUsage ?? 0;
  const describe = (rest: string) =>
    `GPU memory ${round2(usage * 100)} % vs ${round2(target * 100)} % target`.concat(rest);
  if (usage <= target) return abstain("gpuMemory", state.readings, context, () => describe(": no pressure"));
  if (!gate)
    return abstain("gpuMemory", state.readings, context, () =>
      describe(": backlog unknown, and full memory alone is not overload"),
    );
  if (!gate.open)
    return abstain("gpuMemory", state.readings, context, () => describe(`, but ${gate.reason}`));
  return proportional(
    "gpuMemory",
    state.status,
    state.readings,
    context,
    usage / target,
    spec.stability.maxStepFactor,
    describe,
  );
}

export const gpuMemoryRule: DemandRule = {
  signal: "gpuMemory",
  readyRelative: true,
  vote: gpuMemoryDemand,
  keepsActive: (_spec, _usable, verdict) => votesDemand(verdict),
};
