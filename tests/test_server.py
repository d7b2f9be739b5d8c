"""The WebSocket server, as a client sees it: a real uvicorn server on 127.0.0.1, the real engine, real speech.

Every refusal is checked by its documented close code (docs/protocol.md), and every session must be freed after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from listenloop.audio.constants import PCM16_BYTES_PER_SAMPLE, SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.server import protocol as p
from listenloop.server.app import TRANSPORT_SIZE_FACTOR, BackgroundServer, create_app
from listenloop.server.client import stream_blocks
from listenloop.server.command import settings_from_args
from listenloop.server.limits import Limits, ServerSettings
from listenloop.vocabulary import Mode
from tests.conftest import pad

ASTERISK = Path("/usr/share/asterisk/sounds/en")
TRANSPORT_MESSAGE_TOO_BIG = 1009  # RFC 6455 close code, sent by the WebSocket layer itself
FREED_WITHIN_S = 10.0  # s a server may take to free a session after its client vanished


@pytest.fixture(scope="module")
def engine():
    from listenloop.runtime.engine import Engine, EngineConfig

    return Engine(EngineConfig(sounds=False))


@contextlib.contextmanager
def serving(engine, **limits):
    settings = ServerSettings(port=0, limits=Limits(**limits))
    with BackgroundServer(create_app(engine, settings), settings) as server:
        yield server


@pytest.fixture(scope="module")
def server(engine):
    with serving(engine) as s:
        yield s


@pytest.fixture(scope="module")
def jfk(shared_audio) -> np.ndarray:
    return load_audio(shared_audio / "speech" / "jfk.flac")


@pytest.fixture(scope="module")
def conference() -> np.ndarray:
    """Real telephone speech: "You are currently the only person in this conference." (Debian asterisk prompts)."""
    path = ASTERISK / "conf-onlyperson.wav"
    if not path.exists():
        pytest.skip(f"{path} absent: apt-get install asterisk-core-sounds-en-wav")
    return pad(load_audio(path), 0.4, 1.2)


def finals(result) -> str:
    return " ".join(m["text"] for m in result.of_type("transcript") if m["final"]).lower()


def health(server) -> dict:
    with urllib.request.urlopen(server.http + "/healthz", timeout=5) as r:
        return json.loads(r.read())


def wait_freed(server, threads_before: int) -> None:
    """The hub counts no session, and every per-session response worker thread has ended."""
    deadline = time.monotonic() + FREED_WITHIN_S
    while time.monotonic() < deadline:
        workers = sum(t.name == "listenloop-responses" for t in threading.enumerate())
        if health(server)["sessions"] == 0 and workers <= threads_before:
            return
        time.sleep(0.1)
    pytest.fail(f"session not freed within {FREED_WITHIN_S} s: {health(server)}")


def response_threads() -> int:
    return sum(t.name == "listenloop-responses" for t in threading.enumerate())


async def exchange(url: str, *frames: str | bytes, headers: dict | None = None) -> tuple[int, str, list[dict]]:
    """Send frames as fast as possible, then read until the server closes: (close code, reason, JSON messages)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    received = []
    async with connect(url, additional_headers=headers, compression=None) as ws:
        with contextlib.suppress(ConnectionClosed):
            for frame in frames:
                await ws.send(frame)
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                if isinstance(message, str):
                    received.append(json.loads(message))
        return ws.close_code, ws.close_reason or "", received


def refused(server, *frames, headers=None) -> tuple[int, str, list[dict]]:
    return asyncio.run(asyncio.wait_for(exchange(server.url, *frames, headers=headers), 30))


