/** One name of PEERS_DNS: a host (normally the peers' headless Service) and the gRPC port its replicas listen on. */
export interface PeerName {
  readonly host: string;
  readonly port: number;
}

/** Parses PEERS_DNS: comma-separated `host` or `host:port` (the port defaults to GRPC_PORT). */
export function parsePeerNames(raw: string, defaultPort: number): PeerName[] {
  return raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(part);
      if (!match) throw new Error(`${JSON.stringify(part.slice(0, 100))} is not host or host:port`);
      const port = match[2] === undefined ? defaultPort : Number(match[2]);
      if (port < 1 || port > 65535) throw new Error(`${JSON.stringify(part)} has no valid port`);
      return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
    });
}
