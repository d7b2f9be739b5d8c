"""Choosing the response threshold on out-of-fold predictions (split by stream), and scoring a model on streams."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.data.manifest import DUE_WINDOW_S, ManifestError
from listenloop.decision.model.features import FEATURE_NAMES
from listenloop.decision.model.learned import DecisionModel, chunk_thresholds
from listenloop.offline.scores import ResponseScores
from listenloop.perception.offline import FINAL_DECODE_S
from listenloop.train.fit import EPOCHS, fit
from listenloop.train.targets import NOT_ADDRESSED, SOUND_DUE, UNFINISHED, StreamFeatures

VALIDATION_FRACTION = 0.2  # of streams, held out by split_streams (by stream, never by chunk)
TUNING_FOLDS = 5  # the threshold is tuned on out-of-fold predictions over every training stream (by stream)
THRESHOLDS = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)  # candidate response thresholds
OPEN_THRESHOLDS = (None, 0.97, 0.98, 0.99, 0.995, 0.998)  # ... where the text ends open (None: the same one)
MAX_INTERRUPTIONS = 0.03  # tuning: at most this share of unfinished sentences interrupted (out of fold flatters) ...
MIN_IGNORED = 0.96  # ... and at least this share of held-out speech not for us ignored (the target is 95 %)
HARD_RESPONSE_COST = 0.5  # when no threshold meets both, each point of either rate costs half a point of F1
ARM_FEATURES = ("vad_speech@0", "vad_started@0", "snd_onsets@0")  # what re-arms the policy (see LearnedPolicy)
DUE_WINDOW_CHUNKS = round(DUE_WINDOW_S / CHUNK_SECONDS)  # a reply in time comes in the due chunk or the two after it


@dataclass(frozen=True)
class PolicyScore(ResponseScores):
    """How a threshold does on held-out streams, judged chunk-wise like the benchmark."""

    threshold: float  # respond at this P(not silent) ...
    due: int  # replies due
    hits: int  # due replies given in time
    responses: int  # responses given
    hard_responses: int  # responses inside unfinished sentences or to speech not for us
    unfinished: int = 0  # unfinished sentences (hesitation turns)
    interrupted: int = 0  # ... with a response inside
    not_addressed: int = 0  # turns of speech not for us
    answered: int = 0  # ... with a response from their start to DUE_WINDOW_S after their end
    open_threshold: float | None = None  # ... or at this one where the text ends open (None: threshold)

    @property
    def interruptions(self) -> float:
        return self.interrupted / max(self.unfinished, 1)

    @property
    def ignored(self) -> float:
        return 1 - self.answered / max(self.not_addressed, 1)


def simulate(p_respond: np.ndarray, x: np.ndarray, threshold: float,
             open_threshold: float | None = None) -> np.ndarray:
    """Chunks where LearnedPolicy would respond: over the chunk's threshold and armed since its last response."""
    idx = [FEATURE_NAMES.index(n) for n in ARM_FEATURES]
    arm = (x[:, idx] > 0).any(axis=1)
    over = p_respond >= chunk_thresholds(x, threshold, open_threshold)
    out = np.zeros(len(p_respond), bool)
    armed = False
    for i in range(len(p_respond)):
        armed = armed or bool(arm[i])
        if armed and over[i]:
            out[i], armed = True, False
    return out


def score(model: DecisionModel, data: list[StreamFeatures], threshold: float,
          respond_fn=None, open_threshold: float | None = None) -> PolicyScore:
    due = hits = responses = hard = 0
    spans = {UNFINISHED: [0, 0], NOT_ADDRESSED: [0, 0]}  # kind -> [turns, turns with a response]
    for f in data:
        fired = respond_fn(f) if respond_fn else simulate(1 - model.probs(f.x)[:, 0], f.x, threshold, open_threshold)
        starts = np.flatnonzero((f.y > 0) & (np.concatenate([[0], f.y[:-1]]) == 0))
        sound_start = {int(b): int(a) for kind, a, b in f.spans if kind == SOUND_DUE}
        used = np.zeros(len(fired), bool)
        for d in starts:
            a, b = sound_start.get(int(d), d), d + DUE_WINDOW_CHUNKS
            window = np.flatnonzero(fired[a:b] & ~used[a:b])
            due += 1
            if len(window):
                hits += 1
                used[a + window[0]] = True
        responses += int(fired.sum())
        hard += int((fired & (f.weight > 1) & (f.y == 0)).sum())
        for kind, a, b in f.spans:
            if kind not in spans:
                continue
            spans[int(kind)][0] += 1
            spans[int(kind)][1] += int(fired[a:b].any())
    return PolicyScore(threshold, due, hits, responses, hard, *spans[UNFINISHED], *spans[NOT_ADDRESSED],
                       open_threshold)


