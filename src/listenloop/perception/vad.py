"""Voice activity with silero VAD v6 (ONNX, bundled in faster-whisper): one loaded model, state per stream.

The graph takes a batch of 32 ms windows, each preceded by the last 64 samples of the window before it, and carries
its LSTM state (h, c) through the batch in order; so a chunk's complete windows go through one call, and streaming
chunk by chunk gives the same probabilities as the whole signal at once. Hysteresis turns probabilities into runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLE_RATE, VAD_WINDOW_SAMPLES, VAD_WINDOW_SECONDS
from listenloop.models import silero_vad_path
from listenloop.perception.observation import VadResult

VAD_CONTEXT_SAMPLES = 64  # samples of the previous window the graph sees before each 512-sample window (16 kHz)
VAD_STATE_SHAPE = (1, 1, 128)  # LSTM h and c of the v6 graph

SPEECH_ON_PROB = 0.5  # a window at or above this probability starts speech (silero's recommended threshold)
SPEECH_OFF_PROB = 0.35  # speech goes on while windows stay at or above this (silero's threshold - 0.15)
MIN_SILENCE_S = 0.192  # s (6 windows) below SPEECH_OFF_PROB before speech is declared ended: bridges short pauses


@dataclass
class VadState:
    """Everything one stream needs between chunks. `reset()` forgets the stream without reallocating."""

    h: np.ndarray = field(default_factory=lambda: np.zeros(VAD_STATE_SHAPE, np.float32))  # LSTM hidden state
    c: np.ndarray = field(default_factory=lambda: np.zeros(VAD_STATE_SHAPE, np.float32))  # LSTM cell state
    context: np.ndarray = field(default_factory=lambda: np.zeros(VAD_CONTEXT_SAMPLES, np.float32))  # last samples
    leftover: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # < 512 samples not yet windowed
    windows: int = 0  # windows processed so far; window k covers samples [512 k, 512 (k + 1))
    speech: bool = False  # hysteresis: inside a run of speech
    run_start: float = 0.0  # s, start of the current (or last) run of speech
    last_voiced_end: float = 0.0  # s, end of the last window at or above SPEECH_OFF_PROB while in speech
    has_spoken: bool = False  # a run of speech has been seen in this stream
    ahead: list[np.ndarray] = field(default_factory=list)  # probabilities heard ahead of the next chunk (`peek`)
    ahead_samples: int = 0  # samples of the next chunk already fed by `peek`

    def reset(self) -> None:
        self.h.fill(0.0)
        self.c.fill(0.0)
        self.context.fill(0.0)
        self.leftover = np.zeros(0, np.float32)
        self.windows = 0
        self.speech = False
        self.run_start = 0.0
        self.last_voiced_end = 0.0
        self.has_spoken = False
        self.ahead = []
        self.ahead_samples = 0


class SileroVad:
    """Silero VAD v6 on 512-sample windows; thread-safe (onnxruntime sessions may be run concurrently)."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a window batch is tiny; more threads only add overhead
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.path = Path(path) if path is not None else silero_vad_path()
        self._session = ort.InferenceSession(str(self.path), sess_options=opts, providers=["CPUExecutionProvider"])

    def init_state(self) -> VadState:
        return VadState()

    def _run(self, windows: np.ndarray, state: VadState) -> np.ndarray:
        """Probabilities of complete windows [n, 512], in order, carrying context and LSTM state."""
        if not len(windows):
            return np.zeros(0, np.float32)
        contexts = np.concatenate([state.context[None], windows[:-1, -VAD_CONTEXT_SAMPLES:]])
        batch = np.ascontiguousarray(np.concatenate([contexts, windows], axis=1), dtype=np.float32)
        probs, state.h, state.c = self._session.run(None, {"input": batch, "h": state.h, "c": state.c})
        state.context = windows[-1, -VAD_CONTEXT_SAMPLES:].copy()
        return np.asarray(probs, np.float32).reshape(-1)

    def probs(self, samples: np.ndarray, state: VadState) -> np.ndarray:
        """Feed samples of any length; return the probability of every window completed by them."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        buffer = np.concatenate([state.leftover, samples]) if len(state.leftover) else samples
        n = len(buffer) // VAD_WINDOW_SAMPLES
        probs = self._run(buffer[: n * VAD_WINDOW_SAMPLES].reshape(n, VAD_WINDOW_SAMPLES), state)
        state.leftover = buffer[n * VAD_WINDOW_SAMPLES :].copy()
        return probs

    def offline_probs(self, samples: np.ndarray) -> np.ndarray:
        """The whole signal through the same windows in one call (the reference for streaming tests)."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        n = len(samples) // VAD_WINDOW_SAMPLES
        return self._run(samples[: n * VAD_WINDOW_SAMPLES].reshape(n, VAD_WINDOW_SAMPLES), VadState())

    def peek(self, samples: np.ndarray, state: VadState) -> tuple[np.ndarray, int]:
        """Part of the next chunk, heard before the chunk is complete (a live source's small blocks).

        Returns the probabilities of the windows these samples complete and the stream index of the first one;
        `step` on the completed chunk reports them again, with the hysteresis, and feeds only the rest."""
        first = state.windows + sum(len(p) for p in state.ahead)
        probs = self.probs(samples, state)
        state.ahead.append(probs)
        state.ahead_samples += len(np.asarray(samples).reshape(-1))
        return probs, first

    def step(self, chunk: Chunk | np.ndarray, state: VadState) -> VadResult:
        """One chunk (or any block) in; speech probabilities of its windows and the hysteresis outcome out."""
        samples = np.asarray(chunk.samples if isinstance(chunk, Chunk) else chunk, np.float32).reshape(-1)
        first_window = state.windows
        probs = self.probs(samples[state.ahead_samples :], state)
        if state.ahead:
            probs = np.concatenate([*state.ahead, probs])
            state.ahead, state.ahead_samples = [], 0
        started_at = ended_at = None
        for k, p in enumerate(probs):
            t_start = (first_window + k) * VAD_WINDOW_SECONDS
            t_end = t_start + VAD_WINDOW_SECONDS
            if not state.speech and p >= SPEECH_ON_PROB:
                state.speech, state.has_spoken = True, True
                state.run_start, state.last_voiced_end = t_start, t_end
                started_at = t_start
            elif state.speech and p >= SPEECH_OFF_PROB:
                state.last_voiced_end = t_end
            elif state.speech and t_end - state.last_voiced_end >= MIN_SILENCE_S:
                state.speech = False
                ended_at = state.last_voiced_end
        state.windows += len(probs)
        now = state.windows * VAD_WINDOW_SECONDS
        if state.speech:
            silence_s, speech_s = 0.0, now - state.run_start
        else:
            silence_s = now - state.last_voiced_end
            speech_s = state.last_voiced_end - state.run_start if state.has_spoken else 0.0
        return VadResult(
            probs=probs,
            speech=state.speech,
            started_at=started_at,
            ended_at=ended_at,
            silence_s=silence_s,
            speech_s=speech_s,
            first_window=first_window,
        )


def window_times(first_window: int, n: int) -> np.ndarray:
    """Stream start times (s) of `n` windows numbered from `first_window`."""
    return (first_window + np.arange(n)) * VAD_WINDOW_SAMPLES / SAMPLE_RATE
