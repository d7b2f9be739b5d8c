"""`listenloop bench decisions`: the learned decision against silence timeouts and the rule policies.

Every policy sees the same observations of the same streams (perception runs once per stream, finals on the live
engine's schedule: perception/offline.py). Streams: held-out
built streams (a SoundFlow manifest) and the real recordings in ../shared/audio/dev, whose truth is annotated in
dev_streams.json. Measures, per policy: recall / precision / F1 of due responses (a response counts up to
DUE_WINDOW_S after the turn ends, from its end; a sound's from its start), false responses per minute, interruptions
(responses inside an unfinished sentence), answers to speech not addressed to the assistant, decision delay p50/p95,
decision cost per chunk.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from listenloop.audio.constants import CHUNK_SECONDS, SAMPLE_RATE
from listenloop.audio.decode import AudioError, load_audio
from listenloop.data.manifest import (
    DUE_WINDOW_S,
    ManifestError,
    Stream,
    Turn,
    TurnKind,
    read_manifest,
    stream_from_dict,
)
from listenloop.decision.base import Action, Decider
from listenloop.decision.factory import SHIPPED_JUDGE, Judge, PolicyResources, PolicySpec, build_policy
from listenloop.offline.contenders import TimeoutPolicy
from listenloop.offline.observations import (
    load_observations,
    observation_fingerprint,
    observation_key,
    save_observations,
)
from listenloop.offline.scores import ResponseScores, wilson
from listenloop.parallel.ray_backend import add_ray_argument
from listenloop.perception.offline import FINAL_DECODE_S, Replay, ScheduledFinal, build_perception, observe, rescheduled
from listenloop.vocabulary import Mode, Task

TIMEOUTS_S = (0.5, 0.8, 1.2)  # silence-timeout baselines: respond this long after voice activity ends
DEV_TRUTH = Path(__file__).with_name("dev_streams.json")  # annotated real recordings
DEV_TAIL_S = 1.6  # s of silence appended to a real recording, so a reply due at its very end can be given
USER_KINDS = (TurnKind.QUESTION, TurnKind.REQUEST, TurnKind.STATEMENT, TurnKind.HESITATION, TurnKind.CLIP)


@dataclass
class Tally(ResponseScores):
    """Counts of one policy over many streams."""

    due: int = 0
    hits: int = 0
    right_kind: int = 0
    responses: int = 0
    false: int = 0
    free_minutes: float = 0.0  # minutes of material where no response is due
    unfinished: int = 0  # user turns with a pause inside (hesitations)
    interrupted: int = 0  # ... that got a response before their end
    user_turns: int = 0
    user_interrupted: int = 0  # any user turn answered before its end
    not_addressed: int = 0
    answered_not_addressed: int = 0
    delays: list[float] = field(default_factory=list)
    decide_ms: list[float] = field(default_factory=list)

    def row(self, name: str) -> dict[str, object]:
        pct = (lambda q: float(np.percentile(self.delays, q))) if self.delays else (lambda q: float("nan"))
        return {
            "policy": name, "due": self.due, "recall": self.recall, "precision": self.precision, "f1": self.f1,
            "right_kind": self.right_kind / max(self.hits, 1),
            "false_per_min": self.false / max(self.free_minutes, 1e-9),
            "interrupt_unfinished": self.interrupted / max(self.unfinished, 1), "unfinished": self.unfinished,
            "interrupt_unfinished_95": wilson(self.interrupted, self.unfinished),
            "interrupt_any": self.user_interrupted / max(self.user_turns, 1),
            "ignored_not_addressed": 1 - self.answered_not_addressed / max(self.not_addressed, 1),
            "not_addressed": self.not_addressed,
            "delay_p50": pct(50), "delay_p95": pct(95),
            "decide_ms_p50": float(np.percentile(self.decide_ms, 50)) if self.decide_ms else 0.0,
            "decide_ms_p95": float(np.percentile(self.decide_ms, 95)) if self.decide_ms else 0.0,
        }


def due_from(turn: Turn) -> float:
    """Stream time from which a due response counts: the end of what was said (earlier cuts in), but the start of a
    sound (a smoke alarm is answered while it rings; the sound policy speaks up as soon as it names the sound)."""
    assert turn.t1 is not None
    return turn.t0 if turn.kind is TurnKind.SOUND and turn.t0 is not None else turn.t1


def judge(stream: Stream, responses: list[tuple[float, Task | None]], tally: Tally, duration_s: float) -> None:
    """Match responses (time = end of the deciding chunk) to the stream's turns and count everything."""
    used = [False] * len(responses)
    due = sorted((t for t in stream.turns if t.task is not None and t.t1 is not None), key=lambda t: t.t1)
    for turn in due:
        tally.due += 1
        for k, (t, task) in enumerate(responses):
            if not used[k] and due_from(turn) - 1e-6 <= t <= turn.t1 + DUE_WINDOW_S:
                used[k] = True
                tally.hits += 1
                tally.right_kind += int(task is turn.task)
                tally.delays.append(max(t - turn.t1, 0.0))  # a sound answered while it plays kept nobody waiting
                break
    allowed = [t for t in stream.turns if t.kind is TurnKind.INSTRUCTION and t.t1 is not None]
    for k, (t, _) in enumerate(responses):
        acknowledged = any(a.t1 <= t <= a.t1 + DUE_WINDOW_S for a in allowed)
        tally.false += int(not used[k] and not acknowledged)
    tally.responses += len(responses)
    tally.free_minutes += max(duration_s - DUE_WINDOW_S * len(due), 0.0) / 60
    times = [t for t, _ in responses]
    for turn in stream.turns:
        if turn.t0 is None or turn.t1 is None:
            continue
        inside = any(turn.t0 < t < turn.t1 - 1e-6 for t in times)
        if turn.addressed and turn.kind in USER_KINDS:
            tally.user_turns += 1
            tally.user_interrupted += int(inside)
            if turn.pauses:
                tally.unfinished += 1
                tally.interrupted += int(inside)
        if not turn.addressed:
            tally.not_addressed += 1
            tally.answered_not_addressed += int(any(turn.t0 < t <= turn.t1 + DUE_WINDOW_S for t in times))


