"""Latency of the listening loop: per-chunk time, real-time factor, end of utterance to final text, memory."""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from listenloop.audio.constants import CHUNK_SECONDS, SAMPLE_RATE
from listenloop.audio.sources import LIVE_BLOCK_SECONDS
from listenloop.bench.corpus import (
    Utterance,
    asterisk_prompts,
    asterisk_prompts_in,
    default_shared_dir,
    shared_speech,
    speech_bounds,
)
from listenloop.synthesis.synth import silence

GAP_SECONDS = (1.2, 2.4)  # s of silence between utterances (the reference recipe uses 0.8 to 2.4)
NOISE_FLOOR = 0.002  # amplitude of the background hiss between utterances (about -54 dBFS)
CHUNKS_PER_MINUTE = int(60 / CHUNK_SECONDS)  # 150
DRIFT_WINDOW_S = 600.0  # s; first and last ten minutes are compared (shorter streams: their first and last fifth)
PROMPTS = 40  # recorded prompts the stream draws from
SPEECH = ("en", "fr", "es", "zh")  # what the stream speaks: real English, Debian's French or Spanish prompts, Mandarin
# spoken by Kokoro (issue 30: the per-chunk budget holds with speech that is not English)


@dataclass(frozen=True)
class LatencyReport:
    audio_s: float  # stream length, s
    utterances: int
    realtime: bool  # paced as live (True) or as fast as possible
    chunk_ms_p50: float
    chunk_ms_p95: float
    chunk_ms_max: float
    rtf: float  # wall time inside feed() / audio time (the chunk loop's share)
    cpu_rtf: float  # CPU time of every thread (partials ahead, finals, tagger) / audio time; 2.0 fills two cores
    final_ms_p50: float  # true end of speech -> final text, wall ms (realtime only)
    final_ms_p95: float
    final_after_chunk_ms_p50: float  # arrival of the chunk holding the end of speech -> final text, ms
    finals_matched: int  # utterances whose final text was found
    peak_rss_mb: float
    first_window_ms_p95: float  # per-chunk time over the first DRIFT_WINDOW_S of the stream
    last_window_ms_p95: float  # ... and over the last DRIFT_WINDOW_S: equal when nothing drifts
    rss_first_window_mb: float  # resident memory at the end of the first window
    rss_last_mb: float  # resident memory at the end of the stream
    load_avg: float  # 1-minute load average when the run ended (other work on the machine skews timings)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=2.0, help="length of the test stream (default 2)")
    parser.add_argument("--fast", action="store_true", help="feed as fast as possible instead of in real time")
    parser.add_argument("--no-sounds", action="store_true", help="without the sound tagger")
    parser.add_argument("--shared", type=Path, default=default_shared_dir(), help="../shared/audio/dev")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speech", choices=SPEECH, default="en", help="the stream's speech: en (the shared "
                        "recordings and Debian's English asterisk prompts, default), fr or es (Debian's prompts in "
                        "that language), zh (the builder's Mandarin lines spoken by Kokoro)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--memory-trace", action="store_true",
                        help="print resident memory after every minute of stream (stderr)")


def speech(lang: str, shared: Path) -> list[Utterance]:
    """The utterances a stream in `lang` is made of (empty when they are not installed)."""
    if lang == "en":
        return shared_speech(shared) + asterisk_prompts(limit=PROMPTS)
    if lang != "zh":
        return asterisk_prompts_in(lang, limit=PROMPTS)
    from listenloop.bench.voices import zh_sentences
    from listenloop.data.speakers import KOKORO_SETTINGS, trim
    from listenloop.synthesis.kokoro_voice import KokoroError, speak_mandarin

    try:
        return [Utterance(f"zh{i}", trim(speak_mandarin(text, style=style, speed=speed)), text, "kokoro")
                for i, text in enumerate(zh_sentences()) for style, speed in KOKORO_SETTINGS[1::3]]
    except KokoroError:
        return []


def build_stream(utterances: list[Utterance], minutes: float, seed: int) -> tuple[np.ndarray, list[float]]:
    """Utterances separated by gaps of faint noise, repeated until `minutes`; returns audio and true speech ends."""
    rng = np.random.default_rng(seed)
    parts, ends, t = [], [], 0.0
    while t < minutes * 60 and utterances:
        u = utterances[int(rng.integers(len(utterances)))]
        gap = silence(rng.uniform(*GAP_SECONDS))
        gap += rng.normal(0, NOISE_FLOOR, len(gap)).astype(np.float32)
        parts += [gap, u.audio]
        t += len(gap) / SAMPLE_RATE
        ends.append(t + speech_bounds(u.audio)[1])
        t += len(u.audio) / SAMPLE_RATE
    parts.append(silence(2.0))
    return np.concatenate(parts), ends


