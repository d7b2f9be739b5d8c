"""Training examples for the sound detector: YAMNet embeddings of real clips, their augmented copies and synthetic
alarms and sirens, with one label per patch.

A clip's label covers only the patches where its sound is: a patch of a target clip is positive when its loudest
10 ms frame is within POSITIVE_DB of the clip's loudest, negative ("none of these") below QUIET_DB, and left out
between the two. Augmented copies keep the clean clip's patch labels.
"""

from __future__ import annotations

import hashlib
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from listenloop.audio.decode import load_audio
from listenloop.perception import yamnet_frontend as fe
from listenloop.perception.sounds import YamnetTagger
from listenloop.train.sound_augment import SYNTHESIZERS, augment
from listenloop.train.sound_set import LEARNED_CLASSES, Clip

TRAIN_HOP_FRAMES = 30  # one training patch every 0.3 s (10 ms frames; closer neighbours are near copies)
POSITIVE_DB = 12.0  # a patch whose loudest frame is this close to the clip's loudest holds the sound
QUIET_DB = 25.0  # a patch this far below holds none of it
IGNORE = -1  # label of a patch that is left out
RECIPE = "augment-2"  # names the augmentation recipe in cache keys: change it when sound_augment changes


@dataclass
class Examples:
    emb: np.ndarray  # [n, 1024] pooled YAMNet embeddings
    label: np.ndarray  # [n] learned class index, len(LEARNED_CLASSES) for "none", IGNORE for left out
    clip: np.ndarray  # [n] index of the source clip (synthetic clips: -1 - k)
    group: list[str]  # [n] source group of each patch (for cross-validation by source)

    @staticmethod
    def concat(parts: list[Examples]) -> Examples:
        return Examples(np.concatenate([p.emb for p in parts]), np.concatenate([p.label for p in parts]),
                        np.concatenate([p.clip for p in parts]), [g for p in parts for g in p.group])


def patch_starts(n_frames: int, hop: int) -> np.ndarray:
    """First frame of every patch, one every `hop` frames."""
    last = max(0, n_frames - fe.PATCH_FRAMES)
    return np.arange(0, last + 1, hop)