def run_policy(policy, observations: Replay) -> tuple[list[tuple[float, Task | None]], list[float]]:
    """The responses a policy gives over a replay (time = end of the deciding chunk), and its cost per chunk (ms).
    An answer the policy takes back (Action.WITHDRAW, before anything of it was said) is not a response."""
    state = policy.init_state()
    out: list[tuple[float, Task | None] | None] = []
    costs, answers = [], {}  # question segment -> index of its answer in `out`
    for obs in observations:
        start = time.perf_counter()
        decision = policy.decide(obs, state)
        costs.append((time.perf_counter() - start) * 1000)
        segment = decision.payload.get("question_segment")
        if decision.action is Action.WITHDRAW and segment in answers:
            out[answers.pop(segment)] = None
        elif decision.responds:
            if decision.task is Task.ANSWER and segment is not None:
                answers[segment] = len(out)
            out.append((obs.chunk.t1, decision.task))
    return [r for r in out if r is not None], costs


@dataclass(frozen=True)
class BenchStream:
    stream: Stream
    audio: np.ndarray
    group: str  # "built" | "real"


def built_streams(manifest: Path, limit: int | None, group: str = "built") -> list[BenchStream]:
    path = manifest / "manifest.jsonl" if manifest.is_dir() else manifest
    streams = [s for s in read_manifest(path) if s.built][:limit]
    return [BenchStream(s, load_audio(path.parent / s.audio_path), group) for s in streams]


def build_group(manifest: Path) -> str:
    """The group of a build when several are compared (a real-voice build beside a synthetic one): its folder's name."""
    return f"built {(manifest if manifest.is_dir() else manifest.parent).name}"


