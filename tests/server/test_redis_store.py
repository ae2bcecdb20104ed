"""server/redis_store.py against the real Redis on loopback, one key prefix per test."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from agent.prompt import HistoryItem
from server.redis_store import (
    LeaseHolder,
    LeaseLost,
    RedisSessionStore,
    SessionMeta,
    hash_token,
    now_ms,
)

SID = "sess_abc"
OWNER = "inst-a/0123456789ab"
OTHER = "inst-b/ba9876543210"
LEASE_MS = 5_000
IDLE_TTL_S = 60


@pytest.fixture
def store(redis_client: Redis, key_prefix: str) -> RedisSessionStore:
    return RedisSessionStore(
        redis_client, prefix=key_prefix, idle_ttl_s=IDLE_TTL_S, replay_max=20, history_max=4
    )


def _keys(prefix: str, sid: str = SID) -> dict[str, str]:
    base = f"{prefix}session:{{{sid}}}"
    return {
        "meta": base,
        "lease": f"{base}:lease",
        "events": f"{base}:events",
        "history": f"{base}:history",
    }


async def _create(store: RedisSessionStore, owner: str = OWNER, sid: str = SID) -> None:
    await store.create(
        sid,
        owner,
        LEASE_MS,
        token="secret-token",
        fields={"persona": "default", "persona_version": "v1abc"},
    )


def _event(seq: int) -> str:
    return json.dumps({"type": "response.text.delta", "seq": seq, "delta": f"d{seq}"})


# ── create / load ───────────────────────────────────────────────────────────


async def test_created_session_can_be_loaded(store: RedisSessionStore) -> None:
    before = now_ms()

    await _create(store)

    meta = await store.load_meta(SID)
    assert meta is not None
    assert meta == SessionMeta(
        session_id=SID,
        persona="default",
        persona_version="v1abc",
        created_ms=meta.created_ms,
        last_seen_ms=meta.created_ms,
        token_sha256=hash_token("secret-token"),
        seq=0,
        open_response=None,
    )
    assert before <= meta.created_ms <= now_ms()


async def test_token_is_stored_only_as_its_hash(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)

    stored = await redis_client.hgetall(_keys(key_prefix)["meta"])

    assert "secret-token" not in stored.values()
    assert stored["token_sha256"] == hash_token("secret-token")


async def test_creator_holds_the_attached_lease(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)

    assert await redis_client.get(_keys(key_prefix)["lease"]) == f"{OWNER}|a"


async def test_creating_an_existing_session_id_is_refused(store: RedisSessionStore) -> None:
    await _create(store)

    with pytest.raises(RuntimeError, match="collision"):
        await _create(store, owner=OTHER)

    meta = await store.load_meta(SID)
    assert meta is not None and meta.seq == 0


async def test_unknown_session_has_no_meta(store: RedisSessionStore) -> None:
    assert await store.load_meta("sess_missing") is None


async def test_hash_without_token_is_not_a_session(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    # What a late write leaves behind once the session hash expired.
    await redis_client.hset(_keys(key_prefix)["meta"], mapping={"seq": "3"})

    assert await store.load_meta(SID) is None


async def test_ping_reaches_redis(store: RedisSessionStore) -> None:
    assert await store.ping() is True


# ── lease ───────────────────────────────────────────────────────────────────


async def test_free_lease_is_acquired(store: RedisSessionStore) -> None:
    assert await store.try_acquire(SID, OWNER, LEASE_MS) is None


async def test_held_lease_reports_an_attached_holder_and_its_remaining_time(
    store: RedisSessionStore,
) -> None:
    await store.try_acquire(SID, OWNER, LEASE_MS)

    holder = await store.try_acquire(SID, OTHER, LEASE_MS)

    assert isinstance(holder, LeaseHolder)
    assert holder.attached is True
    assert 0 < holder.remaining_ms <= LEASE_MS


async def test_held_lease_reports_a_detached_holder(store: RedisSessionStore) -> None:
    await store.try_acquire(SID, OWNER, LEASE_MS)
    assert await store.renew(SID, OWNER, 2_000, attached=False)

    holder = await store.try_acquire(SID, OTHER, LEASE_MS)

    assert holder is not None
    assert holder.attached is False
    assert 0 < holder.remaining_ms <= 2_000


async def test_holder_cannot_acquire_its_own_lease_twice(store: RedisSessionStore) -> None:
    await store.try_acquire(SID, OWNER, LEASE_MS)

    assert await store.try_acquire(SID, OWNER, LEASE_MS) is not None


async def test_owner_renews_its_lease_and_its_expiry(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await store.try_acquire(SID, OWNER, 1_000)

    assert await store.renew(SID, OWNER, 50_000, attached=True) is True

    lease_key = _keys(key_prefix)["lease"]
    assert await redis_client.get(lease_key) == f"{OWNER}|a"
    assert 1_000 < await redis_client.pttl(lease_key) <= 50_000


async def test_attached_renewal_records_last_seen_and_detached_does_not(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    meta_key = _keys(key_prefix)["meta"]
    await redis_client.hset(meta_key, "last_seen_ms", "1")

    assert await store.renew(SID, OWNER, LEASE_MS, attached=False)
    assert await redis_client.hget(meta_key, "last_seen_ms") == "1"

    assert await store.renew(SID, OWNER, LEASE_MS, attached=True)
    assert int(await redis_client.hget(meta_key, "last_seen_ms") or 0) > 1


async def test_stranger_cannot_renew_a_lease(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await store.try_acquire(SID, OWNER, LEASE_MS)

    assert await store.renew(SID, OTHER, LEASE_MS, attached=True) is False

    assert await redis_client.get(_keys(key_prefix)["lease"]) == f"{OWNER}|a"


async def test_nobody_can_renew_a_lease_that_expired(store: RedisSessionStore) -> None:
    assert await store.renew(SID, OWNER, LEASE_MS, attached=True) is False


async def test_release_by_a_stranger_does_nothing(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await store.try_acquire(SID, OWNER, LEASE_MS)

    await store.release(SID, OTHER)

    assert await redis_client.get(_keys(key_prefix)["lease"]) == f"{OWNER}|a"
    assert await store.try_acquire(SID, OTHER, LEASE_MS) is not None


async def test_release_by_the_owner_frees_the_lease_for_another(
    store: RedisSessionStore,
) -> None:
    await store.try_acquire(SID, OWNER, LEASE_MS)

    await store.release(SID, OWNER)

    assert await store.try_acquire(SID, OTHER, LEASE_MS) is None


async def test_release_of_a_free_lease_is_harmless(store: RedisSessionStore) -> None:
    await store.release(SID, OWNER)

    assert await store.try_acquire(SID, OWNER, LEASE_MS) is None


async def test_owner_whose_id_is_a_prefix_of_the_holders_is_a_stranger(
    store: RedisSessionStore,
) -> None:
    await _create(store, owner="worker-10")

    renewed = await store.renew(SID, "worker-1", LEASE_MS, attached=True)
    with pytest.raises(LeaseLost):
        await store.append(SID, "worker-1", fields={"persona": "hijacked"})

    assert renewed is False


# ── fenced writes ───────────────────────────────────────────────────────────


async def test_append_by_a_non_owner_raises_and_writes_nothing(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    keys = _keys(key_prefix)
    meta_before = await redis_client.hgetall(keys["meta"])

    with pytest.raises(LeaseLost):
        await store.append(
            SID,
            OTHER,
            seq=1,
            event_json=_event(1),
            history=HistoryItem("item_1", "user", "hi"),
            fields={"persona": "hijacked", "open_response": "resp_x"},
        )

    assert await redis_client.hgetall(keys["meta"]) == meta_before
    assert await redis_client.exists(keys["events"], keys["history"]) == 0
    assert await store.events_after(SID, 0) == []
    assert await store.load_history(SID) == []


async def test_append_after_the_lease_was_taken_over_raises(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    # The lease expired and another process took the session.
    await redis_client.delete(_keys(key_prefix)["lease"])
    assert await store.try_acquire(SID, OTHER, LEASE_MS) is None

    with pytest.raises(LeaseLost, match=SID):
        await store.append(SID, OWNER, seq=1, event_json=_event(1))

    await store.append(SID, OTHER, seq=1, event_json=_event(1))
    assert await store.events_after(SID, 0) == [(1, _event(1))]


async def test_append_logs_event_and_advances_seq(store: RedisSessionStore) -> None:
    await _create(store)

    await store.append(SID, OWNER, seq=1, event_json=_event(1))

    meta = await store.load_meta(SID)
    assert meta is not None and meta.seq == 1
    assert await store.events_after(SID, 0) == [(1, _event(1))]


async def test_append_without_event_leaves_log_and_seq_alone(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)

    await store.append(SID, OWNER, seq=7, history=HistoryItem("item_1", "user", "hi"))

    meta = await store.load_meta(SID)
    assert meta is not None and meta.seq == 0
    assert await redis_client.exists(_keys(key_prefix)["events"]) == 0


async def test_events_after_is_exclusive_and_ordered(store: RedisSessionStore) -> None:
    await _create(store)
    for seq in range(1, 8):
        await store.append(SID, OWNER, seq=seq, event_json=_event(seq))

    assert [s for s, _ in await store.events_after(SID, 0)] == [1, 2, 3, 4, 5, 6, 7]
    assert await store.events_after(SID, 4) == [(5, _event(5)), (6, _event(6)), (7, _event(7))]
    assert await store.events_after(SID, 7) == []
    assert await store.events_after(SID, 100) == []


async def test_events_after_on_a_session_without_log_is_empty(store: RedisSessionStore) -> None:
    assert await store.events_after("sess_none", 0) == []


async def test_events_keep_multi_digit_seq_order(store: RedisSessionStore) -> None:
    await _create(store)
    for seq in (9, 10, 11, 100):
        await store.append(SID, OWNER, seq=seq, event_json=_event(seq))

    assert [s for s, _ in await store.events_after(SID, 9)] == [10, 11, 100]


async def test_history_is_stored_in_order_and_trimmed_to_history_max(
    store: RedisSessionStore,
) -> None:
    await _create(store)
    items = [
        HistoryItem(f"item_{i}", "user" if i % 2 == 0 else "assistant", f"text {i} – ünï")
        for i in range(7)
    ]
    for item in items:
        await store.append(SID, OWNER, history=item)

    assert await store.load_history(SID) == items[-4:]


async def test_replay_log_is_trimmed_and_does_not_grow_unbounded(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    total = 600
    for seq in range(1, total + 1):
        await store.append(SID, OWNER, seq=seq, event_json=_event(seq))

    length = await redis_client.xlen(_keys(key_prefix)["events"])
    # MAXLEN ~ trims whole radix-tree nodes (100 entries by default), so it keeps a bit more.
    assert 20 <= length <= 20 + 200
    events = await store.events_after(SID, 0)
    assert events[-1] == (total, _event(total))
    assert [s for s, _ in events] == list(range(total - len(events) + 1, total + 1))


async def test_fields_are_set_and_deleted_with_empty_string(store: RedisSessionStore) -> None:
    await _create(store)

    await store.append(SID, OWNER, fields={"open_response": "resp_1", "pending_input": "item_1"})
    meta = await store.load_meta(SID)
    assert meta is not None and meta.open_response == "resp_1"
    assert await store.load_fields(SID, "pending_input") == {"pending_input": "item_1"}

    await store.append(SID, OWNER, fields={"open_response": "", "pending_input": ""})
    meta = await store.load_meta(SID)
    assert meta is not None and meta.open_response is None
    assert await store.load_fields(SID, "open_response", "pending_input") == {}


async def test_event_history_and_fields_are_written_together(store: RedisSessionStore) -> None:
    await _create(store)
    item = HistoryItem("item_1", "assistant", "Hello.")

    await store.append(
        SID, OWNER, seq=1, event_json=_event(1), history=item, fields={"open_response": ""}
    )

    assert await store.events_after(SID, 0) == [(1, _event(1))]
    assert await store.load_history(SID) == [item]
    meta = await store.load_meta(SID)
    assert meta is not None and (meta.seq, meta.open_response) == (1, None)


async def test_every_key_of_the_session_has_a_ttl_after_a_write(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)

    await store.append(
        SID, OWNER, seq=1, event_json=_event(1), history=HistoryItem("i", "user", "hi")
    )

    keys = _keys(key_prefix)
    for name in ("meta", "events", "history"):
        assert 0 < await redis_client.pttl(keys[name]) <= IDLE_TTL_S * 1000, name
    assert 0 < await redis_client.pttl(keys["lease"]) <= LEASE_MS


async def test_renewal_pushes_back_the_expiry_of_session_keys(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    await store.append(
        SID, OWNER, seq=1, event_json=_event(1), history=HistoryItem("i", "user", "hi")
    )
    keys = _keys(key_prefix)
    for name in ("meta", "events", "history"):
        await redis_client.pexpire(keys[name], 1_000)

    assert await store.renew(SID, OWNER, LEASE_MS, attached=True)

    for name in ("meta", "events", "history"):
        assert 1_000 < await redis_client.pttl(keys[name]) <= IDLE_TTL_S * 1000, name


async def test_load_fields_returns_only_fields_that_are_set(store: RedisSessionStore) -> None:
    await _create(store)
    await store.append(SID, OWNER, fields={"system_prompt": "You are Ada."})

    fields = await store.load_fields(SID, "system_prompt", "persona", "missing")

    assert fields == {"system_prompt": "You are Ada.", "persona": "default"}


async def test_load_fields_of_unknown_session_is_empty(store: RedisSessionStore) -> None:
    assert await store.load_fields("sess_none", "persona") == {}


async def test_sessions_do_not_see_each_others_data(store: RedisSessionStore) -> None:
    await _create(store, sid="sess_one")
    await _create(store, sid="sess_two", owner=OTHER)
    await store.append("sess_one", OWNER, seq=1, event_json=_event(1))

    assert await store.events_after("sess_two", 0) == []
    with pytest.raises(LeaseLost):
        await store.append("sess_two", OWNER, seq=1, event_json=_event(1))


async def test_delete_removes_every_key_of_the_session(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    await store.append(
        SID, OWNER, seq=1, event_json=_event(1), history=HistoryItem("i", "user", "hi")
    )

    await store.delete(SID)

    assert await redis_client.exists(*_keys(key_prefix).values()) == 0
    assert await store.load_meta(SID) is None
    assert await store.try_acquire(SID, OTHER, LEASE_MS) is None


async def test_keys_carry_the_prefix_and_one_hash_tag(
    store: RedisSessionStore, redis_client: Redis, key_prefix: str
) -> None:
    await _create(store)
    await store.append(
        SID, OWNER, seq=1, event_json=_event(1), history=HistoryItem("i", "user", "hi")
    )

    found = {k async for k in redis_client.scan_iter(match=f"{key_prefix}*")}

    assert found == set(_keys(key_prefix).values())
    assert all(f"{{{SID}}}" in k for k in found)
