"""Live streams kept in real time when the machine cannot do all their work: the engine sheds mid-speech partials.

Whoever feeds a live stream reports how much of its audio waits to be processed behind what it feeds now (the
server: frames received and queued behind the one it feeds).
When any stream of the engine is a chunk behind, every live stream's partials are decoded at pauses only
(perception/asr.py, `AsrState.pauses_only`): a stream then takes about half the CPU (docs/benchmarks/scaling.md), and
the decision still reads the words before every pause, so answers keep their timing; captions update at pauses.
Partials come back once no stream has had more than a frame queued for a while. If the machine falls behind again
soon after, that wait doubles (up to a cap), so a machine at its edge does not swing between the two every few
seconds.

A microphone (`listenloop live`) and a file played in real time (`run --realtime`) report too, from the wall clock
(`LivePace`): a real-time source's audio arrives as fast as time passes, so what waits is the time since it started
less the audio fed since. Files run as fast as they can (`listenloop run`, builds, benches of decisions) report
nothing and are never shed: their perception is the same on every machine and under any load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

BEHIND_S = 0.3  # s of a stream's audio queued behind the frame being fed: with that frame (0.1 s from the page and
# the client) a chunk's worth late, the server's latency budget (bench server's p95 budget)
KEPT_UP_S = 0.1  # s queued at most for a stream to count as keeping up (a frame), below BEHIND_S so that the machine
# is not judged kept up on the edge of falling behind again
RESTORE_S = 10.0  # s without any stream behind before partials come back
RESTORE_MAX_S = 300.0  # s; the longest that wait grows to when partials keep coming back too soon


class LoadGovernor:
    """One engine's shedding state, shared by its sessions (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.shedding = False  # live streams get partials at pauses only
        self.restore_s = RESTORE_S  # the wait without any stream behind before they get them every chunk again
        self.episodes = 0  # times shedding began (for metrics and logs)
        self._last_behind = float("-inf")
        self._restored_at: float | None = None

    def report(self, behind_s: float) -> bool:
        """A live stream has `behind_s` seconds of audio waiting; returns whether partials are shed now."""
        with self._lock:
            now = self._clock()
            if behind_s > KEPT_UP_S:
                self._last_behind = now
            if behind_s > BEHIND_S:
                if not self.shedding:
                    soon = self._restored_at is not None and now - self._restored_at < self.restore_s
                    self.restore_s = min(RESTORE_MAX_S, self.restore_s * 2) if soon else RESTORE_S
                    self.shedding = True
                    self.episodes += 1
            elif self.shedding and now - self._last_behind >= self.restore_s:
                self.shedding = False
                self._restored_at = now
            return self.shedding


class LivePace:
    """The backlog of a real-time source, from the wall clock (for sources without a queue to measure)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start: float | None = None
        self._fed_s = 0.0

    def waiting(self, block_s: float) -> float:
        """Audio arrived and not yet fed, s, behind the block of `block_s` about to be fed (as the server counts the
        frames queued behind the one it feeds)."""
        now = self._clock()
        if self._start is None:
            self._start = now - block_s  # the first block took its own length to arrive
        return max(0.0, now - self._start - self._fed_s - block_s)

    def fed(self, block_s: float) -> None:
        self._fed_s += block_s
