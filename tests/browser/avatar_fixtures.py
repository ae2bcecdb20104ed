"""Small, valid binary glTF avatars for bring-your-own-avatar tests, written in pure Python.

Each avatar is one face: a UV sphere (609 vertices, front facing +Z, Y up, metres) with vertex
colours for skin, lips and eyes, and morph targets that move the jaw, round or widen the mouth,
press the lips, close each eye, smile or raise the brows, so a change of weight is visible in a
screenshot as well as in ``mesh.morphTargetInfluences``. Target names are stored in
``mesh.extras.targetNames``, which three.js' GLTFLoader turns into ``morphTargetDictionary``.

- ``viseme_glb()``: the Oculus/Ready Player Me convention, the 15 ``viseme_*`` targets (the
  server's viseme set) plus ``eyeBlinkLeft``, ``eyeBlinkRight``, ``mouthSmile``.
- ``arkit_glb()``: ARKit blend-shape names (``jawOpen``, ``mouthFunnel``, ...).
- ``vrm_avatar()``: a minimal VRM 1.0 model (``VRMC_vrm``): meta, a humanoid skeleton with every
  bone three-vrm 3.5 requires (15, no skinning) and the face under the head bone, and preset
  expressions ``aa ih ou ee oh blink happy`` bound to the face's morph targets.

``write_avatar(kind, path)`` writes one of them. tests/browser/check_avatars.mjs loads all three
with GLTFLoader (+ VRMLoaderPlugin) in node; tests/browser/test_avatar_fixtures.py runs it.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: The 15 Oculus visemes, in the order of the server's viseme ids.
VISEMES: tuple[str, ...] = (
    "viseme_sil",
    "viseme_PP",
    "viseme_FF",
    "viseme_TH",
    "viseme_DD",
    "viseme_kk",
    "viseme_CH",
    "viseme_SS",
    "viseme_nn",
    "viseme_RR",
    "viseme_aa",
    "viseme_E",
    "viseme_I",
    "viseme_O",
    "viseme_U",
)
VISEME_GLB_TARGETS: tuple[str, ...] = (*VISEMES, "eyeBlinkLeft", "eyeBlinkRight", "mouthSmile")
ARKIT_TARGETS: tuple[str, ...] = (
    "jawOpen",
    "mouthFunnel",
    "mouthPucker",
    "mouthClose",
    "mouthSmileLeft",
    "mouthSmileRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "browInnerUp",
)
VRM_EXPRESSIONS: tuple[str, ...] = ("aa", "ih", "ou", "ee", "oh", "blink", "happy")
#: The humanoid bones three-vrm 3.5 refuses to load without (VRMRequiredHumanBoneName).
VRM_REQUIRED_BONES: tuple[str, ...] = (
    "hips",
    "spine",
    "head",
    "leftUpperLeg",
    "leftLowerLeg",
    "leftFoot",
    "rightUpperLeg",
    "rightLowerLeg",
    "rightFoot",
    "leftUpperArm",
    "leftLowerArm",
    "leftHand",
    "rightUpperArm",
    "rightLowerArm",
    "rightHand",
)

#: Where the face sits and how big it is: about a human head at standing height.
FACE_CENTER = (0.0, 1.6, 0.0)
FACE_RADIUS = 0.12
_RINGS, _SEGMENTS = 20, 28

Vec = tuple[float, float, float]

# ── face geometry ────────────────────────────────────────────────────────────
# Landmarks on the unit sphere (front = +Z; the character's left = +X).
_MOUTH = (0.0, -0.42, 0.907)
_EYE_L = (0.32, 0.22, 0.92)
_EYE_R = (-0.32, 0.22, 0.92)
_BROW = (0.0, 0.45, 0.89)
_CORNER_L = (0.28, -0.4, 0.87)
_CORNER_R = (-0.28, -0.4, 0.87)


def _near(p: Vec, centre: Vec, sigma: float) -> float:
    d2 = sum((a - b) ** 2 for a, b in zip(p, centre, strict=True))
    front = 1.0 if p[2] > 0 else 0.0
    return front * math.exp(-d2 / (2 * sigma * sigma))


def _open(p: Vec) -> Vec:  # jaw drops: the lower lip and chin move down
    below = 1 / (1 + math.exp((p[1] - _MOUTH[1] + 0.02) / 0.03))
    return (0.0, -0.22 * below * _near(p, (0.0, -0.6, 0.8), 0.35), 0.0)


def _round(p: Vec) -> Vec:  # lips pulled toward the centre and pushed forward
    g = _near(p, _MOUTH, 0.2)
    return (-0.5 * p[0] * g, 0.0, 0.12 * g)


def _wide(p: Vec) -> Vec:  # mouth stretched sideways
    return (0.45 * p[0] * _near(p, _MOUTH, 0.22), 0.0, 0.0)


def _press(p: Vec) -> Vec:  # lips pressed together onto the mouth line
    return (0.0, (_MOUTH[1] - p[1]) * 0.7 * _near(p, _MOUTH, 0.12), 0.0)


def _smile(corner: Vec) -> Callable[[Vec], Vec]:
    return lambda p: (0.0, 0.14 * _near(p, corner, 0.12), 0.03 * _near(p, corner, 0.12))


def _blink(eye: Vec) -> Callable[[Vec], Vec]:  # the eye region collapses onto its centre line
    return lambda p: (0.0, (eye[1] - p[1]) * 0.95 * _near(p, eye, 0.1), 0.0)


def _brow(p: Vec) -> Vec:
    return (0.0, 0.1 * _near(p, _BROW, 0.15), 0.0)


_SHAPES: dict[str, Callable[[Vec], Vec]] = {
    "open": _open,
    "round": _round,
    "wide": _wide,
    "press": _press,
    "smileL": _smile(_CORNER_L),
    "smileR": _smile(_CORNER_R),
    "blinkL": _blink(_EYE_L),
    "blinkR": _blink(_EYE_R),
    "brow": _brow,
}

# Every target is a mix of the shapes above, so each one moves the face differently.
_RECIPES: dict[str, dict[str, float]] = {
    "viseme_sil": {},
    "viseme_PP": {"press": 1.0},
    "viseme_FF": {"press": 0.5, "open": 0.15, "wide": 0.2},
    "viseme_TH": {"open": 0.25, "wide": 0.1},
    "viseme_DD": {"open": 0.3, "wide": 0.3},
    "viseme_kk": {"open": 0.4, "wide": 0.2},
    "viseme_CH": {"open": 0.3, "round": 0.5},
    "viseme_SS": {"open": 0.1, "wide": 0.6},
    "viseme_nn": {"open": 0.2, "wide": 0.15},
    "viseme_RR": {"open": 0.25, "round": 0.35},
    "viseme_aa": {"open": 1.0},
    "viseme_E": {"open": 0.5, "wide": 0.7},
    "viseme_I": {"open": 0.3, "wide": 1.0},
    "viseme_O": {"open": 0.6, "round": 0.8},
    "viseme_U": {"open": 0.2, "round": 1.0},
    "eyeBlinkLeft": {"blinkL": 1.0},
    "eyeBlinkRight": {"blinkR": 1.0},
    "mouthSmile": {"smileL": 1.0, "smileR": 1.0, "wide": 0.3},
    "jawOpen": {"open": 1.0},
    "mouthFunnel": {"round": 0.8, "open": 0.3},
    "mouthPucker": {"round": 1.0},
    "mouthClose": {"press": 1.0},
    "mouthSmileLeft": {"smileL": 1.0},
    "mouthSmileRight": {"smileR": 1.0},
    "browInnerUp": {"brow": 1.0},
    "aa": {"open": 1.0},
    "ih": {"open": 0.3, "wide": 1.0},
    "ou": {"open": 0.2, "round": 1.0},
    "ee": {"open": 0.5, "wide": 0.7},
    "oh": {"open": 0.6, "round": 0.8},
    "blink": {"blinkL": 1.0, "blinkR": 1.0},
    "happy": {"smileL": 1.0, "smileR": 1.0, "brow": 0.4},
}


def _warp(u: float, power: float) -> float:
    """Map [-1, 1] onto itself, spacing samples closely around 0 (the front of the face)."""
    return math.copysign(abs(u) ** power, u)


def _sphere() -> tuple[list[Vec], list[int]]:
    """Unit UV sphere, (rings + 1) × (segments + 1) vertices (seam at the back duplicated), CCW
    triangles; rows and columns are packed around the eyes and mouth, sparse at the back."""
    points: list[Vec] = []
    for r in range(_RINGS + 1):
        theta = math.pi / 2 * (1 + _warp(2 * r / _RINGS - 1, 1.5))  # 0 at the top
        for s in range(_SEGMENTS + 1):
            phi = math.pi * _warp(2 * s / _SEGMENTS - 1, 1.7)  # 0 at the front (+Z)
            points.append(
                (
                    math.sin(theta) * math.sin(phi),
                    math.cos(theta),
                    math.sin(theta) * math.cos(phi),
                )
            )
    indices: list[int] = []
    row = _SEGMENTS + 1
    for r in range(_RINGS):
        for s in range(_SEGMENTS):
            a, b = r * row + s, (r + 1) * row + s
            if r != 0:
                indices += [a, b, a + 1]
            if r != _RINGS - 1:
                indices += [a + 1, b, b + 1]
    return points, indices


def _inside(p: Vec, centre: Vec, rx: float, ry: float) -> float:
    """Above 1 inside the ellipse of half-axes ``rx``, ``ry`` around ``centre`` (front only)."""
    if p[2] <= 0:
        return 0.0
    return 1 / max(1e-9, ((p[0] - centre[0]) / rx) ** 2 + ((p[1] - centre[1]) / ry) ** 2)


def _colour(p: Vec) -> Vec:
    if _inside(p, _EYE_L, 0.09, 0.07) >= 1 or _inside(p, _EYE_R, 0.09, 0.07) >= 1:
        return (0.08, 0.08, 0.12)
    if p[1] > 0.62 or (p[2] < -0.2 and p[1] > -0.1):
        return (0.35, 0.22, 0.12)  # hair
    if _inside(p, _MOUTH, 0.2, 0.07) >= 1:
        return (0.72, 0.28, 0.3)  # lips
    return (0.95, 0.78, 0.66)


# ── glTF writing ─────────────────────────────────────────────────────────────


class _Gltf:
    """Accumulates accessors in one binary buffer and writes a GLB."""

    def __init__(self) -> None:
        self.bin = bytearray()
        self.json: dict[str, Any] = {
            "asset": {"version": "2.0", "generator": "avatar-agent tests/browser/avatar_fixtures"},
            "buffers": [],
            "bufferViews": [],
            "accessors": [],
        }

    def accessor(
        self,
        values: Sequence[float] | Sequence[int],
        kind: str,
        component: int,
        *,
        target: int | None = None,
        bounds: bool = False,
    ) -> int:
        width = {"SCALAR": 1, "VEC3": 3}[kind]
        fmt = {5126: "f", 5123: "H"}[component]
        data = struct.pack(f"<{len(values)}{fmt}", *values)
        while len(self.bin) % 4:
            self.bin.append(0)
        view: dict[str, Any] = {
            "buffer": 0,
            "byteOffset": len(self.bin),
            "byteLength": len(data),
        }
        if target is not None:
            view["target"] = target
        self.bin += data
        self.json["bufferViews"].append(view)
        accessor: dict[str, Any] = {
            "bufferView": len(self.json["bufferViews"]) - 1,
            "componentType": component,
            "count": len(values) // width,
            "type": kind,
        }
        if bounds:
            columns = [values[i::width] for i in range(width)]
            accessor["min"] = [float(min(c)) for c in columns]
            accessor["max"] = [float(max(c)) for c in columns]
        self.json["accessors"].append(accessor)
        return len(self.json["accessors"]) - 1

    def glb(self) -> bytes:
        while len(self.bin) % 4:
            self.bin.append(0)
        self.json["buffers"] = [{"byteLength": len(self.bin)}]
        text = json.dumps(self.json, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 4)
        total = 12 + 8 + len(text) + 8 + len(self.bin)
        return b"".join(
            [
                struct.pack("<4sII", b"glTF", 2, total),
                struct.pack("<I4s", len(text), b"JSON"),
                text,
                struct.pack("<I4s", len(self.bin), b"BIN\x00"),
                bytes(self.bin),
            ]
        )


def _face_mesh(gltf: _Gltf, targets: Sequence[str], radius: float, name: str) -> int:
    """Add the face mesh with ``targets`` (names from ``_RECIPES``); return the mesh index."""
    unknown = [t for t in targets if t not in _RECIPES]
    if unknown:
        raise ValueError(f"no recipe for morph targets {unknown}")
    points, indices = _sphere()
    flat = lambda vs: [c for v in vs for c in v]  # noqa: E731
    position = gltf.accessor(
        flat([(x * radius, y * radius, z * radius) for x, y, z in points]),
        "VEC3",
        5126,
        target=34962,
        bounds=True,
    )
    normal = gltf.accessor(flat(points), "VEC3", 5126, target=34962)
    colour = gltf.accessor(flat([_colour(p) for p in points]), "VEC3", 5126, target=34962)
    index = gltf.accessor(indices, "SCALAR", 5123, target=34963)
    morphs = []
    for target in targets:
        deltas: list[Vec] = []
        for p in points:
            d = [0.0, 0.0, 0.0]
            for shape, weight in _RECIPES[target].items():
                dx, dy, dz = _SHAPES[shape](p)
                d = [d[0] + weight * dx, d[1] + weight * dy, d[2] + weight * dz]
            deltas.append((d[0] * radius, d[1] * radius, d[2] * radius))
        morphs.append(
            {"POSITION": gltf.accessor(flat(deltas), "VEC3", 5126, target=34962, bounds=True)}
        )
    gltf.json.setdefault("materials", []).append(
        {
            "name": "Skin",
            "pbrMetallicRoughness": {
                "baseColorFactor": [1, 1, 1, 1],
                "metallicFactor": 0.0,
                "roughnessFactor": 0.7,
            },
        }
    )
    gltf.json.setdefault("meshes", []).append(
        {
            "name": name,
            "primitives": [
                {
                    "attributes": {"POSITION": position, "NORMAL": normal, "COLOR_0": colour},
                    "indices": index,
                    "material": len(gltf.json["materials"]) - 1,
                    "mode": 4,
                    "targets": morphs,
                }
            ],
            "weights": [0.0] * len(targets),
            "extras": {"targetNames": list(targets)},
        }
    )
    return len(gltf.json["meshes"]) - 1


def face_glb(
    targets: Sequence[str],
    *,
    center: Vec = FACE_CENTER,
    radius: float = FACE_RADIUS,
    name: str = "Face",
) -> bytes:
    """A GLB with one node and one mesh, the face, with morph targets ``targets``."""
    gltf = _Gltf()
    mesh = _face_mesh(gltf, targets, radius, name)
    gltf.json["nodes"] = [{"name": name, "mesh": mesh, "translation": list(center)}]
    gltf.json["scenes"] = [{"name": "Avatar", "nodes": [0]}]
    gltf.json["scene"] = 0
    return gltf.glb()


def viseme_glb() -> bytes:
    """The 15 Oculus visemes plus eyeBlinkLeft, eyeBlinkRight, mouthSmile."""
    return face_glb(VISEME_GLB_TARGETS)


def arkit_glb() -> bytes:
    """ARKit blend-shape names: jawOpen, mouthFunnel, mouthPucker, ... browInnerUp."""
    return face_glb(ARKIT_TARGETS)


# name, parent, translation relative to the parent (T-pose, metres); the face hangs off "head".
_SKELETON: tuple[tuple[str, str | None, Vec], ...] = (
    ("hips", None, (0.0, 0.95, 0.0)),
    ("spine", "hips", (0.0, 0.1, 0.0)),
    ("chest", "spine", (0.0, 0.15, 0.0)),
    ("neck", "chest", (0.0, 0.22, 0.0)),
    ("head", "neck", (0.0, 0.1, 0.0)),
    ("leftUpperArm", "chest", (0.18, 0.18, 0.0)),
    ("leftLowerArm", "leftUpperArm", (0.28, 0.0, 0.0)),
    ("leftHand", "leftLowerArm", (0.25, 0.0, 0.0)),
    ("rightUpperArm", "chest", (-0.18, 0.18, 0.0)),
    ("rightLowerArm", "rightUpperArm", (-0.28, 0.0, 0.0)),
    ("rightHand", "rightLowerArm", (-0.25, 0.0, 0.0)),
    ("leftUpperLeg", "hips", (0.09, -0.05, 0.0)),
    ("leftLowerLeg", "leftUpperLeg", (0.0, -0.42, 0.0)),
    ("leftFoot", "leftLowerLeg", (0.0, -0.42, 0.0)),
    ("rightUpperLeg", "hips", (-0.09, -0.05, 0.0)),
    ("rightLowerLeg", "rightUpperLeg", (0.0, -0.42, 0.0)),
    ("rightFoot", "rightLowerLeg", (0.0, -0.42, 0.0)),
)


def vrm_avatar(name: str = "Test Face") -> bytes:
    """A minimal VRM 1.0 file: meta, humanoid (all required bones), expressions on the face."""
    gltf = _Gltf()
    mesh = _face_mesh(gltf, VRM_EXPRESSIONS, FACE_RADIUS, "Face")
    nodes: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for bone, parent, translation in _SKELETON:
        index[bone] = len(nodes)
        nodes.append({"name": bone.capitalize()[0] + bone[1:], "translation": list(translation)})
        if parent is not None:
            nodes[index[parent]].setdefault("children", []).append(index[bone])
    head_y = sum(t[1] for b, _, t in _SKELETON if b in ("hips", "spine", "chest", "neck", "head"))
    face = len(nodes)
    nodes.append({"name": "Face", "mesh": mesh, "translation": [0.0, FACE_CENTER[1] - head_y, 0]})
    nodes[index["head"]]["children"] = [face]
    gltf.json["nodes"] = nodes
    gltf.json["scenes"] = [{"name": "Avatar", "nodes": [index["hips"]]}]
    gltf.json["scene"] = 0
    gltf.json["extensionsUsed"] = ["VRMC_vrm"]
    gltf.json["extensions"] = {
        "VRMC_vrm": {
            "specVersion": "1.0",
            "meta": {
                "name": name,
                "version": "1.0",
                "authors": ["avatar-agent tests"],
                "copyrightInformation": "Generated test data, no rights reserved",
                "licenseUrl": "https://vrm.dev/licenses/1.0/",
                "avatarPermission": "everyone",
                "allowExcessivelyViolentUsage": False,
                "allowExcessivelySexualUsage": False,
                "commercialUsage": "corporation",
                "allowPoliticalOrReligiousUsage": False,
                "allowAntisocialOrHateUsage": False,
                "creditNotation": "unnecessary",
                "allowRedistribution": True,
                "modification": "allowModificationRedistribution",
            },
            "humanoid": {"humanBones": {b: {"node": i} for b, i in index.items()}},
            "expressions": {
                "preset": {
                    expression: {
                        "morphTargetBinds": [{"node": face, "index": i, "weight": 1.0}],
                        "isBinary": False,
                        "overrideBlink": "none",
                        "overrideLookAt": "none",
                        "overrideMouth": "none",
                    }
                    for i, expression in enumerate(VRM_EXPRESSIONS)
                }
            },
        }
    }
    return gltf.glb()


#: Avatar kinds by name, with their file suffix.
AVATARS: dict[str, tuple[Callable[[], bytes], str]] = {
    "visemes": (viseme_glb, ".glb"),
    "arkit": (arkit_glb, ".glb"),
    "vrm": (vrm_avatar, ".vrm"),
}


def write_avatar(kind: str, folder: Path) -> Path:
    """Write the avatar ``kind`` (a key of ``AVATARS``) into ``folder``; return its path."""
    make, suffix = AVATARS[kind]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}{suffix}"
    path.write_bytes(make())
    return path
