"""`listenloop bench sounds`: recall, false responses per hour and delay of the proactive sound policy.

Streams are built deterministically from a seed: a clip (one that deserves a response, or one that does not) is mixed
into a background (near silence, speech, music, rain, typing) at a chosen level and offset, so the truth is known.
Tagger and policy run chunk by chunk, as in a session. Which clips deserve a response is written in CLIPS below and
in docs/benchmarks/sounds.md; everything not listed as a target must get no response.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import CHUNK_SECONDS, SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.audio.levels import active_span
from listenloop.decision.sounds.sound_policy import SoundPolicy
from listenloop.perception.observation import Observation
from listenloop.perception.sounds import Features, YamnetTagger

DEFAULT_SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "audio" / "dev"
STREAM_SECONDS = 20.0  # s, length of one benchmark stream
OFFSET_RANGE_S = (4.0, 9.0)  # s, where the clip starts in its stream
LEVELS_DB = (20.0, 10.0, 5.0)  # clip level over the background (active RMS ratio), dB
NOISE_FLOOR_RMS = 10 ** (-60 / 20)  # the "silence" background: white noise at -60 dBFS
HIT_GRACE_S = 1.5  # s after a clip ends in which its response still counts
BACKGROUND_ONLY_S = 300.0  # s of pure background per background kind
FADE_S = 0.02  # s, fade at the joins of background clips

# (clip, rule that must respond or None, why). Paths are relative to ../shared/audio/dev; "synth:" is built here.
CLIPS: tuple[tuple[str, str | None, str], ...] = (
    ("sounds/gunshots.wav", "gunshot", "a burst of gunfire: urgent alert"),
    ("sounds/dog.wav", "dog", "a dog whining and yapping (Dog 0.50, Bark ~0): notify"),
    ("streams/01_count_bark/sample01_02.wav", "dog", "one bark: notify"),
    ("streams/03_cough_music/sample03_01.wav", "cough", "coughing: ask"),
    ("synth:smoke_alarm", "smoke_alarm", "synthetic 3.1 kHz T3 beeps (no real recording here): alert"),
    ("synth:siren", "siren", "synthetic electronic siren wail, 600-1500 Hz square (no real recording here): alert"),
    ("sounds/car-horn.wav", None, "traffic: the default policy stays silent (a user may enable it)"),
    ("sounds/thunder.wav", None, "nature; scores Explosion/Fireworks 0.82, must not alert"),
    ("sounds/humpback.ogg", None, "whale song; scores Siren 0.95 for under a second"),
    ("sounds/snoring.wav", None, "sleep sounds, not a health alarm"),
    ("sounds/applause.wav", None, ""), ("sounds/arcade_music.wav", None, ""), ("sounds/birds1.wav", None, ""),
    ("sounds/car_engine.wav", None, ""), ("sounds/cinematic.wav", None, ""), ("sounds/crowd_cheering.wav", None, ""),
    ("sounds/guitar.wav", None, ""), ("sounds/jazz_guitar.wav", None, ""), ("sounds/piano.wav", None, ""),
    ("sounds/rain.wav", None, ""), ("sounds/robin.ogg", None, ""), ("sounds/train.wav", None, ""),
    ("sounds/typing.wav", None, ""), ("streams/03_cough_music/sample03_03.wav", None, "music"),
    ("speech/jfk.flac", None, "speech"),
)
BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "silence": (),
    "speech": ("speech/198-209-0000.ogg", "speech/jfk.flac", "streams/02_translate/sample02_02.wav",
               "streams/03_cough_music/sample03_02.mp3", "streams/01_count_bark/sample01_01.mp3"),
    "music": ("sounds/piano.wav", "sounds/jazz_guitar.wav", "sounds/guitar.wav",
              "streams/03_cough_music/sample03_03.wav", "sounds/cinematic.wav"),
    "rain": ("sounds/rain.wav",),
    "typing": ("sounds/typing.wav",),
}


SYNTH_SECONDS = 8.0  # s, length of each synthetic clip
BAND_TOP_HZ = 7500.0  # harmonics are kept below this: a 16 kHz recording's anti-alias filter removes the rest
ALARM_HZ = 3100.0  # piezo smoke alarms sound at about 3.1 kHz (3 to 3.5 kHz)
SIREN_WAIL_HZ = (600.0, 1500.0)  # electronic siren wail: the tone sweeps between roughly these pitches
SIREN_WAIL_PERIOD_S = 5.0  # one rise and fall of the wail: a few seconds (about 12 cycles a minute)


def _harmonics(phase: np.ndarray, freq: np.ndarray | float, orders: range) -> np.ndarray:
    """Sum of sin(n phase) / n over `orders`, each harmonic faded out over 500 Hz as n * freq nears BAND_TOP_HZ."""
    out = np.zeros_like(phase)
    for n in orders:
        gain = np.clip((BAND_TOP_HZ - n * np.asarray(freq)) / 500.0, 0.0, 1.0)
        out += gain * np.sin(n * phase) / n
    return out


def synth_clip(name: str) -> np.ndarray:
    """Synthetic stand-ins for sounds with no recording in ../shared: a T3 smoke alarm, an electronic siren's wail.

    Every parameter follows how the device makes its sound (docs/benchmarks/sounds.md, session 4), none was chosen
    from the tagger's scores.
    """
    t = np.arange(int(SYNTH_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    if name == "smoke_alarm":  # T3 (NFPA 72): 0.5 s on / 0.5 s off x3, then 1.5 s more off; a piezo's harmonics
        tone = _harmonics(2 * np.pi * ALARM_HZ * t, ALARM_HZ, range(1, 4))  # 3.1 and 6.2 kHz (9.3 kHz is above)
        gate = ((t % 4.5) < 3.0) & ((t % 1.0) < 0.5)
        return (0.3 * tone * gate).astype(np.float32)
    if name == "siren":  # a square wave (the amplifier's drive) sweeping a wail, through a horn passing ~0.4-8 kHz
        low, high = SIREN_WAIL_HZ
        tri = 1.0 - np.abs(2.0 * ((t / SIREN_WAIL_PERIOD_S) % 1.0) - 1.0)  # 0 -> 1 -> 0 over one wail, from low
        freq = low + (high - low) * tri
        phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
        return (0.3 * 4 / np.pi * _harmonics(phase, freq, range(1, 16, 2))).astype(np.float32)  # odd: a square
    raise ValueError(f"unknown synthetic clip {name!r}")


@dataclass(frozen=True)
class StreamSpec:
    clip: str  # clip path or "synth:NAME"; "" for background only
    target: str | None  # rule that must respond
    background: str
    level_db: float  # clip over background, dB
    offset: float  # s, where the clip starts
    seed: int  # background window and noise


@dataclass(frozen=True)
class StreamOutcome:
    spec: StreamSpec
    seconds: float  # stream length, s
    onset: float | None  # s, truth onset of the clip
    end: float | None  # s, truth end of the clip
    hit_delay: float | None  # s from onset to the deciding chunk's end, when the target rule responded
    false: tuple[str, ...]  # responses that should not have been (rule: label @ t)


class Material:
    """Decoded clips and backgrounds, cached."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, np.ndarray] = {}

    def clip(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = synth_clip(name[6:]) if name.startswith("synth:") else load_audio(self.root / name)
        return self._cache[name]

    def background(self, kind: str, seconds: float, rms: float, rng: np.random.Generator) -> np.ndarray:
        n = int(seconds * SAMPLE_RATE)
        noise = rng.normal(0.0, NOISE_FLOOR_RMS, n).astype(np.float32)
        if not BACKGROUNDS[kind]:
            return noise
        fade = np.linspace(0.0, 1.0, int(FADE_S * SAMPLE_RATE), dtype=np.float32)
        parts = []
        for name in rng.permutation(BACKGROUNDS[kind]).tolist() * (1 + int(seconds // 10)):
            x = self.clip(name).copy()
            x[: len(fade)] *= fade
            x[-len(fade) :] *= fade[::-1]
            parts.append(x / max(active_span(x)[2], 1e-6))
        bed = np.concatenate(parts)
        while len(bed) < 2 * n:
            bed = np.concatenate([bed, bed])
        start = int(rng.integers(0, len(bed) - n))
        return noise + rms * bed[start : start + n]


def build_specs(seed: int, offsets: int, levels: tuple[float, ...]) -> list[StreamSpec]:
    """Every clip in every background at every level, at `offsets` random offsets each; plus background alone."""
    rng = np.random.default_rng(seed)
    specs = []
    for clip, target, _ in CLIPS:
        for kind in BACKGROUNDS:
            for level in levels if kind != "silence" else levels[:1]:
                for _ in range(offsets):
                    offset = float(np.round(rng.uniform(*OFFSET_RANGE_S), 2))
                    specs.append(StreamSpec(clip, target, kind, level, offset, int(rng.integers(1 << 30))))
    specs += [StreamSpec("", None, kind, levels[-1], 0.0, int(rng.integers(1 << 30))) for kind in BACKGROUNDS]
    return specs


def render(spec: StreamSpec, material: Material) -> tuple[np.ndarray, float | None, float | None]:
    """The stream's samples and the truth (onset, end) of its clip in stream time."""
    rng = np.random.default_rng(spec.seed)
    if not spec.clip:
        return material.background(spec.background, BACKGROUND_ONLY_S, 0.1, rng), None, None
    clip = material.clip(spec.clip)
    onset, end, clip_rms = active_span(clip)
    seconds = max(STREAM_SECONDS, spec.offset + len(clip) / SAMPLE_RATE + 3.0)
    bed = material.background(spec.background, seconds, clip_rms * 10 ** (-spec.level_db / 20), rng)
    start = int(spec.offset * SAMPLE_RATE)
    bed[start : start + len(clip)] += clip
    return bed, spec.offset + onset, spec.offset + end


def run_stream(samples: np.ndarray, tagger: YamnetTagger, policy: SoundPolicy,
               costs: list[float]) -> list[tuple[float, str, str]]:
    """Tagger and policy chunk by chunk; the responses as (stream time s, rule, label). Appends tagging ms."""
    sounds, decisions = tagger.init_state(), policy.init_state()
    out = []
    for k in range(len(samples) // SAMPLES_PER_CHUNK):
        chunk = Chunk(k, samples[k * SAMPLES_PER_CHUNK : (k + 1) * SAMPLES_PER_CHUNK])
        t = time.perf_counter()
        result = tagger.step(chunk, sounds)
        costs.append((time.perf_counter() - t) * 1000)
        decision = policy.decide(Observation(chunk, sounds=result), decisions)
        if decision.responds:
            out.append((chunk.t1, decision.payload["rule"], decision.payload["label"]))
    return out


def score_stream(spec: StreamSpec, seconds: float, onset: float | None, end: float | None,
                 responses: list[tuple[float, str, str]]) -> StreamOutcome:
    """A hit is the target rule responding between the clip's onset and HIT_GRACE_S after its end."""
    hit_delay, false = None, []
    for t, rule, label in responses:
        if (spec.target == rule and hit_delay is None and onset is not None and end is not None
                and onset <= t <= end + HIT_GRACE_S):
            hit_delay = t - onset
        else:
            false.append(f"{rule}: {label} @ {t:.1f}s")
    return StreamOutcome(spec, seconds, onset, end, hit_delay, tuple(false))


@dataclass(frozen=True)
class Summary:
    streams: int
    audio_hours: float  # all material
    background_hours: float  # material that should get no response (target clips' spans excluded)
    targets: int
    hits: int
    recall: float
    false_responses: int
    false_per_hour: float
    delay_p50_s: float | None
    delay_p95_s: float | None
    tag_ms_p50: float  # per 0.4 s chunk
    tag_ms_p95: float
    wall_s: float


def summarize(outcomes: list[StreamOutcome], costs: list[float], wall_s: float) -> Summary:
    targets = [o for o in outcomes if o.spec.target]
    delays = [o.hit_delay for o in targets if o.hit_delay is not None]
    audio = sum(o.seconds for o in outcomes)
    target_s = sum((o.end - o.onset + HIT_GRACE_S) for o in targets if o.onset is not None and o.end is not None)
    n_false = sum(len(o.false) for o in outcomes)
    background_h = (audio - target_s) / 3600
    return Summary(
        streams=len(outcomes), audio_hours=audio / 3600, background_hours=background_h, targets=len(targets),
        hits=len(delays), recall=len(delays) / max(1, len(targets)), false_responses=n_false,
        false_per_hour=n_false / max(background_h, 1e-9),
        delay_p50_s=float(np.percentile(delays, 50)) if delays else None,
        delay_p95_s=float(np.percentile(delays, 95)) if delays else None,
        tag_ms_p50=float(np.percentile(costs, 50)), tag_ms_p95=float(np.percentile(costs, 95)), wall_s=wall_s,
    )


def _per_clip_rows(outcomes: list[StreamOutcome]) -> list[str]:
    rows = []
    for clip, target, _ in CLIPS:
        mine = [o for o in outcomes if o.spec.clip == clip]
        if not mine:
            continue
        false = sum(len(o.false) for o in mine)
        if target:
            delays = [o.hit_delay for o in mine if o.hit_delay is not None]
            p50 = f"{np.median(delays):.2f}" if delays else "-"
            rows.append(f"| {clip} | {target} | {len(delays)}/{len(mine)} | {p50} | {false} |")
        else:
            rows.append(f"| {clip} | (none) | - | - | {false} |")
    for kind in BACKGROUNDS:
        for level in sorted({o.spec.level_db for o in outcomes if o.spec.background == kind}, reverse=True):
            mine = [o for o in outcomes if o.spec.target and o.spec.background == kind and o.spec.level_db == level]
            delays = [o.hit_delay for o in mine if o.hit_delay is not None]
            false = sum(len(o.false) for o in outcomes if o.spec.background == kind and o.spec.level_db == level)
            p50 = f"{np.median(delays):.2f}" if delays else "-"
            rows.append(f"| all targets in {kind} at {level:g} dB | - | {len(delays)}/{len(mine)} | {p50} | {false} |")
    rows += _recall_rows(outcomes)
    for kind in BACKGROUNDS:
        mine = [o for o in outcomes if not o.spec.clip and o.spec.background == kind]
        rows += [f"| background only: {kind} ({o.seconds:.0f} s) | (none) | - | - | {len(o.false)} |" for o in mine]
    return rows


def _recall_rows(outcomes: list[StreamOutcome]) -> list[str]:
    """Recall over all targets by level (SNR) and by background: where the tagger fails."""
    targets = [o for o in outcomes if o.spec.target]
    groups = [(f"all targets at {lv:g} dB", lambda o, lv=lv: o.spec.level_db == lv)
              for lv in sorted({o.spec.level_db for o in targets}, reverse=True)]
    groups += [(f"all targets in {kind}", lambda o, kind=kind: o.spec.background == kind) for kind in BACKGROUNDS]
    rows = []
    for name, keep in groups:
        mine = [o for o in targets if keep(o)]
        if mine:
            hits = sum(o.hit_delay is not None for o in mine)
            rows.append(f"| {name} | - | {hits}/{len(mine)} = {hits / len(mine):.0%} | - | - |")
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio", type=Path, default=DEFAULT_SHARED, help="the shared dev audio folder")
    parser.add_argument("--policy", type=Path, action="append", default=[], help="policy file(s) over the defaults")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of offsets and background windows (with --real: of the source split and the stream)")
    parser.add_argument("--offsets", type=int, default=1, help="random offsets per clip, background and level")
    parser.add_argument("--levels", type=float, nargs="+", default=list(LEVELS_DB),
                        help="clip level over the background, dB")
    parser.add_argument("--features", choices=[f.value for f in Features], default=Features.RAW.value,
                        help="log-mel views the tagger scores: as heard (default), band floor subtracted, or both")
    parser.add_argument("--real", type=Path, default=None,
                        help="instead: run the recordings of this folder (class folders, like ../shared/audio/train/"
                        "sounds) as one stream, the default, learned and class-name policies side by side (and "
                        "--policy files over the default, in a column of their own)")
    parser.add_argument("--split", choices=("validation", "train", "all"), default="validation",
                        help="with --real and a manifest.csv: the held-out sources (default), the training ones, all")
    parser.add_argument("--detector", type=Path, default=None,
                        help="with --real: the detector weights to run (made by `listenloop train sounds --seed S "
                        "--out DIR`) instead of the packaged ones; with --split validation, pass the same --seed S")
    parser.add_argument("--json", action="store_true", help="print the summary and outcomes as JSON")
    parser.add_argument("--verbose", action="store_true", help="list every false response and miss")


def run(args: argparse.Namespace) -> int:
    if args.real is not None:
        from listenloop.bench import sounds_real

        return sounds_real.run(args)
    if not args.audio.is_dir():
        print(f"error: {args.audio} is not a folder (pass --audio ../shared/audio/dev)")
        return 2
    tagger = YamnetTagger(features=args.features)
    policy = SoundPolicy.load(args.policy)
    material = Material(args.audio)
    costs: list[float] = []
    outcomes = []
    start = time.perf_counter()
    specs = build_specs(args.seed, args.offsets, tuple(args.levels))
    for i, spec in enumerate(specs):
        if i % 50 == 0:
            print(f"stream {i}/{len(specs)}", file=sys.stderr, flush=True)
        samples, onset, end = render(spec, material)
        responses = run_stream(samples, tagger, policy, costs)
        outcomes.append(score_stream(spec, len(samples) / SAMPLE_RATE, onset, end, responses))
    summary = summarize(outcomes, costs, time.perf_counter() - start)
    if args.json:
        print(json.dumps({"summary": asdict(summary), "outcomes": [asdict(o) for o in outcomes]}, indent=1))
        return 0
    _print_report(summary, outcomes, args.verbose)
    return 0


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _print_report(s: Summary, outcomes: list[StreamOutcome], verbose: bool) -> None:
    print("| clip | must respond | hits | delay p50 s | false responses |")
    print("|---|---|---|---|---|")
    print("\n".join(_per_clip_rows(outcomes)))
    print()
    print(f"streams {s.streams}, audio {s.audio_hours:.2f} h, background {s.background_hours:.2f} h, "
          f"chunk {CHUNK_SECONDS} s")
    print(f"recall {s.hits}/{s.targets} = {s.recall:.1%}; false responses {s.false_responses} "
          f"= {s.false_per_hour:.2f}/h; delay p50 {_fmt(s.delay_p50_s)} s, p95 {_fmt(s.delay_p95_s)} s; "
          f"tagging {s.tag_ms_p50:.1f} ms/chunk p50, {s.tag_ms_p95:.1f} p95; wall {s.wall_s:.0f} s")
    if verbose:
        for o in outcomes:
            sp = o.spec
            where = f"{sp.clip or 'background'} in {sp.background} at {sp.level_db:g} dB, offset {sp.offset}"
            if sp.target and o.hit_delay is None:
                print(f"MISS  {where}")
            for f in o.false:
                print(f"FALSE {where}: {f}")
