"""`listenloop train sounds`: train the learned sound detector on real recordings, split by source.

Reads a folder laid out like ../shared/audio/train/sounds (class folders, manifest.csv), holds out whole source groups
for validation (train/sound_set.py), embeds the training clips and their augmented copies plus synthetic alarms and
sirens with the int8 YAMNet, chooses thresholds by cross-validation over training sources, fits the head and writes
the weights (.npz), their card (.json: classes, sha256, seed, training clips) next to them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from listenloop.audio.decode import load_audio
from listenloop.perception.detector import CARD_FILE, WEIGHTS_FILE
from listenloop.perception.sounds import YamnetTagger
from listenloop.train import sound_head, sound_oof
from listenloop.train.sound_features import EmbeddingCache, Examples, clip_examples, synthetic_examples
from listenloop.train.sound_set import DEFAULT_ROOT, LEARNED_CLASSES, Clip, Split, read_manifest, select

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "perception" / "weights"
COPIES = 3  # augmented copies of each target clip
NEGATIVE_COPIES = 1  # ... and of each negative clip (so that microphones and masking are not a target cue)
SYNTH_PER_CLASS = 40  # synthetic smoke alarms, sirens and phone rings
# Negatives the detector confused with a target (out of fold and on held-out sources): more augmented copies of each,
# so that they weigh as much as the targets they resemble (music -> phone, clapping -> gunshot, laughter -> cough).
# Ringtone files that are music (lomiri's marimba, harp, piano tunes): taught as a phone they made music a phone, and
# no sound tells a tune played by a phone from the same tune played by a speaker. Left out of training (neither phone
# nor "none"); the phone is learned from rings (bells, trills: real and synthetic). The policy's AudioSet "Ringtone"
# still hears them.
MUSIC_RINGTONE_SOURCES = ("debian:lomiri-sounds",)
HARD_NEGATIVE_COPIES = {"music": 3, "clapping": 8, "laughing": 6, "helicopter": 2, "animal_other": 2}
# Negative folders whose clips make backgrounds to mask targets under (speech, music, rain, household, outdoors).
BACKGROUND_FOLDERS = frozenset({"speech", "music", "rain", "household_misc", "outdoor_ambience", "traffic_vehicle",
                                "water_waves", "wind", "fire_crackling", "clock_tick", "footsteps", "birds", "typing"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_ROOT, help="the recordings (class folders, manifest.csv)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder for the weights and their card")
    parser.add_argument("--seed", type=int, default=0, help="split, augmentation and training are identical per seed")
    parser.add_argument("--split", choices=[s.value for s in Split], default=Split.TRAIN.value,
                        help="train on the training sources (default) or on all (then nothing is held out)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training clips (quick checks)")
    parser.add_argument("--epochs", type=int, default=sound_head.EPOCHS)
    parser.add_argument("--copies", type=int, default=COPIES, help="augmented copies per target clip")
    parser.add_argument("--synth", type=int, default=SYNTH_PER_CLASS, help="synthetic clips per synthesized class")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder to keep embeddings in between runs (the same seed and recipe reuse them)")


def copies_of(clip: Clip, copies: int) -> int:
    """Augmented copies of a clip: `copies` for a target, more for a hard negative, NEGATIVE_COPIES otherwise."""
    return copies if clip.target is not None else HARD_NEGATIVE_COPIES.get(clip.folder, NEGATIVE_COPIES)


def taught(clip: Clip) -> bool:
    """Whether a target clip teaches its class (see MUSIC_RINGTONE_SOURCES)."""
    return not (clip.target == "phone_ringing" and clip.source.startswith(MUSIC_RINGTONE_SOURCES))


def build_examples(args: argparse.Namespace, tagger: YamnetTagger) -> tuple[Examples, list]:
    clips = select(read_manifest(args.data), Split(args.split), args.seed)
    if args.limit:
        clips = clips[:: max(1, len(clips) // args.limit)][: args.limit]
    backgrounds = [load_audio(c.path) for c in clips if c.folder in BACKGROUND_FOLDERS]
    cache = EmbeddingCache(getattr(args, "cache", None), args.seed, backgrounds)
    print(f"train sounds: {len(clips)} clips, {len(backgrounds)} backgrounds, seed {args.seed}", file=sys.stderr)
    parts = [clip_examples(tagger, clips, lambda c: copies_of(c, args.copies), backgrounds, args.seed, cache, taught)]
    if args.synth:
        parts.append(synthetic_examples(tagger, args.synth, backgrounds, args.seed, cache))
    return Examples.concat(parts), clips


def train(args: argparse.Namespace, tagger: YamnetTagger | None = None) -> Path:
    """Train and write the weights and card; returns the weights' path."""
    tagger = tagger or YamnetTagger(features="raw", detector=None, embeddings=True)
    ex, clips = build_examples(args, tagger)
    probs = sound_head.out_of_fold(ex, args.seed, args.epochs)
    thresholds = sound_head.choose_thresholds(*sound_head.clip_maxima(ex, probs))
    figures = sound_oof.summary(sound_oof.folder_figures(ex, probs, thresholds, clips))
    for folder, line in figures.items():
        print(f"  out of fold: {folder}: {line}", file=sys.stderr)
    head = sound_head.fit(ex, args.seed, args.epochs)
    head = type(head)(**{**head.__dict__, "thresholds": thresholds})
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / WEIGHTS_FILE
    digest = head.save(weights)
    card = {"classes": list(LEARNED_CLASSES), "sha256": digest, "seed": args.seed, "split": args.split,
            "thresholds": [round(float(t), 4) for t in thresholds], "patches": int(len(ex.label)),
            "recipe": {"copies": args.copies, "negative_copies": NEGATIVE_COPIES,
                       "hard_negative_copies": HARD_NEGATIVE_COPIES, "synthetic_per_class": args.synth,
                       "left_out": list(MUSIC_RINGTONE_SOURCES),
                       "epochs": args.epochs},
            "out_of_fold": figures,
            "data": hashlib.sha256("\n".join(sorted(str(c.path.name) for c in clips)).encode()).hexdigest(),
            "training_clips": sorted(str(c.path.relative_to(args.data)) for c in clips)}
    (args.out / CARD_FILE).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return weights


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        weights = train(args)
    except (FileNotFoundError, RuntimeError) as e:
        print(f"listenloop train sounds: {e}", file=sys.stderr)
        return 2
    print(f"wrote {weights} and {weights.with_suffix('.json').name} in {time.perf_counter() - started:.0f} s")
    return 0
