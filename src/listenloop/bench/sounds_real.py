"""`listenloop bench sounds --real DIR`: the sound policies on real recordings stitched into one stream.

DIR is laid out like ../shared/audio/train/sounds (class folders; a manifest.csv there allows `--split validation`,
the sources the shipped detector never saw). Every recording is placed in one stream with room tone (and the gaps'
background) between clips; the tagger with the learned detector runs chunk by chunk, and each policy decides on the
same observations. A clip of a target class must get a response of its rule from its onset to HIT_GRACE_S after its
end; any response to a clip of another class, or in a gap, is a false one. Each clip starts with a fresh policy state
(a new situation: cooldowns are tested on their own), while the tagger hears the stream as one. False responses are
reported as the issue measures them: the share of non-target clips answered, and per hour of background (the gaps and
the ambience recordings). `--detector` runs weights trained on another split seed on that seed's held-out sources.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.audio.levels import active_span
from listenloop.decision.sounds.policy_file import CLASS_NAME_POLICY, LEARNED_POLICY, PolicyError
from listenloop.decision.sounds.sound_policy import SoundPolicy
from listenloop.perception.detector import WEIGHTS_FILE, DetectorError, SoundDetector
from listenloop.perception.observation import Observation
from listenloop.perception.sounds import Features, YamnetTagger
from listenloop.train.sound_set import Split, read_manifest, select

GAP_S = (3.0, 6.0)  # s of room tone between clips (drawn per gap)
ROOM_TONE_RMS = 10 ** (-55 / 20)  # the gaps: a quiet room's noise floor, -55 dBFS
HIT_GRACE_S = 1.5  # s after a clip's end in which its response still counts
LATE_S = 1.2  # s from onset: a hit later than this is listed by --verbose (the delay target)
POLICY_COLUMN = "--policy"  # the report's column for the user's policy files
AUDIO_SUFFIXES = {".flac", ".wav", ".ogg", ".mp3"}
# Class folder -> the policy rule that must respond (both policies name their rules alike); others call for none.
RULE_OF_FOLDER = {"alarm": "smoke_alarm", "siren": "siren", "glass_breaking": "glass", "gunshot": "gunshot",
                  "scream": "scream", "baby_crying": "baby_crying", "cough": "cough", "sneeze": "cough",
                  "doorbell": "doorbell", "door_knock": "knock", "phone_ringing": "telephone", "dog_bark": "dog"}
# Folders of steady real background (the "false responses per hour of real background"; laughs, claps,
# speech, music and household noise are the other measure, the share of non-target sounds answered).
AMBIENCE_FOLDERS = frozenset({"aircraft", "birds", "clock_tick", "fire_crackling", "helicopter", "outdoor_ambience",
                              "rain", "traffic_vehicle", "water_waves", "wind"})


@dataclass(frozen=True)
class Placed:
    folder: str
    name: str
    start: float  # s, clip start in the stream
    onset: float  # s, the sound's onset (first frame within 20 dB of the loudest)
    end: float  # s, the sound's end


@dataclass
class PolicyTally:
    """What one policy did on the stream."""

    hits: dict[str, list[float]] = field(default_factory=dict)  # folder -> delays (s) of the clips it caught
    clips: dict[str, int] = field(default_factory=dict)  # folder -> clips
    responded: dict[str, int] = field(default_factory=dict)  # folder -> clips that got any response (non-targets)
    gap_false: int = 0  # responses in the gaps
    ambience_false: int = 0  # responses to recordings of AMBIENCE_FOLDERS
    notes: list[str] = field(default_factory=list)  # every miss, false response and late hit, for --verbose


def recordings(root: Path, split: Split, seed: int) -> list[tuple[str, Path]]:
    """(class folder, file) of every recording to run: the manifest's split where there is one, else every file."""
    if (root / "manifest.csv").is_file():
        return [(c.folder, c.path) for c in select(read_manifest(root), split, seed)]
    if split is not Split.ALL:
        raise FileNotFoundError(f"{root}/manifest.csv is needed for --split {split.value} (or pass --split all)")
    return [(d.name, f) for d in sorted(root.iterdir()) if d.is_dir()
            for f in sorted(d.iterdir()) if f.suffix.lower() in AUDIO_SUFFIXES]


