"""Graceful drain: SIGTERM mid-conversation hands every session to another process, no turn lost."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from server.ws_client import RealtimeClient
from tests.e2e.conftest import StartServer


@pytest.mark.timeout(300)
async def test_sigterm_mid_reply_finishes_the_turn_and_the_client_resumes_elsewhere(
    start_server: StartServer,
) -> None:
    leaving = start_server("leaving")
    staying = start_server("staying")
    talkers = [RealtimeClient(leaving.url) for _ in range(3)]
    for client in talkers:
        await client.connect()
        await client.ask("Say hello in five words.")
    for client in talkers:
        await client.send({"type": "input.text", "text": "Tell me a short story about a robot."})
        await client.wait_for("response.text.delta")

    leaving.proc.send_signal(signal.SIGTERM)  # mid-reply for every talker
    async with httpx.AsyncClient() as http:
        for _ in range(50):  # readiness goes off at once, before anything closes
            ready = await http.get(f"{leaving.http}/readyz")
            if ready.status_code == 503:
                break
            await asyncio.sleep(0.05)
        assert ready.status_code == 503 and ready.json()["checks"]["accepting"] is False
    with pytest.raises(InvalidStatus) as refused:  # new sockets go elsewhere
        await RealtimeClient(leaving.url).connect()
    assert refused.value.response.status_code == 503

    for client in talkers:
        done = await client.wait_for("response.done", timeout=60)
        assert done["status"] == "completed", "the reply in progress was allowed to finish"
        closing = await client.wait_for("session.closing", timeout=30)
        assert closing["reason"] == "draining" and closing["resumable"] is True
        assert closing["close_code"] == 1012
        client.url = staying.url  # what a load balancer does once the old pod is gone

    started = time.monotonic()
    replies = await asyncio.gather(*(c.ask("What did I ask you before?") for c in talkers))
    assert time.monotonic() - started < 30
    assert all(r.status == "completed" and r.text for r in replies)
    for client in talkers:
        committed = [e["text"] for e in client.events if e["type"] == "input.committed"]
        assert committed == [
            "Say hello in five words.",
            "Tell me a short story about a robot.",
            "What did I ask you before?",
        ], "no turn lost"
        done = [e for e in client.events if e["type"] == "response.done"]
        assert [d["status"] for d in done] == ["completed"] * 3
        seqs = [e["seq"] for e in client.events if e["seq"]]
        assert seqs == sorted(set(seqs)), "no event twice, none out of order"
        await client.close()
    assert leaving.proc.wait(timeout=30) == 0, "the drained process exits cleanly"
