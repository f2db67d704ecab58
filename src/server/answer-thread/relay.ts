import * as grpc from "@grpc/grpc-js";
import { RpcError } from "../rpc-errors.ts";
import type { FromAnswerThread, ToAnswerThread } from "./messages.ts";

/**
 * Unary services that share the gRPC port with the ExternalScaler but are served where their
 * state lives, on the main thread (the replicas' PeerMemory, whose store is the decision book's
 * memory): the answer thread passes each call over, with its request and its caller's address,
 * and sends back the answer or the status it is given. They are rare (a peer's push every tenth
 * of a second), so one message each way is cheap.
 */

type Relayed = Extract<ToAnswerThread, { type: "relayed" }>;

/** The answer thread's side: the service's methods registered on its server, each a hand-over. */
export class RelayedCalls {
  private readonly waiting = new Map<number, grpc.sendUnaryData<unknown>>();
  private nextId = 1;
  private readonly post: (message: FromAnswerThread) => void;

  constructor(post: (message: FromAnswerThread) => void) {
    this.post = post;
  }

  addTo(server: grpc.Server, service: grpc.ServiceDefinition): void {
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [method, definition] of Object.entries(service)) {
      if (definition.requestStream || definition.responseStream) continue;
      implementation[method] = (
        call: grpc.ServerUnaryCall<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        const relayId = this.nextId++;
        this.waiting.set(relayId, callback);
        // A caller gone (cancelled, past its deadline) is not waited for: its answer is dropped.
        call.once("cancelled", () => this.waiting.delete(relayId));
        this.post({ type: "relay", relayId, method, request: call.request, peer: call.getPeer() });
      };
    }
    server.addService(service, implementation);
  }

  /** The main thread's answer to one relayed call. */
  answered(message: Relayed): void {
    const callback = this.waiting.get(message.relayId);
    if (!callback) return;
    this.waiting.delete(message.relayId);
    if (message.code === undefined) callback(null, message.response);
    else callback({ code: message.code, details: message.details ?? "" });
  }
}

/**
 * The main thread's side: stands in for a gRPC server to the service's own addToServer(), and
 * calls the implementation it was given with each relayed call.
 */
export class RelayTarget {
  private implementation: grpc.UntypedServiceImplementation = {};
  private readonly send: (message: ToAnswerThread) => void;

  constructor(send: (message: ToAnswerThread) => void) {
    this.send = send;
  }

  /** What a service's addToServer(server) needs of the server. */
  get server(): grpc.Server {
    const addService = (
      _definition: grpc.ServiceDefinition,
      implementation: grpc.UntypedServiceImplementation,
    ) => {
      this.implementation = { ...this.implementation, ...implementation };
    };
    return { addService } as unknown as grpc.Server;
  }

  call(message: Extract<FromAnswerThread, { type: "relay" }>): void {
    const { relayId } = message;
    const handler = this.implementation[message.method] as grpc.handleUnaryCall<unknown, unknown> | undefined;
    const reply = (error: Partial<grpc.StatusObject> | null, response?: unknown) =>
      this.send(
        error
          ? {
              type: "relayed",
              relayId,
              code: error.code ?? grpc.status.UNKNOWN,
              details: String(error.details ?? ""),
            }
          : { type: "relayed", relayId, response },
      );
    if (!handler) {
      reply({ code: grpc.status.UNIMPLEMENTED, details: `${message.method} is not served here` });
      return;
    }
    const call = { request: message.request, getPeer: () => message.peer, cancelled: false };
    try {
      const handled: unknown = handler(
        call as unknown as grpc.ServerUnaryCall<unknown, unknown>,
        (error, response) => reply(error ? (error as Partial<grpc.StatusObject>) : null, response),
      );
      // An async handler that fails without answering still answers.
      if (handled instanceof Promise)
        handled.catch(() =>
          reply({ code: grpc.status.INTERNAL, details: "internal error in keda-llm-scaler (see its logs)" }),
        );
    } catch (error) {
      reply({
        code: error instanceof RpcError ? error.code : grpc.status.INTERNAL,
        details:
          error instanceof RpcError ? error.message : "internal error in keda-llm-scaler (see its logs)",
      });
    }
  }
}
