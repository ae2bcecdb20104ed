"""The simulated player: prebuffer, real-time playback, underruns, stop (pure, clock passed in)."""

from __future__ import annotations

import pytest

from evals.playback import StreamPlayer


def test_playback_starts_once_the_prebuffer_is_queued() -> None:
    player = StreamPlayer(1)
    player.add(10.0, 40)
    started: float | None = player.started_at
    assert started is None, "40 ms is under the 60 ms prebuffer"
    player.add(10.02, 40)
    assert player.started_at == 10.02
    assert player.position(10.05) == pytest.approx(30)


def test_playback_never_runs_past_what_arrived_and_counts_an_underrun() -> None:
    player = StreamPlayer(1)
    player.add(0.0, 80)
    assert player.position(0.5) == 80, "ran dry after 80 ms"
    player.add(0.6, 40)
    assert player.underruns == 0, "40 ms is under the prebuffer: still waiting"
    player.add(0.61, 40)
    assert player.underruns == 1
    assert player.position(0.66) == pytest.approx(130)


def test_the_end_of_a_reply_plays_what_is_left_under_the_prebuffer() -> None:
    player = StreamPlayer(1)
    player.add(0.0, 100)
    player.position(0.2)  # ran dry mid-reply
    player.add(0.3, 20)
    assert player.position(0.305) == 100, "20 ms is under the prebuffer"
    player.end(0.31)
    assert player.underruns == 1, "the buffer ran dry before the reply's end"
    assert not player.finished(0.32)
    assert player.finished(0.5)
    assert player.position(0.5) == 120


def test_running_dry_at_the_very_end_is_no_underrun() -> None:
    player = StreamPlayer(1)
    player.add(0.0, 100)
    player.end(0.01)
    assert player.finished(0.2)
    assert player.underruns == 0


def test_a_short_reply_plays_when_it_ends_under_the_prebuffer() -> None:
    player = StreamPlayer(1)
    player.add(1.0, 40)
    player.end(1.1)
    assert player.started_at == 1.1
    assert player.finished(1.2)


def test_stop_freezes_the_position() -> None:
    player = StreamPlayer(1)
    player.add(0.0, 1000)
    assert player.stop(0.4) == pytest.approx(400)
    player.add(0.5, 1000)
    assert player.position(2.0) == pytest.approx(400)
    assert player.finished(2.0)


def test_fast_playback_plays_everything_at_once() -> None:
    player = StreamPlayer(1, realtime=False)
    player.add(0.0, 40)
    player.add(0.001, 40)
    player.add(0.002, 400)
    assert player.started_at == 0.001
    assert player.position(0.002) == 480
    player.end(0.003)
    assert player.finished(0.003)