def real_streams(shared: Path) -> list[BenchStream]:
    """The annotated real recordings (dev_streams.json), each with a little silence appended."""
    entries = json.loads(DEV_TRUTH.read_text(encoding="utf-8"))
    out = []
    for entry in entries:
        audio = load_audio(shared / entry["audio_path"])
        audio = np.concatenate([audio, np.zeros(int(DEV_TAIL_S * SAMPLE_RATE), np.float32)])
        out.append(BenchStream(stream_from_dict(entry, f"{DEV_TRUTH.name}:{entry['id']}"), audio, "real"))
    return out


PolicyFactory = Callable[[Mode], object]


def policies(model_path: Path | None, note: bool = True, judging: Judge = SHIPPED_JUDGE) -> dict[str, PolicyFactory]:
    """Every contender, built per session mode. The learned ones are skipped (with a note) when no model exists. The
    three conversation contenders are built as the engine builds a session's policy (decision/factory.py)."""
    from listenloop.decision.model.learned import DecisionModel, DecisionModelError, LearnedPolicy
    from listenloop.decision.rules import RulePolicy
    from listenloop.decision.sounds.sound_policy import SoundPolicy
    from listenloop.perception.sounds import load_class_names

    names = load_class_names()
    sounds = SoundPolicy.load()
    out: dict[str, PolicyFactory] = {f"timeout {s} s": (lambda m, s=s: TimeoutPolicy(s, m)) for s in TIMEOUTS_S}
    out["rules (transcribe + sounds)"] = lambda m: RulePolicy(m, sounds)
    rules = PolicyResources(sounds, class_names=names)
    out["conversation rules"] = lambda m: build_policy(PolicySpec(m, Decider.RULES), rules)
    try:
        model = DecisionModel.load(model_path) if model_path else DecisionModel.load()
        learned = PolicyResources(sounds, lambda: model, names)
        out["learned"] = lambda m: LearnedPolicy(m, model, names)
        out["conversation rules, learned clock"] = lambda m: build_policy(PolicySpec(m, Decider.CLOCK), learned)
        out["conversation rules, learned decides"] = lambda m: build_policy(
            PolicySpec(m, Decider.LEARNED, judging), learned)
    except DecisionModelError as e:
        if note:
            print(f"note: learned policy skipped: {e}", file=sys.stderr)
    return out


_perception = None  # one perception per process
_factories: dict[tuple[Path | None, Judge], dict[str, PolicyFactory]] = {}  # the contenders, built once per process,
# model and judging


StreamResult = tuple[float, dict[str, tuple[list, list[float]]], Replay | None]
Job = tuple[BenchStream, Path | None, Judge, Replay | None, bool, float, tuple[float, ...], bool]
_smart_turn = None  # the Smart Turn model, loaded once per process when asked for (bench/smart_turn.py)


def groups_of(item: BenchStream) -> tuple[str, ...]:
    """The groups a stream is counted in: its own (the build's folder name, or "real"), the built streams of its
    language (over every build: "built, language zh"), its build's streams of its session mode (captions and answers
    apart: "built, transcribe mode"), and "all"."""
    if item.group == "real":
        return item.group, "all"
    return (item.group, f"built, language {item.stream.language}", f"{item.group}, {item.stream.mode} mode", "all")


