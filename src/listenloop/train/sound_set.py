"""The real sound recordings for the learned detector (../shared/audio/train/sounds): manifest, groups, source split.

A clip belongs to a group: the person (Coswara), the original recording (ESC-10's Freesound clip, a Freesound id in
the attribution) or the original file. A split puts whole groups on one side, so that the same source, recording or
person is never in training and validation both. The split is drawn from a seed, class by class (rare classes first),
so that every class with two groups or more keeps at least one on each side.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parents[3].parent / "shared" / "audio" / "train" / "sounds"
VALIDATION_SHARE = 0.25  # share of each class's groups held out for validation


class Split(StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"
    ALL = "all"


# Learned class -> the folders of the set that hold it. Everything else in the set is a negative ("none of these").
TARGET_FOLDERS: dict[str, tuple[str, ...]] = {
    "smoke_alarm": ("alarm",),  # smoke/fire alarms and alarm beeps
    "siren": ("siren",),
    "glass_breaking": ("glass_breaking",),
    "gunshot": ("gunshot",),
    "scream": ("scream",),
    "baby_crying": ("baby_crying",),
    "cough": ("cough",),
    "sneeze": ("sneeze",),
    "doorbell": ("doorbell",),
    "knock": ("door_knock",),
    "phone_ringing": ("phone_ringing",),
    "dog_bark": ("dog_bark",),
}
LEARNED_CLASSES = tuple(TARGET_FOLDERS)
FOLDER_CLASS = {folder: name for name, folders in TARGET_FOLDERS.items() for folder in folders}


@dataclass(frozen=True)
class Clip:
    path: Path  # the FLAC file
    folder: str  # the set's class folder (e.g. "door_knock")
    target: str | None  # the learned class it teaches, None for a negative
    group: str  # source group: never on both sides of a split
    licence: str
    attribution: str
    source: str = ""  # the repository or Debian package it came from (manifest's source_repo_or_package)


_FREESOUND = re.compile(r"freesound\.org/(?:s/|people/[^/]+/sounds/)(\d+)")
_ESC = re.compile(r"^\d-(\d+)-[A-Z]")
_EXCERPT = re.compile(r"\s*\[excerpt[^\]]*\]")


def group_of(row: dict[str, str]) -> str:
    """The source group of one manifest row: person, original recording or original file."""
    original = _EXCERPT.sub("", row["original_path"])
    if row["path"].split("/")[1].startswith("coswara__"):
        return "coswara:" + original.split("/")[1]  # the participant's folder
    name = Path(original).stem
    if (m := _ESC.match(name)) is not None:
        return f"freesound:{m.group(1)}"
    if (m := _FREESOUND.search(row["attribution"])) is not None:
        return f"freesound:{m.group(1)}"
    return f"file:{row['source_repo_or_package']}:{original}"


def read_manifest(root: Path = DEFAULT_ROOT) -> list[Clip]:
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found: point --data at a folder laid out like ../shared/audio/train/"
                                "sounds (class folders and a manifest.csv)")
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [Clip(root / r["path"], r["class"], FOLDER_CLASS.get(r["class"]), group_of(r), r["license"],
                 r["attribution"], r["source_repo_or_package"]) for r in rows]


def _rank(group: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()


def split_groups(clips: list[Clip], seed: int) -> set[str]:
    """The groups held out for validation: VALIDATION_SHARE of each class's groups (at least one where a class has
    two or more), drawn from the seed, the rarest classes first; a group already placed keeps its side."""
    by_folder: dict[str, set[str]] = {}
    for c in clips:
        by_folder.setdefault(c.folder, set()).add(c.group)
    placed: dict[str, bool] = {}
    for folder in sorted(by_folder, key=lambda f: (len(by_folder[f]), f)):
        groups = sorted(by_folder[folder], key=lambda g: _rank(g, seed))
        if len(groups) < 2:
            continue
        want = max(1, round(VALIDATION_SHARE * len(groups)))
        held = sum(placed.get(g, False) for g in groups)
        for g in groups:
            if g not in placed:
                placed[g] = held < want
                held += placed[g]
    return {g for g, held in placed.items() if held}


def select(clips: list[Clip], split: Split, seed: int) -> list[Clip]:
    if split is Split.ALL:
        return list(clips)
    held = split_groups(clips, seed)
    return [c for c in clips if (c.group in held) == (split is Split.VALIDATION)]
