"""Music heard in the stream: a running mean of AudioSet genre and instrument scores, and what to name from it.

The conversation policy keeps one MusicTrack per stream and answers "what style is the music?" from its summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MUSIC_SCORE = 0.3  # AudioSet "Music" score from which a chunk counts as music
MUSIC_LISTEN_S = 2.0  # s of music heard before a question about it is answered


@dataclass
class MusicTrack:
    """Running mean of AudioSet genre and instrument scores while music plays."""

    sums: np.ndarray | None = None
    chunks: int = 0
    heard_s: float = 0.0  # music heard since the last reset, s
    last_t: float = -1e9  # s, last chunk with music

    def add(self, scores: np.ndarray, t: float, seconds: float) -> None:
        self.sums = scores.astype(np.float64) if self.sums is None else self.sums + scores
        self.chunks += 1
        self.heard_s += seconds
        self.last_t = t


GENRES = slice(211, 271)  # AudioSet class indices of music genres (Pop music .. Wedding music)
INSTRUMENTS = slice(133, 211)  # AudioSet class indices of musical instruments (Musical instrument .. Scratching)
MUSIC_MIN_MEAN = 0.01  # mean score from which a genre or instrument is named (int8 YAMNet: blues clip 0.04)
MUSIC_RUNNER_UP = 0.35  # a second genre or instrument is named when it reaches this fraction of the best
GENERIC_MUSIC = frozenset({"Musical instrument", "Plucked string instrument", "Bowed string instrument",
                           "Keyboard (musical)", "Percussion", "Background music"})


def music_summary(track: MusicTrack, names: tuple[str, ...]) -> dict[str, list[str]]:
    """Best genres and instruments heard, by mean score over the music chunks."""
    if track.sums is None or not track.chunks or len(names) < INSTRUMENTS.stop:
        return {"genres": [], "instruments": []}
    mean = track.sums / track.chunks
    out: dict[str, list[str]] = {}
    for key, part in (("genres", GENRES), ("instruments", INSTRUMENTS)):
        idx = np.arange(len(names))[part]
        best = [i for i in idx[np.argsort(mean[part])[::-1][:6]] if names[i] not in GENERIC_MUSIC]
        floor = max(MUSIC_MIN_MEAN, MUSIC_RUNNER_UP * float(mean[best[0]])) if best else 1.0
        out[key] = [names[i] for i in best if mean[i] >= floor][:2]
    return out
