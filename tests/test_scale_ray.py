"""Ray actors behind the same ordered map as local processes: a small build and its perception pass give
byte-identical manifests, audio and observations whichever runs them (a 2-CPU Ray cluster on loopback)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from listenloop.data import build
from listenloop.parallel import ordered_map
from listenloop.parallel.ray_backend import RAY_LOCAL
from listenloop.train import decision as train_decision


def build_args(out, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    return parser.parse_args(["--out", str(out), "--engines", "espeak", "--streams", "3", "--seconds", "12",
                              "--seed", "11", "--workers", "2", "--quiet", "--snrs", "none,10", *extra])


@pytest.fixture(scope="module")
def builds(tmp_path_factory, ray_cluster):
    local, on_ray = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("ray")
    assert build.run(build_args(local)) == 0
    assert build.run(build_args(on_ray, "--ray")) == 0
    return local, on_ray


def test_a_build_on_ray_is_byte_identical_to_the_local_one(builds):
    local, on_ray = builds
    assert (on_ray / build.MANIFEST_NAME).read_bytes() == (local / build.MANIFEST_NAME).read_bytes()
    flacs = sorted(p.name for p in (local / "audio").iterdir())
    assert len(flacs) == 3
    for name in flacs:
        assert (on_ray / "audio" / name).read_bytes() == (local / "audio" / name).read_bytes()


def test_the_perception_pass_on_ray_gives_the_local_observations_bit_for_bit(builds):
    local, on_ray = builds
    manifest = local / build.MANIFEST_NAME
    here = train_decision.load_features(manifest, progress=False, workers=2, cache=None)
    (local / next(p.name for p in local.glob("features-*.npz"))).unlink()  # perceive again, this time on Ray
    there = train_decision.load_features(manifest, progress=False, workers=2, ray=RAY_LOCAL)
    assert [f.stream_id for f in there] == [f.stream_id for f in here]
    for a, b in zip(here, there, strict=True):
        assert a.x.dtype == b.x.dtype and a.x.tobytes() == b.x.tobytes()
        assert np.array_equal(a.y, b.y)


def test_results_come_back_in_input_order_whatever_the_actors(ray_cluster):
    assert list(ordered_map(abs, [-3, 1, -2, 5, -4], workers=2, ray=RAY_LOCAL)) == [3, 1, 2, 5, 4]


def test_without_ray_the_error_names_the_extra(monkeypatch):
    import sys

    from listenloop.parallel import ray_backend

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: the import fails
    with pytest.raises(ray_backend.RayUnavailable, match=r"listenloop\[ray\]"):
        ray_backend.import_ray()
