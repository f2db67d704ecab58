/**
 * A port the scaler cannot listen on, told in terms of the setting that chose it. grpc-js reports a
 * bind failure as "No address added out of total 1 resolved errors: [listen EADDRINUSE ...]" and
 * Node's HTTP server as a bare EADDRINUSE: neither says which of the two ports, or what to change.
 */
export class ListenError extends Error {
  override readonly name = "ListenError";
}

type PortSetting = "GRPC_PORT" | "HTTP_PORT";

const CODES = ["EADDRINUSE", "EACCES", "EADDRNOTAVAIL"] as const;

function codeOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return CODES.find((c) => message.includes(c));
}

export function listenError(setting: PortSetting, port: number, host: string, cause: unknown): ListenError {
  const where = `${setting}=${port} on ${host}`;
  switch (codeOf(cause)) {
    case "EADDRINUSE":
      return new ListenError(
        `${where}: the port is already in use by another process; stop it or set ${setting} to a free port`,
      );
    case "EACCES":
      return new ListenError(`${where}: not allowed to listen on this port; use a port above 1023`);
    case "EADDRNOTAVAIL":
      return new ListenError(`${where}: LISTEN_HOST=${host} is not an address of this machine`);
    default: {
      const reason = cause instanceof Error ? cause.message : String(cause);
      return new ListenError(`${where}: cannot listen (${reason.slice(0, 200)})`);
    }
  }
}
