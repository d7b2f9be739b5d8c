"""Counting occurrences of a sound ("count how many times the dog barks") from the tagger's per-patch scores.

A sound *event* (perception/sounds.py) bridges 0.6 s gaps so that one barking dog is one event; a count needs each
bark. An occurrence starts when the counted classes are present in EVENT_ON_PATCHES consecutive patches and may only
start again after a patch without them. YAMNet's 0.96 s window sees a gap between two barks only when the gap is
nearly that long: barks closer than about 1 s apart are counted as one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from listenloop.perception.sounds import EVENT_OFF_SCORE, EVENT_ON_PATCHES, EVENT_ON_SCORE

# An occurrence is present and absent by the tagger's own event thresholds, and needs as many patches to start.


@dataclass
class CountState:
    """Per stream: how many occurrences so far and where the current one stands."""

    count: int = 0
    run: int = 0  # consecutive patches with the sound
    armed: bool = True  # False while the occurrence just counted goes on

    def reset(self) -> None:
        self.count, self.run, self.armed = 0, 0, True


def count_patches(state: CountState, patches: np.ndarray, indices: tuple[int, ...]) -> int:
    """Advance the count over one chunk's patch scores ([n, classes], in time order); return occurrences added."""
    if not indices or not len(patches):
        return 0
    before = state.count
    for score in np.max(np.asarray(patches)[:, list(indices)], axis=1):
        if score >= EVENT_ON_SCORE:
            state.run += 1
            if state.armed and state.run >= EVENT_ON_PATCHES:
                state.count += 1
                state.armed = False
        else:
            state.run = 0
            if score < EVENT_OFF_SCORE:
                state.armed = True
    return state.count - before
