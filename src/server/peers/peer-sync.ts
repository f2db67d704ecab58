import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Counter, Gauge, type Registry } from "prom-client";
import { parsePeerNames } from "../../config/peer-names.ts";
import type { Logger } from "../logger.ts";
import { findProto } from "../proto.ts";
import { type PeerAddress, PeerDirectory, type Resolve } from "./directory.ts";
import type { Outbox, PeerMemoryStore } from "./peer-memory-store.ts";
import { type MemoryEntryMessage, PeerMessageError, validEntries } from "./wire.ts";

export const PEER_MEMORY_SERVICE_NAME = "kedallmscaler.peers.PeerMemory";

interface PushReply {
  applied: number;
  ignored: number;
}
interface SnapshotReply {
  entries: MemoryEntryMessage[];
  complete: boolean;
}

export function peerMemoryService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(findProto("peer-memory.proto"), {
    keepCase: true,
    longs: Number,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    kedallmscaler: { peers: { PeerMemory: grpc.ServiceClientConstructor } };
  };
  return loaded.kedallmscaler.peers.PeerMemory;
}

export interface PeerTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** Verifies the peers' server certificates (the CA that issues every replica's certificate). */
  readonly caFile: string;
}

export interface PeerSyncOptions {
  readonly store: PeerMemoryStore;
  /** PEERS_DNS as configured; names without a port mean this replica's own gRPC port. */
  readonly peersDns: string;
  /** Plaintext when undefined; otherwise each replica presents its own certificate to the others. */
  readonly tls?: PeerTls;
  readonly pushIntervalMs: number;
  readonly callTimeoutMs: number;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly clock?: () => number;
  readonly resolve?: Resolve;
  /** How often PEERS_DNS is looked up again (default 10 s). */
  readonly directoryRefreshMs?: number;
  /** How long PEERS_DNS may stay unresolvable before a warning says so, once (default 60 s). */
  readonly unresolvedWarningMs?: number;
}

/** How often the peers' addresses are looked up again (new pods, rescheduled pods). */
const DIRECTORY_REFRESH_MS = 10_000;
/**
 * A Service's DNS records appear within seconds of it (the peers' Service publishes pods not
 * ready yet, this one included): a minute with no answer at all is a wrong name, not a slow start.
 */
const UNRESOLVED_WARNING_MS = 60_000;
/** A peer that failed is retried after this, doubling up to the maximum. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

interface Peer {
  readonly address: PeerAddress;
  readonly client: grpc.Client;
  readonly outbox: Outbox;
  sending: boolean;
  failures: number;
  retryAtMs: number;
}

class StillFilling extends Error {}

/** "ipv4:1.2.3.4:5", "1.2.3.4:5" or "[::1]:5" → the IP. */
export function callerIp(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\]/.exec(bare);
  if (bracketed) return bracketed[1]!;
  const colon = bare.lastIndexOf(":");
  return colon > 0 && bare.indexOf(":") === colon ? bare.slice(0, colon) : bare;
}

/**
 * Keeps the replicas' policy memories alike. Every memory decided here is pushed to each peer in
 * the background (batched, newest per key, retried with backoff, never awaited by a decision);
 * pushes from peers are validated and merged, the later decision winning; a starting replica
 * fills its memory from one peer's snapshot before it reports ready.
 */
export class PeerSync {
  private readonly Client = peerMemoryService();
  /** Set by start(), once the gRPC port is bound: the port tells this replica apart from the others. */
  private directory: PeerDirectory | undefined;
  private readonly peers = new Map<string, Peer>();
  private timer: NodeJS.Timeout | undefined;
  private startedAtMs = 0;
  private warnedUnresolved = false;
  /** While fill() runs: this replica refuses to hand out its own, partial, memory. */
  private filling = false;
  private credentials: { key: string; value: grpc.ChannelCredentials } | undefined;
  private readonly clock: () => number;
  private readonly sent: Counter<"outcome">;
  private readonly received: Counter<"outcome">;

