"""What a responder may know of its stream's past: bounded recent transcripts, sounds and question/answer turns."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

HISTORY_SEGMENTS = 32  # final transcripts kept for responders (bounded: hour-long sessions stay flat)
HISTORY_SOUNDS = 64  # sound events kept for responders
HISTORY_TURNS = 8  # question/answer turns kept for the assistant (rolling window: flat latency over hours)


@dataclass
class Memory:
    """Bounded recent context that responders may read: final transcripts (perception FinalText), sound events
    (runtime SoundEvent) and the assistant's turns (respond/answer.py Turn). One per stream
    (runtime/stream_state.py)."""

    transcripts: collections.deque = field(default_factory=lambda: collections.deque(maxlen=HISTORY_SEGMENTS))
    sounds: collections.deque = field(default_factory=lambda: collections.deque(maxlen=HISTORY_SOUNDS))
    turns: collections.deque = field(default_factory=lambda: collections.deque(maxlen=HISTORY_TURNS))
