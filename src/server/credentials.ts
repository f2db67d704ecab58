import * as grpc from "@grpc/grpc-js";

export interface TlsFiles {
  readonly certFile?: string;
  readonly keyFile?: string;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  readonly clientCaFile?: string;
  readonly reloadCheckMs: number;
}

export type TransportSecurity = "plaintext" | "tls" | "mtls";

export function transportSecurity(files: TlsFiles): TransportSecurity {
  if (!files.certFile || !files.keyFile) return "plaintext";
  return files.clientCaFile ? "mtls" : "tls";
}

/**
 * Server credentials from files. The files are watched (grpc-js' FileWatcherCertificateProvider
 * re-reads them every `reloadCheckMs`), so a certificate that cert-manager rotates in place is
 * served to new connections without a restart.
 */
export function serverCredentials(files: TlsFiles): grpc.ServerCredentials {
  if (transportSecurity(files) === "plaintext") return grpc.ServerCredentials.createInsecure();
  const identity = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: files.certFile,
    privateKeyFile: files.keyFile,
    refreshIntervalMs: files.reloadCheckMs,
  });
  const clientCa = files.clientCaFile
    ? new grpc.experimental.FileWatcherCertificateProvider({
        caCertificateFile: files.clientCaFile,
        refreshIntervalMs: files.reloadCheckMs,
      })
    : null;
  // grpc-js' declaration names the first parameter caCertificateProvider, but the implementation
  // takes the identity provider first (server-credentials.js); the order here is the one that runs.
  const create = grpc.experimental.createCertificateProviderServerCredentials as unknown as (
    identityProvider: grpc.experimental.CertificateProvider,
    caProvider: grpc.experimental.CertificateProvider | null,
    requireClientCertificate: boolean,
  ) => grpc.ServerCredentials;
  return create(identity, clientCa, clientCa !== null);
}
