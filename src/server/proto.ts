import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

/**
 * proto/ sits at the repository (or image) root: above src/server when run with tsx, above
 * dist/src/server when built. Walk up rather than hard-code either layout.
 */
export function findProto(fileName: string): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 5; level++) {
    const candidate = join(directory, "proto", fileName);
    if (existsSync(candidate)) return candidate;
    directory = dirname(directory);
  }
  throw new Error(`proto/${fileName} not found above ${fileURLToPath(import.meta.url)}`);
}

export const EXTERNAL_SCALER_PROTO = findProto("externalscaler.proto");

const LOADER_OPTIONS: protoLoader.Options = {
  // Keep KEDA's camelCase field names as they are on the wire.
  keepCase: true,
  // int64 targetSize/metricValue: plain numbers (they are small replica counts).
  longs: Number,
  defaults: true,
  oneofs: true,
};

/** KEDA's externalscaler proto plus grpc.health.v1, so reflection can describe both. */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([EXTERNAL_SCALER_PROTO, healthProtoPath], LOADER_OPTIONS);
}

export function externalScalerService(definition: protoLoader.PackageDefinition): grpc.ServiceDefinition {
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    externalscaler: { ExternalScaler: grpc.ServiceClientConstructor };
  };
  return loaded.externalscaler.ExternalScaler.service;
}

/** The client KEDA would build from the same proto (used by tests, the load benchmark and `explain --live`). */
export function externalScalerClientConstructor(): grpc.ServiceClientConstructor {
  const loaded = grpc.loadPackageDefinition(loadPackageDefinition()) as unknown as {
    externalscaler: { ExternalScaler: grpc.ServiceClientConstructor };
  };
  return loaded.externalscaler.ExternalScaler;
}

/** Wire shapes of the messages (keepCase, longs as numbers). */
export interface ScaledObjectRefMessage {
  name: string;
  namespace: string;
  scalerMetadata: Record<string, string>;
}
export interface GetMetricsRequestMessage {
  scaledObjectRef: ScaledObjectRefMessage | null;
  metricName: string;
}
export interface MetricSpecMessage {
  metricName: string;
  targetSize: number;
  targetSizeFloat: number;
}
export interface GetMetricSpecResponseMessage {
  metricSpecs: MetricSpecMessage[];
}
export interface MetricValueMessage {
  metricName: string;
  metricValue: number;
  metricValueFloat: number;
}
export interface GetMetricsResponseMessage {
  metricValues: MetricValueMessage[];
}
export interface IsActiveResponseMessage {
  result: boolean;
}
