import { parsePeerNames } from "../peer-names.ts";
import { boolean, integer, oneOf, optional, parsedBy, positiveNumber, setting, text } from "../setting.ts";

const filePath = () => optional(text({ allowed: "a file path", maxLength: 4096 }));

/** Process-wide settings of the scaler service itself (environment only). */
export const serviceGroups = {
  server: {
    listenHost: setting({
      env: "LISTEN_HOST",
      type: text({ allowed: "a host name or IP address to bind", pattern: /^[A-Za-z0-9.:[\]-]+$/ }),
      default: "0.0.0.0",
      doc: "Address both servers bind to. 0.0.0.0 in a pod; 127.0.0.1 for a laptop.",
    }),
    grpcPort: setting({
      env: "GRPC_PORT",
      type: integer(0, 65535),
      default: "6000",
      doc: "Port of the gRPC ExternalScaler, health and reflection services (the `scalerAddress` port).",
    }),
    httpPort: setting({
      env: "HTTP_PORT",
      type: integer(0, 65535),
      default: "8080",
      doc: "Port of /metrics, /debug/decisions, /healthz and /readyz.",
    }),
    logLevel: setting({
      env: "LOG_LEVEL",
      type: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
      default: "info",
      doc: "pino log level. JSON lines on stdout, written in batches (at least every 250 ms; what is still waiting is written at exit, but a process killed outright — SIGKILL, out of memory — loses up to its last 250 ms). Decisions are logged at info when they change, not on every poll.",
    }),
    shutdownGraceSeconds: setting({
      env: "SHUTDOWN_GRACE_SECONDS",
      type: positiveNumber(),
      default: "10",
      doc: "On SIGTERM: how long in-flight calls may finish after health turns NOT_SERVING and streams end.",
    }),
    keepaliveSeconds: setting({
      env: "GRPC_KEEPALIVE_SECONDS",
      type: positiveNumber(),
      default: "30",
      doc: "Server keepalive ping interval, so idle push streams survive proxies (KEDA sets no keepalive).",
    }),
    maxConnectionAgeSeconds: setting({
      env: "GRPC_MAX_CONNECTION_AGE_SECONDS",
      type: positiveNumber(),
      default: "1800",
      doc: "Connections are recycled after this age so a headless Service spreads KEDA over new replicas.",
    }),
    maxConcurrentStreams: setting({
      env: "GRPC_MAX_CONCURRENT_STREAMS",
      type: integer(2, 1_000_000),
      default: "10000",
      doc: "HTTP/2 streams per connection (KEDA shares one connection across all ScaledObjects).",
    }),
    maxMessageBytes: setting({
      env: "GRPC_MAX_MESSAGE_BYTES",
      type: integer(1024, 64 * 1024 * 1024),
      default: "262144",
      doc: "Largest gRPC message accepted; a ScaledObjectRef is a few kilobytes at most.",
    }),
    streamRefreshSeconds: setting({
      env: "STREAM_REFRESH_SECONDS",
      type: positiveNumber(),
      default: "5",
      doc: "How often open StreamIsActive/StreamMetricSpec streams re-evaluate (a message is sent only on change).",
    }),
    decisionTtlSeconds: setting({
      env: "DECISION_TTL_SECONDS",
      type: positiveNumber(),
      default: "5",
      doc: "A decision is reused for this long, so the GetMetrics + IsActive pair of one poll agree.",
    }),
    answerThread: setting({
      env: "ANSWER_THREAD",
      type: boolean(),
      default: "false",
      doc: "Off by default: on the bench's two shared cores it cost more CPU and a longer tail than one thread (docs/reliability.md, \"The answer thread\"). true: answer KEDA's gRPC calls on a thread of their own, from the decisions the main thread makes ahead of each poll (which also runs the sources, /metrics and /debug). With PEERS_DNS the replicas' memory service shares the port and its calls are passed to the main thread, where the memory is. false: one thread does everything.",
    }),
    maxScaledObjects: setting({
      env: "MAX_SCALED_OBJECTS",
      type: integer(1, 1_000_000),
      default: "10000",
      doc: "ScaledObjects remembered (spec, decision, fail-static memory); the least recently polled is forgotten beyond this.",
    }),
  },
  tls: {
    certFile: setting({
      env: "TLS_CERT_FILE",
      type: filePath(),
      doc: "PEM server certificate. Set with TLS_KEY_FILE to serve TLS; reloaded when the file changes.",
    }),
    keyFile: setting({
      env: "TLS_KEY_FILE",
      type: filePath(),
      doc: "PEM private key of the server certificate.",
    }),
    clientCaFile: setting({
      env: "TLS_CLIENT_CA_FILE",
      type: filePath(),
      doc: "PEM CA bundle. When set, clients (KEDA) must present a certificate signed by it (mutual TLS).",
    }),
    reloadCheckSeconds: setting({
      env: "TLS_RELOAD_CHECK_SECONDS",
      type: positiveNumber(),
      default: "10",
      doc: "How often the certificate files are checked for rotation (cert-manager rewrites them in place).",
    }),
  },
  peers: {
    dns: setting({
      env: "PEERS_DNS",
      type: optional(
        parsedBy("comma-separated host or host:port names (the port defaults to GRPC_PORT)", (raw) => {
          if (raw.length > 1024) throw new Error("longer than 1024 characters");
          if (parsePeerNames(raw, 1).length === 0) throw new Error("no name given");
          return raw.trim();
        }),
      ),
      doc: "DNS name under which every scaler replica is found (a headless Service that publishes not-ready pods). Set: the replicas share their policy memory over the gRPC port (answered only to those addresses, with the gRPC port's credentials), so KEDA's round-robin gets one answer and a restarted replica changes none. Unset: each replica remembers on its own (right for one replica).",
    }),
    startupSeconds: setting({
      env: "PEERS_STARTUP_SECONDS",
      type: positiveNumber(),
      default: "5",
      doc: "With PEERS_DNS: at start, how long a replica tries to copy a peer's memory before it reports ready anyway (starting empty, as a lone replica does).",
    }),
    pushIntervalSeconds: setting({
      env: "PEERS_PUSH_INTERVAL_SECONDS",
      type: positiveNumber(),
      default: "0.1",
      doc: "With PEERS_DNS: how often memories decided here are pushed to the peers (in batches of at most 64, newest per ScaledObject).",
    }),
    timeoutSeconds: setting({
      env: "PEERS_TIMEOUT_SECONDS",
      type: positiveNumber(),
      default: "2",
      doc: "With PEERS_DNS: deadline of one push or snapshot page; a peer that misses it is retried with backoff (0.5 s doubling to 30 s).",
    }),
  },
  debug: {
    exposeDecisions: setting({
      env: "DEBUG_DECISIONS",
      type: oneOf(["false", "loopback", "true"]),
      default: "loopback",
      doc: "Serve /debug/decisions (every tenant's ScaledObjects, readings and reasons, unauthenticated): loopback answers only connections from the pod itself (kubectl port-forward); true answers anyone who reaches HTTP_PORT; false hides it.",
    }),
  },
} as const;
