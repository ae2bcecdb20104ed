"""The rendered Kubernetes manifests, once per test session."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.deploy.deploy_files import load_script


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered by kubectl's kustomize, by overlay name."""
    validate_k8s = load_script("validate_k8s")
    kubectl = validate_k8s.find_kubectl()
    if kubectl is None:
        reason = "kubectl not found (scripts/validate-deploy.sh installs one)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return {
        overlay.name: validate_k8s.render(overlay, kubectl) for overlay in validate_k8s.overlays()
    }
