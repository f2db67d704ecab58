import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
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

function readNamed(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${variable} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

/**
 * Fails at startup, naming the variable, when a file is missing or the key does not belong to the
 * certificate; later rotations that go wrong only drop new connections until the files are right.
 */
function checkTlsFiles(files: TlsFiles): void {
  const cert = readNamed(files.certFile!, "TLS_CERT_FILE");
  const key = readNamed(files.keyFile!, "TLS_KEY_FILE");
  const ca = files.clientCaFile ? readNamed(files.clientCaFile, "TLS_CLIENT_CA_FILE") : undefined;
  try {
    createSecureContext({ cert, key, ca });
  } catch (error) {
    throw new Error(
      `TLS_CERT_FILE/TLS_KEY_FILE${ca ? "/TLS_CLIENT_CA_FILE" : ""} are not a usable certificate setup: ${(error as Error).message}`,
    );
  }
}

/** Resolves once the provider has read its files, so the first connection already finds a certificate. */
function firstRead(provider: grpc.experimental.CertificateProvider, kind: "identity" | "ca"): Promise<void> {
  return new Promise((resolve, reject) => {
    const listener = (update: unknown) => {
      if (kind === "identity") provider.removeIdentityCertificateListener(listener);
      else provider.removeCaCertificateListener(listener);
      if (update) resolve();
      else
        reject(
          new Error(
            `the ${kind === "identity" ? "server certificate" : "client CA"} files could not be read`,
          ),
        );
    };
    if (kind === "identity") provider.addIdentityCertificateListener(listener);
    else provider.addCaCertificateListener(listener);
  });
}

/**
 * Server credentials from files. The files are watched (grpc-js' FileWatcherCertificateProvider
 * re-reads them every `reloadCheckMs`), so a certificate that cert-manager rotates in place is
 * served to new connections without a restart; open connections keep the one they started with.
 */
export async function serverCredentials(files: TlsFiles): Promise<grpc.ServerCredentials> {
  if (transportSecurity(files) === "plaintext") return grpc.ServerCredentials.createInsecure();
  checkTlsFiles(files);
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
  await firstRead(identity, "identity");
  if (clientCa) await firstRead(clientCa, "ca");
  // grpc-js' declaration names the first parameter caCertificateProvider, but the implementation
  // passes it on as the identity provider (server-credentials.js); the order here is the one that runs.
  const create = grpc.experimental.createCertificateProviderServerCredentials as unknown as (
    identityProvider: grpc.experimental.CertificateProvider,
    caProvider: grpc.experimental.CertificateProvider | null,
    requireClientCertificate: boolean,
  ) => grpc.ServerCredentials;
  return create(identity, clientCa, clientCa !== null);
}
