/**
 * Loaded into each server and each load generator the load bench starts (`node --import`):
 * records every garbage collection (when it started on the wall clock, how long the event loop was
 * paused, which kind) and writes them to GC_RECORD_FILE as the process exits. The bench reports the
 * ones inside its measured window beside the latencies (gc-summary.ts); both servers carry it, so
 * the floor pays its (small) cost too.
 *
 * Plain JavaScript on purpose: a TypeScript file given to `--import` makes Node load its type
 * stripper into the compiled scaler, ~20 MiB of RSS the image never has. Node reports a collection
 * on a later turn of the event loop, so a process that never yields records none; collections
 * still queued at exit are taken there.
 */
import { writeFileSync } from "node:fs";
import { constants, PerformanceObserver } from "node:perf_hooks";

const KINDS = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, "scavenge"],
  [constants.NODE_PERFORMANCE_GC_MAJOR, "full"],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, "incremental"],
]);

const file = process.env.GC_RECORD_FILE;
if (file) {
  const events = [];
  const record = (entries) => {
    for (const entry of entries)
      events.push({
        atMs: performance.timeOrigin + entry.startTime,
        pauseMs: entry.duration,
        kind: KINDS.get(entry.detail?.kind) ?? "other",
      });
  };
  const observer = new PerformanceObserver((list) => record(list.getEntries()));
  observer.observe({ entryTypes: ["gc"] });
  process.on("exit", () => {
    record(observer.takeRecords());
    writeFileSync(file, JSON.stringify(events));
  });
}
