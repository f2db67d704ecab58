import type { TokenCredential } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import type {
  ServiceBusAdministrationClient,
  ServiceBusAdministrationClientOptions,
} from "@azure/service-bus";
import type { ServiceConfig } from "../config/service-config.ts";
import { type FailedReading, failureOf, type Reading, readingOf } from "../readings/reading.ts";
import { failureForError, failureForStatus, isAbortError } from "./failures.ts";
import { requestDeadline } from "./stopping.ts";

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

export interface ServiceBusReaderOptions {
  readonly caPem?: Buffer;
  readonly credential?: () => TokenCredential;
  readonly clock?: () => number;
  /** Aborted when the process stops: in-flight requests end at once. */
  readonly stopping?: AbortSignal;
}

/**
 * Active messages of a queue or topic subscription, through the real SDK's administration
 * client (the ATOM management API). Scales on *active* messages: dead-lettered and scheduled
 * ones are not work a new replica could start.
 */
export class ServiceBusBacklogReader {
  /**
   * Loaded only when Service Bus is configured (the SDK costs most of a second to load), and then
   * at once, so the first KEDA call does not pay for it inside its deadline.
   */
  private client: Promise<ServiceBusAdministrationClient | string> | undefined;
  private readonly clock: () => number;
  /** Why Service Bus is off; never contains the connection string. */
  readonly problem: string | undefined;

  private readonly config: ServiceBusConfig;
  private readonly options: ServiceBusReaderOptions;

  constructor(config: ServiceBusConfig, options: ServiceBusReaderOptions = {}) {
    this.config = config;
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.problem =
      config.connectionString || (config.namespace && options.credential)
        ? undefined
        : "set env SERVICEBUS_CONNECTION_STRING, or SERVICEBUS_NAMESPACE for Entra ID (workload identity)";
    if (this.configured) {
      this.client = this.makeClient();
      // A failure here surfaces in read() as a typed failure; until then it is not "unhandled".
      this.client.catch(() => {});
    }
  }

  get configured(): boolean {
    return this.problem === undefined;
  }

  /** The client, or why it cannot be made (an unparseable connection string). */
  private async makeClient(): Promise<ServiceBusAdministrationClient | string> {
    const { ServiceBusAdministrationClient } = await import("@azure/service-bus");
    const clientOptions: ServiceBusAdministrationClientOptions = {
      // Retries belong to KEDA's next poll: a Retry-After wait inside our deadline would only
      // turn "throttled" into "timeout".
      retryOptions: { maxRetries: 0 },
      ...(this.options.caPem ? { tlsOptions: { ca: this.options.caPem } } : {}),
    };
    let client: ServiceBusAdministrationClient;
    if (this.config.connectionString) {
      try {
        client = new ServiceBusAdministrationClient(this.config.connectionString, clientOptions);
      } catch {
        return "env SERVICEBUS_CONNECTION_STRING is not a valid connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…)";
      }
    } else if (this.config.namespace && this.options.credential) {
      client = new ServiceBusAdministrationClient(
        this.config.namespace,
        this.options.credential(),
        clientOptions,
      );
    } else {
      return this.problem ?? "Service Bus is not configured";
    }
    client.pipeline.addPolicy(requireActiveMessageCount);
    return client;
  }

  async read(entity: ServiceBusEntity, timeoutMs: number): Promise<Reading> {
    const what = `Service Bus ${describeEntity(entity)}`;
    if (this.problem) return failureOf("serviceBus", "not_configured", `${what}: ${this.problem}`);
    this.client ??= this.makeClient();
    using deadline = requestDeadline(timeoutMs, this.options.stopping);
    const abortSignal = deadline.signal;
    try {
      const client = await this.client;
      if (typeof client === "string") return failureOf("serviceBus", "not_configured", `${what}: ${client}`);
      const properties =
        "queue" in entity
          ? await client.getQueueRuntimeProperties(entity.queue, { abortSignal })
          : await client.getSubscriptionRuntimeProperties(entity.topic, entity.subscription, {
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
