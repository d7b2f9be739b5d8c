"""`listenloop train decision`: features from built streams (the engine's own perception), then a seeded numpy MLP.

Reads only the SoundFlow manifest contract (data/manifest.py). Features are cached per manifest (features.npz next
to it) because perception, not training, is the slow part. Training targets: the labelled chunk of every due reply
and the chunk after it (the reference lets a reply start up to 0.4 s after the turn), silent everywhere else.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from listenloop.audio.chunker import Chunker
from listenloop.audio.decode import AudioError, load_audio
from listenloop.bench.scores import ResponseScores
from listenloop.data.manifest import SILENT_LABEL, ManifestError, Stream, TurnKind, read_manifest
from listenloop.decision.base import Task
from listenloop.decision.features import FEATURE_NAMES, FeatureExtractor
from listenloop.decision.learned import CLASSES, WEIGHTS_PATH, DecisionModel
from listenloop.perception.observation import FinalText, Observation

HIDDEN = 48  # hidden units: ~7k weights, a few hundred microseconds per chunk at most
EPOCHS = 60  # passes over the data (converges well before on a few hours of streams)
BATCH = 256
LEARNING_RATE = 3e-3  # Adam
L2 = 1e-4  # weight decay: the data is small and the features redundant
HARD_NEGATIVE_WEIGHT = 3.0  # chunks inside unfinished sentences and speech not for us: the costly mistakes
VALIDATION_FRACTION = 0.2  # of streams, held out to tune the threshold (by stream, never by chunk)
THRESHOLDS = np.round(np.arange(0.2, 0.91, 0.05), 2)  # candidate response thresholds
HARD_RESPONSE_COST = 2.0  # in threshold tuning, a response in a hard region costs this many missed replies
CLASS_INDEX = {task: i for i, task in enumerate(CLASSES)}
CACHE_VERSION = "2"  # bump when extraction changes (2: more open words)


@dataclass(frozen=True)
class StreamFeatures:
    """One stream, perceived: the model input of every chunk and the training target of every chunk."""

    stream_id: str
    x: np.ndarray  # [n, F]
    y: np.ndarray  # [n] class index (0: silent)
    weight: np.ndarray  # [n] sample weight


def _done(text: str = "") -> Future[FinalText]:
    f: Future[FinalText] = Future()
    f.set_result(FinalText(segment=0, t0=0.0, t1=0.0, text=text, lang="en"))
    return f


def build_perception(asr: bool = True, sounds: bool = True):
    """The engine's perceivers, constructed directly. Finals (Whisper base) are skipped: features read partials."""
    from listenloop.perception.pipeline import Perception
    from listenloop.perception.vad import SileroVad

    recognizer = tagger = None
    if sounds:
        from listenloop.perception.sounds import YamnetTagger

        tagger = YamnetTagger()
    if asr:
        from listenloop.perception.asr import Recognizer

        class PartialsOnly(Recognizer):
            """Same segmentation and partials as the engine; the final decode is not needed for features."""

            def _submit(self, audio, segment, start, end):  # noqa: ANN001, ANN202 - same signature as the parent
                return _done()

        recognizer = PartialsOnly()
    return Perception(SileroVad(), recognizer, tagger)


def observe(perception, audio: np.ndarray) -> list[Observation]:
    """Every chunk of a stream through perception, in order (the same calls the session makes)."""
    state = perception.init_state()
    chunker = Chunker()
    return [perception.step(chunk, state) for chunk in chunker.push(audio) + chunker.flush()]


