"""`listenloop stream FILE --url ws://...`: send a file to a running server in real time and print its events.

Also the library client the tests and `listenloop bench server` use: `stream_blocks()` returns every message, the
close code, any spoken audio, and the latency of each 0.4 s decision as the client saw it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.server import protocol as p
from listenloop.vocabulary import Mode

DEFAULT_URL = "ws://127.0.0.1:8765/ws"
FRAME_SECONDS = 0.1  # s of audio per binary frame (4 frames per 0.4 s chunk, so chunk ends fall on frame ends)
CLOSE_WAIT_S = 180.0  # s to wait after `stop` for the summary (outstanding responses finish first)
RECEIVE_MAX_BYTES = 16 * 1024 * 1024  # largest server message accepted (spoken responses can be long)


@dataclass
class StreamResult:
    """What one streamed session produced."""

    messages: list[dict[str, Any]] = field(default_factory=list)  # every JSON message, in order (ready first)
    close_code: int | None = None  # the server's close code (protocol.CloseCode values)
    close_reason: str = ""
    audio: list[np.ndarray] = field(default_factory=list)  # spoken output, one array per audio frame, 16 kHz
    chunk_latency_ms: dict[int, float] = field(default_factory=dict)  # chunk -> ms from its last sample sent to
    # its decision received
    final_delay_ms: list[tuple[float, float]] = field(default_factory=list)  # per final transcript: (perf_counter
    # when received, ms from its segment's end being due on the send schedule to then)
    audio_started: float | None = None  # perf_counter when the first frame was due (the send schedule's origin)
    speed: float = 1.0  # the send schedule's pace (x real time)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    @property
    def summary(self) -> dict[str, Any] | None:
        found = self.of_type("summary")
        return found[-1] if found else None


WS_PATH = "/ws"  # where the server listens (server/app.py)


def ws_url(url: str) -> str:
    """The session endpoint of a server URL: ws://HOST:PORT alone means ws://HOST:PORT/ws (as clients of other
    servers expect to give just the address)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=WS_PATH)) if parts.path in ("", "/") else url


def with_token(url: str, token: str | None) -> str:
    if not token:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode({"token": token})) if q)
    return urlunsplit(parts._replace(query=query))


def frames(blocks: Iterable[np.ndarray], frame_samples: int) -> Iterable[np.ndarray]:
    """Re-cut blocks of any size into frames of `frame_samples` (the last one may be shorter)."""
    carry = np.zeros(0, dtype=np.float32)
    for block in blocks:
        carry = np.concatenate([carry, np.asarray(block, dtype=np.float32)])
        while len(carry) >= frame_samples:
            yield carry[:frame_samples]
            carry = carry[frame_samples:]
    if len(carry):
        yield carry


