import { serviceGroups } from "./groups/service.ts";
import { sourceEndpointGroups } from "./groups/sources.ts";
import {
  type CrossCheck,
  type GroupsValues,
  type RawInputs,
  type Resolved,
  resolveSettings,
  schemaFor,
} from "./resolve.ts";

/** Process-wide settings: environment only. */
export const serviceConfigGroups = { ...serviceGroups, ...sourceEndpointGroups } as const;

export type ServiceConfig = GroupsValues<typeof serviceConfigGroups>;

const crossChecks: CrossCheck<ServiceConfig>[] = [
  ({ tls }) =>
    (tls.certFile === undefined) !== (tls.keyFile === undefined)
      ? {
          group: "tls",
          field: "keyFile",
          message: "env TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither",
        }
      : undefined,
  ({ tls }) =>
    tls.clientCaFile !== undefined && tls.certFile === undefined
      ? {
          group: "tls",
          field: "clientCaFile",
          message: "env TLS_CLIENT_CA_FILE (mutual TLS) needs TLS_CERT_FILE and TLS_KEY_FILE as well",
        }
      : undefined,
  ({ tls, debug }) =>
    tls.clientCaFile !== undefined && debug.exposeDecisions === "true"
      ? {
          group: "debug",
          field: "exposeDecisions",
          message:
            "env DEBUG_DECISIONS=true would serve every tenant's decisions in plaintext on HTTP_PORT while gRPC requires mutual TLS (TLS_CLIENT_CA_FILE): use DEBUG_DECISIONS=loopback and kubectl port-forward",
        }
      : undefined,
  ({ tls, peers }) =>
    peers.dns !== undefined && tls.certFile !== undefined && tls.clientCaFile === undefined
      ? {
          group: "peers",
          field: "dns",
          message:
            "env PEERS_DNS with TLS needs TLS_CLIENT_CA_FILE: replicas present their own certificate to each other and check the others' against that CA",
        }
      : undefined,
];

const serviceConfigSchema = schemaFor(serviceConfigGroups, crossChecks);

export function resolveServiceConfig(env: RawInputs["env"]): Resolved<ServiceConfig> {
  return resolveSettings(serviceConfigGroups, serviceConfigSchema, { env }, { rejectUnknownKeys: false });
}

export function loadServiceConfig(env: RawInputs["env"]): ServiceConfig {
  return resolveServiceConfig(env).values;
}
