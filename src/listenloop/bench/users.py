"""Real users: recordings of people talking to the reference system's web demo (labels answer, instruction, silent,
unclear); how many were answered, how many instructions were taken, how many silent ones got an answer anyway.

    listenloop bench users --dir ../shared/audio/dev/users [--limit 5] [--name Pascal] [--json out.json]

Each recording runs as a file (the honest timeline of docs/events.md), with every response listed. The labels say
what the reference system should have done; the transcripts in labels.tsv are machine-made and unchecked.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_DIR = Path("../shared/audio/dev/users")  # beside the checkout (never copied into the repo)
LABELS = "labels.tsv"
ANSWERING_TASKS = frozenset({"answer", "acknowledge", "describe"})  # responses that talk to the user


@dataclass
class UserRun:
    """One recording: its label and what listenloop said and did."""

    file: str
    label: str  # answer | instruction | silent | unclear
    responses: list[dict] = field(default_factory=list)  # t, task, text, interrupted
    instructions: list[dict] = field(default_factory=list)  # t, mode, detail of spoken instructions taken
    transcript: str = ""  # final transcripts, joined
    wall_s: float = 0.0

    @property
    def answered(self) -> bool:
        return any(r["task"] in ANSWERING_TASKS for r in self.responses)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"recordings and {LABELS} (default {DEFAULT_DIR})")
    p.add_argument("--limit", type=int, help="only the first N recordings (of the chosen labels)")
    p.add_argument("--labels", default="answer,instruction,silent,unclear", help="labels to run, comma-separated")
    p.add_argument("--name", help="the assistant's name for the sessions (the users called the reference 'Pascal')")
    p.add_argument("--json", type=Path, help="write every run to this JSON file")


def label_rows(folder: Path) -> list[list[str]]:
    """labels.tsv's rows: file, label, language Whisper base identified, machine transcript."""
    path = folder / LABELS
    if not path.is_file():
        raise SystemExit(f"listenloop bench users: no {path} (the real user recordings are not beside the checkout)")
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]


def read_labels(folder: Path) -> list[tuple[str, str]]:
    """(file, label) of every session."""
    return [(r[0], r[1]) for r in label_rows(folder) if len(r) >= 2]


def run_one(engine, path: Path, label: str, name: str | None) -> UserRun:
    from listenloop.audio.sources import file_blocks
    from listenloop.runtime.events import ResponseEvent, TaskEvent, TranscriptEvent
    from listenloop.runtime.session import SessionOptions

    started = time.perf_counter()
    session = engine.session(SessionOptions(name=name))
    events = []
    for block in file_blocks(path):
        events += session.feed(block)
    events += session.finish()
    run = UserRun(path.name, label, wall_s=round(time.perf_counter() - started, 1))
    for e in events:
        if isinstance(e, ResponseEvent):
            run.responses.append({"t": e.t, "task": e.task, "text": e.text, "interrupted": e.interrupted})
        elif isinstance(e, TaskEvent) and e.source == "speech":
            run.instructions.append({"t": e.t, "mode": e.mode, "detail": e.detail})
    run.transcript = " ".join(e.text for e in events if isinstance(e, TranscriptEvent) and e.final)
    return run


def summary(runs: list[UserRun]) -> dict[str, str]:
    def share(label: str, hit) -> str:
        of = [r for r in runs if r.label == label]
        return f"{sum(1 for r in of if hit(r))} of {len(of)}"

    return {"answered (label answer)": share("answer", lambda r: r.answered),
            "instructions taken (label instruction)": share("instruction", lambda r: bool(r.instructions)),
            "answered when silent (label silent)": share("silent", lambda r: r.answered),
            "answered (label unclear)": share("unclear", lambda r: r.answered),
            "answers cut by barge-in": str(sum(x["interrupted"] for r in runs for x in r.responses))}


def run(args: argparse.Namespace) -> int:
    from listenloop.runtime.engine import Engine

    wanted = set(args.labels.split(","))
    rows = [(f, label) for f, label in read_labels(args.dir) if label in wanted][: args.limit]
    engine = Engine()
    runs = []
    try:
        for k, (name, label) in enumerate(rows, 1):
            one = run_one(engine, args.dir / name, label, args.name)
            runs.append(one)
            print(f"[{k}/{len(rows)}] {name} ({label}, {one.wall_s} s): heard {one.transcript!r}", file=sys.stderr)
            for r in one.responses:
                cut = " (interrupted)" if r["interrupted"] else ""
                print(f"    {r['t']:6.1f} s {r['task']}: {r['text']}{cut}")
            for i in one.instructions:
                print(f"    {i['t']:6.1f} s instruction taken: {i['mode']} {i['detail']}")
    finally:
        engine.close()
    for key, value in summary(runs).items():
        print(f"{key}: {value}")
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summary(runs), "runs": [asdict(r) for r in runs]}, indent=1,
                                        ensure_ascii=False))
    return 0
