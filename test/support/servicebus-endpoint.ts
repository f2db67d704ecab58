import { createHmac } from "node:crypto";
import type { ServerResponse } from "node:http";
import { type CertificateAuthority, makeCa, makeLeaf, tempDir } from "./certs.ts";
import { FakeHttpServer, type RecordedRequest } from "./fake-http.ts";

/**
 * A local HTTPS endpoint that speaks Azure Service Bus' ATOM management protocol well enough for
 * the real `@azure/service-bus` ServiceBusAdministrationClient: runtime properties of queues and
 * topic subscriptions, the empty `<feed>` the service answers for an unknown entity, SAS
 * signature checking (or a fixed Entra ID bearer token), and scripted faults.
 */

const SB_CONNECT = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect";
const SB_COUNTS = "http://schemas.microsoft.com/netservices/2011/06/servicebus";

export interface MessageCounts {
  /** Left out: the answer has CountDetails without ActiveMessageCount (a malformed document). */
  active?: number;
  deadLetter?: number;
  scheduled?: number;
}

export interface Fault {
  status?: number;
  retryAfter?: string;
  /** Hold the answer this long (the client should give up first). */
  delayMs?: number;
  /** Answer 200 with this body instead of the entity. */
  body?: string;
}

export const SAS_KEY_NAME = "RootManageSharedAccessKey";

function countDetails(counts: MessageCounts): string {
  return (
    `<CountDetails xmlns:d2p1="${SB_COUNTS}">` +
    (counts.active === undefined
      ? ""
      : `<d2p1:ActiveMessageCount>${counts.active}</d2p1:ActiveMessageCount>`) +
    `<d2p1:DeadLetterMessageCount>${counts.deadLetter ?? 0}</d2p1:DeadLetterMessageCount>` +
    `<d2p1:ScheduledMessageCount>${counts.scheduled ?? 0}</d2p1:ScheduledMessageCount>` +
    "<d2p1:TransferMessageCount>0</d2p1:TransferMessageCount>" +
    "<d2p1:TransferDeadLetterMessageCount>0</d2p1:TransferDeadLetterMessageCount>" +
    "</CountDetails>"
  );
}

function entry(selfUrl: string, title: string, content: string): string {
  const now = new Date().toISOString();
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<entry xmlns="http://www.w3.org/2005/Atom">' +
    `<id>${selfUrl}</id><title type="text">${title}</title>` +
    `<published>${now}</published><updated>${now}</updated>` +
    "<author><name>fake-namespace</name></author>" +
    `<link rel="self" href="${selfUrl}"/>` +
    `<content type="application/xml">${content}</content>` +
    "</entry>"
  );
}

function total(counts: MessageCounts): number {
  return (counts.active ?? 0) + (counts.deadLetter ?? 0) + (counts.scheduled ?? 0);
}

function queueDescription(counts: MessageCounts): string {
  const now = new Date().toISOString();
  return (
    `<QueueDescription xmlns="${SB_CONNECT}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">` +
    "<LockDuration>PT1M</LockDuration><MaxSizeInMegabytes>1024</MaxSizeInMegabytes>" +
    "<RequiresDuplicateDetection>false</RequiresDuplicateDetection><RequiresSession>false</RequiresSession>" +
    "<DefaultMessageTimeToLive>P14D</DefaultMessageTimeToLive>" +
    "<DeadLetteringOnMessageExpiration>false</DeadLetteringOnMessageExpiration>" +
    "<MaxDeliveryCount>10</MaxDeliveryCount><EnableBatchedOperations>true</EnableBatchedOperations>" +
    `<SizeInBytes>${total(counts) * 512}</SizeInBytes><MessageCount>${total(counts)}</MessageCount>` +
    "<IsAnonymousAccessible>false</IsAnonymousAccessible><Status>Active</Status>" +
    `<CreatedAt>${now}</CreatedAt><UpdatedAt>${now}</UpdatedAt><AccessedAt>${now}</AccessedAt>` +
    "<SupportOrdering>true</SupportOrdering>" +
    countDetails(counts) +
    "<AutoDeleteOnIdle>P10675199DT2H48M5.4775807S</AutoDeleteOnIdle><EnablePartitioning>false</EnablePartitioning>" +
    "<EntityAvailabilityStatus>Available</EntityAvailabilityStatus><EnableExpress>false</EnableExpress>" +
    "</QueueDescription>"
  );
}

function subscriptionDescription(counts: MessageCounts): string {
  const now = new Date().toISOString();
  return (
    `<SubscriptionDescription xmlns="${SB_CONNECT}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">` +
    "<LockDuration>PT1M</LockDuration><RequiresSession>false</RequiresSession>" +
    "<DefaultMessageTimeToLive>P14D</DefaultMessageTimeToLive>" +
    "<DeadLetteringOnMessageExpiration>false</DeadLetteringOnMessageExpiration>" +
    "<DeadLetteringOnFilterEvaluationExceptions>true</DeadLetteringOnFilterEvaluationExceptions>" +
    `<MessageCount>${total(counts)}</MessageCount><MaxDeliveryCount>10</MaxDeliveryCount>` +
    "<EnableBatchedOperations>true</EnableBatchedOperations><Status>Active</Status>" +
    `<CreatedAt>${now}</CreatedAt><UpdatedAt>${now}</UpdatedAt><AccessedAt>${now}</AccessedAt>` +
    countDetails(counts) +
    "<AutoDeleteOnIdle>P10675199DT2H48M5.4775807S</AutoDeleteOnIdle>" +
    "<EntityAvailabilityStatus>Available</EntityAvailabilityStatus>" +
    "</SubscriptionDescription>"
  );
}

