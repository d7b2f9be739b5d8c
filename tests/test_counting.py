"""Counting occurrences from per-patch scores: each run of present patches counts once, after a patch without it."""

import numpy as np

from listenloop.decision.sounds.counting import CountState, count_patches
from listenloop.perception.sounds import EVENT_ON_PATCHES

DOG, BARK, OTHER = 0, 1, 2


def patches(*dog_scores, bark=None):
    out = np.zeros((len(dog_scores), 3), np.float32)
    out[:, DOG] = dog_scores
    if bark is not None:
        out[:, BARK] = bark
    return out


def test_runs_separated_by_an_absent_patch_count_once_each():
    state = CountState()
    run = [0.9] * EVENT_ON_PATCHES
    assert count_patches(state, patches(*run, 0.1, *run, 0.2, *run), (DOG, BARK)) == 3
    assert state.count == 3


def test_a_dip_that_stays_above_absent_does_not_start_a_new_occurrence():
    state = CountState()
    run = [0.9] * EVENT_ON_PATCHES
    count_patches(state, patches(*run, 0.4, *run, 0.45, *run), (DOG,))
    assert state.count == 1


def test_a_blip_shorter_than_the_onset_run_is_not_counted():
    state = CountState()
    blip = [0.9] * (EVENT_ON_PATCHES - 1) + [0.0]
    count_patches(state, patches(*blip, *blip), (DOG,))
    assert state.count == 0


def test_an_occurrence_spanning_two_chunks_counts_once_and_classes_of_the_group_combine():
    state = CountState()
    count_patches(state, patches(0.0, 0.0, 0.9, 0.2, bark=[0.0, 0.0, 0.2, 0.9]), (DOG, BARK))
    count_patches(state, patches(0.2, 0.1, 0.0, 0.0, bark=[0.9, 0.9, 0.0, 0.0]), (DOG, BARK))
    assert state.count == 1


def test_classes_outside_the_group_and_empty_chunks_count_nothing():
    state = CountState()
    other = np.zeros((4, 3), np.float32)
    other[:, OTHER] = 0.99
    assert count_patches(state, other, (DOG, BARK)) == 0
    assert count_patches(state, np.zeros((0, 3), np.float32), (DOG,)) == 0
    state.count = 3
    state.reset()
    assert state.count == 0 and state.armed
