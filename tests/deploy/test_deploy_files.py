"""The deployment files agree with the server: the metrics the dashboard, alerts and autoscalers
query exist, every AVATAR_* variable they set is a setting (and validates), the container runs
as non-root, probes hit real endpoints. Fast: files only, no Docker, no cluster.
(Rendered Kubernetes manifests: test_k8s_manifests.py; tools and schemas:
scripts/validate-deploy.sh.)"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.app import create_app
from server.protocol.errors import ErrorCode
from server.settings import Settings
from tests.deploy.deploy_files import (
    DEPLOY,
    EXTERNAL_METRICS,
    ROOT,
    SELECTOR,
    alert_rules,
    compose_file,
    dashboard,
    env_file,
    exported_metric_names,
    interpolate_defaults,
    load_script,
    response_statuses,
    setting_names,
)

K8S = DEPLOY / "k8s"


def all_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every alert, dashboard panel and KEDA trigger in deploy/."""
    queries = [(f"alert {r['alert']}", r["expr"]) for r in alert_rules()]
    monitoring = load_script("validate_monitoring")
    queries += [(f"panel {t}", e) for t, e in monitoring.dashboard_queries(dashboard())]
    for path in K8S.rglob("*scaledobject*.yaml"):
        for trigger in yaml.safe_load(path.read_text())["spec"]["triggers"]:
            if trigger["type"] == "prometheus":
                queries.append((f"{path.name} {trigger['name']}", trigger["metadata"]["query"]))
    return queries


def test_every_query_names_its_job() -> None:
    for where, expr in all_queries():
        selectors = SELECTOR.findall(expr)
        assert selectors, f"{where}: no metric selector in {expr!r}"
        for name, matchers in selectors:
            if name.startswith("kube_"):
                continue  # kube-state-metrics: selected by deployment name
            assert re.search(r'\bjob="avatar-(server|redis|vllm)"', matchers), (
                f"{where}: {name} without job=... matcher"
            )


def test_every_queried_metric_exists() -> None:
    known = exported_metric_names() | EXTERNAL_METRICS
    for where, expr in all_queries():
        for name, _ in SELECTOR.findall(expr):
            assert name in known, f"{where}: {name} is not exported (server/metrics.py)"


def test_dashboard_covers_every_server_metric() -> None:
    exprs = " ".join(
        expr for _, expr in load_script("validate_monitoring").dashboard_queries(dashboard())
    )
    shown = {name for name, _ in SELECTOR.findall(exprs)}
    families = {n.removesuffix("_total").removesuffix("_bucket") for n in shown}
    for name in exported_metric_names():
        base = re.sub(r"_(total|created|bucket|sum|count)$", "", name)
        if base.startswith("avatar_") and base != "avatar_unknown_phonemes":
            assert base in families, f"{base} has no dashboard panel"


def test_label_values_in_queries_exist() -> None:
    codes = {c.value for c in ErrorCode}
    server_source = "\n".join(p.read_text() for p in (ROOT / "server").rglob("*.py"))
    for where, expr in all_queries():
        for alternatives in re.findall(r'code=~"([^"]+)"', expr):
            unknown = set(alternatives.split("|")) - codes
            assert not unknown, f"{where}: unknown error codes {unknown}"
        for stage in re.findall(r'stage="([^"]+)"', expr):
            assert f'stage="{stage}"' in server_source, f"{where}: no stage {stage!r}"
        for status in re.findall(r'status="([^"]+)"', expr):
            assert status in response_statuses(), f"{where}: no reply status {status!r}"


def test_dashboard_and_rules_validate() -> None:
    monitoring = load_script("validate_monitoring")
    assert monitoring.check_dashboard(dashboard()) == []
    groups = yaml.safe_load((DEPLOY / "monitoring" / "alerts.rules.yml").read_text())["groups"]
    rule = yaml.safe_load((DEPLOY / "monitoring" / "prometheusrule.yaml").read_text())
    assert rule == monitoring.prometheus_rule(groups), "run scripts/validate_monitoring.py --sync"


