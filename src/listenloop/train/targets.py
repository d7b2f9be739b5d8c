"""Training targets of the decision model: what each chunk of a built stream should have been (SoundFlow manifest),
and how much each mistake costs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.data.manifest import DUE_WINDOW_S, SILENT_LABEL, Stream, TurnKind, chunk_of
from listenloop.decision.model.learned import CLASSES
from listenloop.vocabulary import Task

HARD_NEGATIVE_WEIGHT = 100.0  # silent chunks inside unfinished sentences: the costliest mistakes
NOT_ADDRESSED_WEIGHT = 10.0  # silent chunks of speech not for us (and DUE_WINDOW_S after it)
POSITIVE_CHUNKS = 2  # chunks labelled with the due reply: the labelled one and the next (3: more interruptions) ...
ON_TIME_WEIGHT = 2.0  # ... at this weight; the rest of a turn's due window weighs 1 (in time, but later)
CLASS_INDEX = {task: i for i, task in enumerate(CLASSES)}
UNFINISHED, NOT_ADDRESSED, SOUND_DUE = 1, 2, 3  # kinds of judged spans (see targets)


@dataclass(frozen=True)
class StreamFeatures:
    """One stream, perceived: the model input of every chunk and the training target of every chunk."""

    stream_id: str
    x: np.ndarray  # [n, F]
    y: np.ndarray  # [n] class index (0: silent)
    weight: np.ndarray  # [n] sample weight
    spans: np.ndarray  # [m, 3] (kind, first chunk, end chunk + 1): unfinished sentences, speech not for us; and
    # (SOUND_DUE, first chunk of a sound, its due chunk): a reply to a sound counts from its start


def targets(stream: Stream, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class per chunk (the due chunk and the next POSITIVE_CHUNKS - 1 at ON_TIME_WEIGHT, the rest of a spoken
    turn's due window at weight 1), weights that stress the hard negatives, and the judged spans.

    Spans use the benchmark's rules on chunk ends: a response inside an unfinished sentence is one whose chunk ends
    after the turn starts and before it ends; one to speech not for us, up to DUE_WINDOW_S after it ends; a reply to
    a sound counts from its start (bench/decisions.py `due_from`). The silent chunks of the first two are the hard
    negatives (never the due chunks after an unfinished sentence ends).
    """
    y = np.zeros(n, np.int64)
    for i, label in enumerate(stream.labels[:n]):
        if label != SILENT_LABEL:
            k = CLASS_INDEX[Task(label)]
            for j in range(i, min(i + POSITIVE_CHUNKS, n)):
                if j == i or stream.labels[j] == SILENT_LABEL:
                    y[j] = y[j] or k
    w = np.ones(n, np.float32)
    spans = []
    for turn in stream.turns:
        if turn.t0 is None or turn.t1 is None:
            continue
        first = int(np.floor(turn.t0 / CHUNK_SECONDS + 1e-9))  # the first chunk that ends after t0
        if turn.pauses:
            spans.append((UNFINISHED, first, int(np.ceil(turn.t1 / CHUNK_SECONDS - 1e-6)) - 1))
        if not turn.addressed:
            spans.append((NOT_ADDRESSED, first, int(np.floor((turn.t1 + DUE_WINDOW_S) / CHUNK_SECONDS + 1e-9))))
        if turn.kind is TurnKind.SOUND and turn.task is not None:
            due = _due_chunk(y, turn.t1, n)
            if due is not None:
                spans.append((SOUND_DUE, first, due))
    spans_array = np.array(spans, np.int64).reshape(-1, 3)
    w[y > 0] = ON_TIME_WEIGHT
    _in_time(stream, y, n)
    for kind, a, b in spans_array[spans_array[:, 0] != SOUND_DUE]:
        hard = HARD_NEGATIVE_WEIGHT if kind == UNFINISHED else NOT_ADDRESSED_WEIGHT
        w[a:b] = np.where(y[a:b] == 0, np.maximum(w[a:b], hard), w[a:b])
    return y, w, spans_array


def _due_chunk(y: np.ndarray, t1: float, stop: int) -> int | None:
    """The first chunk from the one holding `t1` (s, a turn's end) up to `stop` (excluded) that is labelled with a
    reply: that turn's due reply."""
    return next((i for i in range(int(t1 / CHUNK_SECONDS), stop) if y[i]), None)


def _in_time(stream: Stream, y: np.ndarray, n: int) -> None:
    """The rest of each spoken turn's due window (to DUE_WINDOW_S after its end, before the next turn starts) takes
    its due reply's class, at weight 1: a reply there counts as in time."""
    starts = sorted(t.t0 for t in stream.turns if t.t0 is not None)
    for turn in stream.turns:
        if turn.t1 is None or turn.task is None or turn.kind is TurnKind.SOUND:
            continue
        last = chunk_of(turn.t1 + DUE_WINDOW_S) - 1  # the last chunk ending in time
        after = next((t0 for t0 in starts if t0 >= turn.t1), None)
        if after is not None:
            last = min(last, chunk_of(after) - 1)  # ... and before the next turn
        due = _due_chunk(y, turn.t1, min(last + 1, n))
        if due is None:
            continue
        for j in range(due, min(last + 1, n, len(stream.labels))):
            if y[j] == 0:  # a chunk labelled with another reply is that reply's
                y[j] = y[due]
