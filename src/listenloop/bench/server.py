"""Concurrent live streams on one server: per-chunk latency at 1, 2, 4, ... streams, capacity, memory per session.

Starts `listenloop serve` as its own process (so its memory is measured alone), then at each level streams N copies
of a speech stream (each from a different offset) in real time and times every 0.4 s decision as the client sees it:
from sending the frame that completes a chunk to receiving that chunk's decision, and every final transcript: from
its segment's end being sent to receiving it. A level is held when decisions come within a chunk at p95 and finals
keep up (their delay does not grow over the level). Past what the machine does in full, the server sheds partials
(runtime/load.py): the levels' decisions then stay in budget and the captions update at pauses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.corpus import asterisk_prompts, default_shared_dir, shared_speech
from listenloop.bench.latency import build_stream
from listenloop.vocabulary import Mode

P95_BUDGET_MS = 400.0  # a stream is "held" when its decisions come within one chunk's time (0.4 s) at p95
FINAL_DRIFT_BUDGET = 0.05  # ... and its final transcripts keep up: their delay grows by at most this many seconds
# per second of the level (fitted past its first third, the queues' ramp as its streams all start at once); finals
# queued behind other streams' grow later without bound (one final worker at 8 streams: 0.4 s per s)
DEFAULT_LEVELS = (1, 2, 3, 4, 6, 8)  # concurrent streams tried, in order, until one misses the budget past 4
RSS_SAMPLE_S = 0.5  # s between server memory samples
SERVER_READY_S = 120.0  # s for the server to load its models
SERVER_STOP_S = 60.0  # s for the server to stop (on Ray: the deployment and the cluster it started)
SERVER_IDLE_S = 60.0  # s for the sessions of a level to end on the server once their clients left
OPEN_SESSION_SPEECH_S = 2.0  # s of speech each open session has heard when its memory is measured
OPEN_SESSION_SETTLE_S = 8.0  # s to let every open session process its speech before measuring


@dataclass(frozen=True)
class LevelReport:
    streams: int  # concurrent real-time sessions
    decisions: int  # decisions received over all sessions
    chunk_ms_p50: float  # send of a chunk's last frame -> its decision, ms, all sessions pooled
    chunk_ms_p95: float
    chunk_ms_max: float
    closed_early: int  # sessions the server closed before their end (fell behind, ...)
    server_rss_mb: float  # peak resident memory of the server process during the level
    held: bool  # p95 within P95_BUDGET_MS and no session closed early
    load_avg: float  # 1-minute load average at the end of the level
    server_cores: float  # the server process's CPU seconds per second of the level (how many cores it kept busy)
    responses: int  # responses the sessions received (in assistant mode, answers by the language model)
    final_ms_p50: float  # a segment's end -> its final transcript, ms, all sessions pooled
    final_ms_p95: float
    final_drift: float  # s of final delay gained per s of the level (least squares, past the first third)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=30.0, help="audio per stream at each level (default 30)")
    parser.add_argument("--levels", default=",".join(map(str, DEFAULT_LEVELS)),
                        help="concurrent streams to try, comma-separated (default %(default)s)")
    parser.add_argument("--no-sounds", action="store_true", help="serve without the sound tagger")
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.ASSISTANT.value,
                        help="the sessions' mode (default %(default)s: questions are answered by the language model)")
    parser.add_argument("--ray", action="store_true",
                        help="serve on Ray Serve (one replica on a one-machine cluster) instead of `listenloop serve` "
                             "alone; memory is then the driver's only")
    parser.add_argument("--shared", type=Path, default=default_shared_dir(), help="../shared/audio/dev")
    parser.add_argument("--json", action="store_true", help="one JSON object per level")


def run(args: argparse.Namespace) -> int:
    utterances = shared_speech(args.shared) + asterisk_prompts(limit=40)
    if not utterances:
        print("bench server: no speech found (../shared/audio/dev or Debian asterisk prompts)", file=sys.stderr)
        return 2
    levels = sorted({int(n) for n in args.levels.split(",")})
    audio, _ = build_stream(utterances, max(1.0, args.seconds * max(levels) / 60 / 4), seed=0)
    with _Server(max(levels), args.no_sounds, args.ray) as server:
        idle_mb = server.rss_mb()
        print(f"server loaded: {idle_mb:.0f} MB resident, no sessions", file=sys.stderr)
        held_mb = asyncio.run(_open_sessions_mb(server, max(levels), audio))  # first: before the levels' churn
        reports = []
        for n in levels:
            server.wait_idle()  # the last level's sessions end on the server after their sockets close
            report = asyncio.run(_level(server, n, audio, args.seconds, Mode(args.mode)))
            reports.append(report)
            print(json.dumps(asdict(report)) if args.json else _line(report), flush=True)
            if not report.held and n >= 4:
                break
    _conclude(reports, idle_mb)
    print(f"memory: {held_mb:.1f} MB per open session ({max(levels)} sessions open after "
          f"{OPEN_SESSION_SPEECH_S:.0f} s of speech each, none computing)", file=sys.stderr)
    return 0


async def _open_sessions_mb(server: _Server, k: int, audio: np.ndarray) -> float:
    """Resident memory each open session holds once the computing is over: k sessions started, fed, kept open.

    One session runs first, so the models' first-use allocations are not counted as the sessions'."""
    from websockets.asyncio.client import connect

    from listenloop.server import protocol as p
    from listenloop.server.client import stream_blocks

    options = p.StartOptions(sounds=not server.no_sounds)
    await stream_blocks(server.url, [audio[: int(OPEN_SESSION_SPEECH_S * SAMPLE_RATE)]], options)
    before = server.rss_mb()
    piece = p.float_to_pcm16_frame(audio[: int(OPEN_SESSION_SPEECH_S * SAMPLE_RATE)])
    sockets = [await connect(server.url, compression=None) for _ in range(k)]
    for ws in sockets:
        await ws.send(p.start_message(options))
        await ws.send(piece)
    await asyncio.sleep(OPEN_SESSION_SETTLE_S)
    after = server.rss_mb()
    for ws in sockets:
        await ws.close()
    return (after - before) / k


async def _level(server: _Server, n: int, audio: np.ndarray, seconds: float, mode: Mode) -> LevelReport:
    from listenloop.server import protocol as p
    from listenloop.server.client import stream_blocks

    length = int(seconds * SAMPLE_RATE)
    offsets = [int(i * (len(audio) - length) / max(1, n)) for i in range(n)]
    options = p.StartOptions(mode=mode, sounds=not server.no_sounds)
    peak = [server.rss_mb()]
    done = asyncio.Event()
    cpu, wall = server.cpu_s(), time.perf_counter()

    async def watch_memory() -> None:
        while not done.is_set():
            peak.append(server.rss_mb())
            await asyncio.sleep(RSS_SAMPLE_S)

    watcher = asyncio.create_task(watch_memory())
    results = await asyncio.gather(*(stream_blocks(server.url, [audio[o : o + length]], options) for o in offsets))
    done.set()
    await watcher
    cores = (server.cpu_s() - cpu) / (time.perf_counter() - wall)
    latencies = np.array([ms for r in results for ms in r.chunk_latency_ms.values()])
    closed_early = sum(r.close_code != p.CloseCode.NORMAL for r in results)
    responses = sum(len(r.of_type("response")) for r in results)
    received = sorted(f for r in results for f in r.final_delay_ms)
    finals = [ms for _, ms in received]
    p95, drift = _percentile(latencies, 95), _drift(received[len(received) // 3 :])
    held = p95 < P95_BUDGET_MS and not drift > FINAL_DRIFT_BUDGET and closed_early == 0
    return LevelReport(n, len(latencies), _percentile(latencies, 50), p95, _percentile(latencies, 100), closed_early,
                       round(max(peak), 1), held, round(os.getloadavg()[0], 2), round(cores, 2), responses,
                       _percentile(finals, 50), _percentile(finals, 95), round(drift, 3))


def _drift(received: list[tuple[float, float]]) -> float:
    """Slope of the final delay (ms) against the time received (s), in s per s; nan with too few finals."""
    if len(received) < 3 or received[-1][0] - received[0][0] <= 0:
        return float("nan")
    times, delays = np.array(received).T
    return float(np.polyfit(times, delays / 1000.0, 1)[0])


def _percentile(values, q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if len(values) else float("nan")


def _line(r: LevelReport) -> str:
    verdict = "held" if r.held else "NOT held"
    return (f"{r.streams} streams: p50 {r.chunk_ms_p50:.0f} ms, p95 {r.chunk_ms_p95:.0f} ms, max {r.chunk_ms_max:.0f} "
            f"ms over {r.decisions} decisions; finals p50 {r.final_ms_p50:.0f} ms, p95 {r.final_ms_p95:.0f} ms "
            f"(drift {r.final_drift:+.3f} s/s); "
            f"closed early {r.closed_early}; server {r.server_rss_mb:.0f} MB; "
            f"{verdict}; load {r.load_avg}; server busy {r.server_cores:.2f} cores; {r.responses} responses")


def _conclude(reports: list[LevelReport], idle_mb: float) -> None:
    held = [r.streams for r in reports if r.held]
    print(f"capacity: {max(held) if held else 0} concurrent real-time streams with p95 < {P95_BUDGET_MS:.0f} ms",
          file=sys.stderr)
    if len(reports) >= 2:
        x = np.array([r.streams for r in reports], dtype=float)
        y = np.array([r.server_rss_mb for r in reports])
        slope = float(np.polyfit(x, y, 1)[0])
        print(f"memory: {idle_mb:.0f} MB idle; peak grows {slope:.1f} MB per extra concurrent stream (fit over levels)",
              file=sys.stderr)


class _Server:
    """`listenloop serve` in a child process on a free loopback port; its RSS read from /proc."""

    def __init__(self, max_sessions: int, no_sounds: bool, ray: bool = False) -> None:
        self.no_sounds = no_sounds
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.command = [sys.executable, "-m", "listenloop.cli", "serve", "--port", str(self.port),
                        "--max-sessions", str(max_sessions), "--log-level", "warning"]
        if no_sounds:
            self.command.append("--no-sounds")
        if ray:  # one replica holding every session, on all of this machine's cores
            self.command += ["--ray", "--min-replicas", "1", "--max-replicas", "1", "--replica-cpus",
                             str(os.cpu_count() or 1)]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def __enter__(self) -> _Server:
        self.process = subprocess.Popen(self.command)
        deadline = time.monotonic() + SERVER_READY_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench server: the server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return self
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"bench server: no server after {SERVER_READY_S:.0f} s")

    def wait_idle(self) -> None:
        """Until the server has no session open (a level started earlier would find some slots still taken)."""
        deadline = time.monotonic() + SERVER_IDLE_S
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
                if json.load(r).get("sessions", 0) == 0:
                    return
            time.sleep(0.2)
        raise SystemExit(f"bench server: sessions still open {SERVER_IDLE_S:.0f} s after their clients left")

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (user and system, all its threads; not a Ray replica's)."""
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGINT)  # as Ctrl-C: `serve --ray` then takes its deployment down
        try:
            self.process.wait(SERVER_STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
