"""`listenloop serve`: many live streams over WebSocket, one loaded Engine, and a page at / that listens.

    listenloop serve                      # http://127.0.0.1:8765/ ; WebSocket at ws://127.0.0.1:8765/ws

The wire protocol is in docs/protocol.md. Binding anything but loopback needs a token (or --allow-no-token).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from listenloop.server.limits import ServerSettings

STATIC_DIR = Path(__file__).with_name("static")
TOKEN_ENV = "LISTENLOOP_TOKEN"  # a token from the environment stays out of the process list
TRANSPORT_SIZE_FACTOR = 4  # frames up to this many times the limit reach our check (4413); beyond, the transport (1009)
SERVER_START_TIMEOUT_S = 10.0  # s for a background server to bind (or to stop)
WORKER_THREADS_EXTRA = 2  # pool threads beyond one per session: session setup and close run there too
PAGE_POLICY = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
               "base-uri 'none'; frame-ancestors 'none'")


def _import_server():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise SystemExit(f"listenloop serve needs the server extra: pip install 'listenloop[server]' ({e.name})") from e


def create_app(engine, settings: ServerSettings | None = None, replica: str = ""):
    """The ASGI app: GET / (the page), /static/*, GET /healthz, GET /metrics (Prometheus), WebSocket /ws.
    One engine serves every session; `replica` labels the metrics of one of several (Ray Serve)."""
    _import_server()
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    from listenloop.server.connection import Connection, Hub
    from listenloop.server.metrics import ServerMetrics
    from listenloop.server.protocol import PROTOCOL_VERSION

    settings = settings or ServerSettings()
    executor = ThreadPoolExecutor(settings.limits.max_sessions + WORKER_THREADS_EXTRA,
                                  thread_name_prefix="listenloop-session")
    hub = Hub(engine, settings, executor)
    hub.metrics = ServerMetrics(engine, replica)

    async def page(request):
        return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": PAGE_POLICY,
                                                                "Cache-Control": "no-cache"})

    async def health(request):
        return JSONResponse({"status": "ok", "protocol": PROTOCOL_VERSION, "sessions": hub.active,
                             "max_sessions": settings.limits.max_sessions, "capabilities": hub.capabilities()})

    async def metrics(request):  # off the loop: on Ray Serve it asks the other replicas (server/ray_serve.py)
        view = getattr(app.state, "metrics_view", None) or hub.metrics.render
        return Response(await asyncio.to_thread(view), media_type=hub.metrics.content_type)

    async def stream(ws):
        await Connection(ws, hub).serve()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    app = Starlette(routes=[
        Route("/", page),
        Route("/healthz", health),
        Route("/metrics", metrics),
        WebSocketRoute("/ws", stream),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ], lifespan=lifespan)
    app.state.hub = hub
    return app


def uvicorn_config(app, settings: ServerSettings, log_level: str = "info"):
    import uvicorn

    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                          ws_max_size=settings.limits.max_frame_bytes * TRANSPORT_SIZE_FACTOR,
                          ws_per_message_deflate=False, lifespan="on")


class BackgroundServer:
    """A real uvicorn server in a daemon thread (tests, benchmarks): `with BackgroundServer(app, settings) as s:`."""

    def __init__(self, app, settings: ServerSettings, log_level: str = "warning") -> None:
        import uvicorn

        self.settings = settings
        self.server = uvicorn.Server(uvicorn_config(app, settings, log_level))
        self.thread = threading.Thread(target=self.server.run, name="listenloop-server", daemon=True)
        self.port = 0

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start on {self.settings.host}:{self.settings.port}")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"ws://{self.settings.host}:{self.port}/ws"

    @property
    def http(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_START_TIMEOUT_S)
