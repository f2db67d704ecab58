import * as grpc from "@grpc/grpc-js";
import { ConfigError } from "../config/resolve.ts";

/** An error that carries the gRPC status KEDA should see. */
export class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export function toServiceError(
  error: unknown,
): Partial<grpc.ServiceError> & { code: grpc.status; details: string } {
  if (error instanceof RpcError) return { code: error.code, details: error.message, message: error.message };
  if (error instanceof ConfigError) {
    const details = `invalid scalerMetadata: ${error.message}`;
    return { code: grpc.status.INVALID_ARGUMENT, details, message: details };
  }
  // Internal details stay in our logs; KEDA gets a stable, secret-free message.
  return {
    code: grpc.status.INTERNAL,
    details: "internal error in keda-llm-scaler (see its logs)",
    message: "internal",
  };
}