def _run_stream(job: Job) -> StreamResult:
    """Perceive one stream once (unless its observations are given), run every policy on the same observations (in a
    worker process or here), their finals ready `decode_s` after each segment's end; the observations come back too
    (on the default schedule) when they are to be kept."""
    global _perception, _smart_turn
    item, model_path, judging, observations, keep, decode_s, smart_turn, pauses_only = job
    if observations is None:
        if _perception is None:
            _perception = build_perception(asr=True, sounds=True)
        observations = observe(_perception, item.audio, pauses_only)
    if (model_path, judging) not in _factories:
        _factories[model_path, judging] = policies(model_path, note=False, judging=judging)
    duration = len(observations) * CHUNK_SECONDS
    replay = observations if decode_s == FINAL_DECODE_S else rescheduled(observations, decode_s)
    contenders = dict(_factories[model_path, judging])
    if smart_turn:
        from listenloop.bench.smart_turn import gated_policies
        from listenloop.perception.smart_turn import SmartTurn

        _smart_turn = _smart_turn or SmartTurn()
        contenders.update(gated_policies(contenders, _smart_turn, item.audio, smart_turn))
    ran = {name: run_policy(factory(item.stream.mode), replay) for name, factory in contenders.items()}
    return duration, ran, observations if keep and _picklable(observations) else None


def _picklable(observations: Replay) -> bool:
    """Whether every final is a ScheduledFinal (one whose decode failed stays a Future, which does not pickle)."""
    return all(isinstance(o.asr.ended.final, ScheduledFinal) for o in observations.observations
               if o.asr is not None and o.asr.ended is not None)


def bench(streams: list[BenchStream], model_path: Path | None = None, workers: int = 1, progress: bool = True,
          observations: Path | None = None, judging: Judge = SHIPPED_JUDGE,
          final_decode_s: float = FINAL_DECODE_S, ray: str | None = None,
          smart_turn: tuple[float, ...] = (), pauses_only: bool = False) -> dict[str, dict[str, Tally]]:
    """Tallies per stream group (groups_of: build, language, session mode, "all") and policy; streams run on spawned
    workers (parallel.py).
    With `observations`, streams perceived by an earlier run are read from that file and the others added to it.
    `final_decode_s`: s after a segment's end when its final text is in (perception/offline.py); `smart_turn`: the
    thresholds of Smart Turn gates tried on the default decision (bench/smart_turn.py); `pauses_only`: perceive as a
    server behind real time does, partials at pauses only (runtime/load.py)."""
    from listenloop.parallel import ordered_map

    policies(model_path)  # the note about a missing model, once
    fingerprint = observation_fingerprint()  # of the code perceiving now (it may be edited while this runs)
    kept = load_observations(observations) if observations is not None and observations.is_file() else {}
    keys = [observation_key(item.stream, item.audio) + (":pauses-only" if pauses_only else "") for item in streams]
    jobs = [(item, model_path, judging, kept.get(key), observations is not None and key not in kept, final_decode_s,
             smart_turn, pauses_only) for item, key in zip(streams, keys, strict=True)]
    bar = tqdm(total=len(streams), desc="streams", unit="stream", file=sys.stderr, disable=not progress)
    results = ordered_map(_run_stream, jobs, workers, ray)
    tallies: dict[str, dict[str, Tally]] = {}
    for item, key, (duration, by_policy, perceived) in zip(streams, keys, results, strict=True):
        bar.update()
        if perceived is not None:
            kept[key] = perceived
        for name, (responses, costs) in by_policy.items():
            for group in groups_of(item):
                tally = tallies.setdefault(group, {}).setdefault(name, Tally())
                judge(item.stream, responses, tally, duration)
                tally.decide_ms.extend(costs)
    bar.close()
    if observations is not None and any(job[4] for job in jobs):
        save_observations(observations, kept, fingerprint)
    return tallies


