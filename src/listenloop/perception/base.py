"""The perceiver contract: one loaded model, many streams. All per-stream state lives in the state object."""

from __future__ import annotations

from typing import Any, Protocol


class PerceiverState(Protocol):
    def reset(self) -> None:
        """Forget the stream (as if it started anew) without reallocating."""


class Perceiver(Protocol):
    def init_state(self) -> Any:
        """A fresh state for one stream."""

    def step(self, *args: Any, **kwargs: Any) -> Any:
        """Consume one chunk (plus earlier results of the same chunk), update `state`, return a result."""
