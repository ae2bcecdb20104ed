"""The LLM judge: configuration, the request it sends, and reading scores from answers.

The endpoint is httpx's public mock transport answering like an OpenAI-compatible server; what
is tested is our side of the exchange, never a model's wording.
"""

from __future__ import annotations

import json

import httpx
import pytest

from evals.checks import Verdict
from evals.judge import Judge, JudgeConfig, JudgeError, parse_verdict


def test_no_url_means_no_judge() -> None:
    assert JudgeConfig.resolve(None, None, None, env={}) is None


def test_cli_values_win_over_the_environment() -> None:
    env = {
        "AVATAR_EVAL_JUDGE_URL": "http://env:8000/v1",
        "AVATAR_EVAL_JUDGE_MODEL": "env-model",
        "AVATAR_EVAL_JUDGE_KEY": "env-key",
    }
    from_env = JudgeConfig.resolve(None, None, None, env=env)
    assert from_env == JudgeConfig("http://env:8000/v1", "env-model", "env-key")
    from_cli = JudgeConfig.resolve("http://cli:1/v1/", "m", None, env=env)
    assert from_cli is not None and (from_cli.url, from_cli.model) == ("http://cli:1/v1/", "m")
    assert from_cli.endpoint == "http://cli:1/v1/chat/completions"


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ('{"score": 4, "reason": "Correct and brief."}', Verdict(4, "Correct and brief.")),
        ('Sure!\n```json\n{"score": "2", "reason": "wrong"}\n```', Verdict(2, "wrong")),
        ("I'd give it 5/5, it is perfect.", Verdict(5, "I'd give it 5/5, it is perfect.")),
    ],
)
def test_scores_are_read_from_json_or_plain_text(answer: str, verdict: Verdict) -> None:
    assert parse_verdict(answer) == verdict


def test_an_answer_without_a_score_is_an_error() -> None:
    with pytest.raises(JudgeError, match="no score"):
        parse_verdict("I cannot grade this.")


async def test_the_judge_sends_rubric_conversation_and_reply() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        content = '{"score": 3, "reason": "partly"}'
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    judge = Judge(
        JudgeConfig("http://judge:8000/v1", "grader", "k"), transport=httpx.MockTransport(answer)
    )
    verdict = await judge.score("Mentions 45 days.", [("user", "Can I return it?")], "Yes.")
    await judge.aclose()
    assert verdict == Verdict(3, "partly")
    (request,) = seen
    assert str(request.url) == "http://judge:8000/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer k"
    body = json.loads(request.content)
    assert body["model"] == "grader" and body["temperature"] == 0
    prompt = body["messages"][1]["content"]
    assert "user: Can I return it?" in prompt
    assert "Reply to grade:\nYes." in prompt
    assert "Rubric:\nMentions 45 days." in prompt


async def test_an_unreachable_or_failing_judge_raises_judge_error() -> None:
    judge = Judge(
        JudgeConfig("http://judge/v1"),
        transport=httpx.MockTransport(lambda request: httpx.Response(503, text="busy")),
    )
    with pytest.raises(JudgeError, match="503"):
        await judge.score("r", [], "x")
    await judge.aclose()
