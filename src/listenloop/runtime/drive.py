"""Drive a session from a block source to a renderer, with progress and a clean finish on Ctrl-C."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.runtime.events import Event, SummaryEvent
from listenloop.runtime.load import LivePace
from listenloop.runtime.session import SessionOptions

PROGRESS_MIN_SECONDS = 60.0  # files at least this long show a progress bar (on stderr, when it is a terminal)


def drive(engine, options: SessionOptions, blocks: Iterable[np.ndarray], renderer,
          total_seconds: float | None = None, live: bool = False) -> SummaryEvent | None:
    """Feed every block to a new session and show each event the moment it exists; finish cleanly on Ctrl-C.
    `live`: the blocks come in real time (a microphone, a paced file): when the session falls behind them, its
    partials come at pauses only until it has kept up a while (runtime/load.py)."""
    lock = threading.Lock()
    summary: list[SummaryEvent] = []

    def show(event: Event) -> None:
        with lock:
            renderer.show(event)
            if isinstance(event, SummaryEvent):
                summary.append(event)

    session = engine.session(options, on_event=show)
    pace = LivePace() if live else None
    bar = _progress(total_seconds)
    try:
        for block in blocks:
            if pace is not None:
                session.report_backlog(pace.waiting(len(block) / SAMPLE_RATE))
                pace.fed(len(block) / SAMPLE_RATE)
            session.feed(block)
            if bar is not None:
                bar.update(round(len(block) / SAMPLE_RATE, 2))
    except KeyboardInterrupt:
        print("\nlistenloop: interrupted; finishing the session", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
        session.finish()
        renderer.close()
    return summary[0] if summary else None


def _progress(total_seconds: float | None):
    if total_seconds is None or total_seconds < PROGRESS_MIN_SECONDS or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=round(total_seconds, 1), unit="s audio", file=sys.stderr, leave=False)


def audio_duration(path) -> float | None:
    """Duration from the container header, for progress; None when unknown."""
    import av

    try:
        with av.open(str(path)) as c:
            if c.duration:
                return c.duration / 1_000_000
            stream = c.streams.audio[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
    except Exception:  # noqa: BLE001 - progress is optional; any failure means "unknown"
        return None
    return None
