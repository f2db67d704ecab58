/** KEDA names the HPA metric `s<triggerIndex>-<our name>` and strips that prefix before GetMetrics. */
const KEDA_TRIGGER_PREFIX = /^s\d+-/;

/**
 * Whether a GetMetrics `metricName` refers to our metric. Case-insensitive because the HPA
 * lowercases names in its URL and older KEDA leaked that casing (and the prefix) to scalers.
 */
export function isOurMetricName(requested: string, ours: string): boolean {
  const wanted = requested.trim().toLowerCase();
  const name = ours.toLowerCase();
  return (
    wanted === name || (KEDA_TRIGGER_PREFIX.test(wanted) && wanted.replace(KEDA_TRIGGER_PREFIX, "") === name)
  );
}
