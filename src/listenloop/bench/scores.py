"""Recall, precision and F1 of responses: one definition for training (threshold choice) and the benchmark."""

from __future__ import annotations


class ResponseScores:
    """Mixin for counts with `hits` (due responses given in time), `due` and `responses` (all responses given)."""

    hits: int
    due: int
    responses: int

    @property
    def recall(self) -> float:
        return self.hits / max(self.due, 1)

    @property
    def precision(self) -> float:
        return self.hits / max(self.responses, 1)

    @property
    def f1(self) -> float:
        return 2 * self.precision * self.recall / max(self.precision + self.recall, 1e-9)
