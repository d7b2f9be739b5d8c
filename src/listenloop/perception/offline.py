"""Perceiving a whole recording offline (training inputs, the decision bench), with finals on the live schedule.

Offline, perception runs faster than real time, so a final (Whisper base) would be "done" after however many chunks
the machine happened to get through meanwhile: the decisions that wait for it would differ from run to run and from
the live engine. Here every final is decoded for real, then handed out as a `ScheduledFinal` that reports done()
only from the chunk where the live engine has it: FINAL_DECODE_S after its segment closes. Iterating a `Replay`
moves its clock chunk by chunk; the decision code reads finals exactly as it does live. A Replay pickles whole (a
final whose decode failed excepted), so a benchmark can perceive once and replay policies many times, on another
machine's schedule too (`rescheduled`: a slower CPU has its finals later).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from listenloop.audio.chunker import Chunker
from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.perception.observation import FinalText, Observation

FINAL_DECODE_S = 0.2  # s after its segment closes when a final counts as ready. Whisper base decodes a short segment
# in 110 to 200 ms here, mostly started during the pause; live, the final text comes 440 to 480 ms (p50) after the
# end of speech, of which the close waits 0.25 s (docs/benchmarks.md, issue 2)


@dataclass
class ChunkClock:
    """Index of the chunk being decided (-1: before the first)."""

    now: int = -1


class ScheduledFinal(Future):
    """A final already decoded, done() from chunk `ready_at` of its replay on."""

    def __init__(self, value: FinalText, ready_at: int, clock: ChunkClock) -> None:
        super().__init__()
        self.set_result(value)
        self.ready_at = ready_at
        self._clock = clock

    def done(self) -> bool:
        return self._clock.now >= self.ready_at

    def __reduce__(self):  # written to disk with its Replay (bench decisions --observations), the clock shared
        return ScheduledFinal, (self.result(), self.ready_at, self._clock)


@dataclass(frozen=True)
class Replay:
    """A recording's observations; iterating sets the clock to each chunk in turn (restartable)."""

    observations: tuple[Observation, ...]
    clock: ChunkClock

    def __iter__(self) -> Iterator[Observation]:
        for i, obs in enumerate(self.observations):
            self.clock.now = i
            yield obs
        self.clock.now = len(self.observations)

    def __len__(self) -> int:
        return len(self.observations)


def build_perception(asr: bool = True, sounds: bool = True):
    """The engine's perceivers, constructed directly (VAD always; recognition with finals, and the sound tagger)."""
    from listenloop.perception.pipeline import Perception
    from listenloop.perception.vad import SileroVad

    recognizer = tagger = None
    if sounds:
        from listenloop.perception.sounds import YamnetTagger

        tagger = YamnetTagger()
    if asr:
        from listenloop.perception.asr import Recognizer

        recognizer = Recognizer()
    return Perception(SileroVad(), recognizer, tagger)


def ready_chunk(closed_in: int, t1: float, decode_s: float = FINAL_DECODE_S) -> int:
    """The first chunk, from the one a segment closed in, that ends `decode_s` or more after its end `t1`."""
    return max(closed_in, int(np.ceil((t1 + decode_s) / CHUNK_SECONDS - 1e-9)) - 1)


def observe(perception, audio: np.ndarray, pauses_only: bool = False) -> Replay:
    """Every chunk of a recording through perception, in order (the calls a session makes), finals on schedule;
    `pauses_only`: partials at pauses only, as a live stream gets them while the machine is behind (runtime/load.py)."""
    state = perception.init_state()
    if pauses_only and state.asr is not None:
        state.asr.pauses_only = True
    chunker = Chunker()
    observations = [perception.step(chunk, state) for chunk in chunker.push(audio) + chunker.flush()]
    clock = ChunkClock()
    return Replay(tuple(_scheduled(obs, i, clock) for i, obs in enumerate(observations)), clock)


def rescheduled(replay: Replay, decode_s: float) -> Replay:
    """The same observations with every final ready `decode_s` after its segment's end, not FINAL_DECODE_S: the
    schedule of a machine whose finals take that long (`listenloop bench latency`: final text p50)."""
    clock = ChunkClock()
    return Replay(tuple(_scheduled(obs, i, clock, decode_s) for i, obs in enumerate(replay.observations)), clock)


def _scheduled(obs: Observation, index: int, clock: ChunkClock, decode_s: float = FINAL_DECODE_S) -> Observation:
    ended = obs.asr.ended if obs.asr is not None else None
    if ended is None or ended.final.cancelled() or ended.final.exception() is not None:
        return obs  # (waits for the decode) a failed or cancelled final stays as it is: done, and not used
    final = ScheduledFinal(ended.final.result(), ready_chunk(index, ended.t1, decode_s), clock)
    return dataclasses.replace(obs, asr=dataclasses.replace(obs.asr, ended=dataclasses.replace(ended, final=final)))
