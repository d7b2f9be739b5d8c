"""`listenloop serve --ray`: the server as a Ray Serve deployment of two replicas (one engine each) on a loopback
cluster serves two live WebSocket sessions at once, each kept by one replica, and /metrics shows both."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import urllib.request

import pytest

from listenloop.audio.constants import SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.parallel.ray_backend import RAY_LOCAL
from listenloop.runtime.engine import EngineConfig
from listenloop.server import protocol as p
from listenloop.server.client import stream_blocks
from listenloop.server.limits import ServerSettings

TOKEN = "serve-test-token"
SECOND_SESSION_AFTER_S = 1.0  # s; two sessions opened in the same instant may both go to one replica (allowed)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def deployed(ray_cluster):
    pytest.importorskip("ray.serve", reason="the ray extra is not installed (pip install 'listenloop[ray]')")
    from listenloop.server import ray_serve as on_ray

    settings = ServerSettings(port=free_port(), token=TOKEN)
    bounds = on_ray.ReplicaBounds(min_replicas=2, max_replicas=2, target_sessions=1, cpus=1)
    on_ray.start(settings, EngineConfig(sounds=False), bounds, address=RAY_LOCAL)  # joins the test's cluster
    yield settings
    on_ray.stop()


def scrape(settings: ServerSettings) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.port}/metrics", timeout=20) as r:
        return r.read().decode()


def sessions_by_replica(text: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {s.labels["replica"]: s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == "listenloop_sessions_open"}


def test_two_replicas_serve_two_sessions_at_once_and_metrics_show_both(deployed, shared_audio):
    jfk = load_audio(shared_audio / "speech" / "jfk.flac")
    url = f"ws://127.0.0.1:{deployed.port}/ws"
    during: list[dict[str, float]] = []

    def watch(message):
        if message.get("type") == "decision" and message["chunk"] == 8 and not during:
            during.append(sessions_by_replica(scrape(deployed)))

    async def second():
        await asyncio.sleep(SECOND_SESSION_AFTER_S)
        return await stream_blocks(url, [jfk], p.StartOptions(sounds=False), token=TOKEN)

    async def both():
        return await asyncio.gather(
            stream_blocks(url, [jfk], p.StartOptions(sounds=False), token=TOKEN, on_message=watch), second())

    results = asyncio.run(both())
    chunks = -(-len(jfk) // SAMPLES_PER_CHUNK)
    for result in results:
        assert result.close_code == p.CloseCode.NORMAL
        assert [m["chunk"] for m in result.of_type("decision")] == list(range(chunks))
        text = " ".join(m["text"] for m in result.of_type("transcript") if m["final"]).lower()
        assert "fellow americans" in text and "your country" in text
    assert len(during) == 1 and sum(during[0].values()) == 2  # both sessions, whichever replica holds each
    from listenloop.server.ray_serve import METRICS_PUSH_S

    time.sleep(2 * METRICS_PUSH_S)  # every replica has reported since its session ended
    after = sessions_by_replica(scrape(deployed))
    assert len(after) == 2 and sum(after.values()) == 0  # both replicas report, and both sessions are freed


def test_the_token_is_required_as_on_one_server(deployed):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def no_token():
        async with connect(f"ws://127.0.0.1:{deployed.port}/ws", compression=None) as ws:
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    pass
            return ws.close_code

    assert asyncio.run(asyncio.wait_for(no_token(), 30)) == p.CloseCode.UNAUTHORIZED
