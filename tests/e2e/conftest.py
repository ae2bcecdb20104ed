"""Real server processes for end-to-end tests: a real port, real Redis, the real embedded model."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_ready(server: ServerProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server {server.name} exited early:\n{server.log()[-3000:]}")
        try:
            if httpx.get(f"{server.http}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server {server.name} not ready in {timeout}s:\n{server.log()[-3000:]}")


StartServer = Callable[..., ServerProcess]


@pytest.fixture(scope="module")
def server_prefix() -> str:
    return f"test:{secrets.token_hex(4)}:"


@pytest.fixture(scope="module")
def start_server(
    tmp_path_factory: pytest.TempPathFactory, server_prefix: str
) -> Iterator[StartServer]:
    """Start ``avatar-agent serve`` processes sharing one Redis key prefix; all stop at the end."""
    started: list[ServerProcess] = []
    logs = tmp_path_factory.mktemp("server-logs")

    def start(name: str = "a", **env: str) -> ServerProcess:
        port = free_port()
        full_env = {
            **os.environ,
            "AVATAR_PORT": str(port),
            "AVATAR_INSTANCE_ID": name,
            "AVATAR_REDIS__URL": REDIS_URL,
            "AVATAR_REDIS__KEY_PREFIX": server_prefix,
            "AVATAR_PROMPTS_DIR": str(ROOT / "prompts"),
            "AVATAR_LLM__MAX_TOKENS": "60",
            # The embedding model loads only where a test asks for knowledge bases.
            "AVATAR_KNOWLEDGE__ENABLED": "false",
            "AVATAR_KNOWLEDGE__INDEX_DIR": str(logs / "index"),
            **env,
        }
        log_path = logs / f"{name}-{port}.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve"],
                cwd=ROOT,
                env=full_env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = ServerProcess(name, port, proc, log_path, env)
        started.append(server)
        _wait_ready(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL if server.proc.poll() is None else signal.SIGTERM)
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{server_prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
