import type { ScalerSpec } from "../../config/spec.ts";
import type { SignalVerdict } from "../decision.ts";
import { round2 } from "../format.ts";
import { type UsableReadings, usableValue } from "../usable.ts";
import { waitingRequests } from "../workload.ts";
import {
  type DemandContext,
  type DemandRule,
  disabled,
  heldSuffix,
  inputState,
  say,
  verdict,
} from "./common.ts";

/**
 * The backlog: requests waiting, from Service Bus active messages and vLLM waiting requests, the
 * larger of the two (vLLM's waiting requests are peek-locked messages, still active: see
 * waitingRequests). perReplica is KEDA's one
 * replica per N messages; drain carries what keeps arriving and clears what already waits within
 * the SLA.
 */
export function queueDemand(
  spec: ScalerSpec,
  usable: UsableReadings,
  context: Pick<DemandContext, "words"> = {},
): SignalVerdict {
  if (!spec.queue.enabled) return disabled("queue", false);
  const state = inputState("queue", [
    ["queueBacklog", usable.queueBacklog],
    ["vllmWaiting", usable.vllmWaiting],
  ]);
  if (!state) return disabled("queue", true);
  if ("signal" in state) return state;
  const backlog = waitingRequests(state.readings.queueBacklog, state.readings.vllmWaiting);
  const caveats = () => heldSuffix(state.status, usable, ["queueBacklog", "vllmWaiting"]) + state.missing;
  if (spec.queue.mode === "perReplica") {
    const demand = backlog / spec.queue.messagesPerReplica;
    return verdict(
      "queue",
      state.status,
      state.readings,
      say(
        context,
        () =>
          `${backlog} waiting / ${spec.queue.messagesPerReplica} per replica → ${round2(demand)}${caveats()}`,
      ),
      demand,
    );
  }
  // The TTFT histogram's request rate is the served rate, the best inflow figure a pull queue offers.
  const inflow = spec.ttft.enabled ? usableValue(usable.ttftRequestsPerSecond) : undefined;
  const perReplica = spec.queue.requestsPerSecondPerReplica;
  const sla = spec.queue.latencySlaSeconds;
  const demand = ((inflow ?? 0) + backlog / sla) / perReplica;
  return verdict(
    "queue",
    state.status,
    inflow === undefined ? state.readings : { ...state.readings, ttftRequestsPerSecond: inflow },
    say(context, () => {
      const inflowText = inflow === undefined ? "inflow unknown" : `${round2(inflow)} req/s inflow`;
      return `(${inflowText} + ${backlog} waiting drained in ${sla} s) at ${round2(perReplica)} req/s per replica → ${round2(demand)}${caveats()}`;
    }),
    demand,
  );
}

export const queueRule: DemandRule = {
  signal: "queue",
  readyRelative: false,
  vote: (spec, usable, context) => queueDemand(spec, usable, context),
  // Requests arriving keep it active; a backlog only above activationBacklog (KEDA's activation).
  keepsActive: (spec, _usable, verdict) => {
    const backlog = waitingRequests(verdict.readings.queueBacklog, verdict.readings.vllmWaiting);
    return backlog > spec.activation.activationBacklog || (verdict.readings.ttftRequestsPerSecond ?? 0) > 0;
  },
};