def tune_threshold(model: DecisionModel | list[np.ndarray],
                   held_out: list[StreamFeatures]) -> tuple[float, PolicyScore]:
    """The thresholds (THRESHOLDS, and OPEN_THRESHOLDS where the text ends open) with the best held-out F1 among
    those that keep interruptions and replies to speech not for us within MAX_INTERRUPTIONS and MIN_IGNORED; when
    none do, the best F1 less the cost of both rates. The second threshold is in the score's open_threshold.

    `model` is one model for every held-out stream, or each stream's P(respond) from a model that did not see it.
    """
    if isinstance(model, DecisionModel):
        p_respond = [1 - model.probs(f.x)[:, 0] for f in held_out]
    else:
        p_respond = model
    fired = {}

    def scored(t: float, t_open: float | None) -> PolicyScore:
        fired.update({f.stream_id: simulate(p, f.x, t, t_open) for f, p in zip(held_out, p_respond, strict=True)})
        return score(None, held_out, t, lambda f: fired[f.stream_id], t_open)  # type: ignore[arg-type]

    scores = [scored(float(t), t_open) for t in THRESHOLDS for t_open in OPEN_THRESHOLDS
              if t_open is None or t_open > t]
    within = [s for s in scores if s.interruptions <= MAX_INTERRUPTIONS and s.ignored >= MIN_IGNORED]
    best = max(within or scores, key=lambda s: s.f1 - HARD_RESPONSE_COST * (
        max(s.interruptions - MAX_INTERRUPTIONS, 0.0) + max(MIN_IGNORED - s.ignored, 0.0)))
    return best.threshold, best


def stream_ids(data: list[StreamFeatures]) -> list[str]:
    """The streams of `data` in order of first appearance; copies of a stream (other schedules of finals) are one."""
    return list(dict.fromkeys(f.stream_id for f in data))


def _shuffled_streams(data: list[StreamFeatures], seed: int) -> list[str]:
    """The stream ids of `data` in a seeded order."""
    ids = stream_ids(data)
    return [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]


def split_streams(data: list[StreamFeatures], seed: int) -> tuple[list[StreamFeatures], list[StreamFeatures]]:
    order = _shuffled_streams(data, seed)
    held = set(order[:max(1, int(round(len(order) * VALIDATION_FRACTION)))])
    return [f for f in data if f.stream_id not in held], [f for f in data if f.stream_id in held]


def out_of_fold(data: list[StreamFeatures], seed: int, epochs: int, folds: int = TUNING_FOLDS) -> list[np.ndarray]:
    """P(respond) of every chunk of every stream, each from a model fitted on the other folds (streams; every copy
    of a stream in the same fold)."""
    fold = fold_of(data, seed, folds)
    out: list[np.ndarray] = [np.zeros(0)] * len(data)
    for k in sorted(set(fold)):
        model = fit([f for f, j in zip(data, fold, strict=True) if j != k], seed, epochs)
        for i, f in enumerate(data):
            if fold[i] == k:
                out[i] = 1 - model.probs(f.x)[:, 0]
    return out


def fold_of(data: list[StreamFeatures], seed: int, folds: int = TUNING_FOLDS) -> list[int]:
    """The tuning fold of every item of `data`: by stream, seeded, every copy of a stream in one fold."""
    order = _shuffled_streams(data, seed)
    folds = max(2, min(folds, len(order)))
    fold = {stream_id: k % folds for k, stream_id in enumerate(order)}
    return [fold[f.stream_id] for f in data]


def train(data: list[StreamFeatures], seed: int, epochs: int = EPOCHS,
          schedules: tuple[float, ...] = (FINAL_DECODE_S,)) -> tuple[DecisionModel, PolicyScore]:
    """Tune the threshold on out-of-fold predictions (TUNING_FOLDS by stream), then fit on every stream.
    `schedules`: the finals' delays the inputs were read on (kept in the model's notes)."""
    streams = len(stream_ids(data))
    if streams < 2:
        raise ManifestError("training needs at least 2 built streams (one is held out to tune the threshold)")
    threshold, held_score = tune_threshold(out_of_fold(data, seed, epochs), data)
    final = fit(data, seed, epochs)
    meta = {"seed": seed, "epochs": epochs, "streams": streams,
            "chunks": sum(len(f.y) for f in data), "final_decode_s": " ".join(f"{s:g}" for s in schedules),
            "hidden": final.w1.shape[-1], "members": final.members, "folds": TUNING_FOLDS,
            "held_out_f1": round(held_score.f1, 3), "held_out_recall": round(held_score.recall, 3),
            "held_out_precision": round(held_score.precision, 3),
            "held_out_interruptions": round(held_score.interruptions, 3),
            "held_out_ignored": round(held_score.ignored, 3), "open_threshold": held_score.open_threshold}
    return DecisionModel(final.mean, final.std, final.w1, final.b1, final.w2, final.b2, threshold,
                         {k: str(v) for k, v in meta.items()}, held_score.open_threshold), held_score
