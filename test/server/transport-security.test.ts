import { copyFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CertificateAuthority,
  type KeyPair,
  makeCa,
  makeLeaf,
  read,
  tempDir,
} from "../support/certs.ts";
import {
  eventually,
  type Harness,
  KedaLikeClient,
  ONE_PER_MESSAGE,
  ref,
  startHarness,
} from "../support/scaler-harness.ts";

interface MetricsResponse {
  metricValues: { metricName: string; metricValueFloat: number }[];
}

const pki = {} as {
  dir: string;
  ca: CertificateAuthority;
  otherCa: CertificateAuthority;
  server: KeyPair;
  client: KeyPair;
  expiredClient: KeyPair;
  strangerClient: KeyPair;
};

beforeAll(() => {
  const dir = tempDir("scaler-pki-");
  const ca = makeCa(dir, "keda-ca");
  const otherCa = makeCa(dir, "other-ca");
  Object.assign(pki, {
    dir,
    ca,
    otherCa,
    server: makeLeaf(ca, "scaler", { server: true }),
    client: makeLeaf(ca, "keda-operator"),
    expiredClient: makeLeaf(ca, "keda-expired", { expired: true }),
    strangerClient: makeLeaf(otherCa, "stranger"),
  });
});

function tlsClient(address: string, client?: KeyPair, trust: CertificateAuthority = pki.ca): KedaLikeClient {
  const credentials = grpc.credentials.createSsl(
    read(trust.certFile),
    client ? read(client.keyFile) : null,
    client ? read(client.certFile) : null,
  );
  return new KedaLikeClient(address, credentials);
}

async function metricValue(client: KedaLikeClient, name = "so"): Promise<number> {
  const response = await client.call<MetricsResponse>(
    "GetMetrics",
    { scaledObjectRef: ref(name, ONE_PER_MESSAGE), metricName: "llm-desired-replicas" },
    3000,
  );
  return response.metricValues[0]!.metricValueFloat;
}

async function refused(client: KedaLikeClient): Promise<grpc.ServiceError> {
  try {
    await metricValue(client);
  } catch (error) {
    return error as grpc.ServiceError;
  } finally {
    client.close();
  }
  throw new Error("the call succeeded but should have been refused");
}

describe("TLS", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ TLS_CERT_FILE: pki.server.certFile, TLS_KEY_FILE: pki.server.keyFile });
    harness.source.setBacklog(3);
  });
  afterAll(() => harness.stop());

  it("serves a client that trusts the CA", async () => {
    expect(harness.scaler.security).toBe("tls");
    const client = tlsClient(harness.address);
    expect(await metricValue(client)).toBe(3);
    client.close();
  });

  it("refuses a plaintext client and a client that trusts another CA", async () => {
    const plaintext = await refused(new KedaLikeClient(harness.address));
    expect(plaintext.code).toBe(grpc.status.UNAVAILABLE);
    const wrongTrust = await refused(tlsClient(harness.address, undefined, pki.otherCa));
    expect(wrongTrust.code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe("mutual TLS", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({
      TLS_CERT_FILE: pki.server.certFile,
      TLS_KEY_FILE: pki.server.keyFile,
      TLS_CLIENT_CA_FILE: pki.ca.certFile,
    });
    harness.source.setBacklog(2);
  });
  afterAll(() => harness.stop());

  it("serves KEDA presenting a certificate from the client CA", async () => {
    expect(harness.scaler.security).toBe("mtls");
    const client = tlsClient(harness.address, pki.client);
    expect(await metricValue(client)).toBe(2);
    client.close();
  });

  it.each([
    ["no client certificate", () => undefined],
    ["a certificate from another CA", () => pki.strangerClient],
    ["an expired certificate", () => pki.expiredClient],
  ])("refuses a client with %s", async (_, clientPair) => {
    const error = await refused(tlsClient(harness.address, clientPair()));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe("certificate rotation", () => {
  it("serves the rewritten certificate to new connections while open ones keep working", async () => {
    const live = tempDir("scaler-live-");
    const certFile = join(live, "tls.crt");
    const keyFile = join(live, "tls.key");
    copyFileSync(pki.server.certFile, certFile);
    copyFileSync(pki.server.keyFile, keyFile);
    const harness = await startHarness({
      TLS_CERT_FILE: certFile,
      TLS_KEY_FILE: keyFile,
      TLS_RELOAD_CHECK_SECONDS: "0.1",
    });
    try {
      harness.source.setBacklog(1);
      const before = tlsClient(harness.address);
      expect(await metricValue(before)).toBe(1);
      // A stream opened before the rotation must survive it.
      const stream = before.stream<{ result: boolean }>("StreamIsActive", ref("rotating", ONE_PER_MESSAGE));
      const seen: boolean[] = [];
      stream.on("data", (m) => seen.push(m.result));
      stream.on("error", () => {});
      await eventually(() => expect(seen).toEqual([true]));

      // cert-manager issues from a new CA and rewrites the files in place.
      const rotated = makeLeaf(pki.otherCa, "scaler-rotated", { server: true });
      copyFileSync(rotated.keyFile, keyFile);
      copyFileSync(rotated.certFile, certFile);

      await eventually(
        async () => {
          const after = tlsClient(harness.address, undefined, pki.otherCa);
          try {
            expect(await metricValue(after, "after-rotation")).toBe(1);
          } finally {
            after.close();
          }
        },
        10_000,
        200,
      );
      const oldTrust = await refused(tlsClient(harness.address));
      expect(oldTrust.code).toBe(grpc.status.UNAVAILABLE);

      harness.source.setBacklog(0);
      await eventually(() => expect(seen).toEqual([true, false]));
      expect(await metricValue(before)).toBe(0);
      stream.cancel();
      before.close();
    } finally {
      await harness.stop();
    }
  });
});
