import type { ScalerSpec } from "../config/spec.ts";
import type { RuleFired } from "./decision.ts";

/**
 * role=headroom: the answer is not serving replicas but placeholder pods, each sized like one
 * serving replica, that keep spare GPU nodes up while the serving side is warm and none while it
 * is cold. role=serving passes the count through.
 */
export function applyRole(
  spec: ScalerSpec,
  input: { readonly desired: number; readonly servingDesired: number; readonly reasonToRun: boolean },
): { readonly answer: number; readonly servingReplicas?: number; readonly reasons: readonly RuleFired[] } {
  if (spec.target.role === "serving") return { answer: input.desired, reasons: [] };
  const warm = input.servingDesired > 0 && input.reasonToRun;
  const servingMax = spec.headroom.servingMaxReplicas;
  const room =
    servingMax === undefined ? Number.POSITIVE_INFINITY : Math.max(0, servingMax - input.servingDesired);
  const spare = warm ? Math.min(spec.headroom.spareReplicas, room) : 0;
  const answer = Math.min(spec.target.maxReplicas, Math.max(spec.target.minReplicas, spare));
  const limited =
    warm && room < spec.headroom.spareReplicas
      ? ` (the serving side can grow by ${room} more, to servingMaxReplicas ${servingMax})`
      : "";
  return {
    answer,
    servingReplicas: input.servingDesired,
    reasons: [
      {
        rule: "headroom-role",
        note: warm
          ? `serving wants ${input.servingDesired}: keeping ${answer} placeholder(s)${limited} so that many spare GPU slots are already up when it grows`
          : "the serving side is cold: no placeholders, no spare GPU nodes",
      },
    ],
  };
}