def targets(stream: Stream, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Class per chunk (the due chunk and the next), and weights that stress the hard negatives."""
    y = np.zeros(n, np.int64)
    for i, label in enumerate(stream.labels[:n]):
        if label != SILENT_LABEL:
            k = CLASS_INDEX[Task(label)]
            y[i] = k
            if i + 1 < n and stream.labels[i + 1] == SILENT_LABEL:
                y[i + 1] = k
    w = np.ones(n, np.float32)
    from listenloop.data.manifest import chunk_of

    for turn in stream.turns:
        hard = turn.kind is TurnKind.HESITATION or not turn.addressed
        if hard and turn.t0 is not None and turn.t1 is not None:
            a, b = chunk_of(turn.t0), min(chunk_of(turn.t1) + 3, n)
            w[a:b] = np.where(y[a:b] == 0, HARD_NEGATIVE_WEIGHT, w[a:b])
    return y, w


def stream_features(perception, extractor: FeatureExtractor, stream: Stream, root: Path) -> StreamFeatures:
    audio = load_audio(root / stream.audio_path)
    state = extractor.init_state(stream.mode)
    x = np.stack([extractor.step(obs, state) for obs in observe(perception, audio)])
    y, w = targets(stream, len(x))
    return StreamFeatures(stream.id, x, y, w)


def _cache_key(manifest: Path, asr: bool, sounds: bool) -> str:
    h = hashlib.sha256(manifest.read_bytes())
    h.update(f"{CACHE_VERSION}|{asr}|{sounds}|{'/'.join(FEATURE_NAMES)}".encode())
    return h.hexdigest()[:16]


_worker_perception = None  # one perception per extraction worker process


def _extract_in_worker(job: tuple[Stream, Path, bool, bool]) -> StreamFeatures:
    global _worker_perception
    stream, root, asr, sounds = job
    if _worker_perception is None:
        _worker_perception = build_perception(asr, sounds)
    names = _worker_perception.tagger.names if _worker_perception.tagger is not None else None
    return stream_features(_worker_perception, FeatureExtractor(names), stream, root)


def load_features(manifest: Path, asr: bool = True, sounds: bool = True, progress: bool = True,
                  perception=None, workers: int = 1) -> list[StreamFeatures]:
    """Features of every stream of a built manifest, from the cache when it matches (else extracted in order)."""
    streams = [s for s in read_manifest(manifest) if s.built]
    if not streams:
        raise ManifestError(f"{manifest}: no built streams (run listenloop data build first)")
    cache = manifest.parent / f"features-{_cache_key(manifest, asr, sounds)}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return [StreamFeatures(str(i), z[f"x{k}"], z[f"y{k}"], z[f"w{k}"])
                    for k, i in enumerate(z["ids"])]
    bar = tqdm(total=len(streams), desc="features", unit="stream", file=sys.stderr, disable=not progress)
    if workers > 1 and perception is None:
        from listenloop.parallel import ordered_map

        jobs = [(s, manifest.parent, asr, sounds) for s in streams]
        out = []
        for f in ordered_map(_extract_in_worker, jobs, workers):
            out.append(f)
            bar.update()
    else:
        perception = perception or build_perception(asr, sounds)
        extractor = FeatureExtractor(perception.tagger.names if perception.tagger is not None else None)
        out = []
        for s in streams:
            out.append(stream_features(perception, extractor, s, manifest.parent))
            bar.update()
    bar.close()
    arrays = {"ids": np.array([f.stream_id for f in out])}
    for k, f in enumerate(out):
        arrays.update({f"x{k}": f.x, f"y{k}": f.y, f"w{k}": f.weight})
    np.savez_compressed(cache, **arrays)
    return out


# ---- the model ------------------------------------------------------------------------------------------------

ARM_FEATURES = ("vad_speech@0", "vad_started@0", "snd_onsets@0")  # what re-arms the policy (see LearnedPolicy)
DUE_WINDOW_CHUNKS = 3  # a reply counts when it comes in the due chunk or the two after it (1.2 s)


@dataclass(frozen=True)
class PolicyScore(ResponseScores):
    """How a threshold does on held-out streams, judged chunk-wise like the benchmark."""

    threshold: float
    due: int  # replies due
    hits: int  # due replies given in time
    responses: int  # responses given
    hard_responses: int  # responses inside unfinished sentences or to speech not for us


def simulate(p_respond: np.ndarray, x: np.ndarray, threshold: float) -> np.ndarray:
    """Chunks where LearnedPolicy would respond: over the threshold and armed since its last response."""
    idx = [FEATURE_NAMES.index(n) for n in ARM_FEATURES]
    arm = (x[:, idx] > 0).any(axis=1)
    out = np.zeros(len(p_respond), bool)
    armed = False
    for i in range(len(p_respond)):
        armed = armed or bool(arm[i])
        if armed and p_respond[i] >= threshold:
            out[i], armed = True, False
    return out


def score(model: DecisionModel, data: list[StreamFeatures], threshold: float,
          respond_fn=None) -> PolicyScore:
    due = hits = responses = hard = 0
    for f in data:
        fired = respond_fn(f) if respond_fn else simulate(1 - model.probs(f.x)[:, 0], f.x, threshold)
        starts = np.flatnonzero((f.y > 0) & (np.concatenate([[0], f.y[:-1]]) == 0))
        used = np.zeros(len(fired), bool)
        for d in starts:
            window = np.flatnonzero(fired[d : d + DUE_WINDOW_CHUNKS] & ~used[d : d + DUE_WINDOW_CHUNKS])
            due += 1
            if len(window):
                hits += 1
                used[d + window[0]] = True
        responses += int(fired.sum())
        hard += int((fired & (f.weight > 1) & (f.y == 0)).sum())
    return PolicyScore(threshold, due, hits, responses, hard)


def _init(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)


def fit(train: list[StreamFeatures], seed: int, epochs: int = EPOCHS, hidden: int = HIDDEN) -> DecisionModel:
    """Class-weighted softmax MLP (one ReLU layer), Adam, minibatches; identical for a seed."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([f.x for f in train])
    y = np.concatenate([f.y for f in train])
    w = np.concatenate([f.weight for f in train])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-3
    xs = (x - mean) / std
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    class_w = np.where(counts > 0, (len(y) / (len(CLASSES) * np.maximum(counts, 1))) ** 0.5, 0.0)
    sw = (w * class_w[y]).astype(np.float32)
    params = [_init(rng, xs.shape[1], hidden), np.zeros(hidden, np.float32),
              _init(rng, hidden, len(CLASSES)), np.zeros(len(CLASSES), np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), BATCH):
            b = order[start : start + BATCH]
            grads = _gradients(params, xs[b], y[b], sw[b])
            step += 1
            for k, raw in enumerate(grads):
                g = raw + L2 * params[k] if params[k].ndim == 2 else raw
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                mh, vh = m[k] / (1 - 0.9**step), v[k] / (1 - 0.999**step)
                params[k] -= LEARNING_RATE * mh / (np.sqrt(vh) + 1e-8)
    return DecisionModel(mean.astype(np.float32), std.astype(np.float32), *params, threshold=0.5)


def _gradients(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, sw: np.ndarray) -> list[np.ndarray]:
    w1, b1, w2, b2 = params
    pre = x @ w1 + b1
    h = np.maximum(pre, 0.0)
    logits = h @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    d = p.copy()
    d[np.arange(len(y)), y] -= 1.0
    d *= (sw / sw.sum())[:, None]
    dh = (d @ w2.T) * (pre > 0)
    return [x.T @ dh, dh.sum(axis=0), h.T @ d, d.sum(axis=0)]


def tune_threshold(model: DecisionModel, held_out: list[StreamFeatures]) -> tuple[float, PolicyScore]:
    """The threshold with the best F1 on held-out streams, less the cost of responses in hard regions."""
    scores = [score(model, held_out, float(t)) for t in THRESHOLDS]
    best = max(scores, key=lambda s: s.f1 - HARD_RESPONSE_COST * s.hard_responses / max(s.due, 1))
    return best.threshold, best


def split_streams(data: list[StreamFeatures], seed: int) -> tuple[list[StreamFeatures], list[StreamFeatures]]:
    order = np.random.default_rng(seed).permutation(len(data))
    n_val = max(1, int(round(len(data) * VALIDATION_FRACTION)))
    return [data[i] for i in order[n_val:]], [data[i] for i in order[:n_val]]


def train(data: list[StreamFeatures], seed: int, epochs: int = EPOCHS) -> tuple[DecisionModel, PolicyScore]:
    """Fit on most streams, tune the threshold on the rest, then refit on everything with that threshold."""
    if len(data) < 2:
        raise ManifestError("training needs at least 2 built streams (one is held out to tune the threshold)")
    fit_part, held_out = split_streams(data, seed)
    model = fit(fit_part, seed, epochs)
    threshold, held_score = tune_threshold(model, held_out)
    final = fit(data, seed, epochs)
    meta = {"seed": seed, "epochs": epochs, "streams": len(data), "chunks": sum(len(f.y) for f in data),
            "held_out_f1": round(held_score.f1, 3), "held_out_recall": round(held_score.recall, 3),
            "held_out_precision": round(held_score.precision, 3)}
    return DecisionModel(final.mean, final.std, final.w1, final.b1, final.w2, final.b2, threshold,
                         {k: str(v) for k, v in meta.items()}), held_score


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifests", nargs="+", type=Path, help="built manifests (listenloop data build --out DIR)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH, help="where to write the model (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="training is identical for a seed")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--no-asr", action="store_true", help="train without recognition features (faster)")
    parser.add_argument("--workers", type=int, default=1, help="processes extracting features")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        data = []
        for manifest in args.manifests:
            path = manifest / "manifest.jsonl" if manifest.is_dir() else manifest
            data += load_features(path, asr=not args.no_asr, progress=not args.quiet, workers=args.workers)
        model, held = train(data, args.seed, args.epochs)
    except (ManifestError, AudioError) as e:
        print(f"listenloop train decision: {e}", file=sys.stderr)
        return 2
    model.save(args.out)
    print(f"trained on {len(data)} streams in {time.perf_counter() - started:.1f} s; held-out: "
          f"F1 {held.f1:.3f} (recall {held.recall:.3f}, precision {held.precision:.3f}), "
          f"threshold {model.threshold:.2f} -> {args.out}")
    return 0
