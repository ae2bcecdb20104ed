"""Resume after a dropped socket: same process, another process, and after a crash."""

from __future__ import annotations

import asyncio
import signal

import pytest
from websockets.exceptions import ConnectionClosed

from server.protocol.messages import PROTOCOL_VERSION
from server.ws_client import RealtimeClient, ServerError
from tests.e2e.conftest import ServerProcess, StartServer

pytestmark = pytest.mark.model

# Short enough that a crashed owner's sessions free up quickly, long enough that renewals
# (every third of it) survive a heavily loaded 2-core machine.
FAST_LEASE = {"AVATAR_SESSION__LEASE_TTL_S": "4", "AVATAR_SESSION__LEASE_WAIT_S": "6"}


@pytest.fixture(scope="module")
def server_a(start_server: StartServer) -> ServerProcess:
    return start_server("a", **FAST_LEASE)


@pytest.fixture(scope="module")
def server_b(start_server: StartServer) -> ServerProcess:
    return start_server("b", **FAST_LEASE)


def _seqs_are_complete(client: RealtimeClient) -> bool:
    """Session events (seq > 0; handshake refusals carry 0) arrived once each, in order."""
    seqs = [e["seq"] for e in client.events if e["seq"]]
    return seqs == list(range(1, len(seqs) + 1))


async def test_a_reply_interrupted_by_a_dropped_socket_is_replayed_on_resume(
    server_a: ServerProcess,
) -> None:
    client = RealtimeClient(server_a.url)
    await client.connect()
    await client.send({"type": "input.text", "text": "Tell me about the moon."})
    created = await client.wait_for("response.created")
    await client.drop()  # the reply keeps going into the log while nobody listens
    await asyncio.sleep(0.5)
    resumed = await client.resume()
    done = await client.wait_for("response.done")

    assert resumed["replay"]["count"] >= 1
    assert resumed["replay"]["gap"] is False
    assert done["response_id"] == created["response_id"]
    assert done["status"] == "completed"
    assert _seqs_are_complete(client), "every event arrives exactly once, in order"
    deltas = "".join(e["delta"] for e in client.events if e["type"] == "response.text.delta")
    assert done["text"] == deltas.strip()
    follow_up = await client.ask("And the sun?")
    assert follow_up.status == "completed"
    await client.close()


async def test_a_reply_that_finished_while_the_client_was_away_is_replayed_in_full(
    server_a: ServerProcess,
) -> None:
    client = RealtimeClient(server_a.url)
    await client.connect()
    await client.send({"type": "input.text", "text": "Say hello."})
    created = await client.wait_for("response.created")
    await client.drop()
    await asyncio.sleep(3)  # the reply (60 tokens at most) ends, and its runtime closes
    resumed = await client.resume()
    done = await client.wait_for("response.done", timeout=10)  # replayed before resumed
    await client.close()
    assert resumed["replay"]["count"] >= 2
    assert done["response_id"] == created["response_id"]
    assert done["status"] == "completed"
    assert _seqs_are_complete(client)


async def test_a_session_resumes_on_another_process_with_its_history(
    server_a: ServerProcess, server_b: ServerProcess
) -> None:
    client = RealtimeClient(server_a.url)
    await client.connect()
    first = await client.ask("My name is Maria. Please remember it.")
    await client.close()

    client.url = server_b.url
    resumed = await client.resume()
    assert resumed["server"]["instance"] == "b"
    assert resumed["replay"] == {"from_seq": client.last_seq, "count": 0, "gap": False}
    second = await client.ask("What is my name?")
    await client.close()

    assert first.status == second.status == "completed"
    assert _seqs_are_complete(client)
    committed = [e["text"] for e in client.events if e["type"] == "input.committed"]
    assert committed == ["My name is Maria. Please remember it.", "What is my name?"]


async def test_after_a_server_crash_mid_reply_another_process_answers_the_turn(
    start_server: StartServer,
) -> None:
    doomed = start_server("doomed", **FAST_LEASE)
    rescuer = start_server("rescuer", **FAST_LEASE)
    client = RealtimeClient(doomed.url)
    await client.connect()
    await client.send({"type": "input.text", "text": "Tell me a long story about a cat."})
    committed = await client.wait_for("input.committed")
    await client.wait_for("response.text.delta")
    doomed.stop(signal.SIGKILL)

    client.url = rescuer.url
    reply_done = await client.wait_for("response.done")  # resumes transparently, waits out lease
    assert reply_done["status"] == "failed"
    assert reply_done["reason"] == "server_lost"
    created = await client.wait_for("response.created")
    assert created["input_item_id"] == committed["item_id"], "the same turn is answered again"
    done = await client.wait_for("response.done")
    assert done["status"] == "completed"
    assert done["text"]
    assert _seqs_are_complete(client), [(e["seq"], e["type"]) for e in client.events]
    await client.close()


async def test_a_second_socket_cannot_drive_a_session_that_is_attached(
    server_a: ServerProcess, server_b: ServerProcess
) -> None:
    owner = RealtimeClient(server_a.url)
    await owner.connect()
    for url in (server_a.url, server_b.url):
        intruder = RealtimeClient(url, max_resume_wait_s=0)
        intruder.session_id, intruder.resume_token = owner.session_id, owner.resume_token
        with pytest.raises(ServerError) as info:
            await intruder.resume()
        assert info.value.code == "session_busy"
        assert info.value.event["retryable"] is True
        assert info.value.event["retry_after_ms"] > 0
        await intruder.close()
    reply = await owner.ask("Still there?")
    assert reply.status == "completed"
    await owner.close()


async def _resume_error(url: str, **fields: object) -> tuple[dict[str, object], int | None]:
    client = RealtimeClient(url)
    await client._open()
    await client.send(
        {"type": "session.resume", "protocol_version": PROTOCOL_VERSION, "last_seq": 0, **fields}
    )
    error = await client.recv()
    try:
        await client.recv(timeout=5)
    except ConnectionClosed as closed:
        return error, closed.rcvd.code if closed.rcvd else None
    finally:
        await client.close()
    return error, None


async def test_a_wrong_resume_token_is_refused(server_a: ServerProcess) -> None:
    owner = RealtimeClient(server_a.url)
    await owner.connect()
    await owner.close()
    error, close_code = await _resume_error(
        server_a.url, session_id=owner.session_id, resume_token="not-the-token"
    )
    assert error["code"] == "resume_token_invalid"
    assert close_code == 4401


async def test_an_unknown_session_is_refused(server_a: ServerProcess) -> None:
    error, close_code = await _resume_error(server_a.url, session_id="sess_nope", resume_token="x")
    assert error["code"] == "session_not_found"
    assert close_code == 4404


async def test_the_resume_token_rotates_on_each_resume(server_a: ServerProcess) -> None:
    client = RealtimeClient(server_a.url)
    await client.connect()
    old_token = client.resume_token
    await client.close()
    await client.resume()
    await client.close()
    assert client.resume_token != old_token
    error, _ = await _resume_error(
        server_a.url, session_id=client.session_id, resume_token=old_token
    )
    assert error["code"] == "resume_token_invalid"


async def test_resume_after_the_resume_window_is_refused(start_server: StartServer) -> None:
    server = start_server("short-window", AVATAR_SESSION__RESUME_TTL_S="1")
    client = RealtimeClient(server.url)
    await client.connect()
    await client.close()
    await asyncio.sleep(2.2)
    error, close_code = await _resume_error(
        server.url, session_id=client.session_id, resume_token=client.resume_token
    )
    assert error["code"] == "resume_expired"
    assert close_code == 4404
