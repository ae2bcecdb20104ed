"""Sessions in Redis: metadata, history, the replayable event log, and the writer lease.

Keys of one session share a hash tag, so they live in one Redis Cluster slot (docs/adr/0003):

    {prefix}session:{<id>}           HASH    persona, persona_version, persona_name, system_prompt,
                                              vocabulary, avatar_url, avatar_format, state,
                                              created_ms, last_seen_ms, token_sha256, seq,
                                              pending_input, open_response
    {prefix}session:{<id>}:history   LIST    JSON {item_id, role, text}, oldest first
    {prefix}session:{<id>}:events    STREAM  entry id "<seq>-0", field "e" = the event's JSON text
    {prefix}session:{<id>}:lease     STRING  "<owner>|a" (socket attached) or "<owner>|d"

Every write after creation goes through one Lua script that first checks the caller still holds
the lease (fencing): a process that lost its lease cannot write, so one session has one writer.
Each write also pushes back the expiry of all four keys to the idle TTL, which is therefore the
retention of a transcript: no key outlives the session's last activity by more than it.

``erase`` deletes all four keys at once and announces the session id on
``{prefix}sessions:deleted`` (pub/sub), so the process holding its socket closes it
(server/privacy.py). Without the lease no process can write the session again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis

from agent.prompt import HistoryItem

_FENCED_APPEND = """
local lease = redis.call('GET', KEYS[1])
if not lease or string.sub(lease, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then return 0 end
local ttl = tonumber(ARGV[5])
if ARGV[3] ~= '' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], ARGV[2] .. '-0', 'e', ARGV[3])
  redis.call('HSET', KEYS[2], 'seq', ARGV[2])
end
if ARGV[6] ~= '' then
  if ARGV[8] == '' then
    redis.call('RPUSH', KEYS[4], ARGV[6])
    redis.call('LTRIM', KEYS[4], -tonumber(ARGV[7]), -1)
  else
    local items = redis.call('LRANGE', KEYS[4], 0, -1)
    for i = #items, 1, -1 do
      if cjson.decode(items[i]).item_id == ARGV[8] then
        redis.call('LSET', KEYS[4], i - 1, ARGV[6])
        break
      end
    end
  end
end
for i = 9, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[2], ARGV[i])
  else redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
