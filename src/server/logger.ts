import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

/**
 * Standard output, written in batches: at least 4 KB at a time, and whatever is waiting every
 * 250 ms. Every changed decision of every ScaledObject is a line; written one by one, at 4,000
 * ScaledObjects they cost the event loop that answers KEDA ~3 % of its time in write calls
 * (`npm run bench:grpc -- --scaled-objects 4000 --cpu-prof`). Lines still waiting when the process
 * exits are written by pino's exit handler; a process killed outright loses at most 250 ms of them.
 */
function batchedStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 });
}

/**
 * JSON logs on stdout. Secret-looking fields are redacted as a second line of defence; the first
 * is that no code path puts a connection string or token into a log object.
 */
export function createLogger(level: string, destination: DestinationStream = batchedStdout()): Logger {
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
  return pino(options, destination);
}