def test_every_alert_has_a_severity_summary_and_a_unit_test() -> None:
    tests = (DEPLOY / "monitoring" / "tests" / "alerts.test.yml").read_text()
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert f"alertname: {rule['alert']}" in tests, f"{rule['alert']} has no promtool test"


# --- environment variables -----------------------------------------------------------------


def dockerfile_env() -> dict[str, str]:
    """AVATAR_* values set by ENV instructions (any stage)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env |= dict(re.findall(r"(AVATAR_\w+)=(\S+)", line))
    return env


def compose_server_env(*env_files: Path) -> dict[str, str]:
    environment = compose_file()["services"]["server"]["environment"]
    values = {k: interpolate_defaults(str(v)) for k, v in environment.items()}
    for path in env_files:
        values |= {k: v for k, v in env_file(path).items() if k in values}
    return values


def k8s_env_sets() -> list[tuple[str, dict[str, str]]]:
    """(source, variables) for the base ConfigMap and each component that merges into it."""
    base = env_file(K8S / "base" / "server.env")
    sets = [("base/server.env", base)]
    for kustomization in (K8S / "components").glob("*/kustomization.yaml"):
        for generator in yaml.safe_load(kustomization.read_text()).get("configMapGenerator", []):
            if generator["name"] == "avatar-server-env":
                literals = dict(item.split("=", 1) for item in generator["literals"])
                sets.append((str(kustomization.parent.name), base | literals))
    return sets


def k8s_deployment_env_names() -> set[str]:
    names: set[str] = set()
    for path in K8S.rglob("*.yaml"):
        names |= set(re.findall(r"name: (AVATAR_\w+)", path.read_text()))
    return names


@pytest.mark.parametrize(
    "source",
    ["Dockerfile", "compose.yaml", "deploy/compose/gpu.env", "deploy/k8s"],
)
def test_every_avatar_variable_is_a_setting(source: str) -> None:
    if source == "Dockerfile":
        names = set(dockerfile_env())
    elif source == "compose.yaml":
        names = set(compose_server_env())
    elif source == "deploy/compose/gpu.env":
        names = {k for k in env_file(DEPLOY / "compose" / "gpu.env") if k.startswith("AVATAR_")}
    else:
        names = k8s_deployment_env_names()
        for _, values in k8s_env_sets():
            names |= set(values)
    unknown = {n for n in names if n.upper() not in setting_names()}
    assert not unknown, f"{source} sets variables server/settings.py does not read: {unknown}"


def settings_from(values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("AVATAR_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_compose_settings_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = settings_from(compose_server_env(), monkeypatch)
    assert cpu.llm.engine == "embedded"
    assert str(cpu.knowledge.index_dir) == "/data/index"
    gpu = settings_from(compose_server_env(DEPLOY / "compose" / "gpu.env"), monkeypatch)
    assert gpu.llm.engine == "openai"
    assert str(gpu.llm.base_url) == "http://vllm:8000/v1"


def test_kubernetes_settings_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    for source, values in k8s_env_sets():
        settings = settings_from(values, monkeypatch)
        assert settings.host == "0.0.0.0", source
        assert str(settings.knowledge.index_dir) == "/data/index", source


def test_dockerfile_settings_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        dockerfile_env() | {"AVATAR_LLM__BASE_URL": "http://v:8000/v1"}, monkeypatch
    )
    assert settings.host == "0.0.0.0"
    assert str(settings.knowledge.index_dir) == "/data/index"


# --- containers ----------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, dict[str, Any]]:
    """Each stage: its base and the instructions' keywords and arguments, in order."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        match = re.match(r"FROM (\S+)(?: AS (\S+))?", line)
        if match:
            current = {"from": match.group(1), "lines": []}
            stages[match.group(2) or match.group(1)] = current
        elif current is not None and re.match(r"[A-Z]+ ", line):
            keyword, _, rest = line.partition(" ")
            current["lines"].append((keyword, rest.strip()))
    return stages