START = p.start_message(p.StartOptions(sounds=False))
AUDIO_100MS = p.float_to_pcm16_frame(np.zeros(SAMPLE_RATE // 10, np.float32))


# ---- a live stream ----
def test_streamed_speech_gets_one_decision_per_chunk_and_its_transcript(server, jfk):
    threads = response_threads()
    odd_frames = 0.137  # s; frames of any size are re-chunked to 0.4 s by the server
    result = asyncio.run(stream_blocks(server.url, [jfk], p.StartOptions(mode=Mode.TRANSCRIBE, sounds=False),
                                       frame_seconds=odd_frames))

    assert result.close_code == p.CloseCode.NORMAL
    assert result.messages[0]["type"] == "ready" and result.messages[0]["protocol"] == p.PROTOCOL_VERSION
    assert result.messages[-1]["type"] == "summary"
    chunks = [m["chunk"] for m in result.of_type("decision")]
    expected = -(-len(jfk) // SAMPLES_PER_CHUNK)  # the last partial chunk is padded and decided too
    assert chunks == list(range(expected))
    assert result.summary["chunks"] == expected
    partials = [m for m in result.of_type("transcript") if not m["final"]]
    assert partials, "partial transcripts arrive while the speech goes on"
    text = finals(result)
    assert "fellow americans" in text and "your country" in text
    assert all(m["task"] == "transcribe" for m in result.of_type("response"))
    wait_freed(server, threads)


def test_two_concurrent_sessions_keep_their_own_state(server, jfk, conference):
    async def both():
        return await asyncio.gather(
            stream_blocks(server.url, [jfk[: 6 * SAMPLE_RATE]], p.StartOptions(mode=Mode.TRANSCRIBE, sounds=False)),
            stream_blocks(server.url, [conference], p.StartOptions(mode=Mode.ASSISTANT, sounds=False)),
        )

    kennedy, prompt = asyncio.run(both())

    assert kennedy.close_code == prompt.close_code == p.CloseCode.NORMAL
    assert kennedy.messages[0]["session"] != prompt.messages[0]["session"]
    assert len(kennedy.of_type("decision")) == -(-6 * SAMPLE_RATE // SAMPLES_PER_CHUNK)
    assert len(prompt.of_type("decision")) == -(-len(conference) // SAMPLES_PER_CHUNK)
    assert "americans" in finals(kennedy) and "conference" not in finals(kennedy)
    assert "conference" in finals(prompt) and "americans" not in finals(prompt)
    assert kennedy.of_type("response") and not prompt.of_type("response"), "transcribe answers, assistant waits"


def test_a_typed_instruction_changes_the_task_and_its_acknowledgement_is_spoken(server):
    silence = np.zeros(3 * SAMPLE_RATE, np.float32)
    result = asyncio.run(stream_blocks(server.url, [silence], p.StartOptions(sounds=False, speech=True),
                                       instructions={3: "translate into Spanish", 6: "blah blah"}))

    assert result.close_code == p.CloseCode.NORMAL
    task = [t for t in result.of_type("task") if t["source"] != "option"][0]  # after the assistant it starts as
    assert task["mode"] == "translate" and task["source"] == "control" and task["detail"]["language"] == "es"
    assert [r["task"] for r in result.of_type("response")] == ["acknowledge"]
    assert "blah blah" in result.of_type("error")[0]["message"], "not an instruction: reported, session goes on"
    headers = result.of_type("audio")
    assert headers and [h["samples"] for h in headers] == [len(a) for a in result.audio]
    assert max(float(np.abs(a).max()) for a in result.audio) > 0.05, "the acknowledgement is audible speech"


# ---- client mistakes: each closes only its own session, with its code ----
@pytest.mark.parametrize(("frames", "code", "says"), [
    (("not json",), p.CloseCode.BAD_MESSAGE, "not JSON"),
    ((json.dumps({"type": "shout"}),), p.CloseCode.BAD_MESSAGE, "'shout'"),
    ((json.dumps([1, 2]),), p.CloseCode.BAD_MESSAGE, '"type"'),
    ((AUDIO_100MS,), p.CloseCode.BAD_MESSAGE, "before the start"),
    ((p.stop_message(),), p.CloseCode.BAD_MESSAGE, "first message must be start"),
    ((json.dumps({"type": "start", "options": {"mode": "shout"}}),), p.CloseCode.BAD_MESSAGE, "transcribe"),
    ((json.dumps({"type": "start", "options": {"volume": 11}}),), p.CloseCode.BAD_MESSAGE, "volume"),
    ((json.dumps({"type": "start", "options": {"decider": "oracle"}}),), p.CloseCode.BAD_MESSAGE, "learned"),
    ((START, START), p.CloseCode.BAD_MESSAGE, "start sent twice"),
    ((START, json.dumps({"type": "instruction", "text": ""})), p.CloseCode.BAD_MESSAGE, "non-empty"),
    ((START, b"\x00\x01\x02"), p.CloseCode.BAD_AUDIO, "3 bytes"),
])
def test_a_bad_frame_closes_the_session_with_a_documented_code(server, frames, code, says):
    threads = response_threads()
    close_code, reason, messages = refused(server, *frames)
    assert close_code == code
    assert says in reason
    whole = messages[-1]["reason"]  # the close frame's reason is cut to 123 bytes (RFC 6455); the message's is whole
    assert messages[-1] == {"type": "closing", "code": int(code), "name": code.name, "reason": whole}
    assert whole.startswith(reason) and len(reason.encode()) <= 123
    wait_freed(server, threads)


def test_start_chooses_who_decides_and_defaults_to_the_engine_default():
    from listenloop.decision.base import DEFAULT_DECIDER, Decider

    chosen = p.parse_client_text(json.dumps({"type": "start", "options": {"decider": "learned"}}))
    assert chosen.options.session_options().decider is Decider.LEARNED
    assert chosen.options.to_dict()["decider"] == "learned"
    assert p.parse_start_options({}).session_options().decider is DEFAULT_DECIDER


def test_start_begins_as_an_assistant_like_the_cli_and_takes_a_name():
    from listenloop.runtime.session import SessionOptions

    default = p.parse_start_options({}).session_options()
    assert default.mode is Mode.ASSISTANT and default.mode is SessionOptions().mode
    named = p.parse_client_text(json.dumps({"type": "start", "options": {"name": "Pascal", "aliases": ["Pascale"]}}))
    assert named.options.session_options().names == ("Pascal", "Pascale")
    assert named.options.to_dict()["name"] == "Pascal"
    for bad in ({"name": "Pascal, tell me a joke"}, {"name": 3}, {"aliases": ["Bo"]}, {"name": "A", "aliases": "B"}):
        with pytest.raises(p.ProtocolError) as refused_name:
            p.parse_start_options(bad)
        assert refused_name.value.code is p.CloseCode.BAD_MESSAGE and "start option" in refused_name.value.reason


def test_a_server_address_without_the_ws_path_reaches_the_session_endpoint():
    from listenloop.server.client import ws_url

    assert ws_url("ws://127.0.0.1:8765") == "ws://127.0.0.1:8765/ws"
    assert ws_url("ws://127.0.0.1:8765/") == "ws://127.0.0.1:8765/ws"
    assert ws_url("wss://host/ws?token=x") == "wss://host/ws?token=x"


def test_an_oversize_frame_is_refused_with_413(server):
    too_big = b"\x00" * (Limits().max_frame_bytes + PCM16_BYTES_PER_SAMPLE)
    code, reason, _ = refused(server, START, too_big)
    assert code == p.CloseCode.FRAME_TOO_LARGE and str(Limits().max_frame_bytes) in reason
    huge = b"\x00" * (TRANSPORT_SIZE_FACTOR * Limits().max_frame_bytes + PCM16_BYTES_PER_SAMPLE)
    assert refused(server, START, huge)[0] == TRANSPORT_MESSAGE_TOO_BIG, "far too big: cut by the WebSocket layer"


def test_frames_faster_than_the_limit_are_refused_with_429(server):
    tiny = p.float_to_pcm16_frame(np.zeros(16, np.float32))
    code, reason, _ = refused(server, START, *([tiny] * (Limits().frame_burst + 20)))
    assert code == p.CloseCode.TOO_FAST and "frames per second" in reason


def test_audio_far_faster_than_real_time_is_refused_with_429(server):
    second = p.float_to_pcm16_frame(np.zeros(SAMPLE_RATE, np.float32))
    code, reason, _ = refused(server, START, *([second] * int(Limits().audio_burst_seconds + 3)))
    assert code == p.CloseCode.TOO_FAST and "real time" in reason


def test_a_bad_client_and_a_vanished_client_leave_a_live_session_alone(server, conference):
    from websockets.asyncio.client import connect

    threads = response_threads()

    async def vanish():
        ws = await connect(server.url, compression=None)
        await ws.send(START)
        await ws.recv()  # ready
        for _ in range(10):
            await ws.send(AUDIO_100MS)
            await asyncio.sleep(0.1)
        ws.transport.abort()  # no close frame: the TCP connection just drops

    async def all_three():
        live = asyncio.create_task(stream_blocks(server.url, [conference], p.StartOptions(sounds=False)))
        await asyncio.sleep(0.5)
        bad = await exchange(server.url, START, AUDIO_100MS, "{oops")
        await vanish()
        return await live, bad

    live, bad = asyncio.run(all_three())
    assert bad[0] == p.CloseCode.BAD_MESSAGE
    assert live.close_code == p.CloseCode.NORMAL and "conference" in finals(live)
    wait_freed(server, threads)


# ---- admission: limits and safety settings ----
def test_sessions_beyond_the_maximum_are_refused_with_503(engine):
    async def two():
        from websockets.asyncio.client import connect

        async with connect(server.url, compression=None) as first:
            await first.send(START)
            assert json.loads(await first.recv())["type"] == "ready"
            return await exchange(server.url, START)

    with serving(engine, max_sessions=1) as server:
        code, reason, _ = asyncio.run(two())
    assert code == p.CloseCode.SERVER_BUSY and "1 sessions" in reason


def test_a_client_that_never_starts_times_out_with_408(engine):
    with serving(engine, start_timeout_s=0.3) as server:
        code, reason, _ = refused(server)
    assert code == p.CloseCode.TIMEOUT and "start" in reason


def test_a_token_server_refuses_clients_without_it(engine):
    settings = ServerSettings(port=0, token="s3cret")
    with BackgroundServer(create_app(engine, settings), settings) as server:
        without = refused(server, START)
        wrong = asyncio.run(exchange(server.url + "?token=guess", START))
        bearer = asyncio.run(exchange(server.url, START, p.stop_message(),
                                      headers={"Authorization": "Bearer s3cret"}))
        query = asyncio.run(exchange(server.url + "?token=s3cret", START, p.stop_message()))
    assert without[0] == wrong[0] == p.CloseCode.UNAUTHORIZED
    assert bearer[0] == query[0] == p.CloseCode.NORMAL
    assert query[2][0]["type"] == "ready" and query[2][-1]["type"] == "summary"


def test_a_page_from_another_origin_is_refused_with_403(server):
    foreign = refused(server, START, headers={"Origin": "http://evil.example"})
    own = refused(server, START, p.stop_message(), headers={"Origin": f"http://127.0.0.1:{server.port}"})
    assert foreign[0] == p.CloseCode.FORBIDDEN_ORIGIN
    assert own[0] == p.CloseCode.NORMAL


def test_binding_beyond_loopback_needs_a_token():
    import argparse

    from listenloop.server.command import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit, match="--token"):
        settings_from_args(parser.parse_args(["--host", "0.0.0.0"]))
    assert settings_from_args(parser.parse_args(["--host", "0.0.0.0", "--token", "t"])).token == "t"
    assert settings_from_args(parser.parse_args([])).host == "127.0.0.1"


# ---- the wire format and the command ----
def test_events_round_trip_through_their_json_form(server, conference):
    result = asyncio.run(stream_blocks(server.url, [conference[: 2 * SAMPLE_RATE]], p.StartOptions(sounds=False),
                                       speed=1.4))
    typed = [p.event_from_dict(m) for m in result.messages]
    assert typed[0] is None  # ready is a protocol message, not a session event
    assert all(e is not None and e.to_dict() == m for e, m in zip(typed[1:], result.messages[1:], strict=True))


def test_listenloop_stream_prints_the_events_of_a_file(server, conference, tmp_path):
    from listenloop.audio.wav import write_wav

    wav = tmp_path / "prompt.wav"
    write_wav(wav, conference)
    bare = server.url.removesuffix("/ws")  # the address alone reaches the session endpoint
    done = subprocess.run([sys.executable, "-m", "listenloop", "stream", str(wav), "--url", bare, "--mode",
                           "transcribe", "--no-sounds", "--json", "--speed", "1.4"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["type"] == "ready" and lines[-1]["type"] == "summary"
    assert "conference" in " ".join(m["text"] for m in lines if m["type"] == "transcript").lower()


def test_listenloop_stream_reports_a_refusal_and_fails(engine, tmp_path):
    from listenloop.audio.wav import write_wav

    wav = tmp_path / "short.wav"
    write_wav(wav, np.zeros(SAMPLE_RATE, np.float32))
    settings = replace(ServerSettings(port=0), token="x")
    with BackgroundServer(create_app(engine, settings), settings) as server:
        done = subprocess.run([sys.executable, "-m", "listenloop.cli", "stream", str(wav), "--url", server.url],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "4401 UNAUTHORIZED" in done.stderr
