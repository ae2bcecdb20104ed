"""The Kubernetes manifests as kustomize renders them (every overlay in deploy/k8s/overlays):
schema-valid, hardened, probed, drained, autoscaled on metrics that exist, and wired together
(names, ports, selectors). Needs kubectl (kustomize is built in): skipped without one, except in
CI; scripts/validate-deploy.sh installs it, and adds the CRD schemas of the custom resources."""

from __future__ import annotations

import re
from typing import Any

import pytest

from server.settings import Settings
from tests.deploy.deploy_files import (
    EXTERNAL_METRICS,
    SELECTOR,
    exported_metric_names,
    find,
    load_script,
    workloads,
)

Rendered = dict[str, list[dict[str, Any]]]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_built_in_kinds_pass_strict_schema_validation(rendered: Rendered) -> None:
    validate_k8s = load_script("validate_k8s")
    for overlay, objects in rendered.items():
        assert validate_k8s.schema_errors(objects) == [], overlay


def test_pods_run_hardened(rendered: Rendered) -> None:
    for overlay, objects in rendered.items():
        for workload in workloads(objects):
            spec = pod_spec(workload)
            where = f"{overlay}: {workload['metadata']['name']}"
            assert spec["securityContext"]["runAsNonRoot"] is True, where
            assert spec["securityContext"]["runAsUser"] != 0, where
            assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
            assert spec["automountServiceAccountToken"] is False, where
            for container in spec["containers"] + spec.get("initContainers", []):
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False, where
                assert context["capabilities"]["drop"] == ["ALL"], where
                assert "limits" in container["resources"], where
                if container["name"] != "vllm":  # vLLM writes caches all over its image
                    assert context["readOnlyRootFilesystem"] is True, where


def test_server_probes_and_drain(rendered: Rendered) -> None:
    port = Settings.model_fields["port"].default
    for overlay, objects in rendered.items():
        server = find(objects, "Deployment", "avatar-server")
        spec = pod_spec(server)
        container = spec["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = next(
            o
            for o in objects
            if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("avatar-server-env")
        )["data"]
        # /metrics on a port of its own, which the Service and the Ingress do not route.
        assert ports == {"http": port, "metrics": int(env["AVATAR_OBSERVABILITY__METRICS_PORT"])}
        service = find(objects, "Service", "avatar-server")
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
        assert env["AVATAR_AUTH__REQUIRE"] == "token", "production requires credentials"
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert spec["terminationGracePeriodSeconds"] > pre_stop + 30, overlay
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", "/data"} <= mounts, "read-only root: /tmp and the index need volumes"
        secret_keys = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert secret_keys["AVATAR_WIDGET__TOKEN_SECRET"].get("optional") is not True, (
            "every pod must share the token secret: it is required"
        )
        assert secret_keys["AVATAR_AUTH__API_KEYS"]["key"] == "api-keys"


def test_vllm_runs_on_gpu_nodes(rendered: Rendered) -> None:
    objects = rendered["gpu"]
    vllm = find(objects, "Deployment", "avatar-vllm")
    spec = pod_spec(vllm)
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert spec["nodeSelector"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in spec["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["avatar-vllm-models"]
    find(objects, "PersistentVolumeClaim", "avatar-vllm-models")
    env = next(
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("avatar-server-env")
    )["data"]
    assert env["AVATAR_LLM__ENGINE"] == "openai"
    assert env["AVATAR_LLM__BASE_URL"].startswith("http://avatar-vllm:8000/")
    vllm_config = next(
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("avatar-vllm-config")
    )["data"]
    assert env["AVATAR_LLM__MODEL"] == vllm_config["VLLM_SERVED_MODEL_NAME"]


def test_redis_keeps_sessions_on_a_volume(rendered: Rendered) -> None:
    for objects in rendered.values():
        redis = find(objects, "StatefulSet", "avatar-redis")
        args = pod_spec(redis)["containers"][0]["args"]
        assert args[args.index("--appendonly") + 1] == "yes"
        assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
        server_env = next(
            o
            for o in objects
            if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("avatar-server-env")
        )["data"]
        host = re.match(r"redis://([^:/]+)", server_env["AVATAR_REDIS__URL"])
        assert host is not None
        find(objects, "Service", host.group(1))


def test_services_and_policies_select_existing_pods_and_ports(rendered: Rendered) -> None:
    for overlay, objects in rendered.items():
        pods = [
            (
                w["spec"]["template"]["metadata"]["labels"],
                {p["name"] for c in pod_spec(w)["containers"] for p in c.get("ports", [])},
            )
            for w in workloads(objects)
        ]
        for obj in objects:
            if obj["kind"] == "Service":
                selector, ports = (
                    obj["spec"]["selector"],
                    [p["targetPort"] for p in obj["spec"]["ports"]],
                )
            elif obj["kind"] == "NetworkPolicy":
                selector = obj["spec"]["podSelector"]["matchLabels"]
                ports = [p["port"] for rule in obj["spec"]["ingress"] for p in rule["ports"]]
            elif obj["kind"] == "PodMonitor":
                selector = obj["spec"]["selector"]["matchLabels"]
                ports = [e["port"] for e in obj["spec"]["podMetricsEndpoints"]]
            else:
                continue
            selected = [names for labels, names in pods if matches(selector, labels)]
            where = f"{overlay}: {obj['kind']} {obj['metadata']['name']}"
            if obj["kind"] == "PodMonitor" and obj["metadata"]["name"] == "avatar-vllm":
                continue  # harmless where vLLM is not installed
            assert selected, f"{where} selects no pod"
            for port in ports:
                assert all(port in names for names in selected), f"{where}: no port {port}"


def test_autoscalers_use_existing_metrics_and_targets(rendered: Rendered) -> None:
    known = exported_metric_names() | EXTERNAL_METRICS
    for overlay, objects in rendered.items():
        namespace = next(o for o in objects if o["kind"] == "Namespace")["metadata"]["name"]
        targets: list[str] = []
        for obj in objects:
            if obj["kind"] == "ScaledObject":
                targets.append(obj["spec"]["scaleTargetRef"]["name"])
                for trigger in obj["spec"]["triggers"]:
                    if trigger["type"] != "prometheus":
                        continue
                    query = trigger["metadata"]["query"]
                    for name, matchers in SELECTOR.findall(query):
                        assert name in known, f"{overlay}: {name} is not exported"
                        assert f'namespace="{namespace}"' in matchers, (
                            f"{overlay}: {query} does not filter on namespace {namespace}"
                        )
            elif obj["kind"] == "HorizontalPodAutoscaler":
                targets.append(obj["spec"]["scaleTargetRef"]["name"])
        assert targets, f"{overlay}: nothing autoscales"
        assert len(targets) == len(set(targets)), f"{overlay}: two autoscalers on one target"
        for name in targets:
            deployment = find(objects, "Deployment", name)
            assert "replicas" not in deployment["spec"], (
                f"{overlay}: {name} is autoscaled; a replicas field resets it on every apply"
            )


def test_every_workload_has_a_disruption_budget(rendered: Rendered) -> None:
    for overlay, objects in rendered.items():
        budgets = [
            o["spec"]["selector"]["matchLabels"]
            for o in objects
            if o["kind"] == "PodDisruptionBudget"
        ]
        for deployment in (o for o in objects if o["kind"] == "Deployment"):
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert any(matches(b, labels) for b in budgets), (
                f"{overlay}: {deployment['metadata']['name']} has no PodDisruptionBudget"
            )


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_overlays_exist(rendered: Rendered, overlay: str) -> None:
    assert rendered[overlay]
