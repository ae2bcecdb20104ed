"""Render every kustomize overlay in deploy/k8s/overlays and validate what comes out.

    python scripts/validate_k8s.py [--crds] [--out DIR]

- Rendering: `kubectl kustomize` (kustomize is built into kubectl). kubectl is looked up in
  $KUBECTL, then in the tools folder scripts/validate-deploy.sh fills, then on PATH.
- Built-in kinds: kubernetes-validate's bundled JSON schemas, strict (an unknown field is an
  error), for the oldest and newest Kubernetes versions we support.
- Custom resources (KEDA, Prometheus Operator), with --crds: their CRD schemas through
  deploy/tools/crd-validate (Node; `npm ci` there first, as scripts/validate-deploy.sh does).
  Without --crds they are only checked to be of a kind we know.

--out writes each overlay's rendering to DIR/<overlay>.yaml. Exit 1 on any problem.
tests/deploy/test_deploy_files.py imports render() and schema_errors() from here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
CRD_VALIDATOR = ROOT / "deploy" / "tools" / "crd-validate"
# Oldest and newest Kubernetes minor versions the manifests are written for (the preStop sleep
# action needs 1.30+; 1.31 is the oldest release still maintained by the big cloud providers).
KUBERNETES_VERSIONS = ("1.31", "1.37")
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


def tools_dir() -> Path:
    default = Path.home() / ".cache" / "avatar-agent" / "deploy-tools"
    return Path(os.environ.get("AVATAR_DEPLOY_TOOLS", default))


def find_kubectl() -> str | None:
    """kubectl from $KUBECTL, the deploy tools folder, or PATH; None when there is none."""
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    candidate = tools_dir() / "bin" / "kubectl"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("kubectl")


def overlays() -> list[Path]:
    return sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").is_file())


def render(overlay: Path, kubectl: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize overlay` produces. Raises RuntimeError if it fails."""
    result = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay.name} failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def describe(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind', '?').lower()}/{obj.get('metadata', {}).get('name', '?')}"


def is_custom(obj: dict[str, Any]) -> bool:
    return (obj.get("apiVersion"), obj.get("kind")) in CUSTOM_KINDS


def schema_errors(objects: list[dict[str, Any]]) -> list[str]:
    """Strict kubernetes-validate errors of the built-in kinds; unknown kinds are errors too."""
    import kubernetes_validate

    errors: list[str] = []
    for obj in objects:
        if is_custom(obj):
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{describe(obj)}: no schema for {obj.get('apiVersion')} {version}")
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                errors.append(f"{describe(obj)} (Kubernetes {version}): {path}: {exc.message}")
    return errors


def crd_errors(objects: list[dict[str, Any]]) -> list[str]:
    """Validate the custom resources with deploy/tools/crd-validate (Node)."""
    custom = [obj for obj in objects if is_custom(obj)]
    if not custom:
        return []
    if not (CRD_VALIDATOR / "node_modules").is_dir():
        return [f"{CRD_VALIDATOR.relative_to(ROOT)}: run `npm ci` there first"]
    result = subprocess.run(
        ["node", str(CRD_VALIDATOR / "validate.mjs")],
        input=json.dumps(custom),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
        return lines or [f"crd-validate failed: {result.stderr.strip()}"]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crds", action="store_true", help="validate custom resources (Node)")
    parser.add_argument("--out", type=Path, help="write each rendering to OUT/<overlay>.yaml")
    args = parser.parse_args()

    kubectl = find_kubectl()
    if kubectl is None:
        print(
            "ERROR no kubectl: run scripts/validate-deploy.sh, which installs one", file=sys.stderr
        )
        return 1
    failed = False
    for overlay in overlays():
        try:
            objects = render(overlay, kubectl)
        except RuntimeError as exc:
            print(f"ERROR {exc}", file=sys.stderr)
            failed = True
            continue
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{overlay.name}.yaml").write_text(yaml.safe_dump_all(objects))
        errors = schema_errors(objects)
        if args.crds:
            errors += crd_errors(objects)
        for error in errors:
            print(f"ERROR overlays/{overlay.name}: {error}", file=sys.stderr)
        failed |= bool(errors)
        custom = sum(is_custom(obj) for obj in objects)
        versions = ", ".join(KUBERNETES_VERSIONS)
        print(
            f"overlays/{overlay.name}: {len(objects)} objects, "
            f"{len(objects) - custom} built-in (strict, Kubernetes {versions}), "
            f"{custom} custom{' (CRD schemas)' if args.crds else ''}: "
            + ("FAILED" if errors else "valid")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
