import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import fc from "fast-check";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePeerNames } from "../../src/config/peer-names.ts";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { decide } from "../../src/policy/decide.ts";
import type { PolicyMemory } from "../../src/policy/memory.ts";
import { entryKey } from "../../src/server/decision-book.ts";
import { PeerMemoryStore } from "../../src/server/peers/peer-memory-store.ts";
import { callerIp, PeerSync } from "../../src/server/peers/peer-sync.ts";
import {
  canonicalMemoryJsonOf,
  MAX_ENTRIES_PER_MESSAGE,
  MAX_MEMORY_JSON_CHARACTERS,
  MAX_MESSAGE_CHARACTERS,
  type MemoryEntryMessage,
  memoryJsonOf,
  PeerMessageError,
  validEntries,
  validEntry,
} from "../../src/server/peers/wire.ts";
import { findProto, loadPackageDefinition } from "../../src/server/proto.ts";
import { NOON, readingsOf, specOf } from "../policy/helpers.ts";
import { type KeyPair, makeCa, makeLeaf, read, tempDir } from "../support/certs.ts";
import {
  eventually,
  type Harness,
  KedaLikeClient,
  ONE_PER_MESSAGE,
  ref,
  startHarness,
  statusOf,
} from "../support/scaler-harness.ts";

const KEY_A = "a".repeat(43);
const KEY_B = "b".repeat(43);

/** A memory the policy itself produced (scale-down window, smoothing, held readings and all). */
function realMemory(): PolicyMemory {
  const spec = specOf({ scaleDownDelaySeconds: "600" });
  let memory: PolicyMemory | undefined;
  for (let poll = 0; poll < 20; poll++) {
    const nowMs = NOON + poll * 15_000;
    memory = decide(
      spec,
      readingsOf({ queueBacklog: 30 + poll, kvCacheUsage: 0.5, gpuUtilisation: 0.6 }, nowMs),
      nowMs,
      memory,
    ).memory;
  }
  return memory!;
}

function entry(key: string, decidedAtMs: number, memory: PolicyMemory = { lastDesired: 3 }) {
  return validEntry({ key, decidedAtMs, memoryJson: memoryJsonOf(memory) }, 0, NOON);
}

