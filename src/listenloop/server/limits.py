"""Server settings and the per-session limits that keep one client from taking the server down.

Each limit refuses with its own close code (protocol.CloseCode), documented in docs/protocol.md.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from listenloop.audio.constants import PCM16_BYTES_PER_SAMPLE, SAMPLE_RATE
from listenloop.server.protocol import CloseCode, ProtocolError

DEFAULT_HOST = "127.0.0.1"  # loopback only unless the user asks otherwise
DEFAULT_PORT = 8765
MAX_FRAME_SECONDS = 2.0  # s of audio in one binary frame (64,000 bytes); live clients send 20-200 ms
MAX_TEXT_BYTES = 4096  # bytes in one text frame (a start message or an instruction)


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = int(MAX_FRAME_SECONDS * SAMPLE_RATE) * PCM16_BYTES_PER_SAMPLE  # bytes per binary frame
    max_text_bytes: int = MAX_TEXT_BYTES  # bytes per text frame
    max_frames_per_second: float = 50.0  # sustained frames/s (20 ms frames at most) ...
    frame_burst: int = 100  # ... with this many frames of burst (network jitter bunches frames)
    max_audio_speed: float = 1.5  # sustained audio seconds per wall second (live is 1.0) ...
    audio_burst_seconds: float = 5.0  # ... with this many seconds of burst (a client catching up)
    max_session_seconds: float = 4 * 3600.0  # s of audio in one session
    max_sessions: int = 6  # concurrent sessions: 2 cores hold 6 with room, 8 at the edge (docs/benchmarks/scaling.md)
    start_timeout_s: float = 10.0  # s from connection to the `start` message
    idle_timeout_s: float = 30.0  # s without any frame from the client
    max_backlog_seconds: float = 8.0  # s of received audio not yet processed before the session is closed

    def to_dict(self) -> dict[str, float | int]:
        return {
            "max_frame_bytes": self.max_frame_bytes,
            "max_frames_per_second": self.max_frames_per_second,
            "max_audio_speed": self.max_audio_speed,
            "max_session_seconds": self.max_session_seconds,
            "idle_timeout_s": self.idle_timeout_s,
        }


@dataclass(frozen=True)
class ServerSettings:
    host: str = DEFAULT_HOST  # interface to bind
    port: int = DEFAULT_PORT  # TCP port (0: any free port)
    token: str | None = None  # required from every client when set (?token=... or Authorization: Bearer ...)
    allowed_origins: tuple[str, ...] = ()  # browser origins allowed besides the server's own
    limits: Limits = field(default_factory=Limits)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenBucket:
    """`rate` units per second sustained, up to `burst` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.level = burst
        self.stamp = time.monotonic()

    def take(self, amount: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.level = min(self.burst, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if amount > self.level:
            return False
        self.level -= amount
        return True


class FrameGate:
    """Checks every incoming frame of one session against the limits; raises ProtocolError to close it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.frames = TokenBucket(limits.max_frames_per_second, limits.frame_burst)
        self.audio = TokenBucket(limits.max_audio_speed, limits.audio_burst_seconds)
        self.audio_seconds = 0.0  # audio received so far, s

    def text(self, size: int) -> None:
        if size > self.limits.max_text_bytes:
            raise ProtocolError(CloseCode.FRAME_TOO_LARGE,
                                f"text frame of {size} bytes; the limit is {self.limits.max_text_bytes}")
        self._count_frame()

    def binary(self, size: int) -> None:
        if size > self.limits.max_frame_bytes:
            raise ProtocolError(CloseCode.FRAME_TOO_LARGE,
                                f"binary frame of {size} bytes; the limit is {self.limits.max_frame_bytes}")
        self._count_frame()
        seconds = size / PCM16_BYTES_PER_SAMPLE / SAMPLE_RATE
        if not self.audio.take(seconds):
            raise ProtocolError(CloseCode.TOO_FAST, f"audio arrives faster than {self.limits.max_audio_speed}x "
                                                    "real time")
        self.audio_seconds += seconds
        if self.audio_seconds > self.limits.max_session_seconds:
            raise ProtocolError(CloseCode.TIMEOUT,
                                f"session reached its maximum length of {self.limits.max_session_seconds:.0f} s")

    def _count_frame(self) -> None:
        if not self.frames.take(1):
            raise ProtocolError(CloseCode.TOO_FAST,
                                f"more than {self.limits.max_frames_per_second:.0f} frames per second")
