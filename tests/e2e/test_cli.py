"""`avatar-agent chat` is a real client of the protocol: piped lines in, streamed replies out."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, ServerProcess, StartServer

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    return start_server(
        "cli",
        AVATAR_CONNECTION__IDLE_TIMEOUT_S="2",
        AVATAR_CONNECTION__HEARTBEAT_INTERVAL_S="0.5",
    )


def test_chat_answers_each_piped_line_and_survives_an_idle_pause(server: ServerProcess) -> None:
    # The pause between the lines is longer than the server's idle timeout: the client's
    # heartbeat must keep the session's socket open.
    script = "import sys, time; print('Hello!'); sys.stdout.flush(); time.sleep(3); print('Bye!')"
    feeder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "chat", "--url", server.url],
        stdin=feeder.stdout,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert feeder.stdout is not None
    feeder.stdout.close()
    feeder.wait(5)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2
    assert all(line.startswith("Ada: ") and len(line) > len("Ada: ") for line in lines)
    assert "[" not in result.stdout, "no reply was cancelled or failed"


def test_chat_reports_an_unreachable_server_clearly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "chat", "--url", "ws://127.0.0.1:9/v1/realtime"],
        input="hi\n",
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "cannot start a session" in result.stderr
