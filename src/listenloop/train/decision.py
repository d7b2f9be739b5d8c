"""`listenloop train decision`: features from built streams (the engine's own perception), then a seeded numpy MLP.

Reads only the SoundFlow manifest contract (data/manifest.py). Model inputs are cached per manifest (features-*.npz
next to it) because perception, not training, is the slow part; targets are recomputed from the manifest. With
`--observations`, the inputs are read from the perceived streams `bench decisions --observations` saved beside the
manifest, on the live schedule of finals or another machine's (`--final-decode-s`). Targets:
the labelled chunk of every due reply and the chunk after it (the reference lets a reply start up to 0.4 s after the
turn) weigh double, the rest of a spoken turn's due window counts once; silent everywhere else, with heavy weights
inside unfinished sentences and on speech not for us.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from listenloop.audio.decode import AudioError
from listenloop.data.manifest import ManifestError
from listenloop.decision.model.learned import WEIGHTS_PATH
from listenloop.offline.observations import OBSERVATIONS_NAME
from listenloop.parallel.ray_backend import add_ray_argument
from listenloop.perception.offline import FINAL_DECODE_S
from listenloop.train.features import features_from_observations, load_features
from listenloop.train.fit import EPOCHS
from listenloop.train.tune import stream_ids, train

MAX_FINAL_DECODE_S = 5.0  # --final-decode-s: a final this late is no schedule any machine runs
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifests", nargs="+", type=Path, help="built manifests (listenloop data build --out DIR)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH, help="where to write the model (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="training is identical for a seed")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--no-asr", action="store_true", help="train without recognition features (faster)")
    parser.add_argument("--workers", type=int, default=1, help="processes extracting features")
    parser.add_argument("--features", type=Path, help="read the model inputs from this cache (features-*.npz, made "
                        "from the one manifest given) instead of extracting them on the current perception")
    parser.add_argument("--observations", action="store_true", help=f"read the perceived streams from the "
                        f"{OBSERVATIONS_NAME} beside each manifest (written by `listenloop bench decisions "
                        "--observations`) instead of perceiving them")
    parser.add_argument("--final-decode-s", type=float, nargs="+", default=[FINAL_DECODE_S],
                        help="with --observations: s after a segment's end when its final text counts as in (default "
                        "%(default)s; a slower machine's schedule, as `bench decisions --final-decode-s`); several: "
                        "every stream once on each, so the model learns machines of several speeds")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_argument(parser)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        schedules = tuple(args.final_decode_s)
        if args.observations and (args.no_asr or args.features):
            raise ManifestError("--observations reads whole perceived streams: not with --no-asr or --features")
        if schedules != (FINAL_DECODE_S,) and not args.observations:
            raise ManifestError("--final-decode-s replays saved observations: give --observations")
        if any(not 0 <= s <= MAX_FINAL_DECODE_S for s in schedules):
            raise ManifestError(f"--final-decode-s must be from 0 to {MAX_FINAL_DECODE_S} s")
        data = []
        for manifest in args.manifests:
            path = manifest / "manifest.jsonl" if manifest.is_dir() else manifest
            if args.observations:
                data += features_from_observations(path, schedules=schedules, progress=not args.quiet)
                continue
            data += load_features(path, asr=not args.no_asr, progress=not args.quiet, workers=args.workers,
                                  cache=args.features, ray=args.ray)
        model, held = train(data, args.seed, args.epochs, schedules)
    except (ManifestError, AudioError) as e:
        print(f"listenloop train decision: {e}", file=sys.stderr)
        return 2
    model.save(args.out)
    streams = len(stream_ids(data))
    read = f" ({len(data)} on {len(schedules)} schedules of finals)" if len(schedules) > 1 else ""
    print(f"trained on {streams} streams{read} in {time.perf_counter() - started:.1f} s; out-of-fold: "
          f"F1 {held.f1:.3f} (recall {held.recall:.3f}, precision {held.precision:.3f}), interruptions "
          f"{held.interruptions:.3f}, not-addressed ignored {held.ignored:.3f}, threshold {model.threshold:.2f} "
          f"(text ending open: {model.open_threshold or model.threshold:.3f}) -> {args.out}")
    return 0
