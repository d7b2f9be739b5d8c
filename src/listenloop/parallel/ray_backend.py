"""Ordered map over Ray actors: the Ray twin of parallel.ordered_map, with the same contract.

One actor is one worker process that lives for the whole map, so whatever a worker function caches in its module
(loaded models) is loaded once per actor, not once per item. Results come back in input order, so outputs are the
same for a seed whatever the number of actors or nodes. Ray is imported here only, never on the default path.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

RAY_LOCAL = "local"  # --ray with no address: join the cluster in $RAY_ADDRESS, else start one on this machine
RAY_PIN = "2.60.0"  # the version the extra pins (pyproject.toml) and the tests ran on
LOOPBACK = "127.0.0.1"  # the node address of a cluster started here: its nodes talk over loopback
OMP_ENV = "OMP_NUM_THREADS"


def add_ray_argument(parser: argparse.ArgumentParser) -> None:
    """`--ray [ADDRESS]`: the same work on a Ray cluster's actors instead of local processes."""
    parser.add_argument("--ray", nargs="?", const=RAY_LOCAL, metavar="ADDRESS",
                        help="run the workers as Ray actors: on the cluster at ADDRESS (ray://host:10001 or "
                             "host:6379), or with no ADDRESS on $RAY_ADDRESS or a cluster started on this machine "
                             "(needs listenloop[ray]; docs/scaling.md). Before positional inputs, write --ray=ADDRESS")


class RayUnavailable(ImportError):
    """Ray is not installed; the message names the extra."""


def import_ray():
    """The ray module, or an error that says how to install it."""
    try:
        import ray
    except ImportError as e:
        raise RayUnavailable(f"--ray needs the ray extra: pip install 'listenloop[ray]' (ray=={RAY_PIN}) "
                             f"({e.name} is missing)") from None
    return ray


def connect(address: str = RAY_LOCAL, num_cpus: int | None = None) -> bool:
    """Attach to (or start) a Ray cluster once per process; True when this call started the connection.

    A cluster started here has node address 127.0.0.1 and stops with this process (ray.shutdown or exit). Ray 2.60
    still listens on every interface for some ports (GCS, raylet); its token auth guards them (docs/scaling.md)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address == RAY_LOCAL and not os.environ.get("RAY_ADDRESS"):  # its workers inherit this env (PYTHONPATH)
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address=LOOPBACK, log_to_driver=False,
                 configure_logging=False)
    else:  # a cluster's nodes need listenloop installed (docs/scaling.md)
        ray.init(address=None if address == RAY_LOCAL else address, log_to_driver=False, configure_logging=False)
    return True


def ray_ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int,
                    address: str = RAY_LOCAL) -> Iterator[R]:
    """fn over items on `workers` actors (one CPU each), results in input order."""
    ray = import_ray()
    from ray.util import ActorPool

    items = list(items)
    if not items:
        return
    started = connect(address)
    mapper = ray.remote(num_cpus=1)(_Mapper)
    threads = os.environ.get(OMP_ENV)
    actors = [mapper.remote(threads) for _ in range(max(1, min(workers, len(items))))]
    try:
        pool = ActorPool(actors)
        yield from pool.map(lambda actor, item: actor.call.remote(fn, item), items)
    except ray.exceptions.RayActorError as e:
        from listenloop.parallel import WorkerCrashed

        raise WorkerCrashed(f"a Ray actor died: {e}") from None
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


class _Mapper:
    """A Ray actor that runs worker functions; their module-level caches live as long as it does."""

    def __init__(self, driver_threads: str | None) -> None:
        use_driver_threads(driver_threads)

    def call(self, fn: Callable[[T], R], item: T) -> R:
        return fn(item)


def use_driver_threads(driver_threads: str | None) -> None:
    """In an actor, before any model loads: the driver's OpenMP thread setting, as a local worker process inherits
    it. Ray sets its own (OMP_NUM_THREADS = the actor's CPUs) when the driver has none, and CTranslate2's int8
    Whisper then writes other words at times (same audio, other thread count): outputs would differ from local."""
    if driver_threads is None:
        os.environ.pop(OMP_ENV, None)
    else:
        os.environ[OMP_ENV] = driver_threads
