"""Grounded-answer rate on the demo knowledge base, through the same code a session uses.

For every question of ``evals/knowledge/acme_retrieval.yaml`` this runs one reply of the
``acme-support`` persona: retrieval (BM25 + all-MiniLM-L6-v2 over ``prompts/knowledge/acme``),
the strict-scope refusal rule, the persona's template, the model, the citation filter and the
attribution of sources (agent/grounded.py, agent/responder.py). A reply counts as

- **correct** when it states one of the question's key facts (``answer_contains``, case- and
  space-insensitive);
- **cited** when its citations name one of the question's source documents;
- **grounded** when it is both, and every citation is a passage retrieved for it (always true
  by construction; checked anyway).

Out-of-scope questions (a short built-in list) must be refused. The model is the embedded
SmolLM2-135M by default, or any OpenAI-compatible server:

    python -m benchmarks.grounded                                # embedded model
    python -m benchmarks.grounded --openai-url http://127.0.0.1:8000/v1 --model NAME [--api-key K]

Writes ``benchmarks/results/grounded[-<label>].json`` with every reply.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from agent import events as ev
from agent.grounded import plan_reply
from agent.knowledge import KnowledgeLibrary, MiniLMEmbedder
from agent.knowledge.evaluation import load_labelled_set
from agent.llm.llama_cpp_llm import LlamaCppLLM, smollm2_model_path
from agent.llm.openai_compat import OpenAICompatLLM
from agent.llm.protocols import LLM, GenerationParams
from agent.personas import PersonaLibrary
from agent.prompt import HistoryItem
from agent.responder import run_response
from benchmarks.common import ROOT, summary_ms, write_report

LABELLED = ROOT / "evals" / "knowledge" / "acme_retrieval.yaml"
OUT_OF_SCOPE = (
    "Who painted the Mona Lisa?",
    "What is the capital of Australia?",
    "Can you write me a poem about the sea?",
    "How do I bake sourdough bread?",
    "Which football team won the last World Cup?",
)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


async def _reply(
    llm: LLM, persona: Any, library: KnowledgeLibrary, question: str
) -> dict[str, Any]:
    history = [HistoryItem("q", "user", question)]
    citations: list[ev.CitedSource] = []
    plans = []

    async def planner() -> Any:
        plan = await plan_reply(persona, history, library.get, "2026-11-21")
        plans.append(plan)
        return plan

    async def emit(event: ev.AgentEvent) -> None:
        if isinstance(event, ev.Citations):
            citations.extend(event.citations)

    started = time.perf_counter()
    done = await run_response(
        llm,
        system_prompt=persona.system_prompt,
        history=history,
        response_id="bench",
        input_item_id="q",
        params=GenerationParams(max_tokens=80, temperature=0.0),
        history_chars=2000,
        emit=emit,
        planner=planner,
    )
    plan = plans[0]
    return {
        "question": question,
        "text": done.text,
        "status": done.status,
        "refused": plan.refusal is not None,
        "retrieved": [p.source for p in plan.passages],
        "cited": [c.source for c in citations],
        "cited_chunks": [c.chunk_id for c in citations],
        "retrieved_chunks": [p.chunk_id for p in plan.passages],
        "first_token_ms": done.timings.first_token_ms,
        "total_s": time.perf_counter() - started,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    labelled = load_labelled_set(LABELLED)
    personas = PersonaLibrary(ROOT / "prompts", history=False)
    persona = personas.get("acme-support")
    index_dir = Path(tempfile.mkdtemp(prefix="grounded-index-"))
    library = KnowledgeLibrary(ROOT / "prompts" / "knowledge", index_dir, MiniLMEmbedder(threads=1))
    library.get(labelled.knowledge_base).sync()
    llm: LLM
    if args.openai_url:
        llm = OpenAICompatLLM(args.openai_url.rstrip("/"), model=args.model, api_key=args.api_key)
        label = args.label or "openai"
    else:
        llm = LlamaCppLLM(smollm2_model_path(), workers=1, slots=2)
        label = args.label or "embedded"
    await llm.start()
    try:
        answers = []
        for q in labelled.questions[: args.limit or None]:
            reply = await _reply(llm, persona, library, q.question)
            facts = [_normal(f) for f in q.answer_contains]
            reply["id"] = q.id
            reply["correct"] = any(f in _normal(reply["text"]) for f in facts)
            reply["cited_source"] = any(s in q.sources for s in reply["cited"])
            reply["only_retrieved"] = set(reply["cited_chunks"]) <= set(reply["retrieved_chunks"])
            reply["grounded"] = (
                reply["correct"] and reply["cited_source"] and reply["only_retrieved"]
            )
            answers.append(reply)
            mark = "ok " if reply["grounded"] else ("~  " if reply["correct"] else "no ")
            print(f"{mark}{q.id:24} {reply['text'][:90]!r}")
        refusals = [await _reply(llm, persona, library, q) for q in OUT_OF_SCOPE]
    finally:
        await llm.aclose()
        library.close()
    n = len(answers)
    rate = {
        "grounded": sum(a["grounded"] for a in answers) / n,
        "correct": sum(a["correct"] for a in answers) / n,
        "cited_source": sum(a["cited_source"] for a in answers) / n,
        "only_retrieved": sum(a["only_retrieved"] for a in answers) / n,
        "wrongly_refused": sum(a["refused"] for a in answers) / n,
        "out_of_scope_refused": sum(r["refused"] for r in refusals) / len(refusals),
    }
    latency = summary_ms([a["total_s"] for a in answers])
    print(
        f"\n{label}: grounded {rate['grounded']:.0%}  correct {rate['correct']:.0%}  "
        f"cited the right source {rate['cited_source']:.0%}  citations only from retrieved "
        f"{rate['only_retrieved']:.0%}  in-scope refused {rate['wrongly_refused']:.0%}  "
        f"out-of-scope refused {rate['out_of_scope_refused']:.0%}  (n={n})"
    )
    print(f"reply time p50 {latency['p50_ms']:.0f} ms  p95 {latency['p95_ms']:.0f} ms")
    return {
        "label": label,
        "model": llm.name if not args.openai_url else args.model,
        "questions": n,
        "rates": rate,
        "reply_ms": latency,
        "answers": answers,
        "out_of_scope": refusals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--openai-url", help="an OpenAI-compatible server (…/v1)")
    parser.add_argument("--model", default="default", help="model name for --openai-url")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--label", default=None, help="names the result file")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    name = "grounded" if result["label"] == "embedded" else f"grounded-{result['label']}"
    write_report(ROOT / "benchmarks" / "results" / f"{name}.json", "grounded", **result)


if __name__ == "__main__":
    main()
