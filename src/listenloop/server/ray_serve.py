"""`listenloop serve --ray`: the WebSocket server as a Ray Serve deployment, one engine per replica.

A WebSocket is one long request to the Serve proxy, so a session stays on the replica that accepted it for its
whole life; the autoscaler counts open sessions as ongoing requests and keeps replicas within the operator's bounds.
The page, the protocol, the token and the limits are the app of `listenloop serve` itself (server/app.py).
GET /metrics on any replica shows every replica's metrics (labelled replica=...), merged through a small named actor.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from listenloop.parallel.ray_backend import OMP_ENV

if TYPE_CHECKING:
    from listenloop.runtime.engine import EngineConfig
    from listenloop.server.limits import ServerSettings

APP_NAME = "listenloop"
BOARD_NAME = "listenloop-metrics-board"  # the named actor every replica reports its metrics to
METRICS_PUSH_S = 1.0  # s between a replica's reports: /metrics on another replica is at most this stale
HTTP_HEADROOM = 4  # ongoing requests per replica beyond its sessions (the page, /healthz, /metrics)


@dataclass(frozen=True)
class ReplicaBounds:
    min_replicas: int = 1  # replicas kept even with no session open
    max_replicas: int = 2  # the autoscaler never goes beyond
    initial_replicas: int | None = None  # replicas at deploy time (None: min_replicas)
    target_sessions: float = 2.0  # open sessions per replica the autoscaler aims at
    cpus: float = 1.0  # CPUs Ray reserves for each replica (its engine)

    def check(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas or self.target_sessions <= 0 or self.cpus <= 0:
            raise ValueError("replicas: need 1 <= min <= max, a positive target of sessions and positive CPUs")


class MetricsBoard:
    """A Ray actor holding each replica's latest metrics text."""

    def __init__(self) -> None:
        self.texts: dict[str, tuple[float, str]] = {}

    def put(self, replica: str, text: str) -> None:
        self.texts[replica] = (time.time(), text)

    def all(self) -> list[str]:
        return [text for _, text in self.texts.values()]


def merge_exposition(texts: list[str]) -> bytes:
    """Several Prometheus text expositions as one (families of one name merged; their samples differ by label)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, object] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name in families:
                families[family.name].samples.extend(family.samples)
            else:
                families[family.name] = family

    class _Merged:
        def collect(self):
            return list(families.values())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged())
    return generate_latest(registry)


def _replica_name() -> str:
    from ray import serve

    context = serve.get_replica_context()
    replica_id = getattr(context, "replica_id", None)
    return getattr(replica_id, "unique_id", None) or getattr(context, "replica_tag", "replica")


class ListenloopReplica:
    """One replica: its own engine and the server app of `listenloop serve`, reporting its metrics to the board."""

    def __init__(self, settings: ServerSettings, config: EngineConfig, driver_threads: str | None) -> None:
        import ray

        from listenloop.parallel.ray_backend import use_driver_threads
        from listenloop.runtime.engine import Engine
        from listenloop.server.app import create_app

        use_driver_threads(driver_threads)
        self._replica = _replica_name()
        self._server_app = create_app(Engine(config), settings, replica=self._replica)
        self._metrics = self._server_app.state.hub.metrics
        board = ray.remote(num_cpus=0)(MetricsBoard)
        self._board = board.options(name=BOARD_NAME, namespace=APP_NAME, get_if_exists=True,
                                    lifetime="detached").remote()
        self._server_app.state.metrics_view = self.every_replica
        threading.Thread(target=self._report, name="listenloop-metrics-report", daemon=True).start()

    def __serve_build_asgi_app__(self):  # noqa: N807 - the name Ray Serve looks for
        return self._server_app

    def _report(self) -> None:
        while True:
            self._board.put.remote(self._replica, self._metrics.render().decode())
            time.sleep(METRICS_PUSH_S)

    def every_replica(self) -> bytes:
        """This replica's metrics now, and every other replica's latest report."""
        import ray

        ray.get(self._board.put.remote(self._replica, self._metrics.render().decode()))
        return merge_exposition(ray.get(self._board.all.remote()))


def deployment(settings: ServerSettings, config: EngineConfig, bounds: ReplicaBounds):
    """The bound Serve application: replicas of the server within `bounds`, each with one engine."""
    from ray import serve

    bounds.check()
    autoscaling = {"min_replicas": bounds.min_replicas, "max_replicas": bounds.max_replicas,
                   "initial_replicas": bounds.initial_replicas or bounds.min_replicas,
                   "target_ongoing_requests": bounds.target_sessions}
    replica = serve.deployment(serve.ingress()(ListenloopReplica), name="listenloop",
                               autoscaling_config=autoscaling,
                               max_ongoing_requests=settings.limits.max_sessions + HTTP_HEADROOM,
                               ray_actor_options={"num_cpus": bounds.cpus})
    return replica.bind(settings, config, os.environ.get(OMP_ENV))


def start(settings: ServerSettings, config: EngineConfig, bounds: ReplicaBounds, address: str) -> None:
    """Deploy on the cluster (or one started here) and return once every initial replica is ready."""
    from ray import serve

    from listenloop.parallel.ray_backend import connect

    connect(address)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(deployment(settings, config, bounds), name=APP_NAME, route_prefix="/")


def stop() -> None:
    import ray
    from ray import serve

    serve.delete(APP_NAME)
    serve.shutdown()
    try:
        # detached: it would outlive the deployment on a lasting cluster
        ray.kill(ray.get_actor(BOARD_NAME, namespace=APP_NAME))
    except ValueError:  # never made (no replica started)
        pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `listenloop serve --ray`."""
    from listenloop.parallel.ray_backend import add_ray_argument

    d = ReplicaBounds()
    add_ray_argument(p)
    p.add_argument("--min-replicas", type=int, default=d.min_replicas, help="with --ray: replicas kept when idle")
    p.add_argument("--max-replicas", type=int, default=d.max_replicas, help="with --ray: most replicas")
    p.add_argument("--target-sessions", type=float, default=d.target_sessions,
                   help="with --ray: open sessions per replica the autoscaler aims at")
    p.add_argument("--replica-cpus", type=float, default=d.cpus, help="with --ray: CPUs reserved per replica")


def run(args: argparse.Namespace, settings: ServerSettings, config: EngineConfig) -> int:
    """Deploy, then wait for Ctrl-C and take the deployment down."""
    bounds = ReplicaBounds(args.min_replicas, args.max_replicas, None, args.target_sessions, args.replica_cpus)
    try:
        bounds.check()
    except ValueError as e:
        raise SystemExit(f"listenloop serve: {e}") from None
    print(f"listenloop serve: deploying {bounds.min_replicas} to {bounds.max_replicas} replicas on Ray ...",
          file=sys.stderr)
    start(settings, config, bounds, args.ray)
    query = "?token=..." if settings.token else ""
    print(f"listenloop serve: http://{settings.host}:{settings.port}/{query}  (WebSocket /ws, /metrics; Ray Serve)",
          file=sys.stderr)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("listenloop serve: stopping the deployment", file=sys.stderr)
    finally:
        stop()
    return 0
