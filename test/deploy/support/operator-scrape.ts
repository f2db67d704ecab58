import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IService } from "kubernetes-models/v1/Service";
import type { ScrapeJob } from "../../support/prometheus.ts";
import { find, type Manifest, only } from "./kustomize.ts";

interface ServiceMonitorEndpoint {
  port?: string;
  path?: string;
  honorLabels?: boolean;
}
interface ServiceMonitor {
  metadata: { name: string; namespace?: string };
  spec: { selector: { matchLabels?: Record<string, string> }; endpoints: ServiceMonitorEndpoint[] };
}

const matches = (selector: Record<string, string> = {}, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

/**
 * The scrape job the Prometheus Operator generates for the first endpoint of a shipped
 * ServiceMonitor, aimed at one known address instead of Kubernetes service discovery. The
 * discovery labels the endpoints role would give (namespace, Service, pod, container, port name)
 * are set on the target and turned into target labels by the operator's own relabelling, and
 * honor_labels and the path come from the ServiceMonitor: what Prometheus stores is then what it
 * stores in a cluster.
 */
export function serviceMonitorScrapeJob(
  manifests: readonly Manifest[],
  serviceMonitorName: string,
  address: string,
): ScrapeJob {
  const monitor = only<ServiceMonitor>(manifests, "ServiceMonitor", serviceMonitorName);
  const endpoint = monitor.spec.endpoints[0];
  if (!endpoint?.port) throw new Error(`ServiceMonitor ${serviceMonitorName} has no named endpoint port`);
  const namespace = monitor.metadata.namespace ?? "default";
  const service = find<IService>(manifests, "Service").find(
    (s) =>
      s.metadata?.namespace === namespace &&
      matches(monitor.spec.selector.matchLabels, s.metadata?.labels as Record<string, string>),
  );
  if (!service?.metadata?.name)
    throw new Error(`no Service selected by ServiceMonitor ${serviceMonitorName}`);
  const servicePort = service.spec?.ports?.find((p) => p.name === endpoint.port);
  const deployment = find<IDeployment>(manifests, "Deployment").find((d) =>
    matches(
      service.spec?.selector as Record<string, string>,
      d.spec?.template.metadata?.labels as Record<string, string>,
    ),
  );
  const containerPortName = String(servicePort?.targetPort ?? endpoint.port);
  const container = deployment?.spec?.template.spec?.containers.find((c) =>
    (c.ports ?? []).some((p) => p.name === containerPortName),
  );
  if (!deployment?.metadata?.name || !container)
    throw new Error(`no container serves port ${containerPortName} of Service ${service.metadata.name}`);

  const discovered = {
    __meta_kubernetes_namespace: namespace,
    __meta_kubernetes_service_name: service.metadata.name,
    __meta_kubernetes_pod_name: `${deployment.metadata.name}-7d9f8b6c5-x2k4p`,
    __meta_kubernetes_pod_container_name: container.name,
    __meta_kubernetes_endpoint_port_name: endpoint.port,
  };
  const copy = (from: string, to: string) => ({ source_labels: [from], target_label: to });
  return {
    job_name: `serviceMonitor/${namespace}/${serviceMonitorName}/0`,
    honor_labels: endpoint.honorLabels ?? false,
    metrics_path: endpoint.path ?? "/metrics",
    static_configs: [{ targets: [address], labels: discovered }],
    relabel_configs: [
      { source_labels: ["__meta_kubernetes_endpoint_port_name"], regex: endpoint.port, action: "keep" },
      copy("__meta_kubernetes_namespace", "namespace"),
      copy("__meta_kubernetes_service_name", "service"),
      copy("__meta_kubernetes_pod_name", "pod"),
      copy("__meta_kubernetes_pod_container_name", "container"),
      copy("__meta_kubernetes_service_name", "job"),
      { target_label: "endpoint", replacement: endpoint.port },
    ],
  };
}
