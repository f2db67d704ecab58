import type { TokenCredential } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import {
  ServiceBusAdministrationClient,
  type ServiceBusAdministrationClientOptions,
} from "@azure/service-bus";
import type { ServiceConfig } from "../config/service-config.ts";
import { failureForError, failureForStatus, isAbortError } from "./failures.ts";
import { type FailedReading, failureOf, type Reading, readingOf } from "./reading.ts";

export type ServiceBusEntity =
  | { readonly queue: string }
  | { readonly topic: string; readonly subscription: string };

export function describeEntity(entity: ServiceBusEntity): string {
  return "queue" in entity ? `queue ${entity.queue}` : `subscription ${entity.topic}/${entity.subscription}`;
}

type ServiceBusConfig = ServiceConfig["serviceBus"];

interface RestLikeError {
  statusCode?: number;
  code?: string;
  response?: { headers?: { get?(name: string): string | undefined } };
}

/**
 * Active messages of a queue or topic subscription, through the real SDK's administration
 * client (the ATOM management API). Scales on *active* messages: dead-lettered and scheduled
 * ones are not work a new replica could start.
 */
export class ServiceBusBacklogReader {
  private readonly client: ServiceBusAdministrationClient | undefined;
  /** Why no client could be built; never contains the connection string. */
  readonly problem: string | undefined;

  constructor(
    config: ServiceBusConfig,
    options: {
      caPem?: Buffer;
      credential?: () => TokenCredential;
      clock?: () => number;
    } = {},
  ) {
    this.clock = options.clock ?? Date.now;
    const clientOptions: ServiceBusAdministrationClientOptions = {
      // Retries belong to KEDA's next poll: a Retry-After wait inside our deadline would only
      // turn "throttled" into "timeout".
      retryOptions: { maxRetries: 0 },
      ...(options.caPem ? { tlsOptions: { ca: options.caPem } } : {}),
    };
    let client: ServiceBusAdministrationClient | undefined;
    let problem: string | undefined;
    if (config.connectionString) {
      try {
        client = new ServiceBusAdministrationClient(config.connectionString, clientOptions);
      } catch {
        problem =
          "env SERVICEBUS_CONNECTION_STRING is not a valid connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…)";
      }
    } else if (config.namespace && options.credential) {
      client = new ServiceBusAdministrationClient(config.namespace, options.credential(), clientOptions);
    } else {
      problem =
        "set env SERVICEBUS_CONNECTION_STRING, or SERVICEBUS_NAMESPACE for Entra ID (workload identity)";
    }
    client?.pipeline.addPolicy(requireActiveMessageCount);
    this.client = client;
    this.problem = problem;
  }

  private readonly clock: () => number;

  get configured(): boolean {
    return this.client !== undefined;
  }

  async read(entity: ServiceBusEntity, timeoutMs: number): Promise<Reading> {
    const what = `Service Bus ${describeEntity(entity)}`;
    if (!this.client) return failureOf("serviceBus", "not_configured", `${what}: ${this.problem}`);
    const abortSignal = AbortSignal.timeout(timeoutMs);
    try {
      const properties =
        "queue" in entity
          ? await this.client.getQueueRuntimeProperties(entity.queue, { abortSignal })
          : await this.client.getSubscriptionRuntimeProperties(entity.topic, entity.subscription, {
              abortSignal,
            });
      const active = properties.activeMessageCount;
      if (typeof active !== "number" || !Number.isFinite(active))
        return failureOf("serviceBus", "bad_response", `${what}: no ActiveMessageCount in the answer`);
      return readingOf(active, this.clock());
    } catch (error) {
      return serviceBusFailure(error, what, timeoutMs, abortSignal.aborted);
    }
  }
}

/**
 * The SDK parses a missing ActiveMessageCount as 0 (`parseInt(undefined) || 0`). This policy
 * sees the raw answer first, so a truncated or foreign entry cannot pass for an empty queue.
 */
const requireActiveMessageCount: PipelinePolicy = {
  name: "requireActiveMessageCount",
  async sendRequest(request, next) {
    const response = await next(request);
    const body = response.bodyAsText ?? "";
    if (response.status === 200 && body.includes("<entry") && !body.includes("ActiveMessageCount>"))
      throw Object.assign(new Error("runtime properties without ActiveMessageCount"), {
        code: "PARSE_ERROR",
      });
    return response;
  },
};

function serviceBusFailure(
  error: unknown,
  what: string,
  timeoutMs: number,
  timedOut: boolean,
): FailedReading {
  if (timedOut || isAbortError(error)) return failureForError("serviceBus", error, what, timeoutMs);
  const rest = (typeof error === "object" && error !== null ? error : {}) as RestLikeError;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "CredentialUnavailableError" || name === "AuthenticationError")
    return failureOf("serviceBus", "auth", `${what}: no Entra ID token (${name})`);
  if (rest.code === "MessageEntityNotFoundError")
    return failureOf("serviceBus", "not_found", `${what}: no such entity in the namespace`);
  // The SDK reports an answer it cannot read as PARSE_ERROR, a plain "Error occurred while
  // parsing…", or a TypeError from walking a missing element.
  const unreadable =
    error instanceof TypeError ||
    (error instanceof Error && error.message.includes("parsing the response body"));
  if (rest.code === "PARSE_ERROR" || unreadable)
    return failureOf(
      "serviceBus",
      "bad_response",
      `${what}: the management answer is not a valid ATOM entry`,
    );
  if (typeof rest.statusCode === "number" && rest.statusCode > 0) {
    const retryAfter = rest.response?.headers?.get?.("retry-after");
    return failureForStatus("serviceBus", rest.statusCode, what, retryAfter);
  }
  return failureForError("serviceBus", error, what, timeoutMs);
}