def effective_user(stages: dict[str, dict[str, Any]], name: str) -> str | None:
    stage = stages[name]
    users = [rest for keyword, rest in stage["lines"] if keyword == "USER"]
    if users:
        return str(users[-1])
    return effective_user(stages, stage["from"]) if stage["from"] in stages else None


def test_images_run_as_a_non_root_user() -> None:
    stages = dockerfile_stages()
    assert list(stages)[-1] == "cpu", "a plain docker build must give the CPU image"
    for target in ("cpu", "gpu"):
        user = effective_user(stages, target)
        assert user is not None and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user), (
            f"{target}: USER must be a numeric non-root uid (runAsNonRoot checks it), got {user}"
        )


def test_images_bake_models_and_stay_offline() -> None:
    env = (ROOT / "Dockerfile").read_text()
    for flag in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1"):
        assert flag in env
    assert "-DGGML_NATIVE=OFF" in env
    assert "download.pytorch.org/whl/cpu" in env


def test_probes_and_health_checks_hit_real_endpoints() -> None:
    paths = {getattr(route, "path", None) for route in create_app(Settings()).routes}
    assert {"/healthz", "/readyz", "/metrics"} <= paths
    healthcheck = re.search(
        r"HEALTHCHECK .*?(http://127\.0\.0\.1:(\d+)(/\w+))",
        (ROOT / "Dockerfile").read_text().replace("\\\n", " "),
    )
    assert healthcheck is not None
    assert healthcheck.group(3) == "/healthz"
    assert int(healthcheck.group(2)) == Settings.model_fields["port"].default
    for path in K8S.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            for probe in http_gets(doc):
                assert probe["path"] in paths | {"/health"}, f"{path}: {probe} is no endpoint"


def http_gets(node: object) -> list[dict[str, Any]]:
    """Every httpGet action (probes, lifecycle hooks) inside a manifest."""
    if isinstance(node, dict):
        found = [node["httpGet"]] if "httpGet" in node else []
        return found + [p for value in node.values() for p in http_gets(value)]
    if isinstance(node, list):
        return [p for item in node for p in http_gets(item)]
    return []


def test_compose_stack_shape() -> None:
    services = compose_file()["services"]
    redis = services["redis"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in redis["volumes"])
    server = services["server"]
    assert server["depends_on"]["redis"]["condition"] == "service_healthy"
    assert server["depends_on"]["vllm"] == {"condition": "service_healthy", "required": False}
    assert server["read_only"] is True
    vllm = services["vllm"]
    assert vllm["profiles"] == ["gpu"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "/health" in " ".join(vllm["healthcheck"]["test"])
    assert env_file(DEPLOY / "compose" / "gpu.env")["COMPOSE_PROFILES"] == "gpu"


def test_grace_periods_cover_the_drain() -> None:
    cli = (ROOT / "server" / "cli.py").read_text()
    match = re.search(r"timeout_graceful_shutdown=(\d+)", cli)
    assert match is not None, "server/cli.py: uvicorn's graceful shutdown timeout not found"
    uvicorn_grace = int(match.group(1))
    compose_grace = int(compose_file()["services"]["server"]["stop_grace_period"].rstrip("s"))
    assert compose_grace >= uvicorn_grace + 30
    deployment = yaml.safe_load((K8S / "base" / "server-deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + uvicorn_grace + 30


def test_example_personas_load(tmp_path: Path) -> None:
    from agent.personas import PersonaLibrary

    folder = tmp_path / "personas"  # a copy: the library may write its history next to them
    folder.mkdir()
    for source in (K8S / "base" / "personas").glob("*.md"):
        (folder / source.name).write_bytes(source.read_bytes())
    library = PersonaLibrary(folder)
    for source in folder.glob("*.md"):
        assert library.get(source.stem).name
