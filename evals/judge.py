"""An LLM judge over any OpenAI-compatible chat completions endpoint (vLLM, llama.cpp's server,
Ollama, OpenAI): scores a reply 1-5 against a rubric written in the suite.

Configured with ``--judge-url`` / ``--judge-model`` / ``--judge-key`` or the variables
``AVATAR_EVAL_JUDGE_URL``, ``AVATAR_EVAL_JUDGE_MODEL``, ``AVATAR_EVAL_JUDGE_KEY``. Without a URL
there is no judge and ``judge:`` expectations are reported as skipped, never as passed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from evals.checks import Verdict

_SYSTEM = (
    "You grade one reply of a voice assistant (an avatar that speaks its answers aloud) "
    "against a rubric. Read the conversation, then the reply, then the rubric. Score 1 to 5: "
    "5 fully meets the rubric, 4 meets it with minor flaws, 3 partly, 2 barely, 1 not at all. "
    'Answer with JSON only: {"score": <1-5>, "reason": "<one sentence>"}.'
)
_SCORE = re.compile(r'"score"\s*:\s*"?([1-5])')
_BARE_SCORE = re.compile(r"\b([1-5])\s*(?:/\s*5)?\b")


class JudgeError(RuntimeError):
    """The judge could not be asked, or its answer held no score."""


@dataclass(frozen=True, slots=True)
class JudgeConfig:
    url: str
    model: str = "default"
    key: str | None = None
    timeout_s: float = 60.0

    @classmethod
    def resolve(
        cls,
        url: str | None,
        model: str | None,
        key: str | None,
        env: Mapping[str, str] = os.environ,
    ) -> JudgeConfig | None:
        """The judge from CLI values, else the environment; None when no URL is set."""
        url = url or env.get("AVATAR_EVAL_JUDGE_URL") or None
        if not url:
            return None
        return cls(
            url=url,
            model=model or env.get("AVATAR_EVAL_JUDGE_MODEL") or "default",
            key=key or env.get("AVATAR_EVAL_JUDGE_KEY") or None,
        )

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


def parse_verdict(content: str) -> Verdict:
    """The score and reason in a judge's answer: JSON, else the first lone 1-5."""
    text = content.strip()
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            data = json.loads(text[start : end + 1])
            score = int(data["score"])
            if 1 <= score <= 5:
                return Verdict(score, str(data.get("reason", "")).strip())
        except (ValueError, KeyError, TypeError):
            pass
    match = _SCORE.search(text) or _BARE_SCORE.search(text)
    if match is None:
        raise JudgeError(f"no score in the judge's answer: {text[:200]!r}")
    return Verdict(int(match.group(1)), text[:300])


def render_prompt(rubric: str, conversation: Sequence[tuple[str, str]], reply: str) -> str:
    lines = [f"{role}: {text}" for role, text in conversation]
    return (
        "Conversation so far:\n"
        + ("\n".join(lines) if lines else "(none)")
        + f"\n\nReply to grade:\n{reply}\n\nRubric:\n{rubric}\n"
    )


class Judge:
    def __init__(self, config: JudgeConfig, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        headers = {"Authorization": f"Bearer {config.key}"} if config.key else {}
        self._http = httpx.AsyncClient(
            timeout=config.timeout_s, headers=headers, transport=transport
        )

    async def score(
        self, rubric: str, conversation: Sequence[tuple[str, str]], reply: str
    ) -> Verdict:
        """Ask the judge; raises ``JudgeError`` when it cannot be reached or gives no score."""
        body = {
            "model": self.config.model,
            "temperature": 0,
            "max_tokens": 200,
            "messages": [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": render_prompt(rubric, conversation, reply)},
            ],
        }
        try:
            response = await self._http.post(self.config.endpoint, json=body)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise JudgeError(f"the judge at {self.config.endpoint} failed: {exc}") from None
        return parse_verdict(str(content))

    async def aclose(self) -> None:
        await self._http.aclose()
