"""ProcessTTS with the real Piper worker process (GPL code stays in that process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from speech.tts import ProcessTTS, TTSError, piper_worker_command

pytestmark = [pytest.mark.speech, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tts() -> AsyncIterator[ProcessTTS]:
    engine = ProcessTTS(piper_worker_command(), workers=1)
    await engine.start()
    yield engine
    await engine.aclose()


async def test_synthesis_returns_audio_with_alignments_that_add_up(tts: ProcessTTS) -> None:
    result = await tts.synthesize("Hello there, we open at nine.")
    assert tts.sample_rate == result.sample_rate == 22050
    assert 1.0 < result.samples / result.sample_rate < 3.5
    assert sum(n for _, n in result.alignments) == result.samples
    assert result.alignments[0][0] == "^"


async def test_empty_text_gives_no_audio(tts: ProcessTTS) -> None:
    result = await tts.synthesize("")
    assert result.samples == 0


async def test_a_cancelled_request_leaves_the_worker_in_step(tts: ProcessTTS) -> None:
    task = asyncio.create_task(tts.synthesize("This request is cancelled while it runs."))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    result = await tts.synthesize("Next.")
    assert sum(n for _, n in result.alignments) == result.samples
    assert result.samples < 22050, "this is the short answer, not the cancelled one"


async def test_a_dead_worker_fails_its_request_and_is_replaced(tts: ProcessTTS) -> None:
    victim = tts._all[0].process
    victim.kill()
    await victim.wait()
    with pytest.raises(TTSError):
        await tts.synthesize("Anyone there?")
    result = await tts.synthesize("Back again.")
    assert result.samples > 0
