// Reads a JSON array of Kubernetes objects on stdin, validates each custom resource whose kind
// is known below against the JSON Schema of its CRD (the @kubernetes-models packages compile
// them from the upstream CRDs), prints one line per object, and exits 1 if any is invalid or of
// an unknown custom kind. Types, required fields and enums are checked; unknown fields are not
// (the CRD schemas do not forbid them), so scripts/validate_k8s.py checks the keys that matter.
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";

const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
let failed = 0;
for (const obj of JSON.parse(input)) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const name = `${obj.kind.toLowerCase()}/${obj.metadata?.name}`;
  const Model = MODELS[key];
  if (!Model) {
    console.log(`ERROR ${name}: no schema for ${key}`);
    failed++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`INFO ${name} passed`);
  } catch (err) {
    console.log(`ERROR ${name}: ${err.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