  private readonly options: PeerSyncOptions;

  constructor(options: PeerSyncOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    const registers = [options.registry];
    this.sent = new Counter({
      name: "keda_llm_scaler_peer_memory_sent_total",
      help: "Policy memories pushed to other replicas: acknowledged, or failed (kept and retried).",
      labelNames: ["outcome"] as const,
      registers,
    });
    this.received = new Counter({
      name: "keda_llm_scaler_peer_memory_received_total",
      help: "Policy memories received from other replicas: applied (newer), ignored (not newer), rejected (invalid or from a stranger).",
      labelNames: ["outcome"] as const,
      registers,
    });
    const peers = this.peers;
    new Gauge({
      name: "keda_llm_scaler_peer_memory_pending",
      help: "Policy memories decided here and not yet acknowledged by a peer (summed over peers).",
      registers,
      collect() {
        let pending = 0;
        for (const peer of peers.values()) pending += peer.outbox.size;
        this.set(pending);
      },
    });
    new Gauge({
      name: "keda_llm_scaler_peers",
      help: "Other replicas found under PEERS_DNS.",
      registers,
      collect() {
        this.set(peers.size);
      },
    });
    for (const outcome of ["acknowledged", "failed"]) this.sent.inc({ outcome }, 0);
    for (const outcome of ["applied", "ignored", "rejected"]) this.received.inc({ outcome }, 0);
  }

  /** The PeerMemory service, for the scaler's gRPC server. */
  addToServer(server: grpc.Server): void {
    server.addService(this.Client.service, {
      Push: (
        call: grpc.ServerUnaryCall<{ entries?: MemoryEntryMessage[] }, PushReply>,
        callback: grpc.sendUnaryData<PushReply>,
      ) =>
        this.answer(call, callback, () => {
          const entries = validEntries(call.request.entries, this.clock());
          let applied = 0;
          for (const entry of entries) if (this.options.store.merge(entry)) applied++;
          this.received.inc({ outcome: "applied" }, applied);
          this.received.inc({ outcome: "ignored" }, entries.length - applied);
          return { applied, ignored: entries.length - applied };
        }),
      Snapshot: (
        call: grpc.ServerUnaryCall<{ afterKey?: string }, SnapshotReply>,
        callback: grpc.sendUnaryData<SnapshotReply>,
      ) =>
        this.answer(call, callback, () => {
          // A replica still copying would hand out a partial memory as if it were whole.
          if (this.filling) throw new StillFilling();
          return this.options.store.snapshotPage(String(call.request.afterKey ?? "").slice(0, 64));
        }),
    });
  }

  /** Starts finding peers and pushing to them in the background, once this replica's gRPC port is known. */
  start(ownPort: number): void {
    this.directory ??= new PeerDirectory(
      parsePeerNames(this.options.peersDns, ownPort),
      () => ownPort,
      this.clock,
      this.options.resolve,
    );
    this.startedAtMs = this.clock();
    this.timer ??= setInterval(() => void this.tick(), this.options.pushIntervalMs);
    this.timer.unref();
  }

