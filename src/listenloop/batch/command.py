"""`listenloop batch INPUTS... --out DIR`: events of every input file, a summary table, throughput and cost.

    listenloop batch recordings/ more/*.flac --out events/            # local processes, one engine each
    listenloop batch recordings/ --out events/ --ray ray://head:10001  # Ray actors, one engine each

Run it again with the same --out to resume: inputs with a complete events file are skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from listenloop.batch.inputs import InputError, expand, output_names
from listenloop.batch.worker import FileJob, FileResult, process_file
from listenloop.decision.base import DEFAULT_DECIDER, Decider
from listenloop.parallel.ray_backend import add_ray_argument
from listenloop.runtime.engine import EngineConfig
from listenloop.runtime.session import SessionOptions
from listenloop.vocabulary import Mode

SUMMARY_NAME = "summary.md"
SECONDS_PER_HOUR = 3600.0
BATCH_MODE = Mode.TRANSCRIBE  # an archive has nobody to answer: captions of speech and alerts for sounds


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="audio files, folders (their audio files, recursively) or glob patterns")
    p.add_argument("--out", type=Path, required=True, help="output folder: NAME.events.jsonl per input, summary.md")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes (or Ray actors), each with its own loaded models")
    p.add_argument("--mode", choices=[m.value for m in Mode], default=BATCH_MODE.value,
                   help=f"what each session is for (default {BATCH_MODE.value}: captions and sound alerts)")
    p.add_argument("--no-sounds", action="store_true", help="no sound tagging or sound responses")
    p.add_argument("--no-asr", action="store_true", help="no speech recognition (sounds only; faster)")
    p.add_argument("--policy", type=Path, help="a sound-policy TOML file (docs/policy.md)")
    p.add_argument("--decider", choices=[d.value for d in Decider], default=DEFAULT_DECIDER.value,
                   help="who decides about speech (docs/conversation.md)")
    p.add_argument("--llm", default="qwen2.5-0.5b", help="language model for answers (assistant mode)")
    p.add_argument("--llm-url", help="an OpenAI-compatible server instead of --llm")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_argument(p)


def plan(args: argparse.Namespace) -> tuple[list[FileJob], list[FileResult | None]]:
    """A job per input, and the record of each one an earlier run finished (None: to run)."""
    paths = expand(args.inputs)
    args.out.mkdir(parents=True, exist_ok=True)
    session = SessionOptions(mode=Mode(args.mode), sounds=not args.no_sounds, policy_path=args.policy,
                             decider=Decider(args.decider))
    engine = EngineConfig(asr=not args.no_asr, sounds=not args.no_sounds, policy_path=args.policy, llm=args.llm,
                          llm_url=args.llm_url)
    names = output_names(paths)
    jobs = [FileJob(p, args.out, names[p], session, engine) for p in paths]
    return jobs, [_done(job) for job in jobs]


def _done(job: FileJob) -> FileResult | None:
    record = FileResult.read(job.result_path)
    return record if record is not None and record.ok and job.events_path.is_file() else None


def run_batch(jobs: list[FileJob], done: list[FileResult | None], workers: int, ray: str | None = None,
              progress: bool = True) -> tuple[list[FileResult], list[FileResult], float]:
    """Run the jobs not done; (all results in input order, the results of this run, wall s)."""
    from listenloop.parallel import ordered_map

    todo = longest_first([job for job, record in zip(jobs, done, strict=True) if record is None])
    bar = tqdm(total=len(todo), desc="files", unit="file", file=sys.stderr, disable=not progress)
    started = time.perf_counter()
    fresh: dict[Path, FileResult] = {}
    for job, result in zip(todo, ordered_map(process_file, todo, max(1, workers), ray), strict=True):
        fresh[job.path] = result
        bar.set_postfix_str(f"{sum(not r.ok for r in fresh.values())} failed")
        bar.update()
    bar.close()
    wall = time.perf_counter() - started
    results = [record or fresh[job.path] for job, record in zip(jobs, done, strict=True)]
    return results, [fresh[job.path] for job in jobs if job.path in fresh], wall


def longest_first(jobs: list[FileJob]) -> list[FileJob]:
    """The jobs by size on disk, largest first (a duration that needs no decoding): workers then end on short files
    together, not one on a long file while the others wait (68 recordings, 2 workers: 1.67x of one worker in input
    order). Outputs do not depend on the order."""
    def size(job: FileJob) -> int:
        try:
            return job.path.stat().st_size
        except OSError:
            return 0  # recorded as failed when its turn comes

    return sorted(jobs, key=size, reverse=True)


def summary_table(results: list[FileResult], ran: list[FileResult], skipped: int, wall_s: float) -> str:
    """Markdown: one row per input (responses, alerts, failures), then throughput and cost of this run."""
    lines = ["| input | status | audio min | responses | alerts | transcripts | sounds | wall s | CPU s | "
             "CPU s per audio s | error |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cost = f"{r.cpu_s / r.audio_s:.3f}" if r.ok and r.audio_s else ""
        status = "ok" if r.ok else "FAILED"
        lines.append(f"| {Path(r.input).name} | {status} | {r.audio_s / 60:.2f} | {r.responses} | {r.alerts} | "
                     f"{r.transcripts} | {r.sounds} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {cost} | "
                     f"{r.error.replace('|', '/')} |")
    ok = [r for r in ran if r.ok]
    audio_h = sum(r.audio_s for r in ok) / SECONDS_PER_HOUR
    rate = audio_h / (wall_s / SECONDS_PER_HOUR) if wall_s > 0 else 0.0
    per_file = sum(r.cpu_s for r in ok) / len(ok) if ok else 0.0
    cpu_per_audio = sum(r.cpu_s for r in ok) / (audio_h * SECONDS_PER_HOUR) if audio_h else 0.0
    failed = sum(not r.ok for r in results)
    lines += ["", f"{len(results)} inputs: {len(ok)} done now, {skipped} done before (skipped), {failed} failed. "
              f"This run: {audio_h * 60:.1f} min of audio in {wall_s:.1f} s wall = {rate:.1f} audio hours per wall "
              f"hour; per file {per_file:.1f} CPU s on average, {cpu_per_audio:.3f} CPU s per audio s; model "
              f"loading {sum(r.load_s for r in ran):.1f} s over the workers."]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        jobs, done = plan(args)
    except (InputError, OSError) as e:
        print(f"listenloop batch: {e}", file=sys.stderr)
        return 2
    skipped = sum(record is not None for record in done)
    if skipped:
        print(f"listenloop batch: {skipped} of {len(jobs)} inputs done before, skipped", file=sys.stderr)
    results, ran, wall = run_batch(jobs, done, args.workers, args.ray, progress=not args.quiet)
    table = summary_table(results, ran, skipped, wall)
    (args.out / SUMMARY_NAME).write_text(table + "\n", encoding="utf-8")
    print(table)
    return 1 if any(not r.ok for r in results) else 0