def markdown(tallies: dict[str, dict[str, Tally]]) -> str:
    lines = []
    for group, by_policy in tallies.items():
        lines += [f"\n### {group} streams\n",
                  "| policy | due | recall | precision | F1 | right kind | false/min | interrupt unfinished (95 %) "
                  "| interrupt any | ignored not-addressed | delay p50 / p95 s | decide ms p50 / p95 |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, tally in by_policy.items():
            r = tally.row(name)
            low, high = r["interrupt_unfinished_95"]
            lines.append(
                f"| {name} | {r['due']} | {r['recall']:.3f} | {r['precision']:.3f} | {r['f1']:.3f} | "
                f"{r['right_kind']:.2f} | {r['false_per_min']:.2f} | {r['interrupt_unfinished']:.3f} "
                f"(of {r['unfinished']}; {low:.3f}-{high:.3f}) | {r['interrupt_any']:.3f} | "
                f"{r['ignored_not_addressed']:.3f} (of {r['not_addressed']}) | "
                f"{r['delay_p50']:.2f} / {r['delay_p95']:.2f} | {r['decide_ms_p50']:.3f} / {r['decide_ms_p95']:.3f} |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--streams", type=Path, nargs="+", help="held-out built streams (manifest or its folder); "
                        "several builds (synthetic, real voices) are reported side by side, each by its folder name")
    parser.add_argument("--limit", type=int, help="use at most this many built streams")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[3].parent / "shared"
                        / "audio" / "dev", help="the real recordings (../shared/audio/dev)")
    parser.add_argument("--no-real", action="store_true", help="skip the real recordings")
    parser.add_argument("--model", type=Path, help="decision model (.npz); default: the shipped one")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--workers", type=int, default=1, help="processes (each perceives its own streams)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_argument(parser)
    parser.add_argument("--observations", type=Path, help="perceive once, replay many times: observations of every "
                        "stream are kept in this file (a pickle: give only one this command wrote) and read on the "
                        "next run; streams it lacks or changed, or a change to perception, are perceived again")
    parser.add_argument("--confirm", type=float, help="learned decides: the P(response) at which a response the rules "
                        "want goes at once, at most the model's own threshold (default: decision/timing.py CONFIRM_P)")
    parser.add_argument("--caption-confirm", type=float, help="learned decides: ... the same for a caption "
                        "(CAPTION_CONFIRM_P; --confirm alone sets both)")
    parser.add_argument("--patience", type=float, help="learned decides: ... or once the pause is this long, s "
                        "(PATIENCE_S)")
    parser.add_argument("--doubt", type=float, help="learned decides: ... if P reached this since the voice stopped "
                        "(DOUBT_P)")
    parser.add_argument("--final-decode-s", type=float, default=FINAL_DECODE_S, help="s after a segment's end when "
                        "its final text counts as in, for every policy (default %(default)s, perception/offline.py); "
                        "give a slower machine's `bench latency` final text p50 to replay on its schedule")
    parser.add_argument("--smart-turn", type=float, nargs="+", default=(), metavar="P", help="also run the default "
                        "decision with Smart Turn v3.2 gating its responses to speech at these thresholds "
                        "(bench/smart_turn.py; `listenloop models fetch smart-turn`)")
    parser.add_argument("--pauses-only", action="store_true", help="perceive as a server behind real time does: "
                        "partials at pauses only (runtime/load.py); with --final-decode-s, on its slower finals too")


def run(args: argparse.Namespace) -> int:
    try:
        builds = args.streams or []
        streams = [item for b in builds
                   for item in built_streams(b, args.limit, build_group(b) if len(builds) > 1 else "built")]
        if not args.no_real:
            if args.shared.is_dir():
                streams += real_streams(args.shared)
            else:
                print(f"note: real recordings skipped: {args.shared} is absent", file=sys.stderr)
        if not streams:
            raise ManifestError("no streams to run: give --streams DIR or the real recordings")
        tallies = bench(streams, args.model, args.workers, progress=not args.quiet, observations=args.observations,
                        judging=Judge(args.confirm, args.patience, args.doubt, args.caption_confirm),
                        final_decode_s=args.final_decode_s, ray=args.ray, smart_turn=tuple(args.smart_turn),
                        pauses_only=args.pauses_only)
    except (ManifestError, AudioError) as e:
        print(f"listenloop bench decisions: {e}", file=sys.stderr)
        return 2
    print(markdown(tallies))
    if args.json:
        rows = {g: [t.row(n) for n, t in by.items()] for g, by in tallies.items()}
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0
