import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

/**
 * JSON logs on stdout. Secret-looking fields are redacted as a second line of defence; the first
 * is that no code path puts a connection string or token into a log object.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "keda-llm-scaler" },
    redact: {
      paths: [
        "*.connectionString",
        "*.password",
        "*.token",
        "*.bearerToken",
        "*.authorization",
        "*.Authorization",
      ],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
