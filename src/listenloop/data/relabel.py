"""`listenloop data relabel`: give built streams the labels the builder gives now, keeping their audio.

A fix to how the builder labels turns (session 12: "snoring" and "crowd_cheering" were labelled telephones, because
the sound rules matched "ring" inside words) leaves every earlier build with the old labels. Relabelling rewrites the
sound turns from the file each was cut from (`Turn.source`) and the per-chunk labels from the turns. The audio is not
touched, so the observations `bench decisions --observations` saved for those streams stay valid.

The manifest is replaced atomically; the old one is kept beside it (manifest.jsonl.before-relabel) the first time.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from listenloop.data.build import MANIFEST_NAME
from listenloop.data.compose import labels_for, sound_labels
from listenloop.data.manifest import ManifestError, Stream, Turn, TurnKind, read_manifest, write_manifest

BACKUP_SUFFIX = ".before-relabel"


@dataclass(frozen=True)
class Relabelled:
    """What relabelling changed in one manifest."""

    streams: int  # streams read
    turns_changed: int  # sound turns whose label, reply or task changed
    chunks_changed: int  # per-chunk labels that changed
    changes: dict[tuple[str, str], int]  # (old user text, new user text) -> turns


def relabel_turn(turn: Turn) -> Turn:
    """A sound turn labelled from its file's name as a build labels it now; other turns as they are."""
    if turn.kind is not TurnKind.SOUND or not turn.source:
        return turn
    return replace(turn, **sound_labels(turn.source))


def relabel_stream(stream: Stream) -> Stream:
    if not stream.built:
        return stream  # a plain StreamAudio-2M clip list: its labels came with it
    turns = tuple(relabel_turn(t) for t in stream.turns)
    return replace(stream, turns=turns, labels=labels_for(turns, stream.num_chunks))


def relabel_manifest(path: Path, write: bool = True) -> Relabelled:
    """Relabel every stream of the manifest at `path`; with write, replace it (the old one kept once, beside)."""
    old = list(read_manifest(path))
    new = [relabel_stream(s) for s in old]
    changes: dict[tuple[str, str], int] = {}
    chunks = 0
    for before, after in zip(old, new, strict=True):
        for a, b in zip(before.turns, after.turns, strict=True):
            if a != b:
                changes[(a.user, b.user)] = changes.get((a.user, b.user), 0) + 1
        chunks += sum(x != y for x, y in zip(before.labels, after.labels, strict=True))
    if write and (changes or chunks):
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if not backup.exists():
            backup.write_bytes(path.read_bytes())
        tmp = path.with_name(path.name + ".tmp")
        write_manifest(tmp, new)
        os.replace(tmp, path)
    return Relabelled(len(old), sum(changes.values()), chunks, changes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("builds", nargs="+", type=Path, help="build folders (each with manifest.jsonl) or manifests")
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")


def run(args: argparse.Namespace) -> int:
    for build in args.builds:
        path = build / MANIFEST_NAME if build.is_dir() else build
        try:
            done = relabel_manifest(path, write=not args.dry_run)
        except ManifestError as e:
            print(f"listenloop data relabel: {e}", file=sys.stderr)
            return 2
        verb = "would change" if args.dry_run else "changed"
        print(f"{path}: {done.streams} streams; {verb} {done.turns_changed} sound turns, "
              f"{done.chunks_changed} chunk labels")
        for (before, after), n in sorted(done.changes.items()):
            print(f"  {n:4d} x {before} -> {after}")
    return 0
