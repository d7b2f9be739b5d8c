"""Recall, precision and F1 of responses: one definition for training (threshold choice) and the benchmark; the
uncertainty of a rate counted on few cases."""

from __future__ import annotations

import math

Z_95 = 1.96  # standard normal quantile of a two-sided 95 % interval


def wilson(k: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The 95 % Wilson score interval of a rate of k in n (0..1 both; (0, 1) when n is 0). A rate counted on 129
    unfinished sentences moves by several points from one build of the same recipe to the next: 7 of 129 is
    0.027-0.108."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(centre - half, 0.0), min(centre + half, 1.0)


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
