"""The observation cache: what perception made of each built stream, saved once and replayed by training and the
decision bench alike, keyed by the stream and its samples and invalidated by the code that perceived it."""

from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path

import numpy as np

from listenloop.data.manifest import Stream
from listenloop.perception.offline import Replay

OBSERVATIONS_NAME = "observations.pkl"  # beside a manifest: what `bench decisions --observations` wrote for it


PERCEPTION_SOURCES = ("perception", "audio", "decision/model/features.py", "decision/turn.py",
                      "decision/text")  # what features read: the text rules and their lexicons
SOURCE_SUFFIXES = (".py", ".toml")  # code, and the data files it reads (the lexicons)

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # src/listenloop


def perception_fingerprint(package: Path = PACKAGE_ROOT, sources: tuple[str, ...] = PERCEPTION_SOURCES) -> str:
    """Hash of the source files that turn audio into model inputs (PERCEPTION_SOURCES), in a fixed order."""
    h = hashlib.sha256()
    for entry in sources:
        path = package / entry
        files = [f for f in sorted(path.rglob("*")) if f.suffix in SOURCE_SUFFIXES] if path.is_dir() else [path]
        for f in files:
            h.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


OBSERVATIONS_FORMAT = 1  # bumped when the layout of an --observations file changes
OBSERVATION_SOURCES = ("perception", "audio")  # the code observations come from: another hash, perceived again


def observation_key(stream: Stream, audio: np.ndarray) -> str:
    """A stream's observations are reused only for the same stream id and the same samples (also by
    `listenloop train decision --observations`)."""
    return f"{stream.id}:{hashlib.sha1(audio.tobytes()).hexdigest()[:16]}"


def load_observations(path: Path) -> dict[str, Replay]:
    """The replays an earlier run wrote to `path`, by observation_key; {} (with a note) when the file is from other
    perception code or unreadable: the streams are then perceived again and the file rewritten."""
    try:
        with path.open("rb") as f:
            saved = pickle.load(f)  # noqa: S301 (a file this command wrote; see --observations)
        if saved.get("format") != OBSERVATIONS_FORMAT:
            raise ValueError(f"format {saved.get('format')}, not {OBSERVATIONS_FORMAT}")
        if saved.get("fingerprint") != observation_fingerprint():
            raise ValueError("perceived by other perception code")
        return dict(saved["streams"])
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, KeyError, AttributeError, TypeError) as e:
        print(f"note: {path}: observations not used ({e}); perceiving again", file=sys.stderr)
        return {}


def observation_fingerprint() -> str:
    """Hash of the code the observations come from (OBSERVATION_SOURCES)."""
    return perception_fingerprint(sources=OBSERVATION_SOURCES)


def save_observations(path: Path, replays: dict[str, Replay], fingerprint: str) -> None:
    """Write every replay, perceived by the code of `fingerprint` (atomically: an interrupted write leaves the old
    file)."""
    saved = {"format": OBSERVATIONS_FORMAT, "fingerprint": fingerprint, "streams": replays}
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as f:
        pickle.dump(saved, f, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)