def run(args: argparse.Namespace) -> int:
    from listenloop.runtime.engine import Engine, EngineConfig
    from listenloop.runtime.session import SessionOptions

    utterances = speech(args.speech, args.shared)
    if not utterances:
        print(f"bench latency: no {args.speech} speech found (../shared/audio/dev, Debian's asterisk prompts: "
              f"apt-get install asterisk-core-sounds-{args.speech}-wav, or the Kokoro model: listenloop models fetch "
              "kokoro)", file=sys.stderr)
        return 2
    audio, ends = build_stream(utterances, args.minutes, args.seed)
    engine = Engine(EngineConfig(sounds=not args.no_sounds))
    finals: list[tuple[float, float, float]] = []  # (t0, t1, wall)
    summary = []

    def on_event(event) -> None:
        if event.type == "transcript" and event.final:
            finals.append((event.t0, event.t1, time.perf_counter()))
        elif event.type == "summary":
            summary.append(event)

    from listenloop.vocabulary import Mode

    session = engine.session(SessionOptions(mode=Mode.TRANSCRIBE, sounds=not args.no_sounds), on_event=on_event)
    step = int(CHUNK_SECONDS * SAMPLE_RATE)
    block = int(LIVE_BLOCK_SECONDS * SAMPLE_RATE)  # a live source's block: 4 per chunk
    start, cpu_start = time.perf_counter(), time.process_time()
    busy = 0.0  # s spent inside feed(): processing time, whatever the pacing
    per_chunk = np.zeros(len(audio) // step + 1, dtype=np.float32)  # ms inside feed() for each chunk's audio
    window = min(DRIFT_WINDOW_S, len(audio) / SAMPLE_RATE / 5)
    rss_first = 0.0
    for i in range(0, len(audio), block):
        if not args.fast:  # a live source hands over a block once its last sample exists
            delay = start + (i + block) / SAMPLE_RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        t = time.perf_counter()
        session.feed(audio[i : i + block])
        busy += time.perf_counter() - t
        per_chunk[i // step] += (time.perf_counter() - t) * 1000
        if args.memory_trace and i % (step * CHUNKS_PER_MINUTE) == 0:
            print(f"memory: {i / SAMPLE_RATE / 60:5.1f} min {_rss_mb():7.1f} MB", file=sys.stderr)
        if not rss_first and i / SAMPLE_RATE >= window:
            rss_first = _rss_mb()
        if i % (step * 25) == 0:
            print(f"\rbench latency: {i / SAMPLE_RATE:6.0f} / {len(audio) / SAMPLE_RATE:.0f} s", end="",
                  file=sys.stderr)
    session.finish()
    cpu_s = time.process_time() - cpu_start
    print(file=sys.stderr)
    n_window = int(window / CHUNK_SECONDS)
    drift = (float(np.percentile(per_chunk[:n_window], 95)), float(np.percentile(per_chunk[-n_window:], 95)),
             rss_first, _rss_mb())
    report = _report(summary[0], finals, ends, start, not args.fast, len(audio) / SAMPLE_RATE, (busy, cpu_s), drift)
    if args.json:
        print(json.dumps(asdict(report)))
    else:
        for key, value in asdict(report).items():
            print(f"{key:26s} {value}")
    return 0


def _rss_mb() -> float:
    """Current resident memory (not the peak), MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _report(summary, finals, ends, start, realtime, audio_s, spent_s, drift) -> LatencyReport:
    from_end, from_chunk = [], []
    for end in ends:
        match = next((f for f in finals if f[0] < end <= f[1] + 0.5), None)
        if match is None:
            continue
        chunk_arrival = np.ceil(end / CHUNK_SECONDS) * CHUNK_SECONDS
        from_end.append((match[2] - start - end) * 1000)
        from_chunk.append((match[2] - start - chunk_arrival) * 1000)

    def pct(values, q):
        return round(float(np.percentile(values, q)), 1) if values and realtime else float("nan")

    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    return LatencyReport(
        audio_s=round(audio_s, 1),
        utterances=len(ends),
        realtime=realtime,
        chunk_ms_p50=summary.chunk_ms_p50,
        chunk_ms_p95=summary.chunk_ms_p95,
        chunk_ms_max=summary.chunk_ms_max,
        rtf=round(spent_s[0] / audio_s, 3),
        cpu_rtf=round(spent_s[1] / audio_s, 3),
        final_ms_p50=pct(from_end, 50),
        final_ms_p95=pct(from_end, 95),
        final_after_chunk_ms_p50=pct(from_chunk, 50),
        finals_matched=len(from_end),
        peak_rss_mb=round(rss_kb / 1024, 1),
        first_window_ms_p95=round(drift[0], 1),
        last_window_ms_p95=round(drift[1], 1),
        rss_first_window_mb=round(drift[2], 1),
        rss_last_mb=round(drift[3], 1),
        load_avg=round(os.getloadavg()[0], 2),
    )