return 1
"""

_RENEW = """
local lease = redis.call('GET', KEYS[1])
if not lease or string.sub(lease, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
if ARGV[2] == 'a' then redis.call('HSET', KEYS[2], 'last_seen_ms', ARGV[5]) end
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return 1
"""

_ERASE = """
local removed = redis.call('DEL', unpack(KEYS))
if removed > 0 then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return removed
"""

_RELEASE = """
local lease = redis.call('GET', KEYS[1])
if lease and string.sub(lease, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def now_ms() -> int:
    return int(time.time() * 1000)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionMeta:
    session_id: str
    persona: str
    persona_version: str
    created_ms: int
    last_seen_ms: int
    token_sha256: str
    seq: int
    open_response: str | None


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    attached: bool
    remaining_ms: int


class LeaseLost(RuntimeError):
    """This process no longer holds the session's writer lease."""


class RedisSessionStore:
    """All Redis I/O of sessions. Owners are opaque strings unique per runtime."""

    def __init__(
        self, redis: Redis, *, prefix: str, idle_ttl_s: int, replay_max: int, history_max: int
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = idle_ttl_s * 1000
        self._replay_max = replay_max
        self._history_max = history_max
        self._append = redis.register_script(_FENCED_APPEND)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._erase = redis.register_script(_ERASE)
        self.deleted_channel = f"{prefix}sessions:deleted"
        """Pub/sub channel on which ``erase`` publishes the id of each session it deleted."""

    def _keys(self, sid: str) -> list[str]:
        base = f"{self._prefix}session:{{{sid}}}"
        return [f"{base}:lease", base, f"{base}:events", f"{base}:history"]

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    # ── lease ──────────────────────────────────────────────────────────────

    async def try_acquire(self, sid: str, owner: str, lease_ms: int) -> LeaseHolder | None:
        """Take the lease if free; otherwise return who holds it (None means acquired)."""
        lease_key = self._keys(sid)[0]
        if await self._redis.set(lease_key, f"{owner}|a", nx=True, px=lease_ms):
            return None
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(lease_key)
        pipe.pttl(lease_key)
        value, pttl = await pipe.execute()
        if value is None:  # released between our SET and GET: try once more
            ok = await self._redis.set(lease_key, f"{owner}|a", nx=True, px=lease_ms)
            return None if ok else LeaseHolder(True, lease_ms)
        return LeaseHolder(str(value).endswith("|a"), max(int(pttl), 0))

    async def renew(self, sid: str, owner: str, lease_ms: int, attached: bool) -> bool:
        result = await self._renew(
            keys=self._keys(sid),
            args=[owner, "a" if attached else "d", lease_ms, self._ttl_ms, now_ms()],
        )
        return bool(result)

    async def release(self, sid: str, owner: str) -> None:
        await self._release(keys=self._keys(sid)[:1], args=[owner])

    # ── writes (fenced) ────────────────────────────────────────────────────

    async def create(
        self, sid: str, owner: str, lease_ms: int, *, token: str, fields: dict[str, str]
    ) -> None:
        """Create a new session holding its lease. Raises if the id is taken."""
        if await self.try_acquire(sid, owner, lease_ms) is not None:
            raise RuntimeError(f"session id collision: {sid}")
        now = str(now_ms())
        await self.append(
            sid,
            owner,
            fields={
                **fields,
                "state": "listening",
                "created_ms": now,
                "last_seen_ms": now,
                "token_sha256": hash_token(token),
                "seq": "0",
            },
        )

    async def append(
        self,
        sid: str,
        owner: str,
        *,
        seq: int = 0,
        event_json: str = "",
        history: HistoryItem | None = None,
        replace: bool = False,
        fields: dict[str, str] | None = None,
    ) -> None:
        """Atomically log an event, push a history item (or, with ``replace``, overwrite the
        stored item with the same ``item_id``; none is added if there is none) and set (or,
        with "", delete) fields.

        Raises ``LeaseLost`` if ``owner`` no longer holds the lease; nothing is written then.
        """
        item = (
            ""
            if history is None
            else json.dumps(
                {"item_id": history.item_id, "role": history.role, "text": history.text}
            )
        )
        args: list[Any] = [
            owner,
            seq,
            event_json,
            self._replay_max,
            self._ttl_ms,
            item,
            self._history_max,
            history.item_id if (replace and history is not None) else "",
        ]
        for key, value in (fields or {}).items():
            args += [key, value]
        if not await self._append(keys=self._keys(sid), args=args):
            raise LeaseLost(sid)

    # ── reads ──────────────────────────────────────────────────────────────

    async def load_meta(self, sid: str) -> SessionMeta | None:
        raw = {_str(k): _str(v) for k, v in (await self._redis.hgetall(self._keys(sid)[1])).items()}
        if not raw or "token_sha256" not in raw:
            return None
        return SessionMeta(
            session_id=sid,
            persona=raw["persona"],
            persona_version=raw["persona_version"],
            created_ms=int(raw["created_ms"]),
            last_seen_ms=int(raw["last_seen_ms"]),
            token_sha256=raw["token_sha256"],
            seq=int(raw.get("seq", 0)),
            open_response=raw.get("open_response") or None,
        )

    async def load_fields(self, sid: str, *names: str) -> dict[str, str]:
        values = await self._redis.hmget(self._keys(sid)[1], list(names))
        return {name: _str(value) for name, value in zip(names, values, strict=True) if value}

    async def load_history(self, sid: str) -> list[HistoryItem]:
        rows = await self._redis.lrange(self._keys(sid)[3], 0, -1)
        items = []
        for row in rows:
            data = json.loads(row)
            role: Literal["user", "assistant"] = data["role"]
            items.append(HistoryItem(data["item_id"], role, data["text"]))
        return items

    async def events_after(self, sid: str, seq: int) -> list[tuple[int, str]]:
        """Logged events with a seq above ``seq``, oldest first, as (seq, JSON text)."""
        entries = await self._redis.xrange(self._keys(sid)[2], min=f"({seq}-0", max="+") or []
        return [
            (int(_str(entry_id or "0").split("-")[0]), _str((fields or {})["e"]))
            for entry_id, fields in entries
        ]

    async def delete(self, sid: str) -> None:
        await self._redis.delete(*self._keys(sid))

    async def erase(self, sid: str) -> bool:
        """Delete every key of the session (the lease included, so its owner can no longer
        write and learns so at its next write or renewal) and, if there was any, publish
        ``sid`` on ``deleted_channel``. Returns whether anything was deleted."""
        removed = await self._erase(keys=self._keys(sid), args=[self.deleted_channel, sid])
        return bool(removed)