def fit_length(audio: np.ndarray) -> np.ndarray:
    """Clips shorter than a patch are centred in digital silence."""
    if len(audio) >= fe.PATCH_SAMPLES:
        return audio
    pad = fe.PATCH_SAMPLES - len(audio)
    return np.pad(audio, (pad // 2, pad - pad // 2))


def embeddings(tagger: YamnetTagger, audio: np.ndarray, hop: int = TRAIN_HOP_FRAMES) -> np.ndarray:
    """[n, 1024] embeddings of the patches of a clip, one every `hop` log-mel frames (audio as heard)."""
    mel = fe.log_mel(fit_length(audio))
    return np.stack([tagger.run_patch(mel[s : s + fe.PATCH_FRAMES])[1] for s in patch_starts(len(mel), hop)])


def patch_labels(audio: np.ndarray, target: int | None, hop: int = TRAIN_HOP_FRAMES) -> np.ndarray:
    """Per patch: `target` where the sound is, "none" where it is not, IGNORE in between (see module doc)."""
    none = len(LEARNED_CLASSES)
    audio = fit_length(audio)
    n_frames = 1 + (len(audio) - fe.WINDOW_SAMPLES) // fe.HOP_SAMPLES
    starts = patch_starts(n_frames, hop)
    if target is None:
        return np.full(len(starts), none)
    frames = audio[: n_frames * fe.HOP_SAMPLES].reshape(n_frames, fe.HOP_SAMPLES)
    energy_db = 10 * np.log10((frames**2).mean(axis=1) + 1e-10)
    peak = np.array([energy_db[s : s + fe.PATCH_FRAMES].max() for s in starts]) - energy_db.max()
    return np.where(peak >= -POSITIVE_DB, target, np.where(peak < -QUIET_DB, none, IGNORE))


class EmbeddingCache:
    """Embeddings of clips and augmented copies on disk, keyed by everything that makes them (or off: folder None).
    Each copy draws from its own generator (seed, clip, copy), so a cached copy is the copy a fresh run would make."""

    def __init__(self, folder: Path | None, seed: int, backgrounds: list[np.ndarray]) -> None:
        self.folder = folder
        digest = hashlib.sha256()
        for b in backgrounds:
            digest.update(np.ascontiguousarray(b[:4000]).tobytes())
        self.prefix = f"{RECIPE}|{seed}|{len(backgrounds)}|{digest.hexdigest()}"
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if self.folder is None:
            return make()
        path = self.folder / (hashlib.sha256(f"{self.prefix}|{key}".encode()).hexdigest()[:32] + ".npy")
        if path.is_file():
            return np.load(path)
        out = make()
        np.save(path, out)
        return out


def copy_rng(seed: int, key: str, copy: int) -> np.random.Generator:
    """The generator of one augmented copy: independent of which other clips are in the run."""
    return np.random.default_rng([seed, zlib.crc32(key.encode()), copy])


def _copy_embeddings(tagger: YamnetTagger, audio: np.ndarray, backgrounds: list[np.ndarray], seed: int, key: str,
                     copy: int) -> np.ndarray:
    """Embeddings of a clip as it is (copy 0) or of its augmented copy number `copy`."""
    v = audio if copy == 0 else augment(fit_length(audio), backgrounds, copy_rng(seed, key, copy))
    return embeddings(tagger, fit_length(v))


def clip_examples(tagger: YamnetTagger, clips: list[Clip], copies_of: Callable[[Clip], int],
                  backgrounds: list[np.ndarray], seed: int, cache: EmbeddingCache,
                  positive: Callable[[Clip], bool] = lambda c: True) -> Examples:
    """The clips as they are plus `copies_of(clip)` augmented copies. A target clip for which `positive` is False is
    left out of its class (IGNORE everywhere): neither taught as its class nor as "none"."""
    parts = []
    for i, clip in enumerate(clips):
        audio = load_audio(clip.path)
        target = None if clip.target is None else LEARNED_CLASSES.index(clip.target)
        labels = patch_labels(audio, target) if target is None or positive(clip) else None
        key = f"{clip.folder}/{clip.path.name}"
        for k in range(1 + copies_of(clip)):
            emb = cache.get(f"{key}|{k}", partial(_copy_embeddings, tagger, audio, backgrounds, seed, key, k))
            lab = labels[: len(emb)] if labels is not None else np.full(len(emb), IGNORE)
            parts.append(Examples(emb, lab, np.full(len(emb), i), [clip.group] * len(emb)))
        if (i + 1) % 50 == 0:
            print(f"  embeddings: {i + 1}/{len(clips)} clips", file=sys.stderr, flush=True)
    return Examples.concat(parts)


def synthetic_examples(tagger: YamnetTagger, per_class: int, backgrounds: list[np.ndarray], seed: int,
                       cache: EmbeddingCache) -> Examples:
    """Synthetic smoke alarms, sirens and phone rings, each masked and through a microphone like the real clips."""
    parts = []
    for name, synth in SYNTHESIZERS.items():
        target = LEARNED_CLASSES.index(name)
        for k in range(per_class):
            rng = copy_rng(seed, f"synth:{name}", k)
            clean = synth(rng)
            labels = patch_labels(clean, target)
            emb = cache.get(f"synth:{name}|{k}", lambda clean=clean, rng=rng: embeddings(
                tagger, augment(clean, backgrounds, rng)))
            parts.append(Examples(emb, labels[: len(emb)], np.full(len(emb), -1 - k - 1000 * target),
                                  [f"synth:{name}:{k % 4}"] * len(emb)))
    return Examples.concat(parts)
