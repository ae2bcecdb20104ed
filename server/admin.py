"""The admin API: product teams list, read, validate, edit, preview and roll back personas.

Every route needs ``Authorization: Bearer <token>`` with one of ``AVATAR_ADMIN__TOKENS``; the
token's user name is recorded as the author of each change (agent/personas keeps the history:
who, when, message, unified diff). Writes are optimistic: a ``PUT`` may carry the version it
was based on, and is refused with 409 ``version_conflict`` when someone saved in between.
Answers are JSON; errors are ``{"error": {"code", "message", ...}}`` (docs/admin.md).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agent import events as ev
from agent.grounded import RetrieverFor, plan_reply
from agent.llm.protocols import LLM, GenerationParams
from agent.personas import Persona, PersonaError, PersonaLibrary, VersionConflict
from agent.prompt import HistoryItem
from agent.responder import run_response

PREFIX = "/v1/admin"
MAX_SOURCE_CHARS = 64 * 1024
log = structlog.get_logger(__name__)


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceBody(_Body):
    source: str = Field(max_length=MAX_SOURCE_CHARS)


class UpdateBody(SourceBody):
    expected_version: str | None = Field(
        None, max_length=64, description="The version this edit started from (409 if stale)."
    )
    message: str = Field("", max_length=500, description="Why, recorded with the change.")


class RollbackBody(_Body):
    version: str = Field(max_length=64)
    message: str = Field("", max_length=500)


class Turn(_Body):
    role: Literal["user", "assistant"]
    text: str = Field(max_length=4000)


class PreviewBody(_Body):
    message: str = Field(min_length=1, max_length=2000)
    source: str | None = Field(
        None, max_length=MAX_SOURCE_CHARS, description="A draft to preview; default: saved file."
    )
    history: list[Turn] = Field(default_factory=list, max_length=20)


Preview = Callable[[Persona, str, list[HistoryItem]], Awaitable[dict[str, Any]]]


def preview_runner(
    llm: LLM,
    retriever_for: RetrieverFor | None,
    params: GenerationParams,
    history_chars: int,
    timeout_s: float,
) -> Preview:
    """A function that runs one reply for a persona, as a session would, without speech."""

    async def preview(persona: Persona, message: str, history: list[HistoryItem]) -> dict[str, Any]:
        turns = [*history, HistoryItem("preview_user", "user", message)]
        today = datetime.now(UTC).date().isoformat()
        plans = []
        citations: list[dict[str, str]] = []

        async def planner() -> Any:
            plan = await plan_reply(persona, turns, retriever_for, today)
            plans.append(plan)
            return plan

        async def collect(event: ev.AgentEvent) -> None:
            if isinstance(event, ev.Citations):
                citations.extend(asdict(c) for c in event.citations)

        started = time.perf_counter()
        async with asyncio.timeout(timeout_s):
            done = await run_response(
                llm,
                system_prompt=persona.system_prompt,
                history=turns,
                response_id="preview",
                input_item_id=None,
                params=params,
                history_chars=history_chars,
                emit=collect,
                planner=planner,
            )
        plan = plans[0] if plans else None
        return {
            "persona": {"id": persona.id, "version": persona.version, "label": persona.label},
            "status": done.status,
            "text": done.text,
            "error": done.reason if done.status == "failed" else None,
            "refused": plan is not None and plan.refusal is not None,
            "citations": citations,
            "passages": [
                {
                    "id": f"S{i}",
                    "chunk_id": p.chunk_id,
                    "source": p.source,
                    "title": p.title,
                    "similarity": round(float(p.similarity), 3),
                }
                for i, p in enumerate(plan.passages if plan else (), start=1)
            ],
            "system_prompt": plan.system_prompt if plan else persona.system_prompt,
            "timings": {
                "first_token_ms": done.timings.first_token_ms,
                "total_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        }

    return preview


def _problems(exc: PersonaError) -> list[dict[str, Any]]:
    return [asdict(p) for p in exc.problems]


def admin_router(
    library: PersonaLibrary,
    tokens: Mapping[str, str],
    preview: Preview,
    knowledge_status: Callable[[], list[dict[str, Any]]],
) -> APIRouter:
    """Routes under ``/v1/admin``; ``tokens`` maps user name → bearer token."""
    router = APIRouter(prefix=PREFIX)
    secrets = [(name, token.encode()) for name, token in tokens.items()]

    def authenticate(request: Request) -> None:
        """Router dependency: the caller's user name goes to ``request.state.admin_user``."""
        if not secrets:
            raise AdminError(503, "admin_disabled", "no admin tokens are configured")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise AdminError(401, "admin_token_missing", "send Authorization: Bearer <token>")
        user = None
        for name, token in secrets:  # compare with every token, so timing says nothing
            if hmac.compare_digest(token, given.encode()):
                user = name
        if user is None:
            raise AdminError(401, "admin_token_invalid", "this admin token is not valid")
        request.state.admin_user = user

    router.dependencies.append(Depends(authenticate))

    def who(request: Request) -> str:
        user: str = request.state.admin_user
        return user

    def current(persona_id: str) -> Persona:
        try:
            return library.get(persona_id)
        except PersonaError as exc:
            raise AdminError(404, "persona_not_found", str(exc)) from None

    @router.get("/personas")
    async def list_personas() -> dict[str, Any]:
        return {"personas": [e.as_dict() for e in library.entries()]}

    @router.get("/personas/{persona_id}")
    async def read_persona(persona_id: str) -> dict[str, Any]:
        try:
            entry = library.entry(persona_id)
            if entry is None:
                raise PersonaError(f"no persona {persona_id!r}")
            return {**entry.as_dict(), "source": library.file_source(persona_id)}
        except PersonaError as exc:
            raise AdminError(404, "persona_not_found", str(exc)) from None

    @router.post("/personas/{persona_id}/validate")
    async def validate(persona_id: str, body: SourceBody) -> dict[str, Any]:
        try:
            persona = library.parse_source(persona_id, body.source)
        except PersonaError as exc:
            return {"valid": False, "problems": _problems(exc)}
        return {"valid": True, "problems": [], "version": persona.version}

    @router.put("/personas/{persona_id}")
    async def update(persona_id: str, body: UpdateBody, request: Request) -> dict[str, Any]:
        user = who(request)
        try:
            change = library.write(
                persona_id,
                body.source,
                who=user,
                message=body.message,
                expected_version=body.expected_version,
            )
        except VersionConflict as exc:
            raise AdminError(409, "version_conflict", str(exc)) from None
        except PersonaError as exc:
            raise AdminError(
                422, "persona_invalid", "the persona has problems", problems=_problems(exc)
            ) from None
        log.info("persona_changed", persona=persona_id, version=change.version, who=user)
        return {"change": change.as_dict()}

    @router.post("/personas/{persona_id}/preview")
    async def preview_reply(persona_id: str, body: PreviewBody) -> dict[str, Any]:
        try:
            persona = (
                library.parse_source(persona_id, body.source)
                if body.source is not None
                else current(persona_id)
            )
        except PersonaError as exc:
            raise AdminError(
                422, "persona_invalid", "the persona has problems", problems=_problems(exc)
            ) from None
        history = [HistoryItem(f"h{i}", t.role, t.text) for i, t in enumerate(body.history)]
        try:
            return await preview(persona, body.message, history)
        except TimeoutError:
            raise AdminError(504, "preview_timeout", "the preview took too long") from None

    @router.get("/personas/{persona_id}/history")
    async def history(persona_id: str) -> dict[str, Any]:
        current(persona_id)
        return {"changes": [c.as_dict() for c in library.changes(persona_id)]}

    @router.get("/personas/{persona_id}/versions/{version}")
    async def version_source(persona_id: str, version: str) -> dict[str, Any]:
        try:
            return {"version": version, "source": library.version_source(persona_id, version)}
        except PersonaError as exc:
            raise AdminError(404, "version_not_found", str(exc)) from None

    @router.post("/personas/{persona_id}/rollback")
    async def rollback(persona_id: str, body: RollbackBody, request: Request) -> dict[str, Any]:
        user = who(request)
        try:
            change = library.rollback(
                persona_id, body.version, who=user, message=body.message or "rollback"
            )
        except PersonaError as exc:
            raise AdminError(404, "version_not_found", str(exc)) from None
        log.info("persona_rolled_back", persona=persona_id, version=change.version, who=user)
        return {"change": change.as_dict()}

    @router.get("/knowledge")
    async def knowledge() -> dict[str, Any]:
        return {"knowledge_bases": knowledge_status()}

    return router


async def admin_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdminError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message, **exc.extra}},
        status_code=exc.status,
        headers=headers,
    )
