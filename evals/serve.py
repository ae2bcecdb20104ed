"""``--serve``: start ``avatar-agent serve`` on a free port for the run, and stop it afterwards;
``--in-process``: run the server inside the runner's own process and event loop instead."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx

READY_TIMEOUT_S = 180.0


class ServeError(RuntimeError):
    """The server did not start; the message ends with the tail of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def served(
    env: Mapping[str, str] | None = None, *, ready_timeout_s: float = READY_TIMEOUT_S
) -> Iterator[str]:
    """Run a server process (configured by ``AVATAR_*`` variables, ``env`` on top, in the
    current directory); yields its WebSocket URL once ``/readyz`` answers 200."""
    port = free_port()
    full_env = {
        **os.environ,
        "AVATAR_REDIS__KEY_PREFIX": os.environ.get("AVATAR_REDIS__KEY_PREFIX", "eval:"),
        **(env or {}),
        "AVATAR_HOST": "127.0.0.1",
        "AVATAR_PORT": str(port),
    }
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the child's lifetime
        prefix="avatar-eval-server-", suffix=".log", delete=False
    )
    log_path = Path(log.name)
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(proc, port, log_path, ready_timeout_s)
        yield f"ws://127.0.0.1:{port}/v1/realtime"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
        log_path.unlink(missing_ok=True)


@asynccontextmanager
async def served_in_process(*, ready_timeout_s: float = READY_TIMEOUT_S) -> AsyncIterator[str]:
    """The server in this process, on this event loop, configured by ``AVATAR_*`` variables
    like ``served`` (key prefix ``eval:`` and log level ``warning`` unless set). No child
    process to start or to leak, and a debugger sees both sides; but the models' threads share
    the process with the simulated clients, so latency budgets are more pessimistic."""
    import uvicorn  # the server's dependencies load only when it runs here

    from server.app import create_app
    from server.settings import Settings

    settings = Settings()
    port = free_port()
    updates: dict[str, object] = {"host": "127.0.0.1", "port": port}
    if "AVATAR_REDIS__KEY_PREFIX" not in os.environ:
        updates["redis"] = settings.redis.model_copy(update={"key_prefix": "eval:"})
    if "AVATAR_OBSERVABILITY__LOG_LEVEL" not in os.environ:
        updates["observability"] = settings.observability.model_copy(
            update={"log_level": "warning"}
        )
    settings = settings.model_copy(update=updates)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            proxy_headers=False,
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve(), name="eval-server")
    try:
        await _wait_started(lambda: server.started, task, port, ready_timeout_s)
        yield f"ws://127.0.0.1:{port}/v1/realtime"
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=30)


async def _wait_started(
    started: Callable[[], bool], task: asyncio.Task[None], port: int, timeout_s: float
) -> None:
    """Until uvicorn has started and ``/readyz`` answers 200 (the models are loaded)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if task.done():
                error = task.exception()
                raise ServeError(f"the server stopped while starting: {error!r}")
            if started():
                try:
                    ready = await client.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    if ready.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            await asyncio.sleep(0.2)
    raise ServeError(f"the server was not ready within {timeout_s:.0f} s")


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServeError(f"the server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise ServeError(f"the server was not ready within {timeout_s:.0f} s:\n{_tail(log)}")


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
