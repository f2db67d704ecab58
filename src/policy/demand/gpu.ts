import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import type { UsableReadings } from "../usable.ts";
import {
  aboveActivation,
  type DemandContext,
  type DemandRule,
  disabled,
  inputState,
  type LatencyGate,
  proportional,
  verdict,
} from "./common.ts";

/**
 * DCGM_FI_DEV_GPU_UTIL (and Azure Monitor's node GPU percentage, derived from it) is the share of
 * time any kernel runs: a vLLM replica decoding one sequence reads close to 100 %. It saturates
 * instead of measuring load, so ready × utilisation would ask for 43 % more replicas on every
 * poll at any load. DCGM_FI_PROF_GR_ENGINE_ACTIVE measures how busy the engine is, and scales.
 */
export function gpuMeasuresLoad(spec: ScalerSpec): boolean {
  return spec.sources.gpuSource === "dcgm" && spec.sources.gpuMetric === "grEngineActive";
}

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
  if (!gpuMeasuresLoad(spec)) {
    // A busy-time metric is a guardrail: it may confirm a shortage the queue reports, never start one.
    if (!gate)
      return verdict(
        "gpu",
        "abstained",
        state.readings,
        describe(
          ": busy-time GPU utilisation needs the queue to say whether (or set gpuMetric=grEngineActive)",
        ),
      );
    if (!gate.open) return verdict("gpu", "abstained", state.readings, describe(`, but ${gate.reason}`));
  }
  return proportional(
    "gpu",
    state.status,
    state.readings,
    context,
    utilisation / target,
    gpuMeasuresLoad(spec) ? Number.POSITIVE_INFINITY : spec.stability.maxStepFactor,
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
