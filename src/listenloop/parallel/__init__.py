"""Ordered parallel map over worker processes, safe in a process that already runs model threads.

Workers are spawned, never forked: a fork taken while onnxruntime, CTranslate2 or llama.cpp threads exist can
crash in the child, and a crashed worker makes multiprocessing.Pool wait forever. Here it raises instead.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class WorkerCrashed(RuntimeError):
    """A worker process died (killed or crashed); the work it held is lost."""


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, ray: str | None = None) -> Iterator[R]:
    """fn over items, results in input order; fn and items must be picklable (module-level functions).
    `ray`: a Ray cluster address (or scale.ray_backend.RAY_LOCAL) to run on its actors instead of local processes."""
    items = list(items)
    if ray is not None:
        from listenloop.parallel.ray_backend import ray_ordered_map

        yield from ray_ordered_map(fn, items, workers, ray)
        return
    if workers <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            yield from pool.map(fn, items)
        except BrokenProcessPool as e:
            raise WorkerCrashed(f"a worker process died: {e}") from None
