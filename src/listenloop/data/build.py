"""`listenloop data build`: stitch clips into long labelled streams (FLAC + JSONL manifest), in parallel.

Each stream is built from its own seed (the run's seed and the stream's number), so the output is the same for a
seed whatever the number of workers. Sound files are read from a folder named on the command line, never copied.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import AudioError
from listenloop.data.compose import Material, StreamOptions, compose, labels_for, stitch_clips
from listenloop.data.languages import LANGUAGES, lines_of
from listenloop.data.manifest import ManifestError, Stream, read_manifest, write_manifest
from listenloop.data.mixing import write_flac
from listenloop.data.real_voice import RealVoiceError, RealVoices, asterisk_prompts, listed_speech, load_real_voices
from listenloop.parallel import ordered_map
from listenloop.parallel.ray_backend import add_ray_argument
from listenloop.synthesis.synth import SynthError
from listenloop.vocabulary import Mode

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus")
SPLIT_CODES = {"train": 0, "test": 1, "all": 2}  # part of every stream's seed: splits never share a stream
MANIFEST_NAME = "manifest.jsonl"


class BuildError(RuntimeError):
    """The build cannot run as asked; one line for the user."""


@dataclass(frozen=True)
class BuildJob:
    out: Path  # output folder: manifest.jsonl and audio/*.flac
    index: int  # stream number
    seed: int
    material: Material
    options: StreamOptions
    source: Stream | None = None  # a plain StreamAudio-2M stream to stitch instead of composing one
    source_root: Path | None = None  # where its clips' relative paths start

    @property
    def stream_id(self) -> str:
        return f"{self.material.split}-s{self.seed}-{self.index:06d}"

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.index, SPLIT_CODES[self.material.split]])


def build_stream(job: BuildJob) -> Stream:
    """Compose (or stitch), write the FLAC, return the manifest entry. Runs in a worker process."""
    rng = job.rng()
    if job.source is not None:
        audio, turns = stitch_clips(rng, job.source.turns, job.source_root or Path("."))
        facts = {"turns": turns, "labels": labels_for(turns, len(audio) // (SAMPLE_RATE * 2 // 5)),
                 "mode": Mode.ASSISTANT, "snr_db": None, "telephone": False}
        scene = job.source.stream_scene_type
        stream_id = f"{job.source.id}"
    else:
        audio, facts = compose(rng, job.material, job.options)
        scene = "soundflow-" + facts["mode"].value
        stream_id = job.stream_id
    rel = Path("audio") / f"{stream_id}.flac"
    write_flac(job.out / rel, audio)
    turns = tuple(t.__class__(**{**t.__dict__, "audio_path": str(rel)}) for t in facts["turns"])
    return Stream(id=stream_id, stream_scene_type=scene, turns=turns, audio_path=str(rel),
                  duration_s=len(audio) / SAMPLE_RATE, mode=facts["mode"], labels=facts["labels"],
                  snr_db=facts["snr_db"], telephone=facts["telephone"], seed=job.seed,
                  language=job.material.language)


def _safe_build(job: BuildJob) -> Stream | str:
    try:
        return build_stream(job)
    except (AudioError, SynthError, ManifestError, OSError) as e:
        return f"stream {job.index}: {e}"


def build(jobs: list[BuildJob], out: Path, workers: int, progress: bool = True, ray: str | None = None) -> list[Stream]:
    """Run the jobs over `workers` processes (or Ray actors at `ray`), in order; write the manifest."""
    (out / "audio").mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(jobs), desc="streams", unit="stream", file=sys.stderr, disable=not progress)
    results: list[Stream | str] = []
    for result in ordered_map(_safe_build, jobs, workers, ray):
        results.append(result)
        bar.update()
    bar.close()
    failures = [r for r in results if isinstance(r, str)]
    if failures:
        raise BuildError(f"{len(failures)} stream(s) failed; first: {failures[0]}")
    streams = [r for r in results if isinstance(r, Stream)]
    write_manifest(out / MANIFEST_NAME, streams)
    return streams


def read_speech_list(path: Path) -> tuple[tuple[Path, str], ...]:
    """`audio path<TAB>transcript` lines (paths relative to the list's folder)."""
    if not path.is_file():
        raise BuildError(f"{path}: no such speech list")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise BuildError(f"{path}:{number}: expected 'audio path<TAB>transcript'")
        audio, text = line.split("\t", 1)
        p = Path(audio)
        items.append((p if p.is_absolute() else path.parent / p, text.strip()))
    return tuple(items)


def list_sounds(folder: Path | None) -> tuple[Path, ...]:
    if folder is None:
        return ()
    if not folder.is_dir():
        raise BuildError(f"{folder}: no such sounds folder")
    return tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output folder (manifest.jsonl, audio/)")
    parser.add_argument("--streams", type=int, default=10, help="number of streams to compose")
    parser.add_argument("--seconds", type=float, default=60.0, help="target length of each stream, s")
    parser.add_argument("--seed", type=int, default=0, help="the build is identical for a seed")
    parser.add_argument("--split", choices=sorted(SPLIT_CODES), default="train",
                        help="which half of the built-in sentences to speak (test: held out)")
    parser.add_argument("--sounds", type=Path, help="folder of sound files (events and backgrounds)")
    parser.add_argument("--speech-list", type=Path, help="TSV of 'audio path<TAB>transcript' utterances")
    parser.add_argument("--from-manifest", type=Path, help="stitch the clips of a StreamAudio-2M manifest instead")
    parser.add_argument("--engines", "--talkers", dest="engines",
                        help="the user's voices: espeak, piper and/or real (recorded speech: the Debian asterisk "
                        "prompts and --real-speech, cut at aligned word boundaries); kokoro for --language zh "
                        "(default: espeak,piper for en, kokoro for zh)")
    parser.add_argument("--language", default="en", choices=sorted(LANGUAGES),
                        help="what every voice of the streams speaks (zh: Mandarin by Kokoro-82M; "
                        "listenloop models fetch kokoro, pip install 'listenloop[voices]')")
    parser.add_argument("--real-speech", type=Path, help="TSV of 'audio path<TAB>transcript' real recordings for "
                        "the real talker (read in place, aligned once and cached)")
    parser.add_argument("--transcribe-fraction", type=float, default=0.25, help="streams in transcription mode")
    parser.add_argument("--telephone-fraction", type=float, default=0.15, help="streams through a phone band")
    parser.add_argument("--snrs", default="none,none,20,10,5,0",
                        help="SNRs (dB) of background over whole streams, drawn per stream; none: room floor only")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_argument(parser)


def parse_snrs(text: str) -> tuple[float | None, ...]:
    try:
        snrs = tuple(None if x.strip().lower() == "none" else float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise BuildError(f"--snrs must be numbers (dB) or 'none', comma-separated, got {text!r}") from None
    if not snrs:
        raise BuildError("--snrs is empty")
    return snrs


def real_voices(speech_list: Path | None, progress: bool) -> RealVoices:
    """The asterisk prompts (when installed) and the listed recordings, aligned."""
    prompts = []
    try:
        prompts = asterisk_prompts()
    except RealVoiceError as e:
        if speech_list is None:
            raise BuildError(f"--engines real: {e}") from None
    if speech_list is not None:
        prompts += listed_speech(read_speech_list(speech_list))
    try:
        return load_real_voices(prompts, progress)
    except RealVoiceError as e:
        raise BuildError(str(e)) from None


def check_kokoro() -> None:
    """The Kokoro talker's model and front end are there, before any stream is built."""
    from listenloop.synthesis.kokoro_voice import KokoroError, speak_mandarin

    try:
        speak_mandarin("你好")
    except KokoroError as e:
        raise BuildError(f"--engines kokoro: {e}") from None


def jobs_from_args(args: argparse.Namespace) -> list[BuildJob]:
    lines = lines_of(args.language)
    engines = tuple(e.strip() for e in (args.engines or ",".join(lines.engines)).split(",") if e.strip())
    allowed = (*lines.engines, "real") if lines.code == "en" else lines.engines
    if not engines or set(engines) - set(allowed):
        raise BuildError(f"--engines must name {' and/or '.join(allowed)} for --language {lines.code}, "
                         f"got {args.engines!r}")
    if "kokoro" in engines:
        check_kokoro()
    material = Material(language=lines.code, sounds=list_sounds(args.sounds),
                        speech=read_speech_list(args.speech_list) if args.speech_list else (),
                        split=args.split, engines=engines,
                        real=real_voices(args.real_speech, not args.quiet) if "real" in engines else None)
    options = StreamOptions(seconds=args.seconds, transcribe_fraction=args.transcribe_fraction,
                            telephone_fraction=args.telephone_fraction, snrs_db=parse_snrs(args.snrs))
    if args.from_manifest:
        sources = list(read_manifest(args.from_manifest))
        return [BuildJob(args.out, i, args.seed, material, options, s, args.from_manifest.parent)
                for i, s in enumerate(sources)]
    if args.streams <= 0 or args.seconds <= 0:
        raise BuildError("--streams and --seconds must be positive")
    return [BuildJob(args.out, i, args.seed, material, options) for i in range(args.streams)]


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        jobs = jobs_from_args(args)
        streams = build(jobs, args.out, max(1, args.workers), progress=not args.quiet, ray=args.ray)
    except (BuildError, ManifestError) as e:
        print(f"listenloop data build: {e}", file=sys.stderr)
        return 2
    hours = sum(s.duration_s for s in streams) / 3600
    wall = time.perf_counter() - started
    print(f"built {len(streams)} streams, {hours * 60:.1f} min of audio in {wall:.1f} s "
          f"-> {args.out / MANIFEST_NAME}")
    return 0
