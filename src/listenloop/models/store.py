"""The model cache: where models live, fetching them through pip, and verifying them.

Layout: ``$LISTENLOOP_MODELS`` (default ``$XDG_CACHE_HOME/listenloop/models``) / <model name> / files, plus a
``.verified`` stamp holding the sha256 that was checked when the model was assembled.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from listenloop.models.registry import MODELS, Assembly, ModelSpec

HASH_BLOCK_BYTES = 1 << 20  # 1 MiB reads while hashing and joining
STAMP = ".verified"


class ModelError(RuntimeError):
    """A model is missing or corrupt; the message names the command that fixes it."""


def cache_dir() -> Path:
    env = os.environ.get("LISTENLOOP_MODELS")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "listenloop" / "models"


def spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


class ModelStatus(Enum):
    OK = "ok"
    MISSING = "missing"
    CORRUPT = "corrupt"


@dataclass(frozen=True)
class ModelReport:
    name: str
    status: ModelStatus
    path: Path
    detail: str  # why, for anything but OK


def check(name: str, *, deep: bool = False) -> ModelReport:
    """Is the model there and intact? ``deep`` re-hashes the file instead of trusting the stamp."""
    s = spec(name)
    folder = cache_dir() / s.name
    target = folder / s.checked_file
    if not target.exists():
        return ModelReport(name, ModelStatus.MISSING, folder, f"{target} does not exist")
    expected_files = [folder / f for f in s.members.values()]
    missing = [p.name for p in expected_files if not p.exists()]
    if missing:
        return ModelReport(name, ModelStatus.CORRUPT, folder, f"missing files: {', '.join(missing)}")
    if deep:
        actual = sha256_of(target)
    else:
        stamp = folder / STAMP
        actual = stamp.read_text().strip() if stamp.exists() else ""
        if actual and target.stat().st_size == 0:
            actual = "empty"
    if actual != s.sha256:
        return ModelReport(name, ModelStatus.CORRUPT, folder, f"sha256 of {s.checked_file} is {actual or 'unchecked'}")
    return ModelReport(name, ModelStatus.OK, folder, "")


def model_dir(name: str) -> Path:
    """The folder of an intact model, or a ModelError that says how to get it."""
    report = check(name)
    if report.status is not ModelStatus.OK:
        raise ModelError(
            f"model {name!r} is {report.status.value} ({report.detail}). "
            f"Run: listenloop models fetch {name}"
        )
    return report.path


def model_file(name: str, filename: str | None = None) -> Path:
    s = spec(name)
    return model_dir(name) / (filename or s.checked_file)


def silero_vad_path() -> Path:
    """The Silero VAD v6 ONNX file that ships inside the faster-whisper wheel."""
    try:
        import faster_whisper
    except ImportError as e:  # pragma: no cover - faster-whisper is a core dependency
        raise ModelError("faster-whisper is not installed. Run: pip install 'faster-whisper==1.2.1'") from e
    path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    if not path.exists():
        raise ModelError(f"{path} is missing; reinstall faster-whisper==1.2.1")
    return path


def _pip_download(requirements: tuple[str, ...], dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest)]
    proc = subprocess.run(cmd + list(requirements), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise ModelError(f"pip could not download {', '.join(requirements)}:\n{tail}")


def _open_wheels(folder: Path) -> list[zipfile.ZipFile]:
    return [zipfile.ZipFile(p) for p in sorted(folder.glob("*.whl"))]


def _read_member(wheels: list[zipfile.ZipFile], member: str) -> zipfile.ZipExtFile:
    for w in wheels:
        if member in w.namelist():
            return w.open(member)
    raise ModelError(f"{member} is not in the downloaded wheels")


def _assemble(s: ModelSpec, wheels: list[zipfile.ZipFile], out: Path, progress) -> None:
    for member, filename in s.members.items():
        with _read_member(wheels, member) as src, open(out / filename, "wb") as dst:
            shutil.copyfileobj(src, dst, HASH_BLOCK_BYTES)
    if s.assembly is Assembly.JOIN:
        with open(out / s.joined_name, "wb") as dst:
            for part in s.parts:
                with _read_member(wheels, part) as src:
                    while block := src.read(HASH_BLOCK_BYTES):
                        dst.write(block)
                        progress(len(block))
    elif s.assembly is Assembly.UNZIP:
        data = _read_member(wheels, s.archive).read()
        (out / s.checked_file).write_bytes(data)
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            for info in inner.infolist():
                if not info.is_dir():
                    (out / Path(info.filename).name).write_bytes(inner.read(info))
        progress(len(data))


def fetch(name: str, *, wheel_dir: Path | None = None, force: bool = False, progress=lambda n: None) -> Path:
    """Download (or take from ``wheel_dir``), assemble and verify one model; returns its folder."""
    s = spec(name)
    if not force and check(name).status is ModelStatus.OK:
        return cache_dir() / s.name
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{s.name}-") as tmp:
        tmp_path = Path(tmp)
        wheels_at = wheel_dir or tmp_path / "wheels"
        if wheel_dir is None:
            wheels_at.mkdir()
            _pip_download(s.packages, wheels_at)
        out = tmp_path / "model"
        out.mkdir()
        wheels = _open_wheels(wheels_at)
        try:
            _assemble(s, wheels, out, progress)
        finally:
            for w in wheels:
                w.close()
        actual = sha256_of(out / s.checked_file)
        if actual != s.sha256:
            raise ModelError(
                f"{s.name}: sha256 of the assembled {s.checked_file} is {actual}, expected {s.sha256}. "
                "The download is wrong or partial; nothing was installed. Run the fetch again."
            )
        (out / STAMP).write_text(actual + "\n")
        final = root / s.name
        if final.exists():
            shutil.rmtree(final)
        out.rename(final)
    return final
