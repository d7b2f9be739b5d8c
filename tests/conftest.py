"""Shared fixtures: the real audio in ../shared (skipped with a reason when absent) and synthesized speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SHARED_AUDIO = SHARED / "audio" / "dev"


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    """../shared/audio/dev; tests that need the real recordings skip when it is not beside the checkout."""
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"real recordings not available: {SHARED_AUDIO} is absent (../shared is not beside the repo)")
    return SHARED_AUDIO


def kokoro_front_end() -> None:
    """Skip unless the Mandarin front end Kokoro speaks through is installed."""
    for name in ("pypinyin", "jieba"):
        pytest.importorskip(name, reason=f"{name} is not installed: pip install 'listenloop[voices]'")


@pytest.fixture(scope="session")
def kokoro():
    """synthesis/kokoro_voice.py, its model in the store; skipped with the command to run when it is not."""
    kokoro_front_end()
    from listenloop.models.store import ModelStatus, check
    from listenloop.synthesis import kokoro_voice

    if check(kokoro_voice.MODEL).status is not ModelStatus.OK:
        pytest.skip("the Kokoro model is not in the store: listenloop models fetch kokoro")
    return kokoro_voice


@pytest.fixture(scope="session")
def speech_question() -> np.ndarray:
    """A synthesized question with known words (espeak-ng), 16 kHz float32."""
    from listenloop.synthesis.synth import espeak

    return espeak("What time does the library open tomorrow morning?")


def pad(samples: np.ndarray, before_s: float = 0.5, after_s: float = 1.5) -> np.ndarray:
    from listenloop.synthesis.synth import silence

    return np.concatenate([silence(before_s), samples, silence(after_s)])


@pytest.fixture(scope="session")
def ray_cluster():
    """A Ray cluster of 2 CPUs, node address 127.0.0.1, for this test session, stopped at its end; skipped without
    ray. (Ray 2.60 still listens on every interface for its GCS and raylet ports: docs/scaling.md.)"""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'listenloop[ray]')")
    from listenloop.parallel.ray_backend import LOOPBACK

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address=LOOPBACK, log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()
