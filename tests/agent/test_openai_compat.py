"""The OpenAI-compatible client: against llama.cpp's real server, a mock transport, a closed port.

The real server (llama-cpp-python's, with SmolLM2-135M) is started once for the module. It runs
one generation at a time; ``--interrupt_requests False`` keeps a second request from cutting the
first one short, so concurrent requests queue instead.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agent.llm.llama_cpp_llm import smollm2_model_path
from agent.llm.openai_compat import OpenAICompatLLM
from agent.llm.protocols import (
    ChatMessage,
    GenerationParams,
    LLMError,
    LLMOverloaded,
    LLMUnavailable,
)

GREETING = [ChatMessage("user", "Say hello in one short sentence.")]
COUNTING = [ChatMessage("user", "Count from one to twenty, in words.")]
STORY = [ChatMessage("user", "Write a very long story about a dragon who learns to cook.")]
SERVER_START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp's server exited early:\n{log.read_text()[-2000:]}")
            try:
                if client.get(f"{url}/models").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"llama.cpp's server did not answer within {SERVER_START_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (ending in /v1) of llama.cpp's OpenAI-compatible server with SmolLM2."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(smollm2_model_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--interrupt_requests",
        "False",
        # One thread: llama.cpp's threads spin while they wait for each other, which makes a
        # two-core machine shared with other work many times slower, not a little.
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
        "--verbose",
        "False",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        _wait_until_serving(process, url, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def remote(server_url: str) -> AsyncIterator[OpenAICompatLLM]:
    llm = OpenAICompatLLM(server_url, model="smollm2", timeout_s=30.0)
    await llm.start()
    yield llm
    await llm.aclose()


async def collect(llm: OpenAICompatLLM, messages: list[ChatMessage], max_tokens: int) -> list[str]:
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    return [delta async for delta in llm.stream(messages, params)]


# --- against the real server -------------------------------------------------------------------


@pytest.mark.remote_llm
async def test_a_reply_from_the_real_server_streams_in_several_deltas(
    remote: OpenAICompatLLM,
) -> None:
    deltas = await collect(remote, COUNTING, max_tokens=24)

    assert len(deltas) >= 3
    assert "".join(deltas).strip()
    assert remote.queue_depth == 0


@pytest.mark.remote_llm
async def test_closing_a_stream_early_returns_promptly_and_the_server_serves_the_next(
    remote: OpenAICompatLLM,
) -> None:
    stream = remote.stream(STORY, GenerationParams(max_tokens=400, temperature=1.5))
    for _ in range(3):
        await anext(stream)

    started = time.monotonic()
    await stream.aclose()
    assert time.monotonic() - started < 0.5
    assert remote.queue_depth == 0

    # The server noticed the disconnect and stopped: it does not finish the 400 tokens first.
    started = time.monotonic()
    following = remote.stream(GREETING, GenerationParams(max_tokens=8, temperature=0.0))
    assert await anext(following)
    assert time.monotonic() - started < 1.5
    async for _ in following:  # and it runs to its end
        pass


@pytest.mark.remote_llm
async def test_two_concurrent_streams_both_complete(remote: OpenAICompatLLM) -> None:
    alone = await collect(remote, COUNTING, max_tokens=24)

    first, second = await asyncio.gather(
        collect(remote, COUNTING, max_tokens=24), collect(remote, COUNTING, max_tokens=24)
    )

    # With request interruption on, the second request would cut the first one short.
    assert len(first) == len(second) == len(alone)


# --- with a mock transport ---------------------------------------------------------------------

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def sse(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def chunk(content: str) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": content}}]})


def mock_llm(
    handler: Handler, *, api_key: str | None = None, max_queue: int = 64
) -> OpenAICompatLLM:
    return OpenAICompatLLM(
        "http://model.test/v1",
        model="mock",
        api_key=api_key,
        max_queue=max_queue,
        transport=httpx.MockTransport(handler),
    )


async def stream_all(llm: OpenAICompatLLM) -> list[str]:
    try:
        return [delta async for delta in llm.stream(GREETING, GenerationParams())]
    finally:
        await llm.aclose()


def replying(status: int, body: bytes) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body)

    return handler


async def test_http_503_raises_overloaded() -> None:
    llm = mock_llm(replying(503, b"busy"))

    with pytest.raises(LLMOverloaded, match="HTTP 503"):
        await stream_all(llm)


async def test_http_429_raises_overloaded() -> None:
    with pytest.raises(LLMOverloaded, match="HTTP 429"):
        await stream_all(mock_llm(replying(429, b"slow down")))


async def test_http_500_raises_a_plain_llm_error() -> None:
    with pytest.raises(LLMError, match="HTTP 500") as caught:
        await stream_all(mock_llm(replying(500, b"internal error")))

    assert type(caught.value) is LLMError


@pytest.mark.parametrize(
    "line",
    ["data: {not json", "data: 42", 'data: "text"', "data: [1, 2]", 'data: {"choices": [7]}'],
)
async def test_a_malformed_data_line_raises_llm_error(line: str) -> None:
    body = sse(chunk("Hi"), line, chunk(" there"), "data: [DONE]")

    with pytest.raises(LLMError, match="malformed"):
        await stream_all(mock_llm(replying(200, body)))


async def test_an_error_chunk_raises_llm_error() -> None:
    body = sse(chunk("Hi"), 'data: {"error": {"message": "model crashed"}}', "data: [DONE]")

    with pytest.raises(LLMError, match="model crashed"):
        await stream_all(mock_llm(replying(200, body)))


async def test_done_ends_the_stream_and_other_lines_are_ignored() -> None:
    body = sse(
        ": ping - 2024-01-01 00:00:00",
        "event: message",
        chunk("Hello"),
        "",
        "id: 3",
        "retry: 1000",
        'data: {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}',
        'data: {"choices": []}',
        'data:{"choices":[{"index":0,"delta":{"content":" world"}}]}',
        "data: [DONE]",
        chunk("after the end"),
    )

    assert await stream_all(mock_llm(replying(200, body))) == ["Hello", " world"]


async def test_the_request_carries_the_bearer_key_and_the_generation_params() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=sse(chunk("ok"), "data: [DONE]"))

    llm = mock_llm(handler, api_key="sk-test")
    params = GenerationParams(max_tokens=12, temperature=0.2, stop=("\n",))
    try:
        assert [d async for d in llm.stream(GREETING, params)] == ["ok"]
    finally:
        await llm.aclose()

    (request,) = seen
    assert request.method == "POST"
    assert request.url == "http://model.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "mock",
        "messages": [{"role": "user", "content": GREETING[0].content}],
        "stream": True,
        "max_tokens": 12,
        "temperature": 0.2,
        "stop": ["\n"],
    }


async def test_no_authorization_header_without_a_key() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=sse("data: [DONE]"))

    assert await stream_all(mock_llm(handler)) == []
    assert "authorization" not in seen[0].headers


async def test_requests_beyond_max_queue_in_flight_are_refused() -> None:
    release = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield sse(chunk("Hi"))
        await release.wait()
        yield sse("data: [DONE]")

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    llm = mock_llm(handler, max_queue=1)
    try:
        running = llm.stream(GREETING, GenerationParams())
        assert await anext(running) == "Hi"
        assert llm.queue_depth == 1

        with pytest.raises(LLMOverloaded):
            await anext(llm.stream(GREETING, GenerationParams()))

        release.set()
        assert [d async for d in running] == []
        assert llm.queue_depth == 0
    finally:
        await llm.aclose()


# --- with nothing listening --------------------------------------------------------------------


async def test_a_closed_port_raises_unavailable() -> None:
    llm = OpenAICompatLLM(f"http://127.0.0.1:{free_port()}/v1", model="nobody")
    await llm.start()

    with pytest.raises(LLMUnavailable, match="unreachable"):
        await stream_all(llm)
    assert llm.queue_depth == 0
