"""The generated test avatars load in three.js' GLTFLoader and three-vrm as the app would load them.

tests/browser/check_avatars.mjs runs in node from frontend/ (its node_modules), no browser.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.browser import avatar_fixtures as af
from tests.browser.conftest import FRONTEND, HERE, missing


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What GLTFLoader (+ VRMLoaderPlugin) makes of each generated avatar."""
    node = shutil.which("node")
    if node is None:
        missing("Node.js", "install Node.js 20+, see scripts/setup-frontend.sh")
    if not (FRONTEND / "node_modules" / "@pixiv" / "three-vrm").is_dir():
        missing("frontend/node_modules", "run make setup")
    folder = tmp_path_factory.mktemp("avatars")
    paths = [af.write_avatar(kind, folder) for kind in af.AVATARS]
    done = subprocess.run(
        [str(node), "--input-type=module", "-", *map(str, paths)],
        input=(HERE / "check_avatars.mjs").read_text(),
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_files_are_binary_gltf_2(tmp_path: Path) -> None:
    for kind in af.AVATARS:
        data = af.write_avatar(kind, tmp_path).read_bytes()
        magic, version, length = struct.unpack_from("<4sII", data)
        assert (magic, version, length) == (b"glTF", 2, len(data))
        assert len(data) < 200_000, "test avatars stay small"


def test_viseme_glb_has_the_oculus_visemes_blinks_and_smile(loaded: dict[str, Any]) -> None:
    (mesh,) = loaded["visemes.glb"]["meshes"]
    assert mesh["targets"] == list(af.VISEME_GLB_TARGETS)
    assert len(af.VISEMES) == 15
    assert 300 <= mesh["vertices"] <= 1000
    # Every target but silence moves the face by at least a millimetre.
    reach = dict(zip(mesh["targets"], mesh["reach"], strict=True))
    assert reach.pop("viseme_sil") == 0
    assert min(reach.values()) >= 0.001, reach
    assert loaded["visemes.glb"]["vrm"] is None


def test_arkit_glb_has_arkit_names(loaded: dict[str, Any]) -> None:
    (mesh,) = loaded["arkit.glb"]["meshes"]
    assert mesh["targets"] == list(af.ARKIT_TARGETS)
    assert min(mesh["reach"]) >= 0.001


def test_vrm_loads_with_meta_humanoid_and_expressions(loaded: dict[str, Any]) -> None:
    vrm = loaded["vrm.vrm"]["vrm"]
    assert vrm["metaVersion"] == "1"
    assert vrm["licenseUrl"] == "https://vrm.dev/licenses/1.0/"
    assert set(af.VRM_REQUIRED_BONES) <= set(vrm["bones"])
    assert vrm["expressions"] == list(af.VRM_EXPRESSIONS)
    # Each preset expression drives exactly its own morph target of the face.
    assert vrm["moves"] == {name: [i] for i, name in enumerate(af.VRM_EXPRESSIONS)}
    assert loaded["warnings"] == []
