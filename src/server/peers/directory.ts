import { lookup } from "node:dns/promises";
import { networkInterfaces } from "node:os";
import type { PeerName } from "../../config/peer-names.ts";

/** A peer replica: where to call it, and the name its certificate carries. */
export interface PeerAddress {
  /** host:port, as a gRPC target (IPv6 bracketed). */
  readonly target: string;
  readonly ip: string;
  /** The DNS name it was found under: checked against the peer's server certificate. */
  readonly serverName: string;
}

function normalisedIp(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice("::ffff:".length) : ip;
}

function localAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const info of list ?? []) addresses.add(normalisedIp(info.address));
  return addresses;
}

export type Resolve = (host: string) => Promise<string[]>;

const systemResolve: Resolve = async (host) =>
  (await lookup(host, { all: true })).map((answer) => normalisedIp(answer.address));

/**
 * The other replicas, found by resolving PEERS_DNS (a headless Service answers every pod's
 * address). This replica is left out by address and port. The addresses are also the allow-list
 * of who may call the peer service: a caller from anywhere else is refused.
 */
export class PeerDirectory {
  private peers: PeerAddress[] = [];
  private allowed = new Set<string>();
  private resolvedAtMs = Number.NEGATIVE_INFINITY;
  private resolving: Promise<void> | undefined;
  /** Whether any name under PEERS_DNS has ever resolved, and why the last lookup failed if not. */
  private answered = false;
  private lastError: string | undefined;

  private readonly names: readonly PeerName[];
  private readonly ownPort: () => number;
  private readonly clock: () => number;
  private readonly resolve: Resolve;

  constructor(
    names: readonly PeerName[],
    ownPort: () => number,
    clock: () => number,
    resolve: Resolve = systemResolve,
  ) {
    this.names = names;
    this.ownPort = ownPort;
    this.clock = clock;
    this.resolve = resolve;
  }

  /**
   * Why no name has ever resolved (the DNS error code), or undefined once one has. A correct
   * PEERS_DNS names a Service that publishes this very pod, so it answers within seconds of the
   * start; one that never answers is mistyped or names no Service.
   */
  get neverResolved(): string | undefined {
    return this.answered ? undefined : (this.lastError ?? "not looked up yet");
  }

  /** The other replicas as last resolved. */
  get current(): readonly PeerAddress[] {
    return this.peers;
  }

  /** Resolves again when the last answer is older than `maxAgeMs` (one lookup at a time). */
  refresh(maxAgeMs: number): Promise<void> {
    if (this.clock() - this.resolvedAtMs < maxAgeMs) return Promise.resolve();
    this.resolving ??= this.lookup().finally(() => {
      this.resolving = undefined;
    });
    return this.resolving;
  }

  /** Whether a caller's address belongs to a replica; a stranger makes us look again, at most once per second. */
  async admits(remoteIp: string): Promise<boolean> {
    const ip = normalisedIp(remoteIp);
    if (this.allowed.has(ip)) return true;
    await this.refresh(1000);
    return this.allowed.has(ip);
  }

  private async lookup(): Promise<void> {
    const mine = localAddresses();
    const peers: PeerAddress[] = [];
    const allowed = new Set<string>();
    let anyAnswered = false;
    for (const name of this.names) {
      let ips: string[];
      try {
        ips = await this.resolve(name.host);
        anyAnswered = true;
      } catch (error) {
        // No replica published under this name yet (a starting Deployment): try again later.
        const code = (error as { code?: unknown }).code;
        this.lastError = typeof code === "string" ? code.slice(0, 40) : "lookup failed";
        continue;
      }
      for (const ip of ips) {
        allowed.add(ip);
        if (mine.has(ip) && name.port === this.ownPort()) continue;
        const target = ip.includes(":") ? `[${ip}]:${name.port}` : `${ip}:${name.port}`;
        if (!peers.some((peer) => peer.target === target)) peers.push({ target, ip, serverName: name.host });
      }
    }
    this.resolvedAtMs = this.clock();
    // A failed lookup keeps the replicas we knew: DNS hiccups must not cut the sharing.
    if (!anyAnswered) return;
    this.answered = true;
    this.peers = peers;
    this.allowed = allowed;
  }
}
