"""Spoken output: responses become piper (joe voice) speech, sentence by sentence as their text arrives.

Each synthesized sentence is an AudioEvent (16 kHz float32) placed on the input's timeline where the stream is, on
the live clock, once it is synthesized: the response's decision time plus the wall time since (the time to its first
text and its synthesis), never over the previous sentence. --speak-to writes those events
into one wav as long as the input. While the voice plays on a loudspeaker the microphone is gated (its samples are
replaced by silence until the playback ends plus a short tail), so the session never answers its own voice; the
cost is that barge-in by voice cannot happen while it speaks (use headphones and --no-gate to keep it).
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.runtime.control import Control, ControlKind
from listenloop.runtime.events import (
    AudioEvent,
    ErrorEvent,
    Event,
    ResponseDeltaEvent,
    ResponseEvent,
    ResponseStartEvent,
)

if TYPE_CHECKING:
    from listenloop.runtime.timeline import Timeline

GATE_TAIL_S = 0.3  # s the microphone stays gated after playback ends (room echo)
SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")  # where a sentence can be handed to the synthesizer
UNCUT_TASKS = frozenset({"alert"})  # said to the end even when the user talks over them (runtime/responses.py)
SPOKEN_TASKS = frozenset({"answer", "acknowledge", "alert", "ask", "notify", "describe"})  # joe speaks English only


@dataclass
class _Response:
    t: float  # stream time of the decision, s
    wall: float  # perf_counter when its first text arrived
    text: str = ""  # text not yet handed to the synthesizer
    cancelled: bool = False
    cuttable: bool = True  # barge-in stops it (not an urgent alert)


@dataclass
class Placed:
    """One synthesized sentence on the output timeline."""

    t: float  # s, stream time where it starts
    samples: np.ndarray = field(repr=False)
    cuttable: bool = True  # barge-in cuts it (not an urgent alert)


class Speaker:
    """Per session. `observe()` every event; sentences are synthesized in a worker thread, in order."""

    def __init__(self, emit: Callable[[Event], None], speak_to: Path | None = None, play: bool = False,
                 gate: bool = True, synthesize: Callable[[str], np.ndarray] | None = None,
                 timeline: Timeline | None = None) -> None:
        self._emit = emit
        self._timeline = timeline  # a sentence waiting or placed is in flight on it (runtime/timeline.py)
        self.speak_to = speak_to
        self._synthesize = synthesize or _piper
        self._player = _Player() if play else None
        self._gate = gate and play
        self._responses: dict[str, _Response] = {}
        self._queue: queue.Queue = queue.Queue()
        self._cursor = 0.0  # s, end of the last placed sentence on the output timeline
        self._placed: list[Placed] = []
        self._playing_until = 0.0  # perf_counter when the loudspeaker falls silent
        self._thread = threading.Thread(target=self._loop, name="listenloop-speech", daemon=True)
        self._thread.start()

    # ---- input ----
    def observe(self, event: Event) -> None:
        if isinstance(event, ResponseStartEvent) and event.task in SPOKEN_TASKS:
            self._responses[event.id] = _Response(event.t, time.perf_counter(), cuttable=event.task not in UNCUT_TASKS)
        elif isinstance(event, ResponseDeltaEvent) and event.id in self._responses:
            r = self._responses[event.id]
            r.text += event.text
            *done, r.text = SENTENCE_END.split(r.text)
            for sentence in done:
                self._say(event.id, r, sentence)
        elif isinstance(event, ResponseEvent) and event.id in self._responses:
            r = self._responses.pop(event.id)
            if event.interrupted:
                r.cancelled = True
            else:
                self._say(event.id, r, r.text)

    def _say(self, rid: str, r: _Response, sentence: str) -> None:
        if sentence.strip() and not r.cancelled:
            if self._timeline is not None:
                self._timeline.started(r.t, r.wall)  # until it is placed, the sentence is in flight
            self._queue.put((rid, r, sentence.strip()))

    @property
    def gating(self) -> bool:
        """True while the microphone must be muted (our voice is in the room)."""
        return self._gate and time.perf_counter() < self._playing_until + GATE_TAIL_S

    # ---- the worker ----
    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            rid, r, sentence = item
            try:
                if not r.cancelled:
                    self._speak(rid, r, sentence)
            except Exception as e:  # noqa: BLE001 - speech output failing must not stop the session
                self._emit(ErrorEvent(f"speech output failed: {type(e).__name__}: {e}"))
            finally:
                if self._timeline is not None:
                    self._timeline.ended()
                self._queue.task_done()

    def _speak(self, rid: str, r: _Response, sentence: str) -> None:
        samples = self._synthesize(sentence)
        if not len(samples) or r.cancelled:
            return
        t = max(self._cursor, self._stream_now(r))
        self._cursor = t + len(samples) / SAMPLE_RATE
        if self._timeline is not None:
            self._timeline.speaking_until(self._cursor)
        if self.speak_to is not None:
            self._placed.append(Placed(t, samples, r.cuttable))
        self._emit(AudioEvent(rid, round(t, 3), samples, sentence))
        if self._player is not None:
            start = max(time.perf_counter(), self._playing_until)
            self._playing_until = start + len(samples) / SAMPLE_RATE
            self._player.play(samples)

    def _stream_now(self, r: _Response) -> float:
        """Where the stream is now on the live clock: from the timeline's anchor (the deciding chunk's arrival, so
        the time to the first text counts), else from the response's first text."""
        anchor = self._timeline.anchor if self._timeline is not None else None
        if anchor is not None:
            return anchor.t + (time.perf_counter() - anchor.wall)
        return r.t + (time.perf_counter() - r.wall)

    def finish(self, input_seconds: float) -> None:
        """Wait for every queued sentence, then write --speak-to (as long as the input, or the last sentence)."""
        self._queue.join()
        self._queue.put(None)
        self._thread.join(5.0)
        if self.speak_to is not None:
            write_timeline(self.speak_to, self._placed, input_seconds)

    def apply(self, control: Control) -> None:
        """A control message of the stream (runtime/control.py): barge-in cuts the speech at its time."""
        if control.kind is ControlKind.BARGE_IN:
            self.cut(control.t)

    def cut(self, t: float) -> None:
        """Barge-in at stream time `t`: what is not yet said is not said (queued sentences dropped, placed ones
        cut at `t`; --speak-to then holds only what was heard before the user spoke)."""
        for r in self._responses.values():
            r.cancelled = r.cancelled or r.cuttable
        if any(not p.cuttable and p.t + len(p.samples) / SAMPLE_RATE > t for p in self._placed):
            return  # an alert is being said: it goes on, and what follows it waits
        self._placed = [p if p.t + len(p.samples) / SAMPLE_RATE <= t else
                        Placed(p.t, p.samples[: int(round((t - p.t) * SAMPLE_RATE))], p.cuttable)
                        for p in self._placed if p.t < t]
        self._cursor = min(self._cursor, t)
        if self._timeline is not None:
            self._timeline.cut_speech(t)

    def cancel_all(self) -> None:
        for r in self._responses.values():
            r.cancelled = True

    def new_stream(self) -> None:
        """A new stream on the session (Session.reset, no response running): nothing more of the old stream is
        said, and the next one's sentences are placed from its own start."""
        self.cancel_all()
        self._queue.join()
        self._responses.clear()
        self._cursor = 0.0

    def close(self) -> None:
        """Abandon (the session's client is gone): no new sentences, and the worker ends after the queued ones."""
        self.cancel_all()
        self._queue.put(None)


def write_timeline(path: Path, placed: list[Placed], input_seconds: float) -> None:
    from listenloop.audio.wav import write_wav

    end = max([input_seconds] + [p.t + len(p.samples) / SAMPLE_RATE for p in placed])
    out = np.zeros(int(round(end * SAMPLE_RATE)) + 1, np.float32)
    for p in placed:
        i = int(round(p.t * SAMPLE_RATE))
        out[i: i + len(p.samples)] += p.samples[: len(out) - i]
    write_wav(path, np.clip(out, -1.0, 1.0))


def _piper(text: str) -> np.ndarray:
    from listenloop.synthesis.synth import piper

    return piper(text)


class _Player:
    """Plays 16 kHz float32 on the default output device (sounddevice, from the `mic` extra)."""

    def __init__(self) -> None:
        try:
            import sounddevice
        except ImportError as e:
            raise RuntimeError("playing speech needs sounddevice: pip install 'listenloop[mic]' "
                               "(or use --speak-to FILE)") from e
        self._stream = sounddevice.OutputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32")
        self._stream.start()

    def play(self, samples: np.ndarray) -> None:
        self._stream.write(samples.reshape(-1, 1).astype(np.float32))
