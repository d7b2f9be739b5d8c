"""The built-in demo stream: speech synthesized on the spot with the packaged piper voice, nothing from outside."""

from __future__ import annotations

import numpy as np

from listenloop.synthesis.synth import piper, silence

# (seconds of silence before, what is said). A pause inside a sentence, statements, a question, then quiet.
DEMO_SCRIPT: tuple[tuple[float, str], ...] = (
    (0.8, "Good morning. I am trying out a listening engine on my laptop."),
    (1.6, "I have been reading about streaming speech models, and"),
    (0.7, "they are a lot of fun to build."),
    (1.6, "What is the capital of France?"),
    (2.8, ""),
)


def demo_stream() -> np.ndarray:
    """About 15 s of 16 kHz float32 audio following DEMO_SCRIPT."""
    parts = []
    for gap, text in DEMO_SCRIPT:
        parts.append(silence(gap))
        if text:
            parts.append(piper(text))
    return np.concatenate(parts)