async def stream_blocks(url: str, blocks: Iterable[np.ndarray], options: p.StartOptions | None = None, *,
                        token: str | None = None, speed: float = 1.0, frame_seconds: float = FRAME_SECONDS,
                        instructions: dict[int, str] | None = None,
                        on_message: Callable[[dict[str, Any]], None] | None = None) -> StreamResult:
    """Start a session, send the audio paced at `speed` x real time, stop, and collect until the server closes.

    `instructions` maps a frame number to a typed instruction sent just before that frame.
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    result = StreamResult(speed=speed)
    sent_at: dict[int, float] = {}
    async with connect(with_token(ws_url(url), token), max_size=RECEIVE_MAX_BYTES, compression=None) as ws:
        receiver = asyncio.create_task(_receive(ws, result, sent_at, on_message))
        try:
            await ws.send(p.start_message(options or p.StartOptions()))
            await _send_audio(ws, blocks, speed, frame_seconds, instructions or {}, sent_at, result)
            await ws.send(p.stop_message())
            await asyncio.wait_for(asyncio.shield(receiver), CLOSE_WAIT_S)
        except ConnectionClosed:  # the server closed first (a refusal, a limit): its close code tells why
            await asyncio.wait_for(receiver, CLOSE_WAIT_S)
        result.close_code = ws.close_code
        result.close_reason = ws.close_reason or ""
    return result


async def _send_audio(ws, blocks, speed: float, frame_seconds: float, instructions: dict[int, str],
                      sent_at: dict[int, float], result: StreamResult) -> None:
    start = result.audio_started = time.perf_counter()
    sent = 0
    next_chunk_end = SAMPLES_PER_CHUNK
    for n, frame in enumerate(frames(blocks, max(1, round(frame_seconds * SAMPLE_RATE)))):
        if n in instructions:
            await ws.send(p.instruction_message(instructions[n]))
        due = start + sent / SAMPLE_RATE / speed
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await ws.send(p.float_to_pcm16_frame(frame))
        sent += len(frame)
        now = time.perf_counter()
        while next_chunk_end <= sent:
            sent_at[next_chunk_end // SAMPLES_PER_CHUNK - 1] = now
            next_chunk_end += SAMPLES_PER_CHUNK


async def _receive(ws, result: StreamResult, sent_at: dict[int, float], on_message) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        async for message in ws:
            if isinstance(message, bytes):
                result.audio.append(p.pcm16_frame_to_float(message))
                continue
            data = json.loads(message)
            if data.get("type") == "decision" and data.get("chunk") in sent_at:
                result.chunk_latency_ms[data["chunk"]] = (time.perf_counter() - sent_at[data["chunk"]]) * 1000.0
            elif data.get("type") == "transcript" and data.get("final") and result.audio_started is not None:
                now, due = time.perf_counter(), result.audio_started + float(data["t1"]) / result.speed
                result.final_delay_ms.append((now, (now - due) * 1000.0))
            result.messages.append(data)
            if on_message is not None:
                on_message(data)
    except ConnectionClosed:
        pass


def stream_file(url: str, path: str | Path, options: p.StartOptions | None = None, **kwargs) -> StreamResult:
    """Blocking convenience: stream an audio file (any format) in real time."""
    from listenloop.audio.sources import file_blocks

    return asyncio.run(stream_blocks(url, file_blocks(path), options, **kwargs))


# ---- the command ----
def add_arguments(p_: argparse.ArgumentParser) -> None:
    p_.add_argument("input", help="audio file (wav, flac, mp3, ogg, ...)")
    p_.add_argument("--url", default=DEFAULT_URL, help=f"server WebSocket URL (default {DEFAULT_URL})")
    p_.add_argument("--token", help="the server's token, when it needs one")
    p_.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.ASSISTANT.value,
                    help="what the session is for at the start (default assistant, as `listenloop run`)")
    p_.add_argument("--name", help="the assistant's name (docs/conversation.md, Names)")
    p_.add_argument("--no-sounds", action="store_true", help="no sound tagging or sound responses")
    p_.add_argument("--instruction", help="an instruction in force from the start")
    p_.add_argument("--speech", action="store_true", help="ask for spoken responses (see --save-audio)")
    p_.add_argument("--save-audio", type=Path, help="write the spoken responses to this wav file")
    p_.add_argument("--speed", type=float, default=1.0, help="pace relative to real time (default 1.0)")
    p_.add_argument("--json", action="store_true", help="print every server message as a JSON line")


def run(args: argparse.Namespace) -> int:
    from listenloop.audio.sources import file_blocks
    from listenloop.runtime.render import TimelineRenderer

    if args.speed <= 0:
        raise SystemExit("listenloop stream: --speed must be positive")
    options = p.StartOptions(mode=Mode(args.mode), sounds=not args.no_sounds, instruction=args.instruction,
                             speech=args.speech or args.save_audio is not None, name=args.name)
    renderer = TimelineRenderer()

    def show(message: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(message, ensure_ascii=False), flush=True)
            return
        event = p.event_from_dict(message)
        if event is not None:
            renderer.show(event)

    from websockets.exceptions import InvalidHandshake, InvalidURI

    blocks = file_blocks(args.input)
    first = next(blocks, None)  # a bad file fails here, with its own message, before connecting
    blocks = itertools.chain([first] if first is not None else [], blocks)
    try:
        result = asyncio.run(stream_blocks(args.url, blocks, options, token=args.token, speed=args.speed,
                                           on_message=show))
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
        print(f"listenloop stream: cannot stream to {args.url}: {e}", file=sys.stderr)
        return 1
    finally:
        renderer.close()
    if args.save_audio is not None:
        from listenloop.audio.wav import write_wav

        write_wav(args.save_audio, np.concatenate(result.audio) if result.audio else np.zeros(0, np.float32))
    if result.close_code != p.CloseCode.NORMAL:
        name = p.CloseCode(result.close_code).name if result.close_code in set(p.CloseCode) else "?"
        print(f"listenloop stream: server closed the session: {result.close_code} {name} {result.close_reason}",
              file=sys.stderr)
        return 1
    return 0
