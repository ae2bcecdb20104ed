"""server/privacy.py and RedisSessionStore.erase: deletion, its announcement, and retention of
every key a session writes (real Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from agent.prompt import HistoryItem
from server.privacy import LiveSockets, follow_deletions
from server.redis_store import LeaseLost, RedisSessionStore
from tests.conftest import REDIS_URL

SID = "sess_privacy"
OWNER = "inst-a/0001"
LEASE_MS = 4_000
IDLE_TTL_S = 90


@pytest.fixture
def store(redis_client: Redis, key_prefix: str) -> RedisSessionStore:
    return RedisSessionStore(
        redis_client, prefix=key_prefix, idle_ttl_s=IDLE_TTL_S, replay_max=20, history_max=4
    )


async def _create(store: RedisSessionStore) -> None:
    await store.create(
        SID,
        OWNER,
        LEASE_MS,
        token="resume-token",
        fields={"persona": "default", "persona_version": "v"},
    )
    await store.append(
        SID,
        OWNER,
        seq=1,
        event_json=json.dumps({"type": "input.committed", "seq": 1}),
        history=HistoryItem("item_1", "user", "my number is +44 20 7946 0958"),
    )


async def _next_message(pubsub: PubSub, timeout: float) -> str | None:
    """The next published message's data (subscription confirmations skipped), or None."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
        if message is not None:
            return str(message["data"])
    return None


async def _keys(redis: Redis, prefix: str) -> list[str]:
    return [k async for k in redis.scan_iter(match=f"{prefix}*")]


# ── LiveSockets ────────────────────────────────────────────────────────────


def test_ending_a_session_ends_each_of_its_sockets_once() -> None:
    live = LiveSockets()
    ended: list[str] = []
    live.add("sess_a", lambda: ended.append("a1"))
    live.add("sess_a", lambda: ended.append("a2"))
    live.add("sess_b", lambda: ended.append("b"))

    assert live.end("sess_a") == 2
    assert live.end("sess_a") == 0
    assert ended == ["a1", "a2"] and len(live) == 1


def test_a_socket_that_went_away_is_not_ended() -> None:
    live = LiveSockets()
    ended: list[str] = []
    remove = live.add("sess_a", lambda: ended.append("a"))

    remove()
    remove()  # idempotent

    assert live.end("sess_a") == 0 and ended == [] and len(live) == 0


# ── erase ──────────────────────────────────────────────────────────────────


async def test_erase_removes_every_key_and_announces_the_session(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(store.deleted_channel)
    try:
        assert len(await _keys(redis_client, key_prefix)) == 4

        assert await store.erase(SID) is True

        assert await _keys(redis_client, key_prefix) == []
        assert await _next_message(pubsub, 2.0) == SID
        assert store.deleted_channel == f"{key_prefix}sessions:deleted"
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_erasing_an_unknown_session_announces_nothing(
    store: RedisSessionStore, redis_client: Redis
) -> None:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(store.deleted_channel)
    try:
        assert await store.erase("sess_none") is False
        assert await _next_message(pubsub, 0.3) is None
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_the_owner_of_an_erased_session_can_neither_write_nor_renew(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    await store.erase(SID)

    with pytest.raises(LeaseLost):
        await store.append(SID, OWNER, seq=2, event_json="{}", fields={"state": "thinking"})
    assert not await store.renew(SID, OWNER, LEASE_MS, attached=True)
    assert await _keys(redis_client, key_prefix) == []


# ── the listener ───────────────────────────────────────────────────────────


async def test_a_deletion_published_anywhere_ends_the_local_socket(
    store: RedisSessionStore, redis_client: Redis
) -> None:
    live = LiveSockets()
    ended = asyncio.Event()
    live.add(SID, ended.set)
    subscribed = asyncio.Event()
    task = asyncio.create_task(
        follow_deletions(redis_client, store.deleted_channel, live, subscribed=subscribed)
    )
    try:
        await asyncio.wait_for(subscribed.wait(), 5)
        await _create(store)
        await store.erase(SID)
        await asyncio.wait_for(ended.wait(), 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_listener_resubscribes_after_a_redis_failure(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    name = f"listener-{key_prefix.strip(':').replace(':', '-')}"
    own = Redis.from_url(REDIS_URL, decode_responses=True, client_name=name)
    live = LiveSockets()
    ended = asyncio.Event()
    live.add(SID, ended.set)
    subscribed = asyncio.Event()
    task = asyncio.create_task(
        follow_deletions(own, store.deleted_channel, live, subscribed=subscribed, retry_s=0.05)
    )
    try:
        await asyncio.wait_for(subscribed.wait(), 5)
        subscribed.clear()
        clients = await redis_client.client_list(_type="pubsub")
        ids = [c["id"] for c in clients if c.get("name") == name]
        assert ids
        for client_id in ids:  # only this test's connection: other tests share the server
            await redis_client.client_kill_filter(_id=client_id)
        await asyncio.wait_for(subscribed.wait(), 5)
        await redis_client.publish(store.deleted_channel, SID)
        await asyncio.wait_for(ended.wait(), 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await own.aclose()


# ── retention ──────────────────────────────────────────────────────────────


async def test_every_key_every_store_write_touches_expires_within_the_idle_ttl(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    """The transcript's retention: each write path leaves every key with a TTL."""
    await _create(store)
    await store.append(SID, OWNER, fields={"pending_input": "hello"})
    await store.append(SID, OWNER, history=HistoryItem("item_1", "user", "edited"), replace=True)
    await store.renew(SID, OWNER, LEASE_MS, attached=False)
    await store.renew(SID, OWNER, LEASE_MS, attached=True)
    await store.append(SID, OWNER, fields={"pending_input": ""})

    keys = await _keys(redis_client, key_prefix)
    assert len(keys) == 4
    for key in keys:
        ttl = await redis_client.pttl(key)
        limit = LEASE_MS if key.endswith(":lease") else IDLE_TTL_S * 1000
        assert 0 < ttl <= limit, (key, ttl)