describe("PeerMemoryStore", () => {
  it("keeps, whatever the arrival order, the memory of the latest decision (ties: the same pick everywhere)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ at: fc.integer({ min: 1, max: 20 }), desired: fc.integer({ min: 0, max: 50 }) }),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        fc.infiniteStream(fc.nat()),
        (decisions, shuffle) => {
          const entries = decisions.map((d) => entry(KEY_A, d.at, { lastDesired: d.desired }));
          const inOrder = new PeerMemoryStore(10);
          for (const e of entries) inOrder.merge(e);
          const shuffled = [...entries];
          const draws = shuffle[Symbol.iterator]();
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (draws.next().value as number) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          const anyOrder = new PeerMemoryStore(10);
          for (const e of shuffled) anyOrder.merge(e);
          const latest = Math.max(...decisions.map((d) => d.at));
          expect(anyOrder.get(KEY_A)).toEqual(inOrder.get(KEY_A));
          expect(decisions.filter((d) => d.at === latest).map((d) => d.desired)).toContain(
            anyOrder.get(KEY_A)?.lastDesired,
          );
        },
      ),
    );
  });

  it("breaks a tie on the memory, not on the order its objects were built in", () => {
    const store = new PeerMemoryStore(10);
    const waiting = { ok: true as const, value: 2, observedAtMs: 5 };
    const backlog = { ok: true as const, value: 40, observedAtMs: 5 };
    store.set(KEY_A, { lastGood: { vllmWaiting: waiting, queueBacklog: backlog } }, 10);
    const order = Object.keys(store.get(KEY_A)?.lastGood ?? {});
    expect(order).toHaveLength(2);
    // The same memory from a peer, stamped the same, its keys the other way round: not newer.
    const reversed = Object.fromEntries(
      [...order].reverse().map((key) => [key, key === "vllmWaiting" ? waiting : backlog]),
    );
    expect(Object.keys(reversed)).toEqual([...order].reverse());
    expect(store.merge(entry(KEY_A, 10, { lastGood: reversed }))).toBe(false);
    // Still ours to send to the other peers.
    const outbox = store.openOutbox();
    expect(outbox.nextBatch().map((e) => e.key)).toEqual([KEY_A]);
    expect(canonicalMemoryJsonOf({ lastGood: reversed })).toBe(canonicalMemoryJsonOf(store.get(KEY_A)!));
  });

  it("lets a local decision replace an older peer memory and an older peer memory not replace a newer local one", () => {
    const store = new PeerMemoryStore(10);
    store.set(KEY_A, { lastDesired: 5 }, 2000);
    expect(store.merge(entry(KEY_A, 1999, { lastDesired: 9 }))).toBe(false);
    expect(store.get(KEY_A)).toEqual({ lastDesired: 5 });
    expect(store.merge(entry(KEY_A, 2001, { lastDesired: 9 }))).toBe(true);
    expect(store.get(KEY_A)).toEqual({ lastDesired: 9 });
  });

  it("sends no memory of a key a peer has since decided later, nor of one forgotten since", () => {
    const KEY_C = "c".repeat(43);
    const merged = new PeerMemoryStore(10);
    const toPeer = merged.openOutbox();
    merged.set(KEY_A, { lastDesired: 1 }, 1);
    merged.set(KEY_B, { lastDesired: 2 }, 2);
    // A peer decided KEY_A later: that peer sends its memory; ours is obsolete.
    expect(merged.merge(entry(KEY_A, 3, { lastDesired: 7 }))).toBe(true);
    expect(toPeer.nextBatch().map((e) => e.key)).toEqual([KEY_B]);

    const bounded = new PeerMemoryStore(2);
    const toOther = bounded.openOutbox();
    bounded.set(KEY_A, { lastDesired: 1 }, 1);
    bounded.set(KEY_B, { lastDesired: 2 }, 2);
    // A third key, from a peer, makes the store forget KEY_A (the least recently written).
    expect(bounded.merge(entry(KEY_C, 3))).toBe(true);
    expect(toOther.nextBatch().map((e) => e.key)).toEqual([KEY_B]);
    // Neither stays queued: only KEY_B does, sent and not yet acknowledged.
    for (const outbox of [toPeer, toOther]) expect(outbox.size).toBe(1);
  });

  it("queues each local decision for every peer, newest per key, in bounded batches, until acknowledged", () => {
    const store = new PeerMemoryStore(1000);
    const outbox = store.openOutbox();
    store.set(KEY_A, { lastDesired: 1 }, 1);
    store.set(KEY_A, { lastDesired: 2 }, 2);
    store.merge(entry(KEY_B, 3));
    // Memories received from a peer are not sent on: every replica pushes its own decisions.
    expect(outbox.nextBatch()).toEqual([{ key: KEY_A, decidedAtMs: 2, memoryJson: '{"lastDesired":2}' }]);
    const batch = outbox.nextBatch();
    store.set(KEY_A, { lastDesired: 3 }, 4);
    outbox.acknowledge(batch);
    // Decided again while the batch was on its way: still to send.
    expect(outbox.nextBatch().map((e) => e.decidedAtMs)).toEqual([4]);
    outbox.acknowledge(outbox.nextBatch());
    expect(outbox.size).toBe(0);

    const big = realMemory();
    for (let i = 0; i < 200; i++) store.set(i.toString().padStart(43, "k"), big, 10 + i);
    const first = outbox.nextBatch();
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThanOrEqual(MAX_ENTRIES_PER_MESSAGE);
    expect(first.reduce((n, e) => n + e.memoryJson.length, 0)).toBeLessThanOrEqual(MAX_MESSAGE_CHARACTERS);
    store.closeOutbox(outbox);
    store.set(KEY_B, { lastDesired: 1 }, 999);
    expect(outbox.nextBatch().some((e) => e.key === KEY_B)).toBe(false);
  });

  it("never sends a memory longer than a peer accepts, and sends the others", () => {
    const store = new PeerMemoryStore(10);
    const early = store.openOutbox();
    // Far beyond the policy's own bounds: a window of 5,000 answers is ~130 KB of JSON.
    const huge = { recent: Array.from({ length: 5000 }, (_, i) => ({ atMs: i, desired: 3 })) };
    store.set(KEY_A, huge, 1);
    store.set(KEY_B, { lastDesired: 2 }, 2);
    const late = store.openOutbox();
    for (const outbox of [early, late]) {
      const batch = outbox.nextBatch();
      expect(batch.map((e) => e.key)).toEqual([KEY_B]);
      outbox.acknowledge(batch);
      expect(outbox.size).toBe(0);
    }
    // Still this replica's memory for its own decisions.
    expect(store.get(KEY_A)).toEqual(huge);
  });

  it("queues for a peer that appears later every memory last decided here, not those received", () => {
    const store = new PeerMemoryStore(1000);
    store.set(KEY_A, { lastDesired: 1 }, 5);
    store.merge(entry(KEY_B, 6));
    store.set("c".repeat(43), { lastDesired: 1 }, 7);
    store.merge(entry("c".repeat(43), 8));
    expect(
      store
        .openOutbox()
        .nextBatch()
        .map((e) => [e.key, e.decidedAtMs]),
    ).toEqual([[KEY_A, 5]]);
  });

  it("serves its memories as snapshot pages that cover every key once, in order", () => {
    const store = new PeerMemoryStore(1000);
    const memory = realMemory();
    for (let i = 0; i < 300; i++) store.set(i.toString(36).padStart(43, "0"), memory, 1 + i);
    const seen: string[] = [];
    let afterKey = "";
    for (let page = 0; page < 100; page++) {
      const { entries, complete } = store.snapshotPage(afterKey);
      expect(entries.length).toBeLessThanOrEqual(MAX_ENTRIES_PER_MESSAGE);
      seen.push(...entries.map((e) => e.key));
      if (complete) break;
      afterKey = entries.at(-1)!.key;
    }
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(300);
  });

  it("forgets the least recently updated key beyond its bound", () => {
    const store = new PeerMemoryStore(2);
    store.set(KEY_A, { lastDesired: 1 }, 1);
    store.merge(entry(KEY_B, 2));
    store.set("c".repeat(43), { lastDesired: 1 }, 3);
    expect(store.size).toBe(2);
    expect(store.get(KEY_A)).toBeUndefined();
  });
});

