"""A long session in assistant mode: per-chunk processing time, answer first-token time and memory (RSS), by
ten-minute windows of stream time, so the first ten minutes can be set against the last ten.

The stream repeats a 90 s script built from a small pool of synthesized questions, statements and sounds (a door
chime, knocking) with gaps. It is fed as fast as the machine allows, not paced, to fit an hour into less; after each
question and its 6 s gap the feed waits until the answer is done, as that gap would in real time.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK

CYCLE_S = 90.0  # s of stream per repetition of the script (one question in each: ~40 answers an hour)
WINDOW_S = 600.0  # s of stream per reported window (ten minutes)
RSS_EVERY_CHUNKS = 25  # chunks between memory samples (10 s of stream)
ANSWER_WAIT_S = 120.0  # s of wall time an answer may take before the feed goes on regardless
SOUND_LEVEL = 0.3  # peak amplitude of the synthesized sounds


@dataclass
class Window:
    """What was measured in one ten-minute window of stream time."""

    chunk_ms: list[float] = field(default_factory=list)  # wall time of each chunk's feed()
    first_token_ms: list[float] = field(default_factory=list)  # answers decided in this window
    rss_mb: list[float] = field(default_factory=list)  # resident memory samples
    interrupted: int = 0  # answers marked interrupted


def rss_mb() -> float:
    """Resident set size of this process, MB (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def chime() -> np.ndarray:
    """A two-tone door chime (ding-dong), 1.5 s."""
    t = np.arange(int(0.75 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = [np.sin(2 * np.pi * f * t) * np.exp(-4 * t) + 0.3 * np.sin(4 * np.pi * f * t) * np.exp(-6 * t)
            for f in (660.0, 523.0)]
    return (SOUND_LEVEL * np.concatenate(tone) / 1.3).astype(np.float32)


def knocks(rng: np.random.Generator) -> np.ndarray:
    """Three knocks on a door: short decaying noise bursts, low-passed, 0.25 s apart."""
    out = np.zeros(int(1.0 * SAMPLE_RATE), dtype=np.float32)
    burst_t = np.arange(int(0.06 * SAMPLE_RATE)) / SAMPLE_RATE
    for k in range(3):
        burst = np.convolve(rng.standard_normal(len(burst_t)), np.ones(8) / 8, "same") * np.exp(-60 * burst_t)
        start = int(k * 0.25 * SAMPLE_RATE)
        out[start : start + len(burst)] += (SOUND_LEVEL * burst / np.abs(burst).max()).astype(np.float32)
    return out


Piece = tuple[str, np.ndarray]  # (kind: "question" | "answer" (the gap after it) | "other" | "gap", audio)


def script() -> tuple[list[Piece], list[Piece]]:
    """The questions, and the statements and sounds, that every repetition draws from: synthesized once."""
    from listenloop.bench.talkers import QUESTIONS, STATEMENTS, voices

    talkers, rng = voices(), np.random.default_rng(0)
    questions = [talkers[i % len(talkers)](q) for i, q in enumerate(QUESTIONS)]
    statements = [talkers[(i + 1) % len(talkers)](s) for i, s in enumerate(STATEMENTS)]
    sounds = [chime(), knocks(rng)]
    return [("question", q) for q in questions], [("other", s) for s in statements] + [("other", s) for s in sounds]


def cycle(n: int, questions: list[Piece], others: list[Piece]) -> list[Piece]:
    """Repetition n: a question, two statements or sounds, a sound or statement, gaps; CYCLE_S long."""
    from listenloop.synthesis.synth import silence

    pieces = [questions[n % len(questions)], ("answer", silence(6.0))]
    for k in range(3):
        pieces += [others[(3 * n + k) % len(others)], ("gap", silence(4.0))]
    used = sum(len(a) for _, a in pieces) / SAMPLE_RATE
    return pieces + [("gap", silence(max(0.0, CYCLE_S - used)))]


def run_hour(args: argparse.Namespace) -> int:
    from listenloop.decision.base import Decider
    from listenloop.runtime.engine import Engine, EngineConfig
    from listenloop.runtime.events import ResponseEvent
    from listenloop.runtime.session import SessionOptions
    from listenloop.vocabulary import Mode

    if args.minutes <= 0:
        print("error: --minutes must be positive")
        return 2
    engine = Engine(EngineConfig(llm=args.llm))
    engine.llm()
    questions, others = script()
    session = engine.session(SessionOptions(mode=Mode.ASSISTANT, decider=Decider(args.decider)))
    windows: dict[int, Window] = {}
    total_s, n, chunks, started = args.minutes * 60.0, 0, 0, time.perf_counter()
    print(f"stream of {args.minutes:.0f} min, fed as fast as possible; model {args.llm}; RSS {rss_mb():.0f} MB")
    while session.stream_time < total_s:
        for kind, audio in cycle(n, questions, others):
            for i in range(0, len(audio), SAMPLES_PER_CHUNK):
                window = windows.setdefault(int(session.stream_time // WINDOW_S), Window())
                tick = time.perf_counter()
                events = session.feed(audio[i : i + SAMPLES_PER_CHUNK])
                window.chunk_ms.append((time.perf_counter() - tick) * 1000.0)
                chunks += 1
                if chunks % RSS_EVERY_CHUNKS == 0:
                    window.rss_mb.append(rss_mb())
                for e in events:
                    if isinstance(e, ResponseEvent) and e.task == "answer":
                        w = windows.setdefault(int(e.t // WINDOW_S), Window())
                        w.first_token_ms.append(e.latency_ms)
                        w.interrupted += e.interrupted
                        if e.interrupted:
                            print(f"  answer decided at {e.t:.1f} s interrupted after {e.duration_ms / 1000:.1f} s "
                                  f"(first token {e.latency_ms / 1000:.1f} s, stream now {session.stream_time:.1f} s)")
            if kind == "answer":  # the gap after a question, where it is answered: what comes next waits
                session.responses.wait_idle(ANSWER_WAIT_S)
        n += 1
        if n % 4 == 0:
            print(f"  {session.stream_time / 60:.0f} min of stream in {(time.perf_counter() - started) / 60:.1f} "
                  f"min, RSS {rss_mb():.0f} MB", flush=True)
    session.finish()
    print(f"{session.stream_time / 60:.1f} min of stream in {(time.perf_counter() - started) / 60:.1f} min wall")
    report(windows)
    return 0


def report(windows: dict[int, Window]) -> None:
    print("window (stream min) | chunks | chunk ms p50 | p95 | answers | first token p50 s | RSS MB (end)")
    for k in sorted(windows):
        w = windows[k]
        first = f"{np.percentile(w.first_token_ms, 50) / 1000:.2f}" if w.first_token_ms else "-"
        rss = f"{w.rss_mb[-1]:.0f}" if w.rss_mb else "-"
        print(f"{k * WINDOW_S / 60:.0f}-{(k + 1) * WINDOW_S / 60:.0f} | {len(w.chunk_ms)} | "
              f"{np.percentile(w.chunk_ms, 50):.1f} | {np.percentile(w.chunk_ms, 95):.1f} | "
              f"{len(w.first_token_ms)} ({w.interrupted} interrupted) | {first} | {rss}")
