"""Model inputs of built streams: perceived here (cached per manifest, features-*.npz) or read from the observations
`listenloop bench decisions --observations` saved."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from listenloop.audio.decode import load_audio
from listenloop.data.manifest import ManifestError, Stream, read_manifest
from listenloop.decision.model.features import FEATURE_NAMES, FeatureExtractor
from listenloop.offline.observations import (
    OBSERVATIONS_NAME,
    load_observations,
    observation_key,
    perception_fingerprint,
)
from listenloop.perception.offline import FINAL_DECODE_S, Replay, build_perception, observe, rescheduled
from listenloop.train.targets import StreamFeatures, targets

CACHE_VERSION = "7"  # bump when feature extraction changes; a change to PERCEPTION_SOURCES makes a new cache too
def stream_features(perception, extractor: FeatureExtractor, stream: Stream, root: Path) -> StreamFeatures:
    return replay_features(extractor, stream, observe(perception, load_audio(root / stream.audio_path)))


def replay_features(extractor: FeatureExtractor, stream: Stream, replay: Replay) -> StreamFeatures:
    """The model input and target of every chunk of a perceived stream."""
    state = extractor.init_state(stream.mode)
    x = np.stack([extractor.step(obs, state) for obs in replay])
    y, w, spans = targets(stream, len(x))
    return StreamFeatures(stream.id, x, y, w, spans)


def features_from_observations(manifest: Path, observations: Path | None = None,
                               schedules: tuple[float, ...] = (FINAL_DECODE_S,),
                               progress: bool = True) -> list[StreamFeatures]:
    """Model inputs of every stream of a built manifest, read from the replays `listenloop bench decisions
    --observations` saved (default: OBSERVATIONS_NAME beside the manifest) instead of perceiving again; perceiving is
    nearly all of extraction's time. Each stream comes once per schedule of finals (`schedules`: s after a segment's
    end when its final text is in, perception/offline.rescheduled), so a model can learn machines slower than the
    one that perceived. Every stream must be in the file, perceived by the current perception code."""
    from listenloop.perception.sounds import load_class_names

    streams = [s for s in read_manifest(manifest) if s.built]
    if not streams:
        raise ManifestError(f"{manifest}: no built streams (run listenloop data build first)")
    path = observations or manifest.parent / OBSERVATIONS_NAME
    replays = load_observations(path) if path.is_file() else {}
    found = [(s, replays.get(observation_key(s, load_audio(manifest.parent / s.audio_path)))) for s in streams]
    missing = [s.id for s, replay in found if replay is None]
    if missing:
        raise ManifestError(f"{path}: no observations of {len(missing)} of {len(streams)} streams (first "
                            f"{missing[0]}) by the current perception; make them with `listenloop bench decisions "
                            f"--streams {manifest.parent} --no-real --observations {path}`")
    extractor = FeatureExtractor(load_class_names())
    jobs = [(s, replay, after) for after in schedules for s, replay in found]
    return [replay_features(extractor, s, replay if after == FINAL_DECODE_S else rescheduled(replay, after))
            for s, replay, after in tqdm(jobs, desc="features", unit="stream", file=sys.stderr,
                                         disable=not progress)]


def _cache_key(manifest: Path, asr: bool, sounds: bool) -> str:
    h = hashlib.sha256(manifest.read_bytes())
    h.update(f"{CACHE_VERSION}|{asr}|{sounds}|{'/'.join(FEATURE_NAMES)}|{perception_fingerprint()}".encode())
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
                  perception=None, workers: int = 1, cache: Path | None = None,
                  ray: str | None = None) -> list[StreamFeatures]:
    """Features of every stream of a built manifest, from the cache when it matches (else extracted in order), or
    from the given cache file (inputs extracted earlier from this manifest, on the perception of that time)."""
    streams = [s for s in read_manifest(manifest) if s.built]
    if not streams:
        raise ManifestError(f"{manifest}: no built streams (run listenloop data build first)")
    if cache is not None and not cache.is_file():
        raise ManifestError(f"{cache}: no such feature cache")
    cache = cache or manifest.parent / f"features-{_cache_key(manifest, asr, sounds)}.npz"
    if cache.is_file():  # inputs only: targets and weights come from the manifest, so changing them needs no cache
        with np.load(cache) as z:
            xs = {str(i): z[f"x{k}"] for k, i in enumerate(z["ids"])}
        missing = [s.id for s in streams if s.id not in xs]
        if missing or any(x.shape[1] != len(FEATURE_NAMES) for x in xs.values()):
            raise ManifestError(f"{cache}: not this manifest's features ({len(missing)} streams missing) or other "
                                "features")
        return [StreamFeatures(s.id, xs[s.id], *targets(s, len(xs[s.id]))) for s in streams]
    bar = tqdm(total=len(streams), desc="features", unit="stream", file=sys.stderr, disable=not progress)
    if (workers > 1 or ray is not None) and perception is None:
        from listenloop.parallel import ordered_map

        jobs = [(s, manifest.parent, asr, sounds) for s in streams]
        out = []
        for f in ordered_map(_extract_in_worker, jobs, workers, ray):
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
        arrays[f"x{k}"] = f.x
    np.savez_compressed(cache, **arrays)
    return out


# ---- the model ------------------------------------------------------------------------------------------------