describe("peer memory on the wire", () => {
  it("accepts any memory the policy produces", () => {
    const memory = realMemory();
    expect(memory.recent?.length).toBeGreaterThan(1);
    expect(entry(KEY_A, 1, memory).memory).toEqual(memory);
  });

  it("sends each last good reading in the form earlier versions read: value and instant, no `ok`", () => {
    const memory = realMemory();
    const sent = JSON.parse(memoryJsonOf(memory)) as { lastGood: Record<string, object> };
    expect(Object.keys(sent.lastGood).length).toBeGreaterThan(0);
    for (const reading of Object.values(sent.lastGood))
      expect(Object.keys(reading).sort()).toEqual(["observedAtMs", "value"]);
    expect(entry(KEY_A, 1, memory).memory).toEqual(memory);
  });

  it("accepts a last good reading from a replica of an earlier version, which sent it without `ok`", () => {
    const memoryJson = '{"lastGood":{"vllmWaiting":{"value":3,"observedAtMs":5}}}';
    expect(validEntries([{ key: KEY_A, decidedAtMs: 1, memoryJson }], NOON)[0]?.memory).toEqual({
      lastGood: { vllmWaiting: { ok: true, value: 3, observedAtMs: 5 } },
    });
  });

  const refused: [string, Partial<MemoryEntryMessage>, RegExp][] = [
    [
      "a key that is no book key",
      { key: "../../etc", decidedAtMs: 1, memoryJson: "{}" },
      /entries\[0\]\.key/,
    ],
    ["no decision instant", { key: KEY_A, decidedAtMs: 0, memoryJson: "{}" }, /decidedAtMs/],
    [
      "a decision instant far ahead of the clock",
      { key: KEY_A, decidedAtMs: NOON + 3_600_000, memoryJson: "{}" },
      /3600 s ahead/,
    ],
    ["not JSON", { key: KEY_A, decidedAtMs: 1, memoryJson: "{" }, /not JSON/],
    ["an unknown field", { key: KEY_A, decidedAtMs: 1, memoryJson: '{"evil":1}' }, /not a policy memory/],
    [
      "an infinite answer",
      { key: KEY_A, decidedAtMs: 1, memoryJson: '{"lastDesired":1e999}' },
      /lastDesired/,
    ],
    ["a negative answer", { key: KEY_A, decidedAtMs: 1, memoryJson: '{"lastDesired":-4}' }, /lastDesired/],
    [
      "an unknown signal",
      { key: KEY_A, decidedAtMs: 1, memoryJson: '{"lastGood":{"bogus":{"value":1,"observedAtMs":1}}}' },
      /lastGood/,
    ],
    [
      "a last good reading that is a failure",
      {
        key: KEY_A,
        decidedAtMs: 1,
        memoryJson: '{"lastGood":{"vllmWaiting":{"ok":false,"value":1,"observedAtMs":1}}}',
      },
      /lastGood\.vllmWaiting\.ok/,
    ],
    [
      "an oversized memory",
      { key: KEY_A, decidedAtMs: 1, memoryJson: `{"x":"${"y".repeat(MAX_MEMORY_JSON_CHARACTERS)}"}` },
      /more than/,
    ],
  ];
  it.each(refused)("refuses %s with a short error naming the field", (_, message, reason) => {
    let error: unknown;
    try {
      validEntries([message], NOON);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PeerMessageError);
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message.length).toBeLessThan(300);
  });

  it("refuses a message of more entries than a batch holds", () => {
    const many = Array.from({ length: MAX_ENTRIES_PER_MESSAGE + 1 }, () => ({
      key: KEY_A,
      decidedAtMs: 1,
      memoryJson: "{}",
    }));
    expect(() => validEntries(many, NOON)).toThrow(/more than 64/);
  });

  it("reads the caller's address from every form grpc-js gives it", () => {
    expect(callerIp("127.0.0.1:5000")).toBe("127.0.0.1");
    expect(callerIp("ipv4:10.1.2.3:5000")).toBe("10.1.2.3");
    expect(callerIp("[::1]:5000")).toBe("::1");
    expect(callerIp("ipv6:[fd00::5]:6000")).toBe("fd00::5");
  });

  it("reads PEERS_DNS names, the port defaulting to the replica's own", () => {
    expect(parsePeerNames("keda-llm-scaler-peers.keda-llm-scaler.svc", 6000)).toEqual([
      { host: "keda-llm-scaler-peers.keda-llm-scaler.svc", port: 6000 },
    ]);
    expect(parsePeerNames("127.0.0.1:7001, [::1]:7002", 6000)).toEqual([
      { host: "127.0.0.1", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
    expect(() => loadServiceConfig({ PEERS_DNS: "http://x/" })).toThrow(/PEERS_DNS/);
    expect(() => loadServiceConfig({ PEERS_DNS: "peers", TLS_CERT_FILE: "/c", TLS_KEY_FILE: "/k" })).toThrow(
      /TLS_CLIENT_CA_FILE/,
    );
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const PeerMemoryClient = (
  grpc.loadPackageDefinition(
    protoLoader.loadSync(findProto("peer-memory.proto"), { keepCase: true, longs: Number, defaults: true }),
  ) as unknown as { kedallmscaler: { peers: { PeerMemory: grpc.ServiceClientConstructor } } }
).kedallmscaler.peers.PeerMemory;

function push(client: grpc.Client, entries: Partial<MemoryEntryMessage>[]): Promise<unknown> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (...args: unknown[]) => void>).Push!.call(
      client,
      { entries },
      { deadline: Date.now() + 5000 },
      (error: grpc.ServiceError | null, reply: unknown) => (error ? reject(error) : resolve(reply)),
    ),
  );
}

const HealthClient = (
  grpc.loadPackageDefinition(loadPackageDefinition()) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  }
).grpc.health.v1.Health;

/** grpc.health.v1's ServingStatus, by its number on the wire. */
const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

function servingStatus(client: grpc.Client, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (...args: unknown[]) => void>).Check!.call(
      client,
      { service },
      { deadline: Date.now() + 5000 },
      (error: grpc.ServiceError | null, reply: { status: number | string }) =>
        error ? reject(error) : resolve(SERVING_STATUS[Number(reply.status)] ?? String(reply.status)),
    ),
  );
}