  /**
   * Fills the memory from the first peer that answers a whole snapshot, within `budgetMs`. No peer
   * (the first replica, or all of them restarting) means starting empty, as a single replica does.
   */
  async fill(budgetMs: number): Promise<{ from?: string; received: number; applied: number }> {
    const directory = this.directory;
    if (!directory) throw new Error("PeerSync.fill() before start()");
    const deadline = this.clock() + budgetMs;
    this.filling = true;
    try {
      while (this.clock() < deadline) {
        await directory.refresh(0).catch(() => {});
        let allFilling = true;
        for (const address of directory.current) {
          const entries = await this.snapshotFrom(address, deadline).catch((error: unknown) => {
            const filling = (error as grpc.ServiceError).code === grpc.status.FAILED_PRECONDITION;
            if (!filling) allFilling = false;
            this.options.logger.info({ peer: address.target, err: String(error) }, "peer gave no snapshot");
            return undefined;
          });
          if (entries !== undefined) return { from: address.target, ...entries };
        }
        // No peer (the first replica), or every peer starting at the same moment: nobody holds a
        // memory to copy, so waiting would only delay readiness.
        if (allFilling) break;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(RETRY_MIN_MS, Math.max(0, deadline - this.clock()))),
        );
      }
      return { received: 0, applied: 0 };
    } finally {
      this.filling = false;
    }
  }

  /** Other replicas currently pushed to. */
  get peerCount(): number {
    return this.peers.size;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const peer of this.peers.values()) this.drop(peer);
  }

  private async answer<Res>(
    call: grpc.ServerUnaryCall<unknown, Res>,
    callback: grpc.sendUnaryData<Res>,
    work: () => Res,
  ): Promise<void> {
    try {
      if (!this.directory) {
        callback({ code: grpc.status.UNAVAILABLE, details: "this replica is starting" });
        return;
      }
      if (!(await this.directory.admits(callerIp(call.getPeer())))) {
        this.received.inc({ outcome: "rejected" });
        callback({
          code: grpc.status.PERMISSION_DENIED,
          details: "peer memory is accepted only from the replicas found under PEERS_DNS",
        });
        return;
      }
      callback(null, work());
    } catch (error) {
      if (error instanceof StillFilling) {
        callback({
          code: grpc.status.FAILED_PRECONDITION,
          details: "this replica is still copying its peers' memory",
        });
        return;
      }
      this.received.inc({ outcome: "rejected" });
      if (error instanceof PeerMessageError) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: error.message.slice(0, 300) });
        return;
      }
      this.options.logger.warn({ err: error }, "peer memory call failed");
      callback({ code: grpc.status.INTERNAL, details: "internal error in keda-llm-scaler (see its logs)" });
    }
  }

  private async snapshotFrom(
    address: PeerAddress,
    deadline: number,
  ): Promise<{ received: number; applied: number }> {
    const client = this.clientFor(address);
    try {
      let afterKey = "";
      let received = 0;
      let applied = 0;
      // Bounded: every page moves afterKey forward, and the deadline stops a peer that never completes.
      for (;;) {
        const reply = await this.unary<SnapshotReply>(client, "Snapshot", { afterKey }, deadline);
        const entries = validEntries(reply.entries, this.clock());
        received += entries.length;
        for (const entry of entries) if (this.options.store.merge(entry)) applied++;
        const last = entries.at(-1)?.key;
        if (reply.complete) return { received, applied };
        if (last === undefined || last <= afterKey) throw new Error("snapshot page did not advance");
        afterKey = last;
      }
    } finally {
      if (!this.peers.has(address.target)) client.close();
    }
  }

  private async tick(): Promise<void> {
    await this.directory?.refresh(this.options.directoryRefreshMs ?? DIRECTORY_REFRESH_MS).catch(() => {});
    this.warnIfUnresolved();
    try {
      this.reconcilePeers();
    } catch (error) {
      // Unreadable certificate files mid-rotation: keep the memories queued and try next tick.
      this.options.logger.warn({ err: String(error) }, "cannot reach peers");
      return;
    }
    const now = this.clock();
    for (const peer of this.peers.values())
      if (!peer.sending && peer.outbox.size > 0 && now >= peer.retryAtMs) void this.push(peer);
  }

  /** Once: PEERS_DNS has not resolved since the start, so this replica shares its memory with nobody. */
  private warnIfUnresolved(): void {
    const why = this.directory?.neverResolved;
    if (this.warnedUnresolved || why === undefined) return;
    if (this.clock() - this.startedAtMs < (this.options.unresolvedWarningMs ?? UNRESOLVED_WARNING_MS)) return;
    this.warnedUnresolved = true;
    this.options.logger.warn(
      { peersDns: this.options.peersDns.slice(0, 200), error: why },
      `PEERS_DNS "${this.options.peersDns.slice(0, 200)}" has not resolved since the start (${why}): no peer is found and the policy memory is not shared. Check the name: the peers' headless Service (keda-llm-scaler-peers in deploy/), in this namespace or as service.namespace`,
    );
  }

  private async push(peer: Peer): Promise<void> {
    peer.sending = true;
    try {
      // One batch after another while there is more, so a burst drains without waiting for ticks.
      while (peer.outbox.size > 0 && this.peers.get(peer.address.target) === peer) {
        const batch = peer.outbox.nextBatch();
        // Empty when every memory waiting was too long to send (dropped by nextBatch).
        if (batch.length === 0) break;
        await this.unary<PushReply>(
          peer.client,
          "Push",
          { entries: batch },
          this.clock() + this.options.callTimeoutMs,
        );
        peer.outbox.acknowledge(batch);
        this.sent.inc({ outcome: "acknowledged" }, batch.length);
        peer.failures = 0;
      }
    } catch (error) {
      peer.failures++;
      this.sent.inc({ outcome: "failed" });
      peer.retryAtMs = this.clock() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (peer.failures - 1));
      if (peer.failures === 1)
        this.options.logger.warn(
          { peer: peer.address.target, err: String(error) },
          "pushing policy memory to a peer failed; retrying",
        );
    } finally {
      peer.sending = false;
    }
  }

  private reconcilePeers(): void {
    const credentials = this.channelCredentials();
    const wanted = new Map((this.directory?.current ?? []).map((address) => [address.target, address]));
    for (const [target, peer] of this.peers)
      if (!wanted.has(target)) {
        this.drop(peer);
        this.peers.delete(target);
      }
    for (const [target, address] of wanted)
      if (!this.peers.has(target))
        this.peers.set(target, {
          address,
          client: new this.Client(target, credentials, this.channelOptions(address)),
          outbox: this.options.store.openOutbox(),
          sending: false,
          failures: 0,
          retryAtMs: 0,
        });
  }

  private drop(peer: Peer): void {
    this.options.store.closeOutbox(peer.outbox);
    peer.client.close();
  }

  private clientFor(address: PeerAddress): grpc.Client {
    return (
      this.peers.get(address.target)?.client ??
      new this.Client(address.target, this.channelCredentials(), this.channelOptions(address))
    );
  }

  private channelOptions(address: PeerAddress): grpc.ChannelOptions {
    // A restarted peer is retried within seconds, not grpc-js' default of up to two minutes.
    const reconnect = { "grpc.initial_reconnect_backoff_ms": 500, "grpc.max_reconnect_backoff_ms": 5000 };
    // Peers are called by pod address; their certificate names the Service they were found under.
    return this.options.tls && isIP(address.serverName) === 0
      ? { ...reconnect, "grpc.ssl_target_name_override": address.serverName }
      : reconnect;
  }

  /** Re-read on every use, cheaply: cert-manager rotates the files in place. */
  private channelCredentials(): grpc.ChannelCredentials {
    const tls = this.options.tls;
    if (!tls) return grpc.credentials.createInsecure();
    const ca = readFileSync(tls.caFile);
    const key = readFileSync(tls.keyFile);
    const cert = readFileSync(tls.certFile);
    const fingerprint = `${ca.toString("base64")}|${cert.toString("base64")}|${key.length}`;
    if (this.credentials?.key !== fingerprint) {
      this.credentials = { key: fingerprint, value: grpc.credentials.createSsl(ca, key, cert) };
      // Certificates changed: new channels for every peer.
      for (const peer of this.peers.values()) this.drop(peer);
      this.peers.clear();
    }
    return this.credentials.value;
  }

  private unary<Res>(client: grpc.Client, method: string, request: unknown, deadline: number): Promise<Res> {
    const call = (client as unknown as Record<string, (...args: unknown[]) => void>)[method]!;
    return new Promise((resolve, reject) =>
      call.call(client, request, { deadline }, (error: grpc.ServiceError | null, reply: Res) =>
        error ? reject(error) : resolve(reply),
      ),
    );
  }
}
