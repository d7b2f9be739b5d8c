"""Perception of one chunk, assembled in one readable place: voice activity, then sounds, then recognition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from listenloop.audio.chunker import Chunk
from listenloop.perception.observation import AsrResult, Observation, SegmentEnd, SoundResult

if TYPE_CHECKING:
    from listenloop.perception.asr import Recognizer
    from listenloop.perception.asr_state import AsrState
    from listenloop.perception.sounds import SoundState, YamnetTagger
    from listenloop.perception.vad import SileroVad, VadState

BLAS_THREADS = 1  # numpy's matrix work per chunk is small (sound head, decision MLP): more BLAS threads only spin


@dataclass
class PerceptionState:
    """Per-stream state of every perceiver (the models themselves are shared)."""

    vad: VadState
    asr: AsrState | None
    sounds: SoundState | None

    def reset(self) -> None:
        for part in (self.vad, self.asr, self.sounds):
            if part is not None:
                part.reset()


class Perception:
    def __init__(self, vad: SileroVad, recognizer: Recognizer | None = None,
                 tagger: YamnetTagger | None = None) -> None:
        threadpool_limits(limits=BLAS_THREADS, user_api="blas")  # for the process: where perception runs, it rules
        self.vad = vad
        self.recognizer = recognizer
        self.tagger = tagger

    def init_state(self) -> PerceptionState:
        return PerceptionState(
            vad=self.vad.init_state(),
            asr=self.recognizer.init_state() if self.recognizer else None,
            sounds=self.tagger.init_state() if self.tagger else None,
        )

    def step(self, chunk: Chunk, state: PerceptionState) -> Observation:
        obs = Observation(chunk=chunk)
        obs.vad = self.vad.step(chunk, state.vad)
        if self.tagger is not None:
            obs.sounds = self.tagger.step(chunk, state.sounds)
        if self.recognizer is not None:
            obs.asr = self.recognizer.step(chunk, obs.vad, obs.sounds, state.asr)
        return obs

    def listen(self, samples: np.ndarray, state: PerceptionState) -> SegmentEnd | None:
        """Audio of the next chunk, heard before the chunk is complete: voice activity runs on it at once, so a
        segment can close (and its final text start) mid-chunk. The chunk's `step` feeds only what is left."""
        if self.recognizer is None or not len(samples):
            return None
        probs, first_window = self.vad.peek(samples, state.vad)
        return self.recognizer.listen(samples, probs, first_window, state.asr)

    def flush(self, chunk: Chunk, state: PerceptionState) -> Observation:
        """End of stream: close whatever is open (the last segment), as an observation of the last chunk."""
        obs = Observation(chunk=chunk)
        obs.asr = self.recognizer.flush(state.asr) if self.recognizer is not None else AsrResult()
        if self.tagger is not None:  # sounds still going on end with the stream
            offsets = self.tagger.finish(state.sounds)
            obs.sounds = SoundResult(scores=np.zeros(len(self.tagger.names), np.float32), offsets=offsets)
        obs.extra["end_of_stream"] = True
        return obs
