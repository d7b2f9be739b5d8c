"""Which files a batch covers: files, folders (their audio files, recursively) and glob patterns, in a stable order."""

from __future__ import annotations

import glob
import hashlib
from collections import Counter
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus", ".aac", ".webm")  # what a folder contributes
NAME_HASH_CHARS = 8  # hex digits of the path's hash that tell apart two inputs with the same name


class InputError(ValueError):
    """An input names nothing; one line for the user."""


def expand(inputs: list[str]) -> list[Path]:
    """Every input file once, sorted: a file as given (whatever its content), a folder's audio files, a glob's
    matches. An input that matches nothing is an error (a typo must not make an empty batch)."""
    found: set[Path] = set()
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            matches = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES]
        elif path.is_file():
            matches = [path]
        else:
            matches = [Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file()]
        if not matches:
            raise InputError(f"{text}: no such file, or no audio files in it")
        found.update(p.resolve() for p in matches)
    return sorted(found)


def output_names(paths: list[Path]) -> dict[Path, str]:
    """A file name stem for each input's outputs: its own stem, plus a hash of its path where two share a stem."""
    counts = Counter(p.stem for p in paths)
    return {p: p.stem if counts[p.stem] == 1 else f"{p.stem}-{_path_hash(p)}" for p in paths}


def _path_hash(path: Path) -> str:
    return hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:NAME_HASH_CHARS]
