import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import type { UsableReadings } from "../usable.ts";
import {
  aboveActivation,
  abstain,
  type DemandContext,
  type DemandRule,
  disabled,
  inputState,
  type LatencyGate,
  proportional,
} from "./common.ts";

/**
 * Every GPU utilisation a cluster can read is a share of *time*, not of throughput:
 * DCGM_FI_DEV_GPU_UTIL (and Azure Monitor's node GPU percentage, derived from it) is the share of
 * time any kernel runs, and DCGM_FI_PROF_GR_ENGINE_ACTIVE the share of time the graphics/compute
 * engine is active; both read close to 100 % while a vLLM replica decodes one sequence. (DCGM's
 * other profiling ratios count cycles a hardware unit is busy — SMs with a warp, the tensor pipe,
 * the memory interface — and none reaches its 100 % at the replica's token throughput: decode is
 * bound by memory bandwidth at low tensor activity, while DRAM activity is high at batch 1.) As a
 * proportional signal either would ask for 43 % more replicas on every poll at any load, so the
 * GPU signal is a guardrail: it may confirm a shortage the queue reports, never start one.
 */
export function gpuDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: DemandContext,
  gate: LatencyGate | undefined,
): SignalVerdict {
  if (!spec.gpu.enabled) return disabled("gpu", false);
  const state = inputState("gpu", [["gpuUtilisation", usable.gpuUtilisation]]);
  if (!state) return disabled("gpu", true);
  if ("signal" in state) return state;
  const utilisation = state.readings.gpuUtilisation ?? 0;
  const target = spec.gpu.target;
  const describe = (rest: string) =>
    `GPU ${round2(utilisation * 100)} % vs ${round2(target * 100)} % full`.concat(rest);
  if (!gate)
    return abstain("gpu", state.readings, context, () =>
      describe(": busy-time GPU utilisation needs the queue to say whether"),
    );
  if (!gate.open) return abstain("gpu", state.readings, context, () => describe(`, but ${gate.reason}`));
  return proportional(
    "gpu",
    state.status,
    state.readings,
    context,
    utilisation / target,
    spec.stability.maxStepFactor,
    describe,
  );
}

export const gpuRule: DemandRule = {
  signal: "gpu",
  readyRelative: true,
  vote: gpuDemand,
  keepsActive: (spec, usable, verdict) =>
    aboveActivation(usable.gpuUtilisation, spec.activation.gpuUtilisation, verdict),
};