/** What the service answers for an entity that does not exist: 200 and an empty feed. */
function emptyFeed(selfUrl: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Publicly Listed Services</title>' +
    `<id>uuid:00000000-0000-0000-0000-000000000000;id=1</id><updated>${new Date().toISOString()}</updated>` +
    `<link rel="self" href="${selfUrl}"/></feed>`
  );
}

function errorBody(status: number, detail: string): string {
  return `<Error><Code>${status}</Code><Detail>${detail}. TrackingId:00000000-0000-0000-0000-000000000000</Detail></Error>`;
}

export class ServiceBusEndpoint {
  readonly ca: CertificateAuthority;
  private readonly server: FakeHttpServer;
  private readonly serverCertificate: { certFile: string; keyFile: string };
  readonly queues = new Map<string, MessageCounts>();
  /** Keyed "topic/subscription". */
  readonly subscriptions = new Map<string, MessageCounts>();
  /** Keyed by entity path ("queue" or "topic/Subscriptions/sub"); applies to every request when "*". */
  readonly faults = new Map<string, Fault>();
  /** When set, requests must carry `Authorization: Bearer <token>` instead of a SAS signature. */
  bearerToken: string | undefined;

  constructor(readonly sasKey = "c2VjcmV0LXNhcy1rZXktZm9yLXRlc3Rz") {
    const dir = tempDir("servicebus-endpoint-");
    this.ca = makeCa(dir, "servicebus-test-ca");
    this.serverCertificate = makeLeaf(this.ca, "servicebus", { server: true });
    this.server = new FakeHttpServer(this.serverCertificate);
    this.server.handler = (request, res) => this.answer(request, res);
  }

  get requests(): readonly RecordedRequest[] {
    return this.server.requests;
  }

  get host(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  connectionString(key = this.sasKey): string {
    return `Endpoint=sb://${this.host}/;SharedAccessKeyName=${SAS_KEY_NAME};SharedAccessKey=${key}`;
  }

  async start(): Promise<this> {
    await this.server.listen();
    return this;
  }

  /** From now on, present a certificate from a CA the scaler does not trust (or the right one again). */
  presentUntrustedCertificate(untrusted: boolean): void {
    if (untrusted) {
      const stranger = makeCa(tempDir("servicebus-stranger-"), "stranger-ca");
      this.server.presentCertificate(makeLeaf(stranger, "servicebus", { server: true }));
    } else this.server.presentCertificate(this.serverCertificate);
  }

  stop(): Promise<void> {
    return this.server.close();
  }

  private authorised(request: RecordedRequest): boolean {
    const header = request.headers.authorization ?? "";
    if (this.bearerToken !== undefined) return header === `Bearer ${this.bearerToken}`;
    if (!header.startsWith("SharedAccessSignature ")) return false;
    const fields = new Map(
      header
        .slice("SharedAccessSignature ".length)
        .split("&")
        .map((pair) => {
          const at = pair.indexOf("=");
          return [pair.slice(0, at), pair.slice(at + 1)] as [string, string];
        }),
    );
    const resource = fields.get("sr") ?? "";
    const expiry = fields.get("se") ?? "";
    const expected = encodeURIComponent(
      createHmac("sha256", this.sasKey).update(`${resource}\n${expiry}`).digest("base64"),
    );
    return (
      fields.get("skn") === SAS_KEY_NAME &&
      fields.get("sig") === expected &&
      Number(expiry) > Date.now() / 1000
    );
  }

  private answer(request: RecordedRequest, res: ServerResponse): void {
    const url = new URL(request.url, `https://${this.host}`);
    const path = decodeURIComponent(url.pathname.slice(1));
    const selfUrl = `https://${this.host}/${path}?api-version=2021-05`;
    const fault = this.faults.get(path) ?? this.faults.get("*");
    const respond = () => {
      if (fault?.status) {
        const headers: Record<string, string> = { "content-type": "application/xml; charset=utf-8" };
        if (fault.retryAfter) headers["retry-after"] = fault.retryAfter;
        res.writeHead(fault.status, headers).end(errorBody(fault.status, "Scripted fault"));
        return;
      }
      if (!this.authorised(request)) {
        res
          .writeHead(401, { "content-type": "application/xml; charset=utf-8" })
          .end(errorBody(401, "InvalidSignature: The token has an invalid signature"));
        return;
      }
      const xml = (body: string) =>
        res.writeHead(200, { "content-type": "application/atom+xml;type=entry;charset=utf-8" }).end(body);
      if (fault?.body !== undefined) return xml(fault.body);
      const subscription = /^(.+)\/Subscriptions\/([^/]+)$/.exec(path);
      if (subscription) {
        const counts = this.subscriptions.get(`${subscription[1]}/${subscription[2]}`);
        return xml(
          counts
            ? entry(selfUrl, subscription[2] as string, subscriptionDescription(counts))
            : emptyFeed(selfUrl),
        );
      }
      const counts = this.queues.get(path);
      xml(counts ? entry(selfUrl, path, queueDescription(counts)) : emptyFeed(selfUrl));
    };
    if (fault?.delayMs) setTimeout(respond, fault.delayMs);
    else respond();
  }
}
