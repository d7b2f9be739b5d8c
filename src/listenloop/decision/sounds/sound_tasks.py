"""The assistant's tasks about the sounds it hears: counting one ("count how many times the dog barks"), watching
for one ("tell me when the baby cries"), and questions about the music playing ("what style is this music?").

The conversation policy (decision/conversation.py) owns one SoundTasks per session kind and one SoundTaskState per
stream; the spoken instructions that start these tasks are parsed in decision/instructions.py.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.decision.base import Decision
from listenloop.decision.holds import Hold, HoldKind, HoldQueue
from listenloop.decision.sounds.counting import CountState, count_patches
from listenloop.decision.sounds.music import MUSIC_LISTEN_S, MUSIC_SCORE, MusicTrack, music_summary
from listenloop.decision.text import utterance as utt
from listenloop.decision.text.instructions import TaskState
from listenloop.decision.text.lexicon import ENGLISH
from listenloop.perception.observation import Observation
from listenloop.perception.sounds import PATCH_HOP_SECONDS
from listenloop.vocabulary import Emotion, Task

RECOUNT_S = 8.0  # s of the tagger's patches kept, so that a count starts where its instruction was said, not where
# its text came in: the final text comes 0.4 to 0.5 s after the speech here, seconds later on a loaded machine (a
# test run beside a training job counted 2 of 5 barks). 20 chunks of 4 x 521 scores: about 170 kB a stream
RECENT_CHUNKS = int(np.ceil(RECOUNT_S / CHUNK_SECONDS))
PENDING_MAX_S = 20.0  # s a question about a sound waits for that sound; music further apart is a new piece
COUNT_VERBS = ENGLISH.count_reports  # how a count report reads (decision/lexicons/en.toml)


@dataclass
class SoundTaskState:
    count: CountState = field(default_factory=CountState)  # occurrences of the counted sound
    music: MusicTrack = field(default_factory=MusicTrack)
    # the last RECENT_CHUNKS chunks' patch scores, as (end of the chunk in s, [n, classes]), oldest first
    recent: deque[tuple[float, np.ndarray]] = field(default_factory=lambda: deque(maxlen=RECENT_CHUNKS))

    def reset(self) -> None:
        self.count.reset()
        self.music = MusicTrack()
        self.recent.clear()


class SoundTasks:
    """Stateless across streams: the tagger's class names, and the tasks' rules."""

    def __init__(self, class_names: tuple[str, ...] = ()) -> None:
        self.class_names = class_names
        self._index = {name: i for i, name in enumerate(class_names)}
        self._music = self._index.get("Music")

    def track(self, obs: Observation, task: TaskState, state: SoundTaskState) -> list[Decision]:
        """Count, follow the music, and notify a watched sound's onsets (the returned responses)."""
        sounds = obs.sounds
        if sounds is None:
            return []
        if sounds.patches is not None and len(sounds.patches):
            state.recent.append((obs.chunk.t1, sounds.patches))
            if task.count_labels:
                count_patches(state.count, sounds.patches, self._indices(task))
        if self._music is not None and sounds.scores[self._music] >= MUSIC_SCORE:
            if obs.chunk.t1 - state.music.last_t > PENDING_MAX_S:
                state.music = MusicTrack()  # a new piece of music
            state.music.add(sounds.scores, obs.chunk.t1, obs.chunk.t1 - obs.chunk.t0)
        return [Decision.respond(Task.NOTIFY, f"watched: {onset.label}", Emotion.NORMAL, label=onset.label,
                                 phrase=f"the {task.watch_sound}", say="I hear the {phrase}.", t0=onset.t0)
                for onset in sounds.onsets if onset.label in task.watch_labels]

    def start_count(self, task: TaskState, state: SoundTaskState, since: float) -> None:
        """A count begins (`task` counts its sound now): from zero, over the patches heard since `since` (s, where
        the instruction's speech ended), kept in `state.recent`, however late the instruction's text came."""
        state.count.reset()
        indices = self._indices(task)
        for chunk_t1, patches in state.recent:
            ends = chunk_t1 - PATCH_HOP_SECONDS * np.arange(len(patches) - 1, -1, -1)  # each patch's end, s
            count_patches(state.count, patches[ends > since + 1e-9], indices)

    def _indices(self, task: TaskState) -> tuple[int, ...]:
        return tuple(self._index[c] for c in task.count_labels if c in self._index)

    @staticmethod
    def wait_for_music(state: SoundTaskState, holds: HoldQueue, question: str, t: float, about: utt.About) -> bool:
        """A question about the music, asked before enough of it was heard: it waits (True) in a MUSIC hold,
        answered later by `music_due`."""
        if about is not utt.About.MUSIC or state.music.heard_s >= MUSIC_LISTEN_S:
            return False
        asked = Decision.respond(Task.ANSWER, "heard the music asked about", question=question, about=about.value)
        holds.put(Hold(HoldKind.MUSIC, t, asked))
        return True

    def music_due(self, obs: Observation, task: TaskState, state: SoundTaskState, held: Hold) -> Decision | None:
        """The answer to the question waiting in `held`, once the music was heard long enough (or the wait or the
        stream ended), with what was heard by then."""
        assert held.response is not None
        end = bool(obs.extra.get("end_of_stream"))
        timed_out = obs.chunk.t1 - held.since > PENDING_MAX_S
        if state.music.heard_s < MUSIC_LISTEN_S and not end and not timed_out:
            return None
        return Decision.respond(Task.ANSWER, held.response.reason, **held.response.payload, **self.context(task, state))

    @staticmethod
    def count_report(task: TaskState, state: SoundTaskState, why: str) -> Decision:
        count = state.count.count
        times = "once" if count == 1 else f"{count} times"
        did = COUNT_VERBS.get(task.count_sound or "", f"I heard the {task.count_sound}")
        text = f"{did} {times}." if count else f"I have not heard the {task.count_sound} yet."
        return Decision.respond(Task.ANSWER, f"count report: {why}", text=text, count=count, counted=task.count_sound)

    def context(self, task: TaskState, state: SoundTaskState) -> dict[str, Any]:
        """What an answer needs that only the policy knows: the count and the music heard, as of now."""
        out: dict[str, Any] = {"music": music_summary(state.music, self.class_names)}
        if task.count_sound:
            out.update(count=state.count.count, counted=task.count_sound)
        return out
