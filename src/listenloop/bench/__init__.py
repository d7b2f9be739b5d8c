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
    "hesitations": "listenloop.bench.hesitations",
    "users": "listenloop.bench.users",
    "translation": "listenloop.bench.translation",
    "partials": "listenloop.bench.partials",
    "voices": "listenloop.bench.voices",
}


def available() -> dict[str, object]:
    """Every bench module, by name."""
    return {name: importlib.import_module(path) for name, path in BENCHES.items()}
