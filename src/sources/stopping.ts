/**
 * The signal one upstream request runs under: its own deadline, or the process stopping,
 * whichever comes first. Aborting on stop closes the request's socket, so a hanging upstream
 * cannot hold the process past its shutdown grace (a 60 s queryTimeoutMs would otherwise
 * outlive Kubernetes' 30 s terminationGracePeriodSeconds).
 */
export function requestSignal(timeoutMs: number, stopping: AbortSignal | undefined): AbortSignal {
  const deadline = AbortSignal.timeout(timeoutMs);
  return stopping ? AbortSignal.any([deadline, stopping]) : deadline;
}
