"""One input file through one session of an engine that a worker process (or Ray actor) loads once.

The events go to a `.part` file that is renamed when the file is complete, then a result record is written beside
it: a run that stops anywhere leaves no events file that looks complete, and resuming skips only finished inputs.
"""

from __future__ import annotations

import atexit
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from listenloop.runtime.engine import EngineConfig
from listenloop.runtime.session import SessionOptions
from listenloop.vocabulary import Task

EVENTS_SUFFIX = ".events.jsonl"
RESULT_SUFFIX = ".result.json"
PARTIAL_SUFFIX = ".part"
ALERT_TASKS = frozenset({Task.ALERT, Task.ASK})  # urgent sounds and concerned check-ins: what an operator must see
ERROR_MAX_CHARS = 500  # an error message kept in the result record


@dataclass(frozen=True)
class FileJob:
    path: Path  # the input file
    out: Path  # output folder
    name: str  # output file stem (batch/inputs.py output_names)
    session: SessionOptions  # the same for every file
    engine: EngineConfig  # what each worker loads once

    @property
    def events_path(self) -> Path:
        return self.out / f"{self.name}{EVENTS_SUFFIX}"

    @property
    def result_path(self) -> Path:
        return self.out / f"{self.name}{RESULT_SUFFIX}"


@dataclass(frozen=True)
class FileResult:
    input: str  # the input file
    events: str  # its events file (JSON lines; absent when failed)
    ok: bool  # False: the input failed and `error` says why
    error: str = ""  # the failure, "Type: message"
    audio_s: float = 0.0  # audio processed, s
    wall_s: float = 0.0  # wall time of this file in its worker, s (model loading excluded)
    cpu_s: float = 0.0  # CPU time of its worker process over that time (all threads), s
    load_s: float = 0.0  # model loading paid by this file (the first file of each worker), s
    responses: int = 0  # responses of every task
    alerts: int = 0  # responses of ALERT_TASKS
    transcripts: int = 0  # final transcripts
    sounds: int = 0  # sound onsets
    counts: dict[str, int] = field(default_factory=dict)  # responses per task

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @staticmethod
    def read(path: Path) -> FileResult | None:
        """The record of an earlier run, or None when it is missing or unreadable (the input is then run again)."""
        try:
            return FileResult(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


_engine = None  # this worker's engine, loaded by its first file
_engine_config: EngineConfig | None = None


def _worker_engine(config: EngineConfig) -> tuple[object, float]:
    """The engine of this process for `config`, and the seconds spent loading it now (0 when it was loaded)."""
    global _engine, _engine_config
    if _engine is not None and _engine_config == config:
        return _engine, 0.0
    from listenloop.runtime.engine import Engine

    started = time.perf_counter()
    if _engine is not None:
        _engine.close()
    _engine, _engine_config = Engine(config), config
    atexit.register(_engine.close)
    return _engine, time.perf_counter() - started


def process_file(job: FileJob) -> FileResult:
    """Run one file; any failure of this input is its result, never an exception that stops the batch."""
    try:
        result = _process(job)
    except Exception as e:  # noqa: BLE001 - a bad input of any kind is recorded and the batch goes on
        job.events_path.with_name(job.events_path.name + PARTIAL_SUFFIX).unlink(missing_ok=True)
        result = FileResult(str(job.path), "", ok=False, error=f"{type(e).__name__}: {e}"[:ERROR_MAX_CHARS])
    job.result_path.write_text(result.to_json() + "\n", encoding="utf-8")
    return result


def _process(job: FileJob) -> FileResult:
    from listenloop.audio.decode import AudioError
    from listenloop.audio.sources import file_blocks
    from listenloop.runtime.drive import drive
    from listenloop.runtime.render import JsonRenderer

    blocks = file_blocks(job.path)
    first = next(blocks, None)  # decode before anything else: a corrupt or empty file fails here, with its reason
    if first is None or not len(first):
        raise AudioError(f"{job.path}: no audio in the file")
    engine, load_s = _worker_engine(job.engine)
    partial = job.events_path.with_name(job.events_path.name + PARTIAL_SUFFIX)
    wall, cpu = time.perf_counter(), time.process_time()
    with partial.open("w", encoding="utf-8") as out:
        summary = drive(engine, job.session, _chain(first, blocks), JsonRenderer(out))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if summary is None:
        raise RuntimeError("the session ended without a summary")
    partial.replace(job.events_path)
    alerts = sum(n for task, n in summary.counts.items() if task in ALERT_TASKS)
    return FileResult(str(job.path), str(job.events_path), ok=True, audio_s=summary.audio_s, wall_s=round(wall, 3),
                      cpu_s=round(cpu, 3), load_s=round(load_s, 3), responses=summary.responses, alerts=alerts,
                      transcripts=summary.transcripts, sounds=summary.sounds, counts=dict(summary.counts))


def _chain(first, rest):
    yield first
    yield from rest
