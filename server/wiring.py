"""Engine registry: settings → engine objects. A new engine is one module plus one line here."""

from __future__ import annotations

from collections.abc import Callable

from agent.llm.llama_cpp_llm import LlamaCppLLM, smollm2_model_path
from agent.llm.openai_compat import OpenAICompatLLM
from agent.llm.protocols import LLM
from server.settings import LLMSettings


def _embedded(s: LLMSettings) -> LLM:
    return LlamaCppLLM(
        s.model_path or smollm2_model_path(),
        workers=s.workers,
        slots=s.slots,
        threads_per_worker=s.threads_per_worker,
        context_tokens=s.context_tokens,
        max_queue=s.max_queue,
    )


def _openai(s: LLMSettings) -> LLM:
    assert s.base_url is not None  # enforced by LLMSettings
    return OpenAICompatLLM(
        str(s.base_url).rstrip("/"),
        model=s.model,
        api_key=s.api_key,
        timeout_s=s.request_timeout_s,
        max_queue=s.max_queue,
    )


LLM_ENGINES: dict[str, Callable[[LLMSettings], LLM]] = {
    "embedded": _embedded,
    "openai": _openai,
}


def build_llm(settings: LLMSettings) -> LLM:
    return LLM_ENGINES[settings.engine](settings)
