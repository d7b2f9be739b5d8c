"""Constant-memory timing statistics: a session may run for hours without its bookkeeping growing."""

from __future__ import annotations

import numpy as np

HISTOGRAM_BIN_MS = 0.5  # ms resolution of the percentiles
HISTOGRAM_MAX_MS = 20_000.0  # ms; larger values land in the last bin (max is kept exactly)


class LatencyHistogram:
    def __init__(self) -> None:
        self._bins = np.zeros(int(HISTOGRAM_MAX_MS / HISTOGRAM_BIN_MS) + 1, dtype=np.int64)
        self.count = 0
        self.max_ms = 0.0
        self.total_ms = 0.0

    def add(self, ms: float) -> None:
        self._bins[min(int(ms / HISTOGRAM_BIN_MS), len(self._bins) - 1)] += 1
        self.count += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)

    def percentile(self, q: float) -> float:
        """q in [0, 100]; upper edge of the bin holding the q-th percentile (0 when empty)."""
        if not self.count:
            return 0.0
        rank = int(np.ceil(q / 100.0 * self.count))
        index = int(np.searchsorted(np.cumsum(self._bins), max(rank, 1)))
        return min((index + 1) * HISTOGRAM_BIN_MS, self.max_ms)

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.count if self.count else 0.0
