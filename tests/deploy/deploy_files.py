"""Readers of the deployment files (compose.yaml, the Dockerfile, deploy/) and of the names the
server really has (settings, metrics) to check them against; shared by the tests here."""

from __future__ import annotations

import importlib.util
import json
import re
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import BaseModel

from server.metrics import Metrics
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MONITORING = DEPLOY / "monitoring"

# Metrics that other programs export: Prometheus itself, kube-state-metrics, redis_exporter, vLLM.
EXTERNAL_METRICS = {
    "up",
    "kube_deployment_status_replicas_available",
    "redis_up",
    "vllm:num_requests_waiting",
    "vllm:num_requests_running",
}
# A metric selector in our PromQL: a name directly followed by its label matchers. Every query
# in deploy/ names its job, so every metric appears in this form (test_every_query_names_its_job).
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


def load_script(name: str) -> ModuleType:
    """Import scripts/<name>.py (the validators share their readers with these tests)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setting_names() -> set[str]:
    """Every AVATAR_* variable Settings reads (upper case, nested groups with __)."""
    names: set[str] = set()
    for field, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= {f"AVATAR_{field}__{sub}".upper() for sub in annotation.model_fields}
        else:
            names.add(f"AVATAR_{field}".upper())
    return names


def exported_metric_names() -> set[str]:
    """The sample names this server's /metrics can carry (counters with _total, histograms with
    _bucket/_sum/_count), from the registry itself."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count", "created")}
        else:
            names.add(family.name)
    return names


def response_statuses() -> set[str]:
    from agent.events import ResponseStatus

    return set(typing.get_args(ResponseStatus))


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "alerts.rules.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return loaded


def compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def interpolate_defaults(value: str) -> str:
    """Resolve compose's ${VAR:-default} to its default (what runs when nothing is set)."""
    return re.sub(r"\$\{[A-Za-z0-9_]+:-([^}]*)\}", r"\1", value)


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {k.strip(): v.strip() for k, v in (p for p in pairs if len(p) == 2) if k[:1] != "#"}


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in {"Deployment", "StatefulSet"}]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind} {name}")
