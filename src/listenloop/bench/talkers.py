"""The bench's synthetic talkers and what they say: questions, statements, and talk from a television."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE

QUESTIONS = ("What is the tallest mountain in the world?", "How many days are there in a week?",
             "Can you tell me a short joke?", "What is the capital of Italy?", "Why is the sky blue?",
             "Who wrote Romeo and Juliet?", "How far away is the moon?", "What should I cook for dinner tonight?")
STATEMENTS = ("I went to the market yesterday and bought apples.", "The train was late again this morning.",
              "My sister is visiting us next weekend.", "It has been raining all afternoon.")
BACKGROUND_DROP_DB = 15.0  # background talk: this much quieter than the user (a television or people across the room)
TRIM_DB = 40.0  # dB under the loudest 10 ms frame that counts as the synthesizer's silence


def voices() -> tuple[Callable[[str], np.ndarray], ...]:
    """The synthetic talkers, each at a near talker's level (their raw levels differ by a few dB)."""
    from listenloop.data.mixing import NEAR_LEVEL_DBFS, set_level
    from listenloop.synthesis.synth import espeak, piper

    raw = (piper, lambda t: espeak(t, "en-us+m3"), lambda t: espeak(t, "en+f2", rate=0.9))
    return tuple((lambda t, v=v: set_level(trim(v(t)), NEAR_LEVEL_DBFS)) for v in raw)


def trim(audio: np.ndarray, frame: int = SAMPLE_RATE // 100) -> np.ndarray:
    """The synthesizer's leading and trailing silence cut off (10 ms frames under TRIM_DB of the peak): the
    utterance's end is then where its speech ends, and the decision delay is measured from there."""
    n = len(audio) // frame
    power = np.mean(np.square(audio[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)
    loud = np.flatnonzero(power > power.max() * 10 ** (-TRIM_DB / 10)) if n else np.zeros(0, int)
    return audio[loud[0] * frame : (loud[-1] + 1) * frame] if len(loud) else audio


def background(audio: np.ndarray) -> np.ndarray:
    """Talk from a television: band-limited by its small speaker, BACKGROUND_DROP_DB under the user."""
    from listenloop.data.mixing import NEAR_LEVEL_DBFS, loudspeaker, set_level

    return set_level(loudspeaker(audio), NEAR_LEVEL_DBFS - BACKGROUND_DROP_DB)
