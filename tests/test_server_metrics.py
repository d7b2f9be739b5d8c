"""GET /metrics: what an operator scrapes from a real server (real engine, real speech) in Prometheus's format."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request

import numpy as np
import pytest

from listenloop.audio.constants import SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.bench.wer import normalize
from listenloop.server import protocol as p
from listenloop.server.app import BackgroundServer, create_app
from listenloop.server.client import stream_blocks
from listenloop.server.limits import Limits, ServerSettings
from listenloop.vocabulary import Mode

prometheus = pytest.importorskip("prometheus_client", reason="the server extra's prometheus-client is missing")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


@pytest.fixture(scope="module")
def server():
    from listenloop.runtime.engine import Engine, EngineConfig

    settings = ServerSettings(port=0, token="secret-token")
    with BackgroundServer(create_app(Engine(EngineConfig(sounds=False)), settings), settings) as s:
        yield s


def scrape(http: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    with urllib.request.urlopen(http + "/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_session_shows_in_sessions_chunks_decisions_responses_and_models(server, shared_audio):
    jfk = load_audio(shared_audio / "speech" / "jfk.flac")
    before = scrape(server.http)
    assert value(before, "listenloop_model_loaded", model="asr") == 1.0
    assert value(before, "listenloop_model_loaded", model="sounds") == 0.0  # not loaded: sounds=False
    seen_open: list[float] = []

    def during(message):
        if message.get("type") == "decision" and message["chunk"] == 5:
            seen_open.append(value(scrape(server.http), "listenloop_sessions_open"))

    result = asyncio.run(stream_blocks(server.url, [jfk], p.StartOptions(mode=Mode.TRANSCRIBE, sounds=False),
                                       token="secret-token",
                                       on_message=during))  # the server runs in its own thread
    assert result.close_code == p.CloseCode.NORMAL
    after = scrape(server.http)
    chunks = -(-len(jfk) // SAMPLES_PER_CHUNK)
    assert seen_open and seen_open[0] == 1.0
    assert value(after, "listenloop_sessions_open") == 0.0
    assert value(after, "listenloop_sessions_total") - value(before, "listenloop_sessions_total") == 1
    timed = value(after, "listenloop_chunk_processing_seconds_count") - \
        value(before, "listenloop_chunk_processing_seconds_count")
    assert chunks - 1 <= timed <= chunks  # every chunk a feed completed; the padded last one is decided at stop
    decided = sum(v for (name, _), v in after.items() if name == "listenloop_decisions_total") - \
        sum(v for (name, _), v in before.items() if name == "listenloop_decisions_total")
    assert decided == len(result.of_type("decision"))
    transcribed = len([m for m in result.of_type("response") if m["task"] == "transcribe"])
    assert transcribed > 0
    assert value(after, "listenloop_responses_total", task="transcribe") - \
        value(before, "listenloop_responses_total", task="transcribe") == transcribed
    assert value(after, "listenloop_backlog_seconds") == pytest.approx(0.0, abs=1e-6)


def test_a_refused_session_counts_under_its_close_code(server):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def wrong_token():
        async with connect(server.url + "?token=wrong", compression=None) as ws:
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    pass
            return ws.close_code

    before = value(scrape(server.http), "listenloop_session_errors_total", code="UNAUTHORIZED")
    assert asyncio.run(asyncio.wait_for(wrong_token(), 20)) == p.CloseCode.UNAUTHORIZED
    after = value(scrape(server.http), "listenloop_session_errors_total", code="UNAUTHORIZED")
    assert after - before == 1


def test_merged_replicas_keep_each_replicas_samples():
    from listenloop.server.ray_serve import merge_exposition

    texts = []
    for replica, sessions in (("a", 1), ("b", 2)):
        registry = prometheus.CollectorRegistry()
        gauge = prometheus.Gauge("listenloop_sessions_open", "open", ["replica"], registry=registry)
        gauge.labels(replica=replica).set(sessions)
        hist = prometheus.Histogram("listenloop_chunk_processing_seconds", "chunk", ["replica"], registry=registry)
        hist.labels(replica=replica).observe(0.1 * sessions)
        texts.append(prometheus.generate_latest(registry).decode())
    merged = {(s.name, s.labels.get("replica")): s.value
              for f in text_string_to_metric_families(merge_exposition(texts).decode()) for s in f.samples}
    assert merged["listenloop_sessions_open", "a"] == 1 and merged["listenloop_sessions_open", "b"] == 2
    assert merged["listenloop_chunk_processing_seconds_count", "b"] == 1
    assert np.isclose(merged["listenloop_chunk_processing_seconds_sum", "b"], 0.2)


def test_a_stream_the_server_falls_behind_on_sheds_partials_and_keeps_its_words(shared_audio):
    """jfk sent at 20x real time: the server falls behind, reports it (`listenloop_partials_at_pauses_only` 1), and
    decodes partials at pauses only (runtime/load.py), with every chunk decided and the final words intact."""
    from listenloop.runtime.engine import Engine, EngineConfig

    jfk = load_audio(shared_audio / "speech" / "jfk.flac")
    fast = Limits(max_frames_per_second=1000.0, frame_burst=1000, max_audio_speed=100.0, audio_burst_seconds=60.0,
                  max_backlog_seconds=60.0)  # let it in, however far behind
    settings = ServerSettings(port=0, limits=fast)
    options = p.StartOptions(mode=Mode.TRANSCRIBE, sounds=False)
    with BackgroundServer(create_app(Engine(EngineConfig(sounds=False)), settings), settings) as s:
        assert value(scrape(s.http), "listenloop_partials_at_pauses_only") == 0.0
        result = asyncio.run(stream_blocks(s.url, [jfk], options, speed=20.0))
        shed = value(scrape(s.http), "listenloop_partials_at_pauses_only")
    assert result.close_code == p.CloseCode.NORMAL
    assert shed == 1.0  # within the wait after the stream ended
    assert len(result.of_type("decision")) == -(-len(jfk) // SAMPLES_PER_CHUNK)
    partials = [m for m in result.of_type("transcript") if not m["final"]]
    finals = " ".join(normalize(" ".join(m["text"] for m in result.of_type("transcript") if m["final"])))
    assert len(partials) <= 6, [m["text"] for m in partials]  # one per pause of jfk's four phrases (+ splits)
    assert "ask not what your country can do for you" in finals, finals