def stitch(files: list[tuple[str, Path]], seed: int) -> tuple[np.ndarray, list[Placed]]:
    """One stream: the recordings in a seeded random order, room tone between them."""
    rng = np.random.default_rng(seed)
    parts, placed, t = [], [], 0.0
    for i in rng.permutation(len(files)):
        folder, path = files[i]
        gap = rng.normal(0.0, ROOM_TONE_RMS, int(rng.uniform(*GAP_S) * SAMPLE_RATE)).astype(np.float32)
        clip = load_audio(path)
        onset, end, _ = active_span(clip)
        t += len(gap) / SAMPLE_RATE
        placed.append(Placed(folder, path.name, t, t + onset, t + end))
        parts += [gap, clip + rng.normal(0.0, ROOM_TONE_RMS, len(clip)).astype(np.float32)]
        t += len(clip) / SAMPLE_RATE
    parts.append(rng.normal(0.0, ROOM_TONE_RMS, int(GAP_S[1] * SAMPLE_RATE)).astype(np.float32))
    return np.concatenate(parts), placed


def run_policies(samples: np.ndarray, placed: list[Placed], tagger: YamnetTagger,
                 policies: dict[str, SoundPolicy]) -> tuple[dict[str, list[tuple[float, str, int]]], list[float]]:
    """The stream through the tagger, chunk by chunk, and every policy on it (`decide_all`); with the tagger's
    milliseconds per chunk."""
    sounds, costs = tagger.init_state(), []

    def observations() -> Iterator[Observation]:
        for k in range(len(samples) // SAMPLES_PER_CHUNK):
            chunk = Chunk(k, samples[k * SAMPLES_PER_CHUNK : (k + 1) * SAMPLES_PER_CHUNK])
            began = time.perf_counter()
            obs = Observation(chunk, sounds=tagger.step(chunk, sounds))
            costs.append((time.perf_counter() - began) * 1000)
            if k % 2000 == 0:
                print(f"  {chunk.t1 / 60:.0f} of {len(samples) / SAMPLE_RATE / 60:.0f} min", file=sys.stderr,
                      flush=True)
            yield obs

    return decide_all(placed, observations(), policies), costs


def decide_all(placed: list[Placed], observations: Iterable[Observation],
               policies: dict[str, SoundPolicy]) -> dict[str, list[tuple[float, str, int]]]:
    """Per policy: its responses to the stream's observations as (time s, rule, index of the clip whose window holds
    it, or -1 in a gap). Each clip starts with a fresh policy state (see the module doc)."""
    starts = np.array([p.start for p in placed])
    states = {name: p.init_state() for name, p in policies.items()}
    out: dict[str, list[tuple[float, str, int]]] = {name: [] for name in policies}
    current = -1
    for obs in observations:
        chunk = obs.chunk
        clip = int(np.searchsorted(starts, chunk.t1, side="right")) - 1
        if clip != current and clip >= 0 and chunk.t1 >= placed[clip].start:
            current = clip
            for state in states.values():
                state.reset()  # a new clip is a new situation
        inside = clip >= 0 and chunk.t0 <= placed[clip].end + HIT_GRACE_S
        for name, policy in policies.items():
            d = policy.decide(obs, states[name])
            if d.responds:
                out[name].append((chunk.t1, str(d.payload["rule"]), clip if inside else -1))
    return out


def tally(placed: list[Placed], responses: list[tuple[float, str, int]]) -> PolicyTally:
    t = PolicyTally()
    by_clip: dict[int, list[tuple[float, str]]] = {}
    for when, rule, clip in responses:
        if clip < 0:
            t.gap_false += 1
            t.notes.append(f"false  {when:7.1f} s  gap: {rule}")
        else:
            by_clip.setdefault(clip, []).append((when, rule))
    for i, p in enumerate(placed):
        t.clips[p.folder] = t.clips.get(p.folder, 0) + 1
        mine = by_clip.get(i, [])
        want = RULE_OF_FOLDER.get(p.folder)
        if want is None:
            t.responded[p.folder] = t.responded.get(p.folder, 0) + bool(mine)
            t.ambience_false += len(mine) if p.folder in AMBIENCE_FOLDERS else 0
            t.notes += [f"false  {when:7.1f} s  {p.folder}/{p.name}: {rule}" for when, rule in mine]
            continue
        right = [when for when, rule in mine if rule == want and when >= p.onset]
        if right:
            t.hits.setdefault(p.folder, []).append(right[0] - p.onset)
            if right[0] - p.onset > LATE_S:
                t.notes.append(f"late   {p.onset:7.1f} s  {p.folder}/{p.name}: {right[0] - p.onset:.1f} s")
        else:
            t.notes.append(f"missed {p.onset:7.1f} s  {p.folder}/{p.name} ({p.end - p.onset:.1f} s long)"
                           + (f", answered {', '.join(sorted({r for _, r in mine}))}" if mine else ""))
    return t


def default_policies() -> dict[str, SoundPolicy]:
    return {"default": SoundPolicy.load(), "learned": SoundPolicy.load([LEARNED_POLICY]),
            "class-name": SoundPolicy.load([CLASS_NAME_POLICY])}


def held_out_detector(path: Path | None, root: Path, split: Split, seed: int) -> SoundDetector:
    """The detector at `path` (the packaged one: None), refused where the recordings to run include its training
    clips: a validation split must be the one its training split left out (the same seed)."""
    detector = SoundDetector(path)
    card = detector.card
    if split is Split.VALIDATION and (root / "manifest.csv").is_file() and (card["split"], card["seed"]) != (
            Split.TRAIN.value, seed):
        raise DetectorError(f"{detector.path} was trained on split {card['split']!r} of seed {card['seed']}: the "
                            f"validation split of seed {seed} holds clips it trained on (train one with "
                            f"`listenloop train sounds --seed {seed} --out DIR`, pass --detector DIR/{WEIGHTS_FILE})")
    return detector


def bench(root: Path, split: Split, seed: int, features: Features, policy_files: Sequence[Path] = (),
          detector: Path | None = None) -> tuple[dict[str, PolicyTally], dict[str, float]]:
    """Every recording as one stream, the shipped policies side by side, and a column for `policy_files` (the
    user's override files over the default, as `--policy` gives them to a run) when there are any. `detector`:
    weights to run instead of the packaged ones (trained on the training side of this `seed`'s split)."""
    files = recordings(root, split, seed)
    policies = default_policies()
    if policy_files:
        policies[POLICY_COLUMN] = SoundPolicy.load(policy_files)
    samples, placed = stitch(files, seed)
    tagger = YamnetTagger(features=features, detector=held_out_detector(detector, root, split, seed))
    started = time.perf_counter()
    print(f"bench sounds --real: {len(files)} recordings, {len(samples) / SAMPLE_RATE / 60:.1f} min", file=sys.stderr)
    responses, costs = run_policies(samples, placed, tagger, policies)
    info = {**durations(placed, len(samples) / SAMPLE_RATE), "recordings": len(files),
            "chunk_ms_mean": float(np.mean(costs)), "chunk_ms_p95": float(np.percentile(costs, 95)),
            "wall_s": time.perf_counter() - started}
    return {name: tally(placed, r) for name, r in responses.items()}, info


def durations(placed: list[Placed], seconds: float) -> dict[str, float]:
    """The stream's length (min), the time calling for no response (h: all but the target clips' spans) and the
    background time (h: the gaps of room tone and the real recordings of AMBIENCE_FOLDERS)."""
    def span(folders: Iterable[str] | None = None) -> float:  # s in the clips of these folders (all: None)
        return sum(p.end - p.start for p in placed if folders is None or p.folder in folders)

    ambience = span(AMBIENCE_FOLDERS)
    return {"minutes": seconds / 60, "background_h": (seconds - span(RULE_OF_FOLDER)) / 3600,
            "ambience_h": (seconds - span() + ambience) / 3600, "real_ambience_min": ambience / 60}


def _delays(delays: list[float], before: str = "") -> str:
    """Onset-to-response delay p50 / p95 in seconds ("" without hits)."""
    return f"{before}{np.percentile(delays, 50):.2f} / {np.percentile(delays, 95):.2f} s" if delays else ""


def _pct(num: int, den: int) -> str:
    return f"{num}/{den} = {num / den:.0%}" if den else "-"


def details(tallies: dict[str, PolicyTally]) -> str:
    """Every policy's misses, false responses and late hits, one per line, in stream order within each kind."""
    return "\n".join(f"\n{name}:\n" + "\n".join(f"  {line}" for line in sorted(t.notes)) for name, t in tallies.items())


def report(tallies: dict[str, PolicyTally], info: dict[str, float]) -> str:
    """A markdown table: per class, each policy's recall and delay p50 / p95 (targets) or response rate (others),
    then the totals."""
    names = list(tallies)
    head = "| class | " + " | ".join(names) + " |\n|---|" + "---|" * len(names)
    rows = [head]
    first = tallies[names[0]]
    for folder in sorted(first.clips, key=lambda f: (f not in RULE_OF_FOLDER, f)):
        cells = []
        for n in names:
            t = tallies[n]
            got = len(t.hits.get(folder, [])) if folder in RULE_OF_FOLDER else t.responded.get(folder, 0)
            cells.append(_pct(got, t.clips[folder]) + _delays(t.hits.get(folder, []), ", "))
        kind = "recall" if folder in RULE_OF_FOLDER else "responded"
        rows.append(f"| {folder} ({kind}) | " + " | ".join(cells) + " |")
    lines = {"recall, all target clips": [], "worst target class recall": [], "responses to non-target clips": [],
             "false responses per hour (gaps and non-target clips)": [],
             "false responses per hour of background (gaps and ambience recordings)": [],
             "onset-to-response delay p50 / p95": []}
    for n in names:
        t = tallies[n]
        targets = [f for f in t.clips if f in RULE_OF_FOLDER]
        hits = sum(len(t.hits.get(f, [])) for f in targets)
        n_targets = sum(t.clips[f] for f in targets)
        others = [f for f in t.clips if f not in RULE_OF_FOLDER]
        responded = sum(t.responded.get(f, 0) for f in others)
        n_others = sum(t.clips[f] for f in others)
        worst = min((len(t.hits.get(f, [])) / t.clips[f], f) for f in targets) if targets else (0.0, "-")
        delays = [d for f in targets for d in t.hits.get(f, [])]
        lines["recall, all target clips"].append(_pct(hits, n_targets))
        lines["worst target class recall"].append(f"{worst[0]:.0%} ({worst[1]})")
        lines["responses to non-target clips"].append(_pct(responded, n_others))
        lines["false responses per hour (gaps and non-target clips)"].append(
            f"{(t.gap_false + responded) / max(info['background_h'], 1e-9):.1f}")
        lines["false responses per hour of background (gaps and ambience recordings)"].append(
            f"{(t.gap_false + t.ambience_false) / max(info['ambience_h'], 1e-9):.1f}")
        lines["onset-to-response delay p50 / p95"].append(_delays(delays) or "-")
    rows += [f"| **{k}** | " + " | ".join(v) + " |" for k, v in lines.items()]
    rows.append(f"\n{info['recordings']:.0f} recordings, {info['minutes']:.1f} min stitched, "
                f"{info['background_h'] * 60:.1f} min calling for no response, {info['ambience_h'] * 60:.1f} min of "
                f"background ({info['real_ambience_min']:.1f} min of it real recordings); tagger + detector "
                f"{info['chunk_ms_mean']:.1f} ms per 0.4 s chunk (p95 {info['chunk_ms_p95']:.1f}), "
                f"{info['wall_s']:.0f} s wall")
    return "\n".join(rows)


def run(args) -> int:
    """Entry from `listenloop bench sounds --real DIR`."""
    if not args.real.is_dir():
        print(f"error: {args.real} is not a folder (pass one laid out like ../shared/audio/train/sounds)")
        return 2
    try:
        tallies, info = bench(args.real, Split(args.split), args.seed, Features(args.features), args.policy,
                              args.detector)
    except (FileNotFoundError, PolicyError, DetectorError) as e:
        print(f"error: {e}")
        return 2
    print(report(tallies, info))
    if args.verbose:
        print(details(tallies))
    return 0
