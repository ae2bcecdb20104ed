"""agent/grounded.py with agent/responder.py: retrieval, refusal, citation markers, citations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent import events as ev
from agent.grounded import ReplyPlan, Retriever, RetrieverFor, plan_reply, retrieval_query
from agent.llm.protocols import GenerationParams
from agent.personas import Persona, parse_persona
from agent.prompt import HistoryItem
from agent.responder import run_response
from tests.fakes import ScriptedLLM

SUPPORT = b"""---
name: Sam
knowledge: {base: acme, top_k: 3, min_similarity: 0.4, scope: strict, refusal: "I only know Acme."}
---
You are Sam from Acme support. Answer from the passages.
"""
OPEN = SUPPORT.replace(b"scope: strict", b"scope: open")
TODAY = "2026-11-21"


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    source: str
    title: str
    text: str
    similarity: float


RETURNS = Passage(
    "returns.md#0", "returns.md", "Returns", "Return any product within 45 days.", 0.8
)
WARRANTY = Passage("warranty.md#0", "warranty.md", "Warranty", "The warranty lasts 2 years.", 0.5)
UNRELATED = Passage("hours.md#1", "hours.md", "Hours", "We are open 9 to 5 on weekdays.", 0.1)


class FakeRetriever:
    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = passages
        self.queries: list[tuple[str, int]] = []

    def search(self, query: str, k: int = 4) -> Sequence[Passage]:
        self.queries.append((query, k))
        return self.passages[:k]


def persona(raw: bytes = SUPPORT) -> Persona:
    return parse_persona("sam", raw, "prompts/sam.md")


def turn(text: str) -> list[HistoryItem]:
    return [HistoryItem("item_1", "user", text)]


def lookup(retriever: Retriever | None) -> RetrieverFor:
    return lambda name: retriever if name == "acme" else None


async def reply(llm: ScriptedLLM, plan: ReplyPlan, question: str) -> list[ev.AgentEvent]:
    events: list[ev.AgentEvent] = []

    async def emit(event: ev.AgentEvent) -> None:
        events.append(event)

    async def planner() -> ReplyPlan:
        return plan

    await run_response(
        llm,
        system_prompt="unused",
        history=turn(question),
        response_id="resp_1",
        input_item_id="item_1",
        params=GenerationParams(32, 0.0),
        history_chars=1000,
        emit=emit,
        planner=planner,
    )
    return events


def test_the_query_is_the_latest_user_turn_with_the_one_before_when_it_is_short() -> None:
    history = [
        HistoryItem("1", "user", "How long is the warranty on the Dusty 3?"),
        HistoryItem("2", "assistant", "Two years."),
        HistoryItem("3", "user", "And the battery?"),
    ]
    assert retrieval_query(history) == "How long is the warranty on the Dusty 3? And the battery?"
    long_turn = [*history, HistoryItem("4", "user", "What is your returns policy for robots?")]
    assert retrieval_query(long_turn) == "What is your returns policy for robots?"
    assert retrieval_query([]) == ""


async def test_passages_above_the_similarity_floor_are_rendered_into_the_prompt() -> None:
    retriever = FakeRetriever([RETURNS, WARRANTY, UNRELATED])
    plan = await plan_reply(persona(), turn("Can I return it?"), lookup(retriever), TODAY)
    assert retriever.queries == [("Can I return it?", 3)]
    assert [p.chunk_id for p in plan.passages] == ["returns.md#0", "warranty.md#0"]
    assert plan.grounded and plan.refusal is None
    assert "[S1]" in plan.system_prompt and "45 days" in plan.system_prompt
    assert "9 to 5" not in plan.system_prompt  # below the floor: not shown to the model


async def test_strict_scope_refuses_when_nothing_relevant_was_found() -> None:
    plan = await plan_reply(
        persona(), turn("What is the capital of Peru?"), lookup(FakeRetriever([UNRELATED])), TODAY
    )
    assert plan.refusal == "I only know Acme." and plan.passages == ()
    open_plan = await plan_reply(
        persona(OPEN),
        turn("What is the capital of Peru?"),
        lookup(FakeRetriever([UNRELATED])),
        TODAY,
    )
    assert open_plan.refusal is None


async def test_small_talk_is_not_refused_even_in_strict_scope() -> None:
    plan = await plan_reply(persona(), turn("Hello!"), lookup(FakeRetriever([UNRELATED])), TODAY)
    assert plan.refusal is None


async def test_without_a_retriever_the_persona_still_answers_and_says_it_is_grounded() -> None:
    plan = await plan_reply(persona(), turn("Can I return it?"), lookup(None), TODAY)
    assert plan.grounded and plan.passages == () and plan.refusal is None


async def test_markers_are_removed_from_deltas_and_citations_precede_done() -> None:
    plan = await plan_reply(
        persona(), turn("Can I return it?"), lookup(FakeRetriever([RETURNS, WARRANTY])), TODAY
    )
    llm = ScriptedLLM.saying("You can return it within 45 days", " [S", "1].", " [S9]")
    events = await reply(llm, plan, "Can I return it?")
    deltas = "".join(e.delta for e in events if isinstance(e, ev.TextDelta))
    assert "[S" not in deltas and "45 days" in deltas
    assert isinstance(events[-2], ev.Citations) and isinstance(events[-1], ev.ResponseDone)
    assert [c.source for c in events[-2].citations] == ["returns.md"]  # S9 was never retrieved
    assert events[-1].text == deltas.strip()
    assert llm.messages[0].role == "system" and "45 days" in llm.messages[0].content


async def test_a_refusal_is_said_without_asking_the_model_and_cites_nothing() -> None:
    plan = await plan_reply(
        persona(), turn("Who won the 1998 World Cup?"), lookup(FakeRetriever([UNRELATED])), TODAY
    )
    llm = ScriptedLLM.saying("France!")
    events = await reply(llm, plan, "Who won the 1998 World Cup?")
    assert llm.messages == []  # the model was not asked
    done = events[-1]
    assert isinstance(done, ev.ResponseDone) and done.text == "I only know Acme."
    citations = events[-2]
    assert isinstance(citations, ev.Citations) and citations.citations == ()


async def test_a_persona_without_knowledge_sends_no_citations_event() -> None:
    plain = parse_persona("ada", b"You are Ada.", "prompts/ada.md")
    plan = await plan_reply(plain, turn("Hi"), None, TODAY)
    assert not plan.grounded
    events = await reply(ScriptedLLM.saying("Hello", " [S1]"), plan, "Hi")
    assert not any(isinstance(e, ev.Citations) for e in events)
    assert "".join(e.delta for e in events if isinstance(e, ev.TextDelta)) == "Hello [S1]"
