import * as grpc from "@grpc/grpc-js";
import { shortened } from "../config/excerpt.ts";
import { ConfigError } from "../config/resolve.ts";

/**
 * The longest status message we send. gRPC carries it in an HTTP/2 trailer: one far above the
 * peer's header-list limit (16 KiB in Go's and Node's HTTP/2) is never delivered, the call hangs
 * until its deadline, and the shared connection suffers with it.
 */
export const MAX_STATUS_MESSAGE = 1024;

/** An error that carries the gRPC status KEDA should see. */
export class RpcError extends Error {
  readonly code: grpc.status;

  constructor(code: grpc.status, message: string) {
    super(message);
    this.code = code;
    this.name = "RpcError";
  }
}

export function toServiceError(
  error: unknown,
): Partial<grpc.ServiceError> & { code: grpc.status; details: string } {
  if (error instanceof RpcError) {
    const details = shortened(error.message, MAX_STATUS_MESSAGE);
    return { code: error.code, details, message: details };
  }
  if (error instanceof ConfigError) {
    const details = shortened(`invalid scalerMetadata: ${error.message}`, MAX_STATUS_MESSAGE);
    return { code: grpc.status.INVALID_ARGUMENT, details, message: details };
  }
  // Internal details stay in our logs; KEDA gets a stable, secret-free message.
  return {
    code: grpc.status.INTERNAL,
    details: "internal error in keda-llm-scaler (see its logs)",
    message: "internal",
  };
}