function snapshot(client: grpc.Client): Promise<unknown> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (...args: unknown[]) => void>).Snapshot!.call(
      client,
      { afterKey: "" },
      { deadline: Date.now() + 5000 },
      (error: grpc.ServiceError | null, reply: unknown) => (error ? reject(error) : resolve(reply)),
    ),
  );
}

async function metricOf(harness: Harness, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${harness.scaler.httpPort}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return Number(found?.slice(line.length + 1));
}

const SO = ref("chat", ONE_PER_MESSAGE);

async function desired(client: KedaLikeClient): Promise<number> {
  const reply = await client.call<{ metricValues: { metricValueFloat: number }[] }>("GetMetrics", {
    scaledObjectRef: SO,
    metricName: "llm-desired-replicas",
  });
  return reply.metricValues[0]!.metricValueFloat;
}

describe("the PeerMemory service", () => {
  it("is not served without PEERS_DNS: a lone replica behaves as before", async () => {
    const harness = await startHarness();
    const client = new PeerMemoryClient(harness.address, grpc.credentials.createInsecure());
    try {
      expect((await statusOf(push(client, []))).code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
      await harness.stop();
    }
  });

  it("refuses a caller that is not at a peer's address, and a bad message with a short error, while KEDA's calls on the same connection answer", async () => {
    // The only peer is 127.0.0.2 (nobody listens): callers from 127.0.0.1 are strangers.
    // A decision younger than DECISION_TTL_SECONDS is answered as it stands, memory unread: each
    // check below first lets the previous decision expire, or a quiet machine would answer from it.
    const ttl = { DECISION_TTL_SECONDS: "0.001" };
    const pastDecisionTtl = () => new Promise((resolve) => setTimeout(resolve, 20));
    const stranger = await startHarness({ ...ttl, PEERS_DNS: "127.0.0.2:9", PEERS_STARTUP_SECONDS: "0.2" });
    const admitting = await startHarness({ ...ttl, PEERS_DNS: "127.0.0.1:9", PEERS_STARTUP_SECONDS: "0.2" });
    const keda = new KedaLikeClient(stranger.address);
    const peerClient = new PeerMemoryClient(stranger.address, grpc.credentials.createInsecure(), {
      channelOverride: keda.raw.getChannel(),
    });
    const admittedKeda = new KedaLikeClient(admitting.address);
    const admittedPeer = new PeerMemoryClient(admitting.address, grpc.credentials.createInsecure(), {
      channelOverride: admittedKeda.raw.getChannel(),
    });
    try {
      stranger.source.setBacklog(4);
      const forged = {
        key: entryKey(SO),
        decidedAtMs: Date.now() + 30_000,
        memoryJson: '{"lastDesired":99}',
      };
      const [denied, strangersAnswer] = await Promise.all([
        statusOf(push(peerClient, [forged])),
        desired(keda),
      ]);
      expect(strangersAnswer).toBe(4);
      // The forged memory was not kept: with a previous answer of 99 the scale-down band would hold 5.
      await pastDecisionTtl();
      expect(await desired(keda)).toBe(4);
      expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(denied.details).toMatch(/PEERS_DNS/);

      admitting.source.setBacklog(4);
      const [bad, answer] = await Promise.all([
        statusOf(
          push(admittedPeer, [
            { key: "x".repeat(43), decidedAtMs: 1, memoryJson: `{"lastDesired":"${"9".repeat(40_000)}"}` },
          ]),
        ),
        desired(admittedKeda),
      ]);
      expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(bad.details.length).toBeLessThan(300);
      expect(answer).toBe(4);
      // The same forged memory from an admitted address is kept, and the band then holds 5: what
      // the stranger was refused would have changed the answer.
      expect(await push(admittedPeer, [{ ...forged, decidedAtMs: Date.now() + 30_000 }])).toEqual({
        applied: 1,
        ignored: 0,
      });
      await pastDecisionTtl();
      expect(await desired(admittedKeda)).toBe(5);
      expect(
        await metricOf(admitting, 'keda_llm_scaler_peer_memory_received_total{outcome="rejected"}'),
      ).toBe(1);
    } finally {
      for (const c of [peerClient, admittedPeer]) c.close();
      keda.close();
      admittedKeda.close();
      await Promise.all([stranger.stop(), admitting.stop()]);
    }
  });

  it("refuses to hand out its memory while it is still copying a peer's, and is not ready meanwhile", async () => {
    // A peer that accepts connections and never answers: the fill waits for it until its bound.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const port = await freePort();
    const starting = startHarness({
      GRPC_PORT: String(port),
      PEERS_DNS: `127.0.0.1:${silentPort}`,
      PEERS_STARTUP_SECONDS: "3",
    });
    const client = new PeerMemoryClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const health = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    let harness: Harness | undefined;
    try {
      await eventually(async () => {
        const status = await statusOf(snapshot(client));
        expect(status.code).toBe(grpc.status.FAILED_PRECONDITION);
        expect(status.details).toMatch(/still copying/);
      }, 10_000);
      expect(await servingStatus(health, "externalscaler.ExternalScaler")).toBe("NOT_SERVING");
      expect(await servingStatus(health, "")).toBe("SERVING");
      harness = await starting;
      expect(await snapshot(client)).toEqual({ entries: [], complete: true });
      expect(await servingStatus(health, "externalscaler.ExternalScaler")).toBe("SERVING");
    } finally {
      client.close();
      health.close();
      await (harness ?? (await starting)).stop();
      silent.close();
    }
  });

  it("sends every memory it holds to a replica that appears in DNS after it started", async () => {
    // Two replicas on one port at two loopback addresses, as two pods are on one port at two IPs.
    const port = await freePort();
    let peersOfA: string[] = [];
    const replica = (ip: string, resolve: () => Promise<string[]>) => {
      const store = new PeerMemoryStore(100);
      const sync = new PeerSync({
        store,
        peersDns: "keda-llm-scaler-peers",
        pushIntervalMs: 20,
        callTimeoutMs: 2000,
        registry: new Registry(),
        logger: pino({ level: "silent" }),
        resolve,
        directoryRefreshMs: 50,
      });
      const server = new grpc.Server();
      sync.addToServer(server);
      return { ip, store, sync, server };
    };
    const a = replica("127.0.0.1", async () => peersOfA);
    const b = replica("127.0.0.2", async () => ["127.0.0.1", "127.0.0.2"]);
    try {
      for (const r of [a, b]) {
        await new Promise<void>((resolve, reject) =>
          r.server.bindAsync(`${r.ip}:${port}`, grpc.ServerCredentials.createInsecure(), (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        r.sync.start(port);
      }
      // A decides while alone (B's pod has no address yet), then B shows up under the name.
      const memory = realMemory();
      a.store.set(KEY_A, memory, NOON);
      // Too long for a peer to accept: held here, never sent, and it holds up nothing else.
      const huge = { recent: Array.from({ length: 5000 }, (_, i) => ({ atMs: i, desired: 3 })) };
      a.store.set(KEY_B, huge, NOON);
      await eventually(() => expect(a.sync.peerCount).toBe(0), 2000);
      peersOfA = ["127.0.0.1", "127.0.0.2"];
      await eventually(() => expect(b.store.get(KEY_A)).toEqual(memory), 10_000);
      expect(b.store.get(KEY_B)).toBeUndefined();
      expect(a.store.get(KEY_B)).toEqual(huge);
    } finally {
      for (const r of [a, b]) {
        r.sync.close();
        r.server.forceShutdown();
      }
    }
  });

  it("warns once when PEERS_DNS never resolves (a mistyped name), and never for a lone replica", async () => {
    const run = async (answer: () => Promise<string[]>) => {
      let now = 0;
      const lines: string[] = [];
      let lookups = 0;
      const resolve = () => {
        lookups++;
        return answer();
      };
      const sync = new PeerSync({
        store: new PeerMemoryStore(100),
        peersDns: "keda-llm-scaler-peer",
        pushIntervalMs: 10,
        callTimeoutMs: 2000,
        registry: new Registry(),
        logger: pino({ level: "warn" }, { write: (line: string) => void lines.push(line) }),
        clock: () => now,
        resolve,
        directoryRefreshMs: 0,
        unresolvedWarningMs: 60_000,
      });
      sync.start(await freePort());
      try {
        // Within the grace period the lookups fail (or find this pod alone) and nothing is said.
        await new Promise((r) => setTimeout(r, 100));
        const early = lines.length;
        now = 60_001;
        // Past it, twenty more lookups (a tick each): at most one warning.
        const after = lookups;
        await eventually(() => expect(lookups).toBeGreaterThan(after + 20), 10_000);
        return { early, lines };
      } finally {
        sync.close();
      }
    };
    const typo = await run(async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND keda-llm-scaler-peer"), { code: "ENOTFOUND" });
    });
    expect(typo.early).toBe(0);
    expect(typo.lines).toHaveLength(1);
    const warning = JSON.parse(typo.lines[0] ?? "{}") as { msg: string; level: number };
    expect(warning.level).toBe(40);
    expect(warning.msg).toContain(
      'PEERS_DNS "keda-llm-scaler-peer" has not resolved since the start (ENOTFOUND)',
    );
    expect(warning.msg).toContain("the policy memory is not shared");
    // A lone replica: the name resolves to this pod only. No peer, but nothing wrong with the name.
    const alone = await run(async () => ["127.0.0.1"]);
    expect(alone.lines).toEqual([]);
  });

  describe("over mutual TLS", () => {
    const pki = {} as { dir: string; caFile: string; a: KeyPair; b: KeyPair; keda: KeyPair };
    beforeAll(() => {
      const dir = tempDir("peer-pki-");
      const ca = makeCa(dir, "scaler-ca");
      Object.assign(pki, {
        dir,
        caFile: ca.certFile,
        // The replicas' server certificates also allow client use: each presents its own to the others.
        a: makeLeaf(ca, "replica-a", { server: true, peer: true }),
        b: makeLeaf(ca, "replica-b", { server: true, peer: true }),
        keda: makeLeaf(ca, "keda-operator"),
      });
    });
    let harnesses: Harness[] = [];
    afterAll(async () => {
      await Promise.all(harnesses.map((h) => h.stop()));
    });

    it("shares a decision's memory: the other replica's next answer keeps the first one's scale-down band", async () => {
      const [portA, portB] = [await freePort(), await freePort()];
      const tls = (pair: KeyPair, port: number) => ({
        GRPC_PORT: String(port),
        TLS_CERT_FILE: pair.certFile,
        TLS_KEY_FILE: pair.keyFile,
        TLS_CLIENT_CA_FILE: pki.caFile,
        PEERS_DNS: `127.0.0.1:${portA},127.0.0.1:${portB}`,
        PEERS_STARTUP_SECONDS: "0.5",
      });
      const a = await startHarness(tls(pki.a, portA));
      const b = await startHarness(tls(pki.b, portB));
      harnesses = [a, b];
      const credentials = () =>
        grpc.credentials.createSsl(read(pki.caFile), read(pki.keda.keyFile), read(pki.keda.certFile));
      const kedaA = new KedaLikeClient(a.address, credentials());
      const kedaB = new KedaLikeClient(b.address, credentials());
      try {
        a.source.setBacklog(10);
        expect(await desired(kedaA)).toBe(10);
        await eventually(
          async () => expect(await metricOf(a, "keda_llm_scaler_peer_memory_pending")).toBe(0),
          10_000,
        );
        expect(await metricOf(b, 'keda_llm_scaler_peer_memory_received_total{outcome="applied"}')).toBe(1);
        // 9 waiting: alone, B would answer 9; with A's memory the band keeps 10 (9 < 10 × 0.9 is false).
        b.source.setBacklog(9);
        expect(await desired(kedaB)).toBe(10);
      } finally {
        kedaA.close();
        kedaB.close();
      }
    });
  });
});
