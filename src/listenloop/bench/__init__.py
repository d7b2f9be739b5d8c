"""Benchmarks (`listenloop bench NAME`): every figure in docs/benchmarks.md comes from one of these."""

from __future__ import annotations

import importlib

# name -> module with add_arguments(parser) and run(args) -> int
BENCHES = {
    "asr": "listenloop.bench.asr",
    "latency": "listenloop.bench.latency",
    "sounds": "listenloop.bench.sounds",
    "conversation": "listenloop.bench.conversation",
    "decisions": "listenloop.bench.decisions",
    "server": "listenloop.bench.server",
}


def available() -> dict[str, object]:
    """The bench modules that exist in this build (a missing one is simply not offered)."""
    found = {}
    for name, path in BENCHES.items():
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as e:
            if e.name != path:
                raise
            continue
        if hasattr(module, "add_arguments") and hasattr(module, "run"):
            found[name] = module
    return found
