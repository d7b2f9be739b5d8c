"""Out-of-fold figures of the sound detector's training: per class, the share of its training clips caught, and per
negative folder, the share of its clips that reach some class's threshold (and which class). These are the training
side's figures (each clip scored by a head that never saw its source group); the held-out split is the check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from listenloop.train.sound_features import IGNORE, Examples
from listenloop.train.sound_set import FOLDER_CLASS, LEARNED_CLASSES, Clip


@dataclass(frozen=True)
class FolderFigure:
    folder: str  # the set's class folder, or "synthetic"
    clips: int
    caught: int  # target folders: clips whose own class reached its threshold; others: clips that reached any class
    confused_with: str  # the class most often reached wrongly ("" if none)


def _folder(index: int, clips: list[Clip]) -> str:
    return clips[index].folder if index >= 0 else "synthetic"


def folder_figures(ex: Examples, probs: np.ndarray, thresholds: np.ndarray, clips: list[Clip]) -> list[FolderFigure]:
    """Clip-level figures (a clip with its augmented copies counts once: its highest score over all patches)."""
    ids, inverse = np.unique(ex.clip, return_inverse=True)
    top = np.zeros((len(ids), probs.shape[1]), np.float32)
    np.maximum.at(top, inverse, probs)
    labelled = np.zeros(len(ids), bool)
    labelled[inverse[ex.label != IGNORE]] = True
    by_folder: dict[str, list[int]] = {}
    for j, i in enumerate(ids):
        if labelled[j]:
            by_folder.setdefault(_folder(int(i), clips), []).append(j)
    out = []
    for folder, rows in sorted(by_folder.items()):
        own = clips[int(ids[rows[0]])].target if folder != "synthetic" else None
        wrong: Counter[str] = Counter()
        caught = 0
        for j in rows:
            above = top[j] >= thresholds
            if own is not None:
                caught += bool(above[LEARNED_CLASSES.index(own)])
                above[LEARNED_CLASSES.index(own)] = False
            elif folder != "synthetic":
                caught += bool(above.any())
            wrong.update(LEARNED_CLASSES[c] for c in np.flatnonzero(above))
        out.append(FolderFigure(folder, len(rows), caught, wrong.most_common(1)[0][0] if wrong else ""))
    return out


def summary(figures: list[FolderFigure]) -> dict[str, str]:
    """One line per folder for the model card and the training log."""
    out = {}
    for f in figures:
        if f.folder == "synthetic":
            continue
        kind = "caught" if f.folder in FOLDER_CLASS else "answered"
        note = f", most confused with {f.confused_with}" if f.confused_with else ""
        out[f.folder] = f"{kind} {f.caught}/{f.clips}{note}"
    return out

