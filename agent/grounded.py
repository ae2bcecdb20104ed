"""Grounding one reply in a knowledge base: what to retrieve, whether to refuse, the prompt.

``plan_reply`` runs before the model is asked: it retrieves passages for the user's latest turn
(off the event loop: embedding the query is a model call), keeps those similar enough to the
question, decides whether a strict-scope persona refuses, and renders the persona's template
with the passages. The plan then travels with the reply: ``run_response`` strips ``[S1]``
markers from what is spoken and, at the end, names the passages the answer used
(``Citations``), never one that was not retrieved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from agent.grounding import PassageLike, should_refuse
from agent.personas import Persona
from agent.prompt import HistoryItem

_SHORT_TURN_WORDS = 6

_tracer = trace.get_tracer(__name__)


class Retriever(Protocol):
    """A knowledge base as a reply sees it (agent/knowledge's index satisfies it)."""

    def search(self, query: str, k: int = 4) -> Sequence[PassageLike]: ...


RetrieverFor = Callable[[str], Retriever | None]
"""Knowledge base name → its retriever; None when the base is not available."""


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    """How one reply is prompted: the system prompt, the passages it may use, a refusal."""

    system_prompt: str
    passages: tuple[PassageLike, ...] = ()
    grounded: bool = False
    """The persona answers from a knowledge base: the reply ends with a citations event."""
    refusal: str | None = None
    """Say this instead of asking the model (strict scope, nothing relevant retrieved)."""


def retrieval_query(history: Sequence[HistoryItem]) -> str:
    """The text to search with: the latest user turn, with the one before it when it is short
    ("and the battery?" only makes sense after the question it follows)."""
    users = [item.text for item in history if item.role == "user" and item.text.strip()]
    if not users:
        return ""
    latest = users[-1]
    if len(latest.split()) < _SHORT_TURN_WORDS and len(users) > 1:
        return f"{users[-2]} {latest}"
    return latest


async def plan_reply(
    persona: Persona,
    history: Sequence[HistoryItem],
    retriever_for: RetrieverFor | None,
    today: str,
) -> ReplyPlan:
    """Retrieve for the latest turn and render the persona's prompt with what was found.

    The search is traced as a ``retrieval`` span (base, top_k, passages kept, refused; never the
    question); a persona without an available knowledge base makes no span."""
    knowledge = persona.knowledge
    retriever = retriever_for(knowledge.base) if knowledge and retriever_for else None
    if knowledge is None or retriever is None:
        return ReplyPlan(persona.render_system_prompt((), today), grounded=knowledge is not None)
    with _tracer.start_as_current_span(
        "retrieval",
        attributes={"knowledge.base": knowledge.base, "knowledge.top_k": knowledge.top_k},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        query = retrieval_query(history)
        try:
            found = (
                await asyncio.to_thread(retriever.search, query, knowledge.top_k) if query else ()
            )
        except Exception as exc:  # named by type: a message may quote the question
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        passages = tuple(p for p in found if p.similarity >= knowledge.min_similarity)
        refuse = should_refuse(
            query, found, scope=knowledge.scope, min_similarity=knowledge.min_similarity
        )
        span.set_attributes({"retrieval.passages": len(passages), "retrieval.refused": refuse})
    return ReplyPlan(
        persona.render_system_prompt(passages, today),
        passages,
        grounded=True,
        refusal=knowledge.refusal if refuse else None,
    )
